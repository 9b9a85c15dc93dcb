"""Reading reference game traces (``ringrift-oracle-trace/1``, parity README §1)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TRACE_FORMAT = "ringrift-oracle-trace/1"


class TraceFormatError(ValueError):
    """A trace line that is not a game record; the message names the file, line and field."""


def iter_trace_games(path: Path) -> Iterator[dict[str, Any]]:
    """Yield every game record of a ``.jsonl.gz`` (or plain ``.jsonl``) trace file, in order."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                game = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TraceFormatError(f"{path}:{lineno}: not JSON ({exc.msg})") from None
            for field in ("config", "seed", "initial_digest", "steps", "result"):
                if field not in game:
                    raise TraceFormatError(f"{path}:{lineno}: missing field {field!r}")
            if game.get("format", TRACE_FORMAT) != TRACE_FORMAT:
                raise TraceFormatError(f"{path}:{lineno}: unknown format {game.get('format')!r}")
            yield game
