"""The ``ringrift`` command: the loop's entry point for people and for CI.

Heavy or still-moving parts (torch, the rules engine) are imported inside the commands
that need them, so ``ringrift status`` answers even when one of them is broken.
"""

from __future__ import annotations

import dataclasses
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


def _open_store(cfg: object) -> object:
    from ringrift_tasks.store.db import open_store

    with _LibraryErrors():
        try:
            return open_store(cfg.store_url)  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - any connection failure is one clear line
            if isinstance(exc, ValueError):
                raise
            raise ValueError(
                f"cannot open the store at {cfg.store_url}: {type(exc).__name__}: {exc}"  # type: ignore[attr-defined]
            ) from None


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    all_configs: Annotated[
        bool, typer.Option("--all", help="Show all 12 configs, not only enabled ones.")
    ] = False,
) -> None:
    """Show the loop per config (pool, new games, best model, Elo, last gate) and resources."""
    import json

    from ringrift_tasks.resources import snapshot
    from ringrift_tasks.status import loop_status

    cfg = _load_config()
    store = _open_store(cfg)
    torch_version, cuda = _torch_summary()
    resources = snapshot(cfg.resources, cfg.home)  # type: ignore[attr-defined]
    report = loop_status(cfg, store, resources=resources)  # type: ignore[arg-type]
    report["torch"] = torch_version
    report["cuda"] = cuda
    report["rules_engine"] = _rules_summary()
    if as_json:
        typer.echo(json.dumps(report, indent=2, sort_keys=True, default=str))
        return

    console = Console()
    env = Table(title="RingRift Loop", show_header=False)
    env.add_column("item", style="bold")
    env.add_column("value")
    env.add_row("ringrift_tasks", __version__)
    env.add_row("python", f"{platform.python_version()} ({sys.executable})")
    env.add_row("torch", torch_version)
    env.add_row("cuda available", cuda)
    env.add_row("rules engine", report["rules_engine"])
    env.add_row("data home (RINGRIFT_HOME)", report["home"])
    env.add_row("store", report["store_url"])
    if report["coordinator_only"]:
        env.add_row("mode", "coordinator only (RINGRIFT_DISABLE_LOCAL_TASKS)")
    res = report["resources"]
    env.add_row("resources", f"{res['level']}" + (f": {res['reason']}" if res["reason"] else ""))
    for key in ("disk", "memory", "cpu", "load", "gpu_memory"):
        env.add_row(f"  {key}", res[key]["reason"])
    console.print(env)

    table = Table(title="Configurations")
    for col in ("config", "enabled", "games", "new", "best model", "Elo top", "last gate"):
        table.add_column(col)
    for name, c in report["configs"].items():
        if not (c["enabled"] or all_configs or c["games"]):
            continue
        top = ", ".join(f"{e['agent'][:14]} {e['elo']:.0f}" for e in c["elo_top"]) or "-"
        gate = c["last_gate_decision"]
        gate_text = (
            "-"
            if gate is None
            else (f"{gate['gate']}: {'pass' if gate['passed'] else 'no'} ({gate['reason']})")
        )
        table.add_row(
            name,
            "yes" if c["enabled"] else "no",
            str(c["games"]),
            str(c["new_games"]),
            (c["best_model"] or "-")[:12],
            top,
            gate_text,
        )
    console.print(table)


