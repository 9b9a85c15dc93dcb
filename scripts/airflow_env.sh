#!/usr/bin/env bash
# Source me: the environment of the embedded Airflow (standalone, SQLite, LocalExecutor).
#
#   source scripts/airflow_env.sh      # then: .venv/bin/airflow dags list
#
# All of Airflow's state (its SQLite DB, logs, generated admin password) lives in
# <repo>/var/airflow and the loop's data in <repo>/var/ringrift, never in ~/airflow.
# Values already set in the environment win, so a deployment can point elsewhere.

_ringrift_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

export AIRFLOW_HOME="${AIRFLOW_HOME:-$_ringrift_repo/var/airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="${AIRFLOW__CORE__DAGS_FOLDER:-$_ringrift_repo/dags}"
export AIRFLOW__CORE__PLUGINS_FOLDER="${AIRFLOW__CORE__PLUGINS_FOLDER:-$_ringrift_repo/plugins}"
export AIRFLOW__CORE__EXECUTOR="${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite:///$AIRFLOW_HOME/airflow.db}"
export AIRFLOW__CORE__LOAD_EXAMPLES="${AIRFLOW__CORE__LOAD_EXAMPLES:-False}"
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-$(nproc)}"
# New DAGs start unpaused: the loop runs as soon as it is up.
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="${AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION:-False}"
# The UI and API listen on this machine only (0.0.0.0 would expose the generated admin
# password's login to the network); set AIRFLOW__API__HOST=0.0.0.0 to serve others.
export AIRFLOW__API__HOST="${AIRFLOW__API__HOST:-127.0.0.1}"
# Task processes talk to the API server's execution API. Without a base URL Airflow sends
# them to http://localhost:8080 whatever AIRFLOW__API__PORT says, so on another port every
# task would fail to start: point them at this port.
if [ -z "${AIRFLOW__API__BASE_URL:-}" ] && [ -z "${AIRFLOW__CORE__EXECUTION_API_SERVER_URL:-}" ]; then
    case "$AIRFLOW__API__HOST" in
        0.0.0.0 | "::") _ringrift_api_host=127.0.0.1 ;;
        *) _ringrift_api_host="$AIRFLOW__API__HOST" ;;
    esac
    export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://$_ringrift_api_host:${AIRFLOW__API__PORT:-8080}/execution/"
    unset _ringrift_api_host
fi
export RINGRIFT_HOME="${RINGRIFT_HOME:-$_ringrift_repo/var/ringrift}"
# `airflow standalone` starts its components as `airflow ...` subprocesses found on PATH.
case ":$PATH:" in
    *":$_ringrift_repo/.venv/bin:"*) ;;
    *) export PATH="$_ringrift_repo/.venv/bin:$PATH" ;;
esac
# Tasks import ringrift_tasks from the repo even where the venv's editable install is absent.
case ":${PYTHONPATH:-}:" in
    *":$_ringrift_repo:"*) ;;
    *) export PYTHONPATH="$_ringrift_repo${PYTHONPATH:+:$PYTHONPATH}" ;;
esac
mkdir -p "$AIRFLOW_HOME" "$RINGRIFT_HOME"
unset _ringrift_repo
