"""Run one training in its own process (the kill-and-resume test starts and kills it).

    python -m tests.training.resume_script <store_url> <home> <run_dir> <steps> <delay_s>

``delay_s`` sleeps after every step so the test can kill the run mid-way; the sleep is in
the progress callback, outside the training arithmetic.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ringrift_tasks.config import load_config
from ringrift_tasks.store import open_store
from ringrift_tasks.training.trainer import train
from tests.training.games import tiny_model


def main() -> None:
    url, home, run_dir, steps, delay = sys.argv[1:6]
    cfg = load_config(env={"RINGRIFT_HOME": home})
    pause = float(delay)

    def progress(step: int, total: int, figures: object) -> None:
        if pause:
            time.sleep(pause)

    with open_store(url) as store:
        result = train(
            cfg,
            "square8_2p",
            store,
            Path(run_dir),
            int(steps),
            batch_size=16,
            seed=7,
            model=tiny_model(),
            checkpoint_every=4,
            log_every=2,
            holdout_fraction=0.25,
            progress=progress,
        )
    print(json.dumps({"model_path": str(result.model_path), "resumed_from": result.resumed_from}))


if __name__ == "__main__":
    main()
