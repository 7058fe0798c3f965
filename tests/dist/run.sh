#!/usr/bin/env bash
# Installs the artifacts of dist/ (make dist) and uses them, with nothing from the
# source tree but the test programs:
# - the crates: packaged with their README and license files (cargo package verified
#   them when it made them);
# - each wheel: auditwheel reports a manylinux tag; installed (--no-index) into a fresh
#   virtualenv of its CPython, it records and renders (check_wheel.py), and
#   `mypy --strict` checks that program against the package's stubs; so does a wheel
#   built from the sdist;
# - the C library: make install into a temporary PREFIX, a program built with
#   `pkg-config --cflags --libs metricore` alone runs with only that prefix's library
#   path, the SONAME is libmetricore.so.MAJOR; make install with DESTDIR, then
#   make uninstall;
# - the Lua rock: luarocks install into a temporary tree, the LuaJIT unit tests with
#   that tree's paths (and with make install-lua's LUA_LIB_DIR), then the nginx tests
#   (4 workers; deploy/nginx/metricore.conf among them) with that tree's paths.
#   bash tests/dist/run.sh [crates|python|c|lua]...     (no argument: all of them)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"
major="${version%%.*}"
dist="$root/dist"
target="${CARGO_TARGET_DIR:-$root/target}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
shopt -s nullglob
passed=0

ok() {
    echo "ok   $1"
    passed=$((passed + 1))
}

fail() {
    echo "FAIL $1" >&2
    exit 1
}

crates() {
    echo "== crates"
    local crate file listing member
    for crate in metricore metricore-ffi; do
        file="$dist/crates/$crate-$version.crate"
        listing="$(tar -tzf "$file")"
        for member in Cargo.toml README.md LICENSE-MIT LICENSE-APACHE src/lib.rs; do
            grep -qx "$crate-$version/$member" <<< "$listing" || fail "$file lacks $member"
        done
        ok "${file##*/}: Cargo.toml, README.md, LICENSE-MIT, LICENSE-APACHE, src/lib.rs"
    done
}

