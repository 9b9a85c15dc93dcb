#!/usr/bin/env bash
# Set up the environment if needed, then run the test suite. Arguments go to pytest,
# e.g. `bash scripts/test.sh -m "not slow" tests/test_cli.py`.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$repo_root/scripts/setup_env.sh"
bash "$repo_root/scripts/system_deps.sh"
cd "$repo_root"
# pytest's own exit status is ours: 5 ("no tests collected") is a failure, not a pass.
exec .venv/bin/python -m pytest -q "$@"
