#!/usr/bin/env bash
# Creates (or updates) the project's virtualenv in .venv with the test requirements.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.requirements-installed
if [ ! -f "$stamp" ] || [ scripts/requirements-test.txt -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -r scripts/requirements-test.txt
  touch "$stamp"
fi
