#!/usr/bin/env bash
# Writes metricore.pc from metricore.pc.in to stdout.
# Usage: make-pc.sh PREFIX [LIBDIR] [INCLUDEDIR]   (defaults: PREFIX/lib, PREFIX/include)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
prefix="${1:?usage: make-pc.sh PREFIX [LIBDIR] [INCLUDEDIR]}"
libdir="${2:-$prefix/lib}"
includedir="${3:-$prefix/include}"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$here/../Cargo.toml" | head -n1)"
sed -e "s|@PREFIX@|$prefix|" -e "s|@LIBDIR@|$libdir|" -e "s|@INCLUDEDIR@|$includedir|" \
    -e "s|@VERSION@|$version|" "$here/metricore.pc.in"
