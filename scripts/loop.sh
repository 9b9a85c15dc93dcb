#!/usr/bin/env bash
# Run the RingRift loop on the embedded default: Airflow standalone, SQLite, LocalExecutor.
#
# Until the Airflow DAGs land this runs one turn of the loop by hand: a short heuristic
# self-play run, a sync of its shards into the game pool, and `ringrift status`. The
# command name stays: README tells people to run `bash scripts/loop.sh`.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$repo_root/scripts/setup_env.sh"
cd "$repo_root"

# All runtime state (Airflow's home, its SQLite DB, logs) stays in var/, never in ~/airflow.
export AIRFLOW_HOME="${AIRFLOW_HOME:-$repo_root/var/airflow}"
mkdir -p "$AIRFLOW_HOME"

# The loop's own data (stores, shards, models) lives in var/ringrift unless set.
export RINGRIFT_HOME="${RINGRIFT_HOME:-$repo_root/var/ringrift}"

echo "loop: airflow $(.venv/bin/airflow version), data in $RINGRIFT_HOME"
.venv/bin/ringrift selfplay --games "${RINGRIFT_SMOKE_GAMES:-8}" --agent heuristic
.venv/bin/ringrift sync
exec .venv/bin/ringrift status
