#!/usr/bin/env bash
# Builds libmetricore and tests/bench.c, linked against the shared and then the static
# library, and prints nanoseconds per call of the C API's hot paths.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cd "$root"
cargo build -p metricore-c --release
lib="${CARGO_TARGET_DIR:-$root/target}/release"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
flags=(-std=c11 -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra -Werror -I "$here/include")
gcc "${flags[@]}" "$here/tests/bench.c" -L "$lib" -lmetricore -Wl,-rpath,"$lib" -lpthread \
    -o "$out/bench-shared"
gcc "${flags[@]}" "$here/tests/bench.c" "$lib/libmetricore.a" \
    -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc -o "$out/bench-static"
echo "== linked against libmetricore.so"
"$out/bench-shared"
echo "== linked against libmetricore.a"
"$out/bench-static"
