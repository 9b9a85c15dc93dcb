#!/usr/bin/env bash
# Prepare the embedded Airflow: environment, metadata DB schema, pools. Idempotent.
#
# Pools are sized from the loop config and this machine (python -m ringrift_tasks.pools)
# and imported with `airflow pools import`; a task naming a missing pool would never run.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$repo_root/scripts/setup_env.sh"
# shellcheck source=scripts/airflow_env.sh
source "$repo_root/scripts/airflow_env.sh"
cd "$repo_root"

airflow=".venv/bin/airflow"
echo "airflow_setup: migrating the metadata DB in $AIRFLOW_HOME" >&2
"$airflow" db migrate >"$AIRFLOW_HOME/db_migrate.log" 2>&1 || {
    tail -n 40 "$AIRFLOW_HOME/db_migrate.log" >&2
    exit 1
}
.venv/bin/python -m ringrift_tasks.pools "$AIRFLOW_HOME/pools.json"
"$airflow" pools import "$AIRFLOW_HOME/pools.json" >&2
