#!/usr/bin/env bash
# Create or refresh the project's virtual environment at <repo>/.venv.
#
# Idempotent: pip runs only when requirements*.txt or pyproject.toml changed since the
# last successful install (a hash kept in .venv/.setup.stamp), so reruns take a second.
# Needs python3.11 on PATH (override with PYTHON=...). Works from any directory.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

python_bin="${PYTHON:-python3.11}"
venv=".venv"
stamp="$venv/.setup.stamp"

# A venv whose interpreter no longer runs (moved, or its base Python removed) is rebuilt.
if [ -d "$venv" ] && ! "$venv/bin/python" -c "import sys" >/dev/null 2>&1; then
    echo "setup_env: $venv is broken; recreating it" >&2
    rm -rf "$venv"
fi

if [ ! -x "$venv/bin/python" ]; then
    command -v "$python_bin" >/dev/null 2>&1 || {
        echo "setup_env: $python_bin not found on PATH (set PYTHON=/path/to/python3.11)" >&2
        exit 1
    }
    echo "setup_env: creating $venv with $("$python_bin" --version 2>&1)" >&2
    "$python_bin" -m venv "$venv"
fi

wanted="$(cat requirements.txt requirements-test.txt pyproject.toml \
    | "$venv/bin/python" -c "import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())")"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    exit 0
fi

echo "setup_env: installing requirements into $venv (this takes a few minutes the first time)" >&2
rm -f "$stamp"
started=$SECONDS
"$venv/bin/python" -m pip install --progress-bar off -q -r requirements-test.txt
"$venv/bin/python" -m pip install --progress-bar off -q --no-deps -e .
echo "$wanted" > "$stamp"
echo "setup_env: done in $((SECONDS - started)) s" >&2
