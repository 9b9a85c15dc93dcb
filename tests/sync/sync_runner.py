"""Runs one games-sync pass in a child process (the crash tests SIGKILL it mid-pass).

Usage: ``python -m tests.sync.sync_runner SPEC.json``; the spec names the store URL, the
coordinator home, known_hosts, the client key and the nodes. Exit 0 when every node synced.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ringrift_tasks.store import open_store
from ringrift_tasks.sync.breaker import BreakerPolicy
from ringrift_tasks.sync.games import GamesSyncSettings, sync_games
from ringrift_tasks.sync.hosts import parse_inventory
from ringrift_tasks.sync.transport import SshCredentials, SshSettings


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    home = Path(spec["home"])
    settings = GamesSyncSettings(
        staging=home / "shards" / "downloading",
        merged=home / "shards" / "merged",
        quarantine=home / "shards" / "quarantine",
        ssh=SshSettings(known_hosts=Path(spec["known_hosts"]), connect_timeout_s=5.0),
        breaker=BreakerPolicy(failures=5, cooldown_s=0.0),
        chunk_bytes=int(spec.get("chunk_bytes", 1 << 20)),
    )
    creds = SshCredentials(key_filename=spec["key"], allow_agent=False)
    with open_store(spec["store"]) as store:
        report = sync_games(store, parse_inventory({"nodes": spec["nodes"]}), settings, creds)
    return 0 if not report.failed_nodes else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
