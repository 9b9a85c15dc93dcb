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

from ringrift_tasks.workers import EXIT_ORPHANED, exit_with_parent

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
