#!/usr/bin/env bash
# Regenerates include/metricore.h into a temporary file and fails, showing the diff,
# when it differs from the checked-in header. With --update, rewrites the header.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# The version the checked-in header was generated with; others may format it differently.
version=0.29.4
if ! command -v cbindgen >/dev/null || [ "$(cbindgen --version)" != "cbindgen $version" ]; then
    echo "installing cbindgen $version" >&2
    cargo install cbindgen --locked --version "$version" >&2
fi
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
cbindgen --quiet --config "$here/cbindgen.toml" --crate metricore-ffi --output "$tmp" "$here"
if [ "${1:-}" = "--update" ]; then
    cp "$tmp" "$here/include/metricore.h"
    echo "updated include/metricore.h"
elif ! diff -u "$here/include/metricore.h" "$tmp"; then
    echo "include/metricore.h is stale: run bash ffi-c/check-header.sh --update" >&2
    exit 1
else
    echo "include/metricore.h is current"
fi