@app.command("import")
def import_games(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Game files: parity-trace JSONL (.jsonl/.jsonl.gz) or sealed shards."),
    ],
    validate: Annotated[
        bool, typer.Option("--validate/--no-validate", help="Replay every game through the rules.")
    ] = True,
) -> None:
    """Load games into the pool (idempotent: a game already there is not added twice)."""
    cfg = _load_config()
    store = _open_store(cfg)
    for path in paths:
        if not path.is_file():
            raise _fail_usage(f"not a file: {path}")
    failed = False
    for path in paths:
        with _LibraryErrors():
            if path.name.endswith(".shard"):
                m = store.pool.merge_shard(path, validate=validate)  # type: ignore[attr-defined]
                typer.echo(f"{path.name}: {m.added} added, {m.duplicates} already in the pool")
            else:
                r = store.pool.import_jsonl(path, validate=validate)  # type: ignore[attr-defined]
                typer.echo(
                    f"{path.name}: {r.added} added, {r.duplicates} already in the pool, "
                    f"{r.rejected} rejected"
                )
                for err in r.errors:
                    typer.echo(f"  rejected: {err}")
                failed = failed or r.rejected > 0
    if failed:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def elo(
    config: Annotated[
        str | None, typer.Option("--config", "-c", help="Board config [default: all enabled].")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    trend: Annotated[
        str | None,
        typer.Option("--trend", help="Write CONFIG's Elo-over-time plots to artifacts/."),
    ] = None,
) -> None:
    """The Elo ladder per config (batch Bradley-Terry fit, random anchored at 400)."""
    import json

    from ringrift_tasks.rules.state import GameConfig

    cfg = _load_config()
    store = _open_store(cfg)
    names = [config or trend] if (config or trend) else list(cfg.configs)  # type: ignore[attr-defined]
    out: dict[str, list[dict[str, object]]] = {}
    for name in names:
        with _LibraryErrors():
            GameConfig.parse(name)
            ratings = store.elo.ratings(name)  # type: ignore[attr-defined]
        out[name] = [
            {
                "agent": r.agent,
                "elo": r.elo,
                "ci_low": r.ci_low,
                "ci_high": r.ci_high,
                "games": r.games,
            }
            for r in ratings
        ]
    if trend:
        from ringrift_tasks.evaluation.trends import write_trend_artifacts

        for name in [trend]:
            written = write_trend_artifacts(
                store,  # type: ignore[arg-type]
                name,
                cfg.paths.artifacts,  # type: ignore[attr-defined]
                anchor_elo=cfg.tournament.random_anchor_elo,  # type: ignore[attr-defined]
                baselines=cfg.tournament.baselines,  # type: ignore[attr-defined]
            )
            for what, path in written.items():
                typer.echo(f"plot {name} {what}: {path}", err=as_json)
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    console = Console()
    for name, rows in out.items():
        table = Table(title=f"Elo ladder {name} ({store.elo.count(name)} matches)")  # type: ignore[attr-defined]
        for col in ("#", "agent", "Elo", "95% interval", "games"):
            table.add_column(col)
        for i, r in enumerate(rows, 1):
            table.add_row(
                str(i), str(r["agent"]), f"{r['elo']:.0f}",
                f"{r['ci_low']:.0f} .. {r['ci_high']:.0f}", str(r["games"]),
            )  # fmt: skip
        console.print(table)


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


@app.command()
def sync(
    validate: Annotated[
        bool, typer.Option("--validate/--no-validate", help="Replay every game before merging.")
    ] = True,
    mode: Annotated[
        str | None,
        typer.Option(
            "--mode",
            help="Pull from the worker nodes of hosts.yaml: games, models, elo or full "
            "(all three). Without it: merge the local incoming folder only.",
        ),
    ] = None,
    once: Annotated[
        bool,
        typer.Option("--once", help="With --mode: one pass, then exit (else every interval_s)."),
    ] = False,
    status: Annotated[
        bool, typer.Option("--status", help="Per node: reachable, last success, backlog, breaker.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --status: print JSON.")] = False,
) -> None:
    """Merge sealed shards into the pool: from RINGRIFT_HOME/shards/incoming, and with
    --mode from the worker nodes over SSH.

    Merged shards move to shards/merged; a bad shard moves to shards/quarantine with a
    .reason file and is counted. Exits 1 if anything was quarantined or a node failed.
    """
    cfg = _load_config()
    store = _open_store(cfg)
    if status:
        _sync_status(cfg, store, as_json)
        return
    if mode is None:
        if _collect_local(cfg, store, validate):
            raise typer.Exit(EXIT_FAILED)
        return
    modes = _SYNC_MODES.get(mode)
    if modes is None:
        raise _fail_usage(f"--mode must be one of games, models, elo, full; got {mode!r}")
    import time

    while True:
        failed = False
        for m in modes:
            failed |= _SYNC_MODE_RUNNERS[m](cfg, store, validate)
        if once:
            if failed:
                raise typer.Exit(EXIT_FAILED)
            return
        time.sleep(cfg.sync.interval_s)  # type: ignore[attr-defined]


def _collect_local(cfg: object, store: object, validate: bool) -> bool:
    """Merge the local incoming folder; True when something was quarantined."""
    from ringrift_tasks.sync.collect import collect_shards

    paths = cfg.paths  # type: ignore[attr-defined]
    report = collect_shards(
        store,  # type: ignore[arg-type]
        paths.shards_incoming,
        paths.shards_merged,
        paths.quarantine,
        validate=validate,
    )
    per = ", ".join(f"{k} +{v}" for k, v in sorted(report.added_per_config.items())) or "none"
    typer.echo(
        f"sync: {report.shards_merged} shards merged, {report.games_added} games added "
        f"({per}), {report.duplicates} duplicates, {report.shards_quarantined} quarantined"
    )
    for name, reason in report.quarantined.items():
        typer.echo(f"quarantined {name}: {reason}")
    return bool(report.shards_quarantined)


def _sync_games_mode(cfg: object, store: object, validate: bool) -> bool:
    """Pull games from every node, then merge the local incoming folder; True on a failure."""
    import dataclasses

    from ringrift_tasks.sync.games import (
        GamesSyncSettings,
        inventory_from_config,
        sync_games,
    )
    from ringrift_tasks.sync.transport import credentials_from_env

    with _LibraryErrors():
        inventory = inventory_from_config(cfg)  # type: ignore[arg-type]
        settings = dataclasses.replace(
            GamesSyncSettings.from_config(cfg),  # type: ignore[arg-type]
            validate=validate,
        )
        creds = credentials_from_env()
    report = sync_games(store, inventory, settings, creds)  # type: ignore[arg-type]
    for name, r in report.nodes.items():
        if not r.attempted:
            typer.echo(f"node {name}: skipped ({r.error})")
            continue
        state = "ok" if r.ok else f"FAILED: {r.error}"
        typer.echo(
            f"node {name}: {state}; {r.shards_merged} shards merged, {r.games_added} games "
            f"added, {r.duplicates} duplicates, {r.quarantined} quarantined, {r.bytes} bytes, "
            f"backlog {r.backlog}, breaker {r.breaker}"
        )
        for shard, reason in r.quarantine_reasons.items():
            typer.echo(f"quarantined {name}/{shard}: {reason}")
    if not report.nodes:
        typer.echo("sync games: no nodes in the inventory")
    local_bad = _collect_local(cfg, store, validate)
    return bool(report.failed_nodes or report.quarantined or local_bad)


def _sync_models_mode(cfg: object, store: object, validate: bool) -> bool:
    """Push each enabled config's best model to every node; True on a failure."""
    from ringrift_tasks.sync.games import inventory_from_config
    from ringrift_tasks.sync.models import ModelsSyncSettings, push_models
    from ringrift_tasks.sync.transport import credentials_from_env

    with _LibraryErrors():
        inventory = inventory_from_config(cfg)  # type: ignore[arg-type]
        settings = ModelsSyncSettings.from_config(cfg)  # type: ignore[arg-type]
        creds = credentials_from_env()
    report = push_models(
        store,
        inventory,
        list(cfg.configs),
        settings,
        creds,  # type: ignore[arg-type,attr-defined]
    )
    for config, why in report.local_errors.items():
        typer.echo(f"models {config}: not pushed: {why}")
    for name, o in report.nodes.items():
        if o.skipped:
            typer.echo(f"node {name}: skipped ({o.reason})")
        elif o.error is not None or o.result is None:
            typer.echo(f"node {name}: FAILED: {o.error}")
        else:
            r = o.result
            up = ", ".join(f"{c} {m[:12]}" for c, m in sorted(r.uploaded.items())) or "none"
            typer.echo(
                f"node {name}: uploaded {up}; {len(r.current)} current, {len(r.pruned)} files "
                f"pruned, {r.bytes_sent} bytes, breaker {o.breaker}"
            )
            for config, why in r.errors.items():
                typer.echo(f"node {name}: {config}: {why}")
    if not report.nodes:
        typer.echo("sync models: no nodes in the inventory")
    return bool(report.failed_nodes or report.local_errors)


def _sync_elo_mode(cfg: object, store: object, validate: bool) -> bool:
    """Merge the nodes' exported match files into the Elo log; True on a failure."""
    from ringrift_tasks.sync.elo import EloSyncSettings, pull_matches
    from ringrift_tasks.sync.games import inventory_from_config
    from ringrift_tasks.sync.transport import credentials_from_env

    with _LibraryErrors():
        inventory = inventory_from_config(cfg)  # type: ignore[arg-type]
        settings = EloSyncSettings.from_config(cfg)  # type: ignore[arg-type]
        creds = credentials_from_env()
    report = pull_matches(store, inventory, settings, creds)  # type: ignore[arg-type]
    for name, o in report.nodes.items():
        if o.skipped:
            typer.echo(f"node {name}: skipped ({o.reason})")
        elif o.error is not None or o.result is None:
            typer.echo(f"node {name}: FAILED: {o.error}")
        else:
            r = o.result
            typer.echo(
                f"node {name}: {r.files_merged} match files merged, {r.added} matches added, "
                f"{r.duplicates} duplicates, {len(r.rejected)} lines rejected, "
                f"{r.files_rejected} files set aside"
            )
            for f, why in r.file_errors.items():
                typer.echo(f"node {name}: {f}: {why}")
    for node, f, line, why in report.rejected:
        typer.echo(f"rejected {node}/{f} line {line}: {why}")
    if not report.nodes:
        typer.echo("sync elo: no nodes in the inventory")
    return bool(report.failed_nodes or report.rejected)


def _sync_full_mode(cfg: object, store: object, validate: bool) -> bool:
    """Games, models and Elo in one pass over the nodes (a node failing its games step is
    not tried again by the other two, so it counts once against its breaker), then the
    local incoming folder; True on a failure."""
    import json

    from ringrift_tasks.sync.cluster import sync_cluster
    from ringrift_tasks.sync.transport import credentials_from_env

    with _LibraryErrors():
        creds = credentials_from_env()
    report = sync_cluster(cfg, store, "full", creds)  # type: ignore[arg-type]
    summary = report.summary()
    for name, d in summary["nodes"].items():
        typer.echo(f"node {name}: {json.dumps(d, sort_keys=True, default=str)}")
    if not summary["nodes"]:
        typer.echo("sync full: no nodes in the inventory")
    failed = any(d["error"] or d["failures"] for d in summary["nodes"].values())
    return _collect_local(cfg, store, validate) or failed


_SYNC_MODE_RUNNERS: dict = {
    "games": _sync_games_mode,
    "models": _sync_models_mode,
    "elo": _sync_elo_mode,
    "full": _sync_full_mode,
}
_SYNC_MODES = {
    "games": ("games",),
    "models": ("models",),
    "elo": ("elo",),
    "full": ("full",),
}


def _sync_status(cfg: object, store: object, as_json: bool) -> None:
    """Print each inventory node's stored sync health."""
    import json
    import time

    from ringrift_tasks.sync.games import inventory_from_config, node_health

    with _LibraryErrors():
        inventory = inventory_from_config(cfg)  # type: ignore[arg-type]
    rows = node_health(store, inventory)  # type: ignore[arg-type]
    if as_json:
        out = {
            h.node: {
                "reachable": h.reachable,
                "last_attempt": h.last_attempt,
                "last_success": h.last_success,
                "last_error": h.last_error,
                "backlog": h.backlog,
                "quarantined": h.quarantined,
                "breaker": h.breaker_state,
                "consecutive_failures": h.consecutive_failures,
            }
            for h in rows
        }
        typer.echo(json.dumps(out, indent=2, sort_keys=True))
        return
    if not rows:
        typer.echo("sync status: no nodes in the inventory")
        return

    def when(t: float | None) -> str:
        return "never" if t is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))

    table = Table(title="Sync status (times UTC)")
    for col in ("node", "reachable", "last success", "backlog", "quarantined", "breaker", "error"):
        table.add_column(col)
    for h in rows:
        reach = "?" if h.reachable is None else ("yes" if h.reachable else "no")
        table.add_row(
            h.node,
            reach,
            when(h.last_success),
            str(h.backlog),
            str(h.quarantined),
            f"{h.breaker_state} ({h.consecutive_failures})",
            (h.last_error or "")[:80],
        )
    Console().print(table)


