"""Worker processes that never outlive the process that started them.

Self-play and match workers are spawned by a task process. When that process is killed
(Airflow's supervisor SIGKILLs a task that times out or is marked failed; an operator
presses Ctrl-C; the scheduler host dies) nothing runs its ``finally`` block, and the
workers would go on playing, unsupervised, holding CPU and a store connection. Each
worker therefore watches its parent: multiprocessing gives every child the read end of a
pipe whose other end only the parent holds (the parent *sentinel*); the kernel closes it
when the parent exits however it exits, which makes the sentinel readable at once.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import threading
from multiprocessing.connection import wait

# Exit status of a worker that stopped because its parent was gone (distinct from a crash).
EXIT_ORPHANED = 75


def exit_with_parent() -> bool:
    """In a multiprocessing child: end this process as soon as its parent exits (a daemon
    thread blocks on the parent sentinel). Returns False, and does nothing, in a process
    that multiprocessing did not start (a test calling a worker's entry point directly)."""
    parent = mp.parent_process()
    if parent is None or parent.sentinel is None:
        return False

    def watch() -> None:
        wait([parent.sentinel])
        # os._exit, not sys.exit: the main thread may be deep in a game, and there is no
        # one left to report to; what was sealed is sealed, the rest is lost by design.
        print(f"worker {os.getpid()}: parent {parent.pid} is gone; exiting", file=sys.stderr)
        os._exit(EXIT_ORPHANED)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
    return True


def limit_torch_threads(threads: int) -> None:
    """Give this worker process's torch ``threads`` intra-op threads (and its OpenMP/MKL
    runtimes the same, for a torch imported later).

    Why: the loop's parallelism on a CPU is its worker processes. Each one evaluates small
    batches, where extra intra-op threads gain nothing; but torch's default (one thread per
    core in every process) oversubscribes the cores as soon as two workers or a tournament
    run beside each other, and their spinning thread pools slow everyone down by an order
    of magnitude (measured: three 16-simulation self-play processes on 2 cores took 13x
    longer with the default than with one thread each)."""
    if threads < 1:
        raise ValueError(f"torch threads must be >= 1, got {threads}")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)
