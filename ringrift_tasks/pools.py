"""Worker pools: how many tasks of each kind may run at once on this machine.

The scheduler (Airflow) runs a task only when its pool has a free slot, so the pools are
the coarse resource guard: self-play games fill the CPUs, one training at a time per GPU,
one merger of shards, tournaments beside self-play. Sizes come from the loop config and the
machine; ``python -m ringrift_tasks.pools PATH`` writes them in the JSON form of
``airflow pools import``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ringrift_tasks.config import RingriftConfig

SELFPLAY, GPU, SYNC, TOURNAMENT = "selfplay", "gpu", "sync", "tournament"
POOL_NAMES = (SELFPLAY, GPU, SYNC, TOURNAMENT)


def pool_sizes(workers: int, cpu_count: int, gpu_count: int) -> dict[str, int]:
    """Slots per pool. A self-play or tournament task runs ``workers`` processes: self-play
    may use every CPU but one (kept for the scheduler and the sync), tournaments half of
    them; training takes one slot per GPU (one when there is none: it trains on the CPU);
    shards are merged by one task at a time."""
    if workers < 1 or cpu_count < 1 or gpu_count < 0:
        raise ValueError(
            f"pool_sizes: expected workers >= 1, cpu_count >= 1, gpu_count >= 0; got "
            f"{workers}, {cpu_count}, {gpu_count}"
        )
    return {
        SELFPLAY: max(1, (cpu_count - 1) // workers),
        GPU: max(1, gpu_count),
        SYNC: 1,
        TOURNAMENT: max(1, cpu_count // (2 * workers)),
    }


_DESCRIPTIONS = {
    SELFPLAY: "self-play tasks (each runs selfplay.workers processes)",
    GPU: "training runs: one per GPU",
    SYNC: "shard collection and merging: one at a time",
    TOURNAMENT: "tournaments and promotion gates",
}


def pools_document(
    cfg: RingriftConfig, cpu_count: int | None = None, gpu_count: int | None = None
) -> dict:
    """The pools as ``airflow pools import`` reads them: ``{name: {slots, description,
    include_deferred}}``; the machine's CPUs and GPUs unless given."""
    if cpu_count is None:
        cpu_count = os.cpu_count() or 1
    if gpu_count is None:
        from ringrift_tasks.resources import sample_gpus

        gpus, _why = sample_gpus()
        gpu_count = len(gpus or [])
    sizes = pool_sizes(cfg.selfplay.workers, cpu_count, gpu_count)
    return {
        name: {"slots": sizes[name], "description": _DESCRIPTIONS[name], "include_deferred": False}
        for name in POOL_NAMES
    }


def main(argv: list[str]) -> int:
    """Write the pools JSON for the loaded config to ``argv[0]`` (``-``: stdout)."""
    from ringrift_tasks.config import load_config

    if len(argv) != 1:
        print("usage: python -m ringrift_tasks.pools OUTPUT.json|-", file=sys.stderr)
        return 2
    text = json.dumps(pools_document(load_config()), indent=2, sort_keys=True) + "\n"
    if argv[0] == "-":
        sys.stdout.write(text)
    else:
        Path(argv[0]).parent.mkdir(parents=True, exist_ok=True)
        Path(argv[0]).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
