#!/usr/bin/env bash
# Builds libmetricore and tests/bench.c, linked against the shared and then the static
# library, and prints nanoseconds per call of the C API's hot paths: one JSON record a
# line on standard output, as the other benches do (benches/src/record.rs), e.g.
#   {"suite":"c","work":"counter inc, 2 threads","subject":"libmetricore.a","value":2.19,"unit":"ns","params":{"threads":2}}
# and bench.c's own lines for people on standard error.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cd "$root"
cargo build -p metricore-c --release
lib="${CARGO_TARGET_DIR:-$root/target}/release"
# Programs linked with the library load it by its SONAME (libmetricore.so.MAJOR).
soname="$(readelf -d "$lib/libmetricore.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')"
ln -sf libmetricore.so "$lib/$soname"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
flags=(-std=c11 -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra -Werror -I "$here/include")
gcc "${flags[@]}" "$here/tests/bench.c" -L "$lib" -lmetricore -Wl,-rpath,"$lib" -lpthread \
    -o "$out/bench-shared"
gcc "${flags[@]}" "$here/tests/bench.c" "$lib/libmetricore.a" \
    -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc -o "$out/bench-static"
# bench.c's `label:   figure` lines as records of `subject`.
records() {
  tee /dev/stderr | awk -v subject="$1" -F ':[ \t]+' 'NF == 2 && $2 ~ /^[0-9.]+$/ {
    params = ""
    if (match($1, /[0-9]+ threads?$/)) params = sprintf(",\"params\":{\"threads\":%d}", substr($1, RSTART) + 0)
    printf "{\"suite\":\"c\",\"work\":\"%s\",\"subject\":\"%s\",\"value\":%s,\"unit\":\"ns\"%s}\n", $1, subject, $2, params
  }'
}
"$out/bench-shared" | records libmetricore.so
"$out/bench-static" | records libmetricore.a