@app.command()
def check(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    sample: Annotated[
        int | None,
        typer.Option("--sample", min=1, help="Replay only this many games (default: all)."),
    ] = None,
) -> None:
    """Check the stores' integrity: games replay, no duplicates, Elo log and fit, gate
    evidence, one best per config with its file. Exits 1 naming what failed."""
    import json

    from ringrift_tasks.integrity import check_integrity

    cfg = _load_config()
    store = _open_store(cfg)
    with _LibraryErrors():
        report = check_integrity(
            store,  # type: ignore[arg-type]
            sample=sample,
            anchor_elo=cfg.tournament.random_anchor_elo,  # type: ignore[attr-defined]
        )
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        for c in report.checks:
            word = "ok" if c.passed else "FAILED"
            note = f" ({c.note})" if c.note else ""
            typer.echo(f"{c.name}: {word}, {c.checked} checked, {len(c.problems)} problems{note}")
            for problem in c.problems:
                typer.echo(f"  {problem}")
        typer.echo("integrity: " + ("ok" if report.passed else "FAILED"))
    if not report.passed:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def stats(
    config: Annotated[
        str | None, typer.Option("--config", "-c", help="Board config [default: all in pool].")
    ] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="Only games of this kind (selfplay, evaluation).")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Newest N games.")] = None,
    plots: Annotated[bool, typer.Option("--plots", help="Write PNG plots to artifacts/.")] = False,
    by_generation: Annotated[
        bool, typer.Option("--by-generation", help="One block per model generation.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Game statistics per config (or per model generation): lengths, victory reasons,
    seat win rates."""
    import json

    from ringrift_tasks.evaluation.game_stats import stats_from_pool, write_stats_artifacts
    from ringrift_tasks.rules.state import GameConfig

    cfg = _load_config()
    store = _open_store(cfg)
    if config is not None:
        with _LibraryErrors():
            GameConfig.parse(config)
    if by_generation:
        from ringrift_tasks.evaluation.game_stats import stats_by_generation

        games = store.pool.iter_games(config, limit=limit)  # type: ignore[attr-defined]
        per_config = {
            f"{c} {gen}": st
            for (c, gen), st in stats_by_generation(
                g for g in games if kind is None or g.kind == kind
            ).items()
        }
    else:
        per_config = stats_from_pool(store, config, kind=kind, limit=limit)  # type: ignore[arg-type]
    if as_json:
        typer.echo(json.dumps({c: s.to_json() for c, s in per_config.items()}, indent=2))
    else:
        console = Console()
        for name, st in per_config.items():
            table = Table(title=f"{name}: {st.games} games", show_header=False)
            table.add_column("what", style="bold")
            table.add_column("value")
            length = st.length_summary()
            table.add_row("length (moves)", ", ".join(f"{k} {v:g}" for k, v in length.items()))
            table.add_row(
                "victory reasons", ", ".join(f"{k} {v}" for k, v in st.terminations.items())
            )
            table.add_row(
                "seat win rates",
                ", ".join(f"seat {i + 1} {r:.1%}" for i, r in enumerate(st.seat_win_rates)),
            )
            console.print(table)
        if not per_config:
            typer.echo("stats: no games in the pool" + (f" for {config}" if config else ""))
    if plots:
        out = write_stats_artifacts(
            store,  # type: ignore[arg-type]
            cfg.paths.artifacts,  # type: ignore[attr-defined]
            config,
            kind=kind,
            limit=limit,
        )
        for name, path in out.items():
            typer.echo(f"plot {name}: {path}", err=as_json)


@app.command()
def tournament(
    kind: Annotated[str, typer.Argument(help="shadow (candidate vs best and baselines) or full.")],
    config: Annotated[
        list[str] | None, typer.Option("--config", "-c", help="Configs [default: enabled].")
    ] = None,
    games: Annotated[int | None, typer.Option("--games", min=1, help="Games per config.")] = None,
    workers: Annotated[int | None, typer.Option("--workers", "-w", min=1)] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Logical time (ISO, UTC) naming the tournament [now]."),
    ] = None,
) -> None:
    """Play a tournament into the pool and the Elo log; rerunning the same logical time
    continues the same tournament instead of playing it twice."""
    from datetime import UTC, datetime

    from ringrift_tasks.evaluation.tournament import (
        RunOptions,
        run_full_tournament,
        run_shadow_tournament,
    )

    if kind not in ("shadow", "full"):
        raise _fail_usage(f"tournament kind must be 'shadow' or 'full', got {kind!r}")
    cfg = _load_config()
    store = _open_store(cfg)
    with _LibraryErrors():
        when = datetime.fromisoformat(at) if at else datetime.now(UTC)
        opts = dataclasses.replace(
            RunOptions.from_config(cfg),  # type: ignore[attr-defined]
            workers=workers or cfg.selfplay.workers,
        )
        if kind == "shadow":
            results = run_shadow_tournament(
                cfg,
                store,
                when,
                configs=config,
                games_per_config=games,
                options=opts,  # type: ignore[arg-type]
            )
        else:
            results = run_full_tournament(
                cfg,
                store,
                when,
                configs=config,
                games=games,
                options=opts,  # type: ignore[arg-type]
            )
    incomplete = False
    for r in results:
        if r.skipped:
            typer.echo(f"{r.tournament_id}: skipped ({r.skipped})")
            continue
        typer.echo(
            f"{r.tournament_id}: {len(r.report.played)} played, {len(r.report.already)} already "
            f"logged, of {r.scheduled} scheduled"
        )
        for rating in r.ratings:
            typer.echo(
                f"  {rating.agent:<24} {rating.elo:7.1f}  [{rating.ci_low:.0f}, "
                f"{rating.ci_high:.0f}]  {rating.games} games"
            )
        for why in [*r.report.stopped.values(), *r.report.failed.values()]:
            typer.echo(f"  stopped: {why}")
        incomplete = incomplete or not r.report.complete
    if incomplete:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def promote(
    config: Annotated[str, typer.Argument(help="Board config, e.g. square8_2p.")],
    candidate: Annotated[
        str | None, typer.Option("--candidate", help="Model id to gate [newest candidate].")
    ] = None,
    rollback: Annotated[
        bool, typer.Option("--rollback", help="Restore the previous best instead.")
    ] = False,
    reason: Annotated[str, typer.Option("--reason", help="Why (required for --rollback).")] = "",
) -> None:
    """Run the promotion gate for a candidate, or roll the best back (--rollback)."""
    from ringrift_tasks.evaluation.promotion import rollback as do_rollback
    from ringrift_tasks.evaluation.promotion import run_promotion_gate
    from ringrift_tasks.rules.state import GameConfig

    cfg = _load_config()
    store = _open_store(cfg)
    with _LibraryErrors():
        GameConfig.parse(config)
        if rollback:
            restored = do_rollback(store, config, reason)  # type: ignore[arg-type]
            typer.echo(f"rollback {config}: best is now {restored.model_id[:12]} ({reason})")
            return
        if candidate is None:
            cands = store.registry.candidates(config)  # type: ignore[attr-defined]
            if not cands:
                raise ValueError(f"no candidate registered for {config}")
            candidate = max(cands, key=lambda m: m.created_at).model_id
        result = run_promotion_gate(cfg, store, config, candidate)  # type: ignore[arg-type]
    d = result.decision
    stats_text = "" if d is None else f" after {d.games} games (score {d.score:.3f}, {d.method})"
    verdict = "promoted" if result.promoted else "not promoted"
    typer.echo(f"promotion {config} {candidate[:12]}: {verdict}: {result.reason}{stats_text}")
    if not result.promoted:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def train(
    config: Annotated[
        str | None,
        typer.Option(
            "--config", "-c", help="Board config, e.g. square8_2p [default: first enabled]."
        ),
    ] = None,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Optimiser steps.")] = 1000,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Samples per step.")] = 256,
    window: Annotated[
        int | None,
        typer.Option("--window", min=1, help="Newest games to train on [grows with the pool]."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the data order and the init.")] = 0,
    run_dir: Annotated[
        Path | None,
        typer.Option(
            "--run-dir",
            help="Run directory [RINGRIFT_HOME/runs/<config>-s<seed>-<N>]; "
            "an unfinished run there is resumed.",
        ),
    ] = None,
    blocks: Annotated[
        int | None, typer.Option("--blocks", min=1, help="Residual blocks [board default].")
    ] = None,
    channels: Annotated[
        int | None, typer.Option("--channels", min=1, help="Tower channels [board default].")
    ] = None,
    checkpoint_every: Annotated[
        int, typer.Option("--checkpoint-every", min=1, help="Steps between checkpoints.")
    ] = 100,
) -> None:
    """Train a candidate model on the newest games of one config and register it.

    Exits 0 with the candidate's id, 1 when the data-quality gate refuses the window (the
    reason is printed), 2 for bad input.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from ringrift_tasks.ai.network import default_model_config
    from ringrift_tasks.rules.state import GameConfig
    from ringrift_tasks.store import open_store
    from ringrift_tasks.training.quality import DataQualityError
    from ringrift_tasks.training.trainer import train as run_training

    cfg = _load_config()
    name = config or cfg.configs[0]  # type: ignore[attr-defined]
    with _LibraryErrors():
        board = GameConfig.parse(name).board_type
        sizes = {k: v for k, v in (("blocks", blocks), ("channels", channels)) if v is not None}
        if "channels" in sizes:
            # The squeeze-excitation reduction must divide the channels.
            sizes["se_reduction"] = 4 if sizes["channels"] % 4 == 0 else 1
        model = default_model_config(board, **sizes).to_dict()
        store = open_store(cfg.store_url)  # type: ignore[attr-defined]
    runs = Path(cfg.home) / "runs"  # type: ignore[attr-defined]
    if run_dir is None:
        base = f"{name}-s{seed}-{store.pool.count(name)}"
        run_dir = runs / base
    console = Console(stderr=True)
    with (
        store,
        Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            "{task.fields[loss]}",
            console=console,
        ) as bar,
    ):
        task = bar.add_task(f"train {name}", total=steps, loss="")

        def on_step(step: int, total: int, figures: dict[str, float] | None) -> None:
            loss = f"loss {figures['loss']:.3f}" if figures else ""
            bar.update(task, completed=step, loss=loss)

        try:
            with _LibraryErrors():
                result = run_training(
                    cfg,
                    name,
                    store,
                    run_dir,
                    steps,
                    batch_size,
                    seed,
                    window=window,
                    model=model,
                    checkpoint_every=checkpoint_every,
                    progress=on_step,
                )
        except DataQualityError as exc:
            typer.echo(f"refused: {exc}", err=True)
            raise typer.Exit(EXIT_FAILED) from None
    acc = result.metrics.get("holdout_value_accuracy")
    typer.echo(
        f"train: candidate {result.model_id} for {name} after {result.steps} steps "
        f"(parent {result.parent or 'none'}, T {result.calibration_temperature:.2f}"
        + (f", holdout value accuracy {acc:.3f}" if acc is not None else "")
        + f") in {result.run_dir}"
    )