# Installs WHEEL into a fresh virtualenv of the CPython of its tag (VENV), then runs
# check_wheel.py with it and type-checks that program with mypy --strict.
use_wheel() {
    local wheel="$1" venv="$2" tag py installed
    tag="$(cut -d- -f3 <<< "${wheel##*/}")"    # cp39
    py="$(ls -d "$HOME"/.pyenv/versions/3."${tag#cp3}".*/bin/python3 | sort -V | tail -n1)"
    "$py" -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check --no-index "$wheel"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
    # From outside the source tree, so that the package imported is the installed one.
    installed="$(cd "$work" && "$venv/bin/python" -c 'import metricore; print(metricore.__file__)')"
    [[ "$installed" == "$venv/"* ]] || fail "${wheel##*/}: imported $installed, not the wheel"
    (cd "$work" && "$venv/bin/python" "$here/check_wheel.py" "$version")
    (cd "$work" && "$venv/bin/python" -m mypy --strict --no-incremental "$here/check_wheel.py")
}

python() {
    echo "== Python wheels"
    local wheels=("$dist"/python/metricore-"$version"-cp3*-*.whl)
    [ ${#wheels[@]} -gt 0 ] || fail "no wheels in $dist/python"
    local wheel name report platform
    for wheel in "${wheels[@]}"; do
        name="${wheel##*/}"
        report="$("$target/dist-venv/bin/auditwheel" show "$wheel")"
        platform="$(tr -s '\n' ' ' <<< "$report" | grep -o 'consistent with the following platform tag: "manylinux[^"]*"')" || {
            echo "$report" >&2
            fail "$name: auditwheel reports no manylinux tag"
        }
        use_wheel "$wheel" "$work/venv-$name"
        ok "$name: ${platform#*platform tag: }; installs, records, renders, type-checks"
    done

    local sdist="$dist/python/metricore-$version.tar.gz"
    [ -f "$sdist" ] || fail "no sdist in $dist/python"
    # A wheel from the sdist alone, built by the build virtualenv's maturin (in the
    # shared target directory, where the dependencies are compiled already).
    PATH="$target/dist-venv/bin:$PATH" CARGO_TARGET_DIR="$target" "$target/dist-venv/bin/pip" wheel -q \
        --disable-pip-version-check --no-deps --no-build-isolation "$sdist" -w "$work/from-sdist"
    wheels=("$work"/from-sdist/metricore-"$version"-*.whl)
    [ ${#wheels[@]} -eq 1 ] || fail "building ${sdist##*/} made no wheel"
    use_wheel "${wheels[0]}" "$work/venv-from-sdist"
    ok "${sdist##*/}: builds a wheel that installs, records, renders, type-checks"
}

c() {
    echo "== C library"
    local prefix="$work/prefix"
    make --no-print-directory install PREFIX="$prefix" > "$work/install.log"
    local pc=(env PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config)
    # shellcheck disable=SC2046
    gcc -std=c11 -Wall -Wextra -Werror "$here/check_version.c" $("${pc[@]}" --cflags --libs metricore) \
        -o "$work/check_version"
    LD_LIBRARY_PATH="$prefix/lib" "$work/check_version"
    readelf -d "$prefix/lib/libmetricore.so.$version" | grep -q "Library soname: \[libmetricore.so.$major\]" \
        || fail "libmetricore.so.$version has no SONAME libmetricore.so.$major"
    readelf -d "$work/check_version" | grep -q "Shared library: \[libmetricore.so.$major\]" \
        || fail "the program does not need libmetricore.so.$major"
    [ "$(readlink "$prefix/lib/libmetricore.so")" = "libmetricore.so.$major" ] || fail "libmetricore.so link"
    [ "$(readlink "$prefix/lib/libmetricore.so.$major")" = "libmetricore.so.$version" ] || fail "SONAME link"
    ok "make install PREFIX=...: built with pkg-config alone, runs, SONAME libmetricore.so.$major"
    # shellcheck disable=SC2046
    gcc -std=c11 -Wall -Wextra -Werror "$root/ffi-c/examples/example.c" \
        $("${pc[@]}" --cflags --libs metricore) -o "$work/example"
    LD_LIBRARY_PATH="$prefix/lib" "$work/example" \
        | grep -q '^model_requests_total{model="gpt-4",namespace="wechat"} 100$' || fail "example output"
    ok "ffi-c/examples/example.c built against the installed library"

    local stage="$work/stage"
    make --no-print-directory install PREFIX=/usr/local DESTDIR="$stage" > "$work/install-destdir.log"
    local pcfile="$stage/usr/local/lib/pkgconfig/metricore.pc"
    grep -qx 'prefix=/usr/local' "$pcfile" || fail "metricore.pc: prefix"
    # shellcheck disable=SC2016
    grep -qx 'libdir=${prefix}/lib' "$pcfile" || fail "metricore.pc: libdir"
    [ -f "$stage/usr/local/lib/lua/5.1/metricore.so" ] || fail "no Lua module under DESTDIR"
    [ -f "$stage/usr/local/lib/lua/5.1/metricore/prometheus.lua" ] || fail "no Lua files under DESTDIR"
    make --no-print-directory uninstall PREFIX=/usr/local DESTDIR="$stage" > /dev/null
    local left
    left="$(find "$stage" -not -type d)"
    [ -z "$left" ] || fail "make uninstall left: $left"
    ok "make install DESTDIR=... PREFIX=/usr/local, then make uninstall removes every file"
}

# The LuaJIT unit tests with the module from CPATH_DIR and the Lua files from PATH_DIR.
lua_unit() {
    local cpath="$1" path="$2"
    LUA_CPATH="$cpath/?.so;;" LUA_PATH="$path/?.lua;;" METRICORE_HEADER="$dist/c/include/metricore.h" \
        TMPDIR="$work/tmp" luajit "$root/bindings-lua/tests/unit.lua" > "$work/unit.txt" || {
        cat "$work/unit.txt"
        fail "LuaJIT unit tests with $cpath"
    }
    tail -n1 "$work/unit.txt" | grep -Eq '^[0-9]+ passed, 0 failed$' || fail "LuaJIT unit tests with $cpath"
    # Only these directories: the module and the files load from them, at this version.
    LUA_CPATH="$cpath/?.so" LUA_PATH="$path/?.lua" luajit -e "require 'metricore.prometheus'
        assert(require('metricore').version == '$version')" \
        || fail "metricore from $cpath does not load or is not version $version"
}

lua() {
    echo "== Lua rock"
    local rocks=("$dist"/lua/metricore-"$version"-1.*.rock)
    [ ${#rocks[@]} -eq 1 ] || fail "expected one rock in $dist/lua"
    local tree="$work/lua-tree"
    mkdir -p "$work/tmp"
    luarocks install --tree "$tree" "${rocks[0]}" > "$work/luarocks.log"
    lua_unit "$tree/lib/lua/5.1" "$tree/share/lua/5.1"
    ok "${rocks[0]##*/}: luarocks install --tree, LuaJIT unit tests ($(tail -n1 "$work/unit.txt"))"
    # OpenResty's layout: the Lua files and the module in one directory.
    make --no-print-directory install-lua LUA_LIB_DIR="$work/lualib" > "$work/install-lua.log"
    lua_unit "$work/lualib" "$work/lualib"
    ok "make install-lua LUA_LIB_DIR=...: LuaJIT unit tests ($(tail -n1 "$work/unit.txt"))"
    ./scripts/venv.sh
    METRICORE_LUA_SO="$tree/lib/lua/5.1/metricore.so" METRICORE_LUA_DIR="$tree/share/lua/5.1" \
        .venv/bin/python -m pytest -q -p no:cacheprovider "$root/bindings-lua/tests/nginx"
    ok "nginx with 4 workers on the rock's tree: the nginx tests, deploy/nginx/metricore.conf among them"
}

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(crates python c lua)
for part in "${parts[@]}"; do
    case "$part" in
        crates | python | c | lua) "$part" ;;
        *) echo "unknown part: $part (crates, python, c or lua)" >&2; exit 2 ;;
    esac
done
echo "$passed passed, 0 failed"
