#!/usr/bin/env bash
# Run the RingRift loop on the embedded default: Airflow standalone, SQLite, LocalExecutor.
#
# Sets up the virtual environment, the Airflow environment (scripts/airflow_env.sh: all
# state under var/), the metadata DB and the pools, then runs `airflow standalone`
# (scheduler, DAG processor, triggerer and API server with the UI) in the foreground;
# Ctrl-C stops it. The DAGs in dags/ start unpaused and run the loop on square8_2p.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$repo_root/scripts/airflow_setup.sh"
# shellcheck source=scripts/airflow_env.sh
source "$repo_root/scripts/airflow_env.sh"
cd "$repo_root"

port="${AIRFLOW__API__PORT:-8080}"
cat <<MSG
loop: Airflow $(.venv/bin/airflow version) standalone
loop:   UI             http://localhost:$port  (user admin)
loop:   admin password $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated
loop:   DAGs           $AIRFLOW__CORE__DAGS_FOLDER
loop:   loop data      $RINGRIFT_HOME
MSG
exec .venv/bin/airflow standalone
