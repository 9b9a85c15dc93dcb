#!/usr/bin/env bash
# One-shot setup of the cluster (the airflow-init service of docker-compose.yaml), the
# container form of scripts/airflow_setup.sh: migrate the metadata DB, import the pools sized
# from the loop config, and write the simple auth manager's password file so that "admin"
# logs in with $AIRFLOW_ADMIN_PASSWORD. Idempotent; every other service waits for it.
set -euo pipefail

: "${AIRFLOW_ADMIN_PASSWORD:?AIRFLOW_ADMIN_PASSWORD is not set}"
: "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:?passwords file path not set}"

echo "airflow-init: migrating the metadata DB" >&2
airflow db migrate

pools="$(mktemp --suffix=.json)"
python -m ringrift_tasks.pools "$pools"
airflow pools import "$pools" >&2
rm -f "$pools"

python - <<'PY'
import json
import os
from pathlib import Path

path = Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
path.parent.mkdir(parents=True, exist_ok=True)
passwords = json.loads(path.read_text() or "{}") if path.exists() else {}
passwords["admin"] = os.environ["AIRFLOW_ADMIN_PASSWORD"]
path.write_text(json.dumps(passwords) + "\n")
path.chmod(0o600)
PY
echo "airflow-init: done (login: admin / \$AIRFLOW_ADMIN_PASSWORD)" >&2
