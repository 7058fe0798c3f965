#!/usr/bin/env bash
# Builds libmetricore, compiles the C and C++ tests against the header and the library,
# runs them, runs them again under valgrind (memcheck: no errors, no leaks), links the
# example against the static library and through pkg-config, checks that every
# function of the header is exercised by the tests, and checks that the header is current.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ffi="$(dirname "$here")"
root="$(dirname "$ffi")"
cd "$root"

command -v valgrind >/dev/null || {
    echo "installing valgrind" >&2
    apt-get install -y --no-install-recommends valgrind >&2
}

cargo build -p metricore-c --release
lib="${CARGO_TARGET_DIR:-$root/target}/release"
[ -f "$lib/libmetricore.so" ] && [ -f "$lib/libmetricore.a" ]
# Programs linked with the library load it by its SONAME (libmetricore.so.MAJOR).
soname="$(readelf -d "$lib/libmetricore.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')"
ln -sf libmetricore.so "$lib/$soname"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
export TMPDIR="$out"
warn=(-Wall -Wextra -Werror -Wpedantic)
inc=(-I "$ffi/include" -I "$here")

echo "== compiling the tests"
for src in "$here"/main.c "$here"/test_*.c; do
    gcc -std=c11 -D_POSIX_C_SOURCE=200809L -O1 -g "${warn[@]}" "${inc[@]}" -c "$src" \
        -o "$out/$(basename "$src" .c).o"
done
g++ -std=c++17 -O1 -g "${warn[@]}" "${inc[@]}" -c "$here/test_cxx.cpp" -o "$out/test_cxx.o"
g++ "$out"/*.o -L "$lib" -lmetricore -Wl,-rpath,"$lib" -lpthread -lm -o "$out/ctests"

echo "== running the tests"
"$out/ctests" | tee "$out/result.txt"
tail -n1 "$out/result.txt" | grep -Eq '^[0-9]+ passed, 0 failed$'

echo "== running the tests under valgrind"
valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect,possible \
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1 \
    --suppressions="$here/valgrind.supp" \
    --log-file="$out/valgrind.%p.log" "$out/ctests" > "$out/valgrind-result.txt" || {
    cat "$out/valgrind-result.txt" "$out"/valgrind.*.log
    echo "valgrind found errors or leaks" >&2
    exit 1
}
if grep -l . "$out"/valgrind.*.log >/dev/null 2>&1; then
    cat "$out"/valgrind.*.log
    echo "valgrind reported problems" >&2
    exit 1
fi
tail -n1 "$out/valgrind-result.txt"
echo "valgrind: 0 errors, 0 leaks in $(ls "$out"/valgrind.*.log | wc -l) processes"

echo "== the example, static and through pkg-config"
gcc -std=c11 "${warn[@]}" -I "$ffi/include" "$ffi/examples/example.c" "$lib/libmetricore.a" \
    -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc -o "$out/example-static"
"$out/example-static" | grep -q '^model_requests_total{model="gpt-4",namespace="wechat"} 100$'
mkdir -p "$out/pkgconfig"
"$ffi/make-pc.sh" "$ffi" "$lib" "$ffi/include" > "$out/pkgconfig/metricore.pc"
# shellcheck disable=SC2046
gcc -std=c11 "${warn[@]}" "$ffi/examples/example.c" \
    $(PKG_CONFIG_PATH="$out/pkgconfig" pkg-config --cflags --libs metricore) \
    -Wl,-rpath,"$lib" -o "$out/example-shared"
"$out/example-shared" "$out/example.metricore" > /dev/null
"$out/example-shared" "$out/example.metricore" | grep -q 'namespace="wechat"} 200$'
echo "example: ok"

echo "== every function of the header is tested"
missing=0
for fn in $(grep -o 'metricore_[a-z0-9_]*(' "$ffi/include/metricore.h" | tr -d '(' | sort -u); do
    if ! grep -q "\b$fn(" "$here"/test_*.c "$here"/test_*.cpp; then
        echo "not tested: $fn" >&2
        missing=1
    fi
done
if [ "$missing" != 0 ]; then
    exit 1
fi
echo "all $(grep -o 'metricore_[a-z0-9_]*(' "$ffi/include/metricore.h" | sort -u | wc -l) functions are called by the tests"

echo "== the header"
"$ffi/check-header.sh"
