#!/usr/bin/env bash
# Run the RingRift loop on the embedded default: Airflow standalone, SQLite, LocalExecutor.
#
# Until the Airflow DAGs land this runs a smoke check (Airflow imports and answers with
# its state kept under var/airflow) and `ringrift status`. The command name stays:
# README tells people to run `bash scripts/loop.sh`.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$repo_root/scripts/setup_env.sh"
cd "$repo_root"

# All runtime state (Airflow's home, its SQLite DB, logs) stays in var/, never in ~/airflow.
export AIRFLOW_HOME="${AIRFLOW_HOME:-$repo_root/var/airflow}"
mkdir -p "$AIRFLOW_HOME"

echo "loop: airflow $(.venv/bin/airflow version)"
exec .venv/bin/ringrift status
