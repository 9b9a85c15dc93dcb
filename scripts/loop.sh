#!/usr/bin/env bash
# Run the RingRift loop on the embedded default: Airflow standalone, SQLite, LocalExecutor.
#
# Sets up the virtual environment, the Airflow environment (scripts/airflow_env.sh: all
# state under var/), the metadata DB and the pools, then runs `airflow standalone`
# (scheduler, DAG processor, triggerer and API server with the UI) until Ctrl-C. The DAGs in
# dags/ start unpaused and run the loop on square8_2p.
#
# Ctrl-C stops the loop in bounded time. Standalone runs in its own process group (job
# control on), so the terminal's Ctrl-C reaches only this script, which passes it on. Left to
# itself, standalone lets running tasks finish (a self-play round can take an hour) and its
# scheduler can sit for minutes retrying a task start against the API server it has just
# stopped. So: the first Ctrl-C asks standalone to stop and gives it RINGRIFT_STOP_GRACE_S
# seconds (default 30); then, or at a second Ctrl-C, the whole group gets SIGTERM, and
# SIGKILL 10 s later. Nothing is lost by this: every task resumes or replays on its retry.
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
grace="${RINGRIFT_STOP_GRACE_S:-30}"
set -m
.venv/bin/airflow standalone &
standalone=$!
set +m
stop_at=""  # when the group gets SIGTERM (seconds since the script started)
kill_at=""  # when it gets SIGKILL

interrupted() {
  if [[ -z "$stop_at" ]]; then
    echo "loop: stopping; running tasks get ${grace}s to finish (Ctrl-C again: stop now)" >&2
    kill -INT -- "-$standalone" 2>/dev/null || true
    stop_at=$((SECONDS + grace))
  else
    echo "loop: stopping now" >&2
    stop_at=$SECONDS
  fi
}
trap interrupted INT TERM

while kill -0 "$standalone" 2>/dev/null; do
  if [[ -n "$stop_at" && -z "$kill_at" ]] && ((SECONDS >= stop_at)); then
    echo "loop: terminating what is still running" >&2
    kill -TERM -- "-$standalone" 2>/dev/null || true
    kill_at=$((SECONDS + 10))
  elif [[ -n "$kill_at" ]] && ((SECONDS >= kill_at)); then
    kill -KILL -- "-$standalone" 2>/dev/null || true
  fi
  # A trapped signal interrupts this wait at once, so Ctrl-C is answered without delay.
  sleep 1 &
  wait $! 2>/dev/null || true
done
status=0
wait "$standalone" 2>/dev/null || status=$?
# Whatever is left of the group (a task process between two states) goes with it.
kill -KILL -- "-$standalone" 2>/dev/null || true
if [[ -n "$stop_at" ]]; then
  echo "loop: stopped" >&2
  exit 130
fi
exit "$status"
