"""The ``ringrift`` command: the loop's entry point for people and for CI.

Heavy or still-moving parts (torch, the rules engine) are imported inside the commands
that need them, so ``ringrift status`` answers even when one of them is broken.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ringrift_tasks import __version__

app = typer.Typer(
    name="ringrift",
    help="RingRift Loop: self-play, training, evaluation and promotion for RingRift.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

# Exit codes: 0 success, 1 the check ran and failed (e.g. parity mismatch),
# 2 the command could not run as asked (bad arguments, missing input).
EXIT_FAILED = 1
EXIT_USAGE = 2


class _LibraryErrors:
    """Context manager turning the library's input errors into one line and exit code 2.

    Config, agent-spec, shard, store and rules errors are all ``ValueError``s that name
    what was wrong; a person should see that sentence, not a traceback.
    """

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: object) -> bool:
        if exc is not None and isinstance(exc, ValueError):
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(EXIT_USAGE)
        return False


def _load_config() -> object:
    from ringrift_tasks.config import load_config

    with _LibraryErrors():
        return load_config()


def _fail_usage(message: str) -> typer.Exit:
    """Print ``message`` as one line on stderr and return the exit for a usage error."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


def _torch_summary() -> tuple[str, str]:
    """The installed torch version and a plain description of CUDA availability."""
    try:
        import torch
    except ImportError as exc:
        return "not installed", f"unknown (torch not importable: {exc})"
    if not torch.cuda.is_available():
        return torch.__version__, "no"
    count = torch.cuda.device_count()
    names = ", ".join(torch.cuda.get_device_name(i) for i in range(count))
    return torch.__version__, f"yes: {count} device(s): {names}"


def _rules_summary() -> str:
    """Whether the rules engine package imports; the reason in one line if not."""
    try:
        import ringrift_tasks.rules  # noqa: F401
    except Exception as exc:  # any failure here is reported, never hidden
        return f"not importable: {type(exc).__name__}: {exc}"
    return "importable"


@app.command()
def status() -> None:
    """Show versions, the accelerator and the board/player configurations."""
    console = Console()
    torch_version, cuda = _torch_summary()

    env = Table(title="RingRift Loop", show_header=False)
    env.add_column("item", style="bold")
    env.add_column("value")
    env.add_row("ringrift_tasks", __version__)
    env.add_row("python", f"{platform.python_version()} ({sys.executable})")
    env.add_row("torch", torch_version)
    env.add_row("cuda available", cuda)
    env.add_row("rules engine", _rules_summary())
    console.print(env)

    from ringrift_tasks.rules.state import ALL_CONFIGS

    configs = Table(title=f"Configurations ({len(ALL_CONFIGS)})")
    configs.add_column("config", style="bold")
    configs.add_column("board")
    configs.add_column("players", justify="right")
    for config in ALL_CONFIGS:
        configs.add_row(config.name, config.board_type, str(config.num_players))
    console.print(configs)


@app.command()
def parity(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Trace files (.jsonl.gz) to replay through the rules engine."),
    ],
    max_failures_shown: Annotated[
        int,
        typer.Option("--max-failures-shown", min=0, help="Print at most N failures in detail."),
    ] = 20,
    stop_after: Annotated[
        int | None,
        typer.Option("--stop-after", min=1, help="Stop replaying after N failures."),
    ] = None,
) -> None:
    """Replay recorded games and check every state digest against the rules engine.

    Exits 0 when every trace matches, 1 on any mismatch, 2 when a path is unusable.
    """
    for path in paths:
        if not path.exists():
            raise _fail_usage(f"trace file not found: {path}")
        if not path.is_file():
            raise _fail_usage(f"trace path is not a file: {path}")

    # Imported here so that a broken or unfinished rules engine never breaks other commands.
    from ringrift_tasks.rules.parity import run_parity

    report = run_parity(
        list(paths),
        echo=typer.echo,
        max_failures_shown=max_failures_shown,
        stop_after_failures=stop_after,
    )
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


# The upstream contract vectors live beside the repository, in the shared parity folder.
DEFAULT_CONTRACTS_DIR = (
    Path(__file__).resolve().parents[1].parent / "shared/parity/contract_vectors"
)


