#!/usr/bin/env bash
# Builds the extension (release) and installs the `metricore` package into the project's
# virtualenv (.venv, made by scripts/venv.sh) with maturin.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/venv.sh"
cd "$root/bindings-python"
export VIRTUAL_ENV="$root/.venv"
export PATH="$root/.venv/bin:$PATH"
maturin develop --release --quiet