def _utc(t: float) -> str:
    """Unix seconds as ``YYYY-MM-DD HH:MM:SS`` UTC."""
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))


_GATE_KINDS = ("training", "promotion")


@app.command()
def decisions(
    config: Annotated[
        str | None, typer.Option("--config", "-c", help="Board config [default: all].")
    ] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="Only this gate: training or promotion.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Newest N decisions.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """Gate decisions, newest first: when, config, gate, run id, passed, reason, evidence."""
    import json

    from ringrift_tasks.rules.state import GameConfig

    if kind is not None and kind not in _GATE_KINDS:
        raise _fail_usage(f"--kind must be one of {', '.join(_GATE_KINDS)}; got {kind!r}")
    cfg = _load_config()
    store = _open_store(cfg)
    if config is not None:
        with _LibraryErrors():
            GameConfig.parse(config)
    rows = store.decisions.recent(config, kind, limit)  # type: ignore[attr-defined]
    if as_json:
        out = [
            {
                "at": d.at,
                "time_utc": _utc(d.at),
                "config": d.config,
                "gate": d.gate,
                "run_id": d.run_id,
                "passed": d.passed,
                "reason": d.reason,
                "evidence": d.evidence,
            }
            for d in rows
        ]
        typer.echo(json.dumps(out, indent=2, sort_keys=True, default=str))
        return
    if not rows:
        scope = " ".join(x for x in (config, kind) if x)
        typer.echo("decisions: none recorded" + (f" for {scope}" if scope else ""))
        return
    for d in rows:
        verdict = "passed" if d.passed else "refused"
        typer.echo(
            f"{_utc(d.at)} UTC  {d.config}  {d.gate}  {verdict}  run {d.run_id or '-'}: {d.reason}"
        )
        if d.evidence:
            typer.echo("  evidence: " + json.dumps(d.evidence, sort_keys=True, default=str))


quarantine_app = typer.Typer(
    help="Quarantined shards: list them, retry one (re-verify, back to incoming), drop one.",
    no_args_is_help=True,
)
app.add_typer(quarantine_app, name="quarantine")


@quarantine_app.command("list")
def quarantine_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """Every quarantined shard, local and per node, newest first: reason, size, when, and
    whether its games are already in the pool."""
    import json

    from ringrift_tasks.sync.quarantine import QuarantinePaths, list_quarantine

    cfg = _load_config()
    store = _open_store(cfg)
    shards = list_quarantine(QuarantinePaths.from_config(cfg).quarantine, store)  # type: ignore[arg-type]
    if as_json:
        typer.echo(json.dumps([q.to_json() for q in shards], indent=2, sort_keys=True))
        return
    if not shards:
        typer.echo("quarantine: empty")
        return
    for q in shards:
        size = "bytes on the node only" if q.size is None else f"{q.size} bytes"
        pool = "games already in the pool" if q.in_pool else "not in the pool"
        typer.echo(f"{q.key}  {_utc(q.quarantined_at)} UTC  {size}  {pool}")
        typer.echo(f"  reason: {q.reason}")
    typer.echo(f"quarantine: {len(shards)} shards")


@quarantine_app.command("retry")
def quarantine_retry(
    name: Annotated[str, typer.Argument(help="[NODE/]shard name, hash or hash prefix.")],
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Move it back without the check (the next sync re-verifies and quarantines "
            "it again if it is still bad).",
        ),
    ] = False,
) -> None:
    """Re-verify a quarantined shard and move it back to shards/incoming, where the next
    data sync merges it. Exits 1 (shard stays quarantined) if it still fails."""
    from ringrift_tasks.sync.quarantine import QuarantinePaths, RetryRefused, retry

    cfg = _load_config()
    store = _open_store(cfg)
    with _LibraryErrors():
        try:
            result = retry(QuarantinePaths.from_config(cfg), name, force=force, store=store)  # type: ignore[arg-type]
        except RetryRefused as exc:  # the check ran and failed: exit 1, not a usage error
            typer.echo(f"refused: {exc}", err=True)
            raise typer.Exit(EXIT_FAILED) from None
    checked = "not checked (--force)" if result.forced else f"verified, {result.games} games"
    typer.echo(
        f"retry {result.shard.key}: {checked}; moved to {result.moved_to} "
        "(the next data sync merges it)"
    )


@quarantine_app.command("drop")
def quarantine_drop(
    name: Annotated[str, typer.Argument(help="[NODE/]shard name, hash or hash prefix.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (required).")] = "",
) -> None:
    """Set a quarantined shard aside for good: moved with its reasons (yours appended) to
    shards/dropped. Nothing is deleted."""
    from ringrift_tasks.sync.quarantine import QuarantinePaths, drop

    cfg = _load_config()
    store = _open_store(cfg)
    paths = QuarantinePaths.from_config(cfg)  # type: ignore[arg-type]
    with _LibraryErrors():
        q = drop(paths, name, reason, store=store)  # type: ignore[arg-type]
    where = paths.dropped if q.node is None else paths.dropped / q.node
    typer.echo(f"dropped {q.key}: moved to {where} ({reason.strip()})")
