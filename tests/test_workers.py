"""Worker processes die with the task process that started them: a SIGKILLed parent (a
timed-out Airflow task, Ctrl-C on the loop) leaves no self-play or match worker playing on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from ringrift_tasks.workers import EXIT_ORPHANED, exit_with_parent, limit_torch_threads

REPO = Path(__file__).resolve().parents[1]

# Each script starts a long job in 2 spawned workers and prints READY once a worker has
# reported progress, so the workers are busy when the parent is killed.
SELFPLAY = """
    import sys
    from pathlib import Path
    from ringrift_tasks.selfplay.worker import run_selfplay

    def progress(ev):
        if ev.kind == "shard":
            print("READY", flush=True)

    if __name__ == "__main__":
        run_selfplay("square8_2p", 100_000, 2, Path(sys.argv[1]), "random", 1, 1,
                     progress=progress)
"""
MATCHES = """
    import sys
    from ringrift_tasks.evaluation.match import Participant, run_matches, schedule_group
    from ringrift_tasks.store.db import open_store

    def progress(ev):
        if ev.kind == "game":
            print("READY", flush=True)

    if __name__ == "__main__":
        P = Participant.baseline
        matches = schedule_group("orphan", "square8_2p", [P("random"), P("heuristic")], 100_000)
        with open_store(f"sqlite:///{sys.argv[1]}/ringrift.db") as store:
            run_matches(store, matches, workers=2, progress=progress)
"""


@pytest.mark.parametrize("script", [SELFPLAY, MATCHES], ids=["selfplay", "matches"])
def test_workers_exit_when_their_parent_is_killed(script: str, tmp_path: Path) -> None:
    path = tmp_path / "parent.py"
    path.write_text(textwrap.dedent(script))
    parent = subprocess.Popen(
        [sys.executable, str(path), str(tmp_path)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line.strip() == "READY", f"parent exited with {parent.poll()} before any work"
        workers = [
            p
            for p in psutil.Process(parent.pid).children()
            if "spawn_main" in " ".join(p.cmdline())
        ]
        assert len(workers) == 2, [p.cmdline() for p in workers]
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        gone, alive = psutil.wait_procs(workers, timeout=20)
        assert not alive, f"workers still running after their parent died: {alive}"
        assert {p.returncode for p in gone} <= {EXIT_ORPHANED, None}  # None: reaped by init
    finally:
        if parent.poll() is None:
            parent.kill()
        for p in psutil.Process().children(recursive=True):
            if p.pid != os.getpid():
                p.kill()


def test_outside_a_multiprocessing_child_nothing_is_watched() -> None:
    assert exit_with_parent() is False


THREADS = """
    import os, sys
    from ringrift_tasks.workers import limit_torch_threads
    if sys.argv[1] == "before":
        limit_torch_threads(1)
        import torch
    else:
        import torch
        torch.set_num_threads(4)
        limit_torch_threads(1)
    print(torch.get_num_threads(), os.environ["OMP_NUM_THREADS"])
"""


@pytest.mark.parametrize("when", ["before", "after"])
def test_limit_torch_threads_holds_whether_torch_is_imported_before_or_after(
    when: str, tmp_path: Path
) -> None:
    path = tmp_path / "threads.py"
    path.write_text(textwrap.dedent(THREADS))
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    out = subprocess.run(
        [sys.executable, str(path), when],
        cwd=REPO,
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.split()
    assert out == ["1", "1"]


def test_limit_torch_threads_refuses_zero() -> None:
    with pytest.raises(ValueError, match="torch threads must be >= 1, got 0"):
        limit_torch_threads(0)


class RecordTorchThreads:
    """A self-play guard (it runs inside each worker) that writes the worker's torch thread
    count into ``folder`` and never pauses."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __call__(self) -> str | None:
        import torch

        (self.folder / f"threads-{os.getpid()}").write_text(str(torch.get_num_threads()))
        return None


@pytest.mark.parametrize("threads", [1, 2])
def test_selfplay_workers_run_torch_with_the_configured_threads(
    threads: int, tmp_path: Path
) -> None:
    from ringrift_tasks.selfplay.worker import run_selfplay

    seen = tmp_path / "seen"
    seen.mkdir()
    run_selfplay(
        "square8_2p",
        2,
        2,
        tmp_path / "shards",
        "random",
        1,
        5,
        guard=RecordTorchThreads(seen),
        max_steps=5,
        torch_threads=threads,
    )
    counts = [p.read_text() for p in seen.iterdir()]
    assert len(counts) == 2 and set(counts) == {str(threads)}