@app.command()
def contracts(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Contract bundles (*.vectors.json) or folders of them "
            "[default: ../shared/parity/contract_vectors]."
        ),
    ] = None,
    reference: Annotated[
        Path | None,
        typer.Option(
            "--reference",
            help="The reference engine's RESULTS.json [default: beside the first bundle].",
        ),
    ] = None,
) -> None:
    """Run the upstream single-step contract vectors and compare with the reference engine.

    Prints one line per vector and a summary. Exits 0 when every vector the reference
    engine passes also passes here (its fail/throw/skip vectors are reported, not trusted),
    1 otherwise, 2 when a path or the reference results are unusable.
    """
    from ringrift_tasks.rules.contracts import (
        ContractFormatError,
        bundle_paths,
        load_reference_results,
        run_contracts,
    )

    given = paths or [DEFAULT_CONTRACTS_DIR]
    for path in given:
        if not path.exists():
            raise _fail_usage(f"contract path not found: {path}")
    bundles = bundle_paths(given)
    if not bundles:
        raise _fail_usage(f"no *.vectors.json bundle under {', '.join(map(str, given))}")
    if reference is None:
        first = given[0]
        reference = (first if first.is_dir() else first.parent) / "RESULTS.json"
    if not reference.is_file():
        raise _fail_usage(f"reference results not found: {reference} (use --reference)")
    try:
        expected = load_reference_results(reference)
        report = run_contracts(bundles, expected)
    except ContractFormatError as exc:
        raise _fail_usage(str(exc)) from None

    for o in report.outcomes:
        ref = expected.get(o.id, "unknown")
        typer.echo(f"{o.result:<5} {o.id} (reference: {ref}): {o.reason}")
        for note in o.notes:
            typer.echo(f"      note (assertion the reference does not check): {note}")
    typer.echo(report.summary_line())
    for o in report.regressions:
        typer.echo(f"REGRESSION {o.id}: reference passes, here {o.result}: {o.reason}")
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def selfplay(
    config: Annotated[
        str | None,
        typer.Option(
            "--config", "-c", help="Board config, e.g. square8_2p [default: first enabled]."
        ),
    ] = None,
    games: Annotated[int, typer.Option("--games", "-n", min=1, help="Games to play.")] = 20,
    workers: Annotated[
        int | None, typer.Option("--workers", "-w", min=1, help="Worker processes [config].")
    ] = None,
    agent: Annotated[
        str, typer.Option("--agent", help="Agent spec for every seat, e.g. heuristic, random.")
    ] = "heuristic",
    seed: Annotated[int | None, typer.Option("--seed", help="Base seed [clock].")] = None,
    guard: Annotated[
        bool, typer.Option("--guard/--no-guard", help="Pause when disk or memory run short.")
    ] = True,
) -> None:
    """Play self-play games into sealed shards under RINGRIFT_HOME/shards/incoming."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from ringrift_tasks.ai.agent import agent_from_spec
    from ringrift_tasks.rules.state import GameConfig
    from ringrift_tasks.selfplay.worker import SelfPlayError, SelfPlayEvent, selfplay_from_config

    cfg = _load_config()
    name = config or cfg.configs[0]  # type: ignore[attr-defined]
    with _LibraryErrors():
        GameConfig.parse(name)
        agent_from_spec(agent)
    console = Console(stderr=True)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(f"self-play {name} ({agent})", total=games)

        def on_event(ev: SelfPlayEvent) -> None:
            if ev.kind == "game":
                bar.advance(task)
            elif ev.kind in ("pause", "resume"):
                console.print(f"worker {ev.worker} {ev.kind}: {ev.reason}")

        try:
            with _LibraryErrors():
                report = selfplay_from_config(
                    cfg,  # type: ignore[arg-type]
                    name,
                    games,
                    agent,
                    seed,
                    workers=workers,
                    progress=on_event,
                    resource_guard=guard,
                )
        except SelfPlayError as exc:
            typer.echo(f"error: self-play failed: {exc}", err=True)
            raise typer.Exit(EXIT_FAILED) from None
    terms = ", ".join(f"{k} {v}" for k, v in sorted(report.terminations.items()))
    typer.echo(
        f"selfplay: {report.games} games, {report.moves} moves, {len(report.shards)} shards "
        f"in {report.elapsed_s:.1f} s ({terms})"
    )
    for worker, reason in sorted(report.stopped.items()):
        typer.echo(f"worker {worker} stopped early: {reason}")
