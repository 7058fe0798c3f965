#!/usr/bin/env bash
# Builds the artifacts of a release into dist/ (make dist, or one part: make dist-c ...):
#   crates   dist/crates/metricore-X.Y.Z.crate, metricore-ffi-X.Y.Z.crate (cargo package,
#            each verified by building it from the packaged sources)
#   c        dist/c/lib/libmetricore.so.X.Y.Z (SONAME libmetricore.so.X) and its symlinks,
#            libmetricore.a, pkgconfig/metricore.pc (paths relative to ${prefix}),
#            dist/c/include/metricore.h
#   python   dist/python/: a manylinux wheel for each CPython 3.9 to 3.13 that pyenv has
#            (built with zig against an old glibc), and the sdist
#   lua      dist/lua/metricore-X.Y.Z-1.linux-x86_64.rock (luarocks make of the rockspec,
#            then luarocks pack), and the same files laid out as make install copies
#            them: metricore.so and metricore/*.lua
#   scripts/dist.sh [crates|c|python|lua]...     (no argument: all of them)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"
major="${version%%.*}"
target="${CARGO_TARGET_DIR:-$root/target}"
dist="$root/dist"

crates() {
    echo "== crates"
    rm -rf "$dist/crates"
    mkdir -p "$dist/crates"
    # Both at once: metricore-ffi's verification builds against the metricore packaged
    # beside it. Cargo takes an earlier run's packaged crates of the same version for
    # this one's (unpacked where it unpacks the crates it verifies against, a registry
    # source directory named after no registry, and built in the target directory), so
    # packaging starts from none: in a target directory of its own, emptied first.
    local pkg="$target/dist-package"
    rm -rf "$pkg" "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/metricore-"$version" \
        "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/metricore-ffi-"$version"
    cargo package --locked --target-dir "$pkg" -p metricore -p metricore-ffi
    cp "$pkg/package/metricore-$version.crate" "$pkg/package/metricore-ffi-$version.crate" \
        "$dist/crates/"
}

c() {
    echo "== C library"
    cargo build --locked --release -p metricore-c
    local out="$dist/c"
    rm -rf "$out"
    mkdir -p "$out/lib/pkgconfig" "$out/include"
    cp "$target/release/libmetricore.so" "$out/lib/libmetricore.so.$version"
    ln -s "libmetricore.so.$version" "$out/lib/libmetricore.so.$major"
    ln -s "libmetricore.so.$major" "$out/lib/libmetricore.so"
    cp "$target/release/libmetricore.a" "$out/lib/"
    cp ffi-c/include/metricore.h "$out/include/"
    # shellcheck disable=SC2016
    ffi-c/make-pc.sh /usr/local '${prefix}/lib' '${prefix}/include' > "$out/lib/pkgconfig/metricore.pc"
    readelf -d "$out/lib/libmetricore.so.$version" | grep -q "Library soname: \[libmetricore.so.$major\]" || {
        echo "libmetricore.so.$version has no SONAME libmetricore.so.$major" >&2
        exit 1
    }
}

# The newest installed patch release of each CPython 3.9 to 3.13 under ~/.pyenv.
interpreters() {
    local minor found
    for minor in 9 10 11 12 13; do
        found="$(ls -d "$HOME"/.pyenv/versions/3."$minor".*/bin/python3 2>/dev/null | sort -V | tail -n1 || true)"
        [ -n "$found" ] && echo "$found"
    done
}

python() {
    echo "== Python wheels and sdist"
    local venv="$target/dist-venv" out="$dist/python"
    if [ ! -x "$venv/bin/maturin" ] || [ scripts/requirements-dist.txt -nt "$venv/bin/maturin" ]; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check -r scripts/requirements-dist.txt
        touch "$venv/bin/maturin"
    fi
    mapfile -t found < <(interpreters)
    if [ ${#found[@]} -eq 0 ]; then
        echo "no CPython 3.9 to 3.13 under ~/.pyenv/versions" >&2
        exit 1
    fi
    local args=() py
    for py in "${found[@]}"; do
        args+=(-i "$py")
    done
    rm -rf "$out"
    # ziglang's zig as the linker, against glibc 2.17: wheels that install on every
    # manylinux2014 system. One invocation builds the wheels one after another in one
    # target directory, so the dependencies are compiled once.
    PATH="$venv/bin:$PATH" maturin build --locked --release --zig --compatibility manylinux2014 \
        -m bindings-python/Cargo.toml "${args[@]}" --out "$out"
    PATH="$venv/bin:$PATH" maturin sdist -m bindings-python/Cargo.toml --out "$out"
    local wheel report
    for wheel in "$out"/*.whl; do
        report="$("$venv/bin/auditwheel" show "$wheel")"
        tr -s '\n' ' ' <<< "$report" | grep -q 'consistent with the following platform tag: "manylinux' || {
            echo "$report" >&2
            echo "$wheel is not manylinux" >&2
            exit 1
        }
    done
}

lua() {
    echo "== Lua rock"
    local rockspec="bindings-lua/metricore-$version-1.rockspec"
    [ -f "$rockspec" ] || { echo "$rockspec is missing (the rockspec's version is not $version)" >&2; exit 1; }
    local tree="$target/lua-tree" out="$dist/lua"
    rm -rf "$tree" "$out"
    mkdir -p "$out/metricore"
    luarocks make --tree "$tree" "$rockspec"
    (cd "$out" && luarocks pack --tree "$tree" metricore "$version-1")
    cp "$tree/lib/lua/5.1/metricore.so" "$out/"
    cp "$tree"/share/lua/5.1/metricore/*.lua "$out/metricore/"
}

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(crates c python lua)
for part in "${parts[@]}"; do
    case "$part" in
        crates | c | python | lua) "$part" ;;
        *) echo "unknown part: $part (crates, c, python or lua)" >&2; exit 2 ;;
    esac
done
