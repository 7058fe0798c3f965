#!/usr/bin/env bash
# `make demo`: the end-to-end scenario in a short form. nginx workers (Lua), a uvicorn
# token service, a C and a Rust program record into one registry file under a light
# load; `metricore serve` exports it and Prometheus scrapes it. The pieces whose
# system packages are missing are left out (scripts/install-deps.sh installs them);
# everything stops on Ctrl-C. Without python3 it runs `metricore demo` instead.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v python3 >/dev/null; then
  echo "python3 is missing: running \`metricore demo\` instead"
  exec cargo run --release -p metricore --features cli --bin metricore -- demo
fi
./scripts/venv.sh
if ! .venv/bin/python -c "import metricore" 2>/dev/null; then
  echo "building the Python package (maturin) ..."
  ./bindings-python/build.sh
fi
exec .venv/bin/python tests/e2e/scenario.py "$@"
