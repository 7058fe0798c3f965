# The two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: demo test deps lint unit fuzz-test fuzz loom python-tests python-compat-tests prometheus-tests exporter-tests slowloris-test c-tests lua-tests fault-tests soak-short soak e2e-tests
.PHONY: dist dist-crates dist-c dist-python dist-lua dist-tests install install-c install-lua uninstall

# The end-to-end scenario in a short form, until Ctrl-C (scripts/demo.sh; without
# python3 it is `metricore demo`).
demo:
	./scripts/demo.sh

test: deps lint unit fuzz-test loom python-tests python-compat-tests prometheus-tests exporter-tests c-tests lua-tests fault-tests soak-short e2e-tests dist-tests
	@echo "all tests passed"

deps:
	./scripts/install-deps.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings

unit:
	$(CARGO) test --workspace
	$(CARGO) test -p metricore --all-features

# Mutated registry files opened, checked, recorded into and rendered through the Rust
# and C APIs (ffi-c/tests/fuzz_file.rs): 10,000 cases of a fixed seed, about a minute.
fuzz-test:
	FUZZ_CASES=10000 $(CARGO) test -p metricore-ffi --test fuzz_file -- --nocapture

# The same, longer and with a new seed each run: `make fuzz FUZZ_SECONDS=3600`; a
# failure prints its seed and its mutations, for ffi-c/tests/fuzz_regressions.txt.
FUZZ_CASES ?= 100000000
FUZZ_SECONDS ?= 600
FUZZ_SEED ?= $(shell date +%s)
fuzz:
	FUZZ_CASES=$(FUZZ_CASES) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_SEED=$(FUZZ_SEED) \
		$(CARGO) test -p metricore-ffi --test fuzz_file mutated_files -- --nocapture

loom:
	RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
		$(CARGO) test -p metricore --lib --test loom --release

# Builds the Python extension into .venv (scripts/venv.sh) and runs its pytest suite.
python-tests:
	./bindings-python/build.sh
	.venv/bin/python -m pytest -q bindings-python/tests

# prometheus_client's own test suite (its sdist, downloaded into target/) with
# `prometheus_client` resolving to metricore, judged against tests/pcsuite's lists.
python-compat-tests:
	./bindings-python/build.sh
	.venv/bin/python tests/pcsuite/run.py

# Builds `metricore` and the paced writer, then has a real Prometheus scrape them.
prometheus-tests:
	$(CARGO) build --release -p metricore --features cli --bin metricore --example paced
	./scripts/venv.sh
	.venv/bin/python -m pytest -q tests/prometheus

# The exporter in production (tests/exporter): TLS, client certificates and basic auth
# from a web config file under a real Prometheus, a Pushgateway behind TLS, 1,200
# slow-header clients, and an agent remote-writing to VictoriaMetrics and a Prometheus.
exporter-tests:
	$(CARGO) build --release -p metricore --features cli --bin metricore --example paced
	./scripts/venv.sh
	.venv/bin/python -m pytest -q -s tests/exporter

# The slowloris test in a longer, larger form: 3,000 slow connections for a minute
# (SLOWLORIS_CONNECTIONS, SLOWLORIS_SECONDS and SLOWLORIS_MAX_P99 override it).
slowloris-test:
	$(CARGO) build --release -p metricore --features cli --bin metricore --example paced
	./scripts/venv.sh
	SLOWLORIS_CONNECTIONS=$${SLOWLORIS_CONNECTIONS:-3000} SLOWLORIS_SECONDS=$${SLOWLORIS_SECONDS:-60} \
		.venv/bin/python -m pytest -q -s tests/exporter/test_slowloris.py

# The C API: C and C++ tests against the header, under valgrind; the header is current.
c-tests:
	bash ffi-c/tests/run.sh

# The Lua module: unit tests under LuaJIT (JIT on and off), then a real nginx.
lua-tests:
	bash bindings-lua/tests/run.sh

# The registry file truncated, then removed and recreated, under a C and a Python
# recorder, `metricore serve` and 4 nginx workers: nobody dies, everybody moves to the
# new file (tests/faults).
fault-tests:
	$(CARGO) build --release -p metricore --features cli --bin metricore
	$(CARGO) build --release -p metricore-c -p metricore-lua
	./bindings-python/build.sh
	timeout -s INT -k 30 300 .venv/bin/python -m pytest -q tests/faults

# Series made, recorded into, and removed or left to expire, in one file of the default
# size, by a Python and a Rust writer and 2 nginx workers (Lua): region use stays
# bounded, live totals exact, no overflow (tests/soak). SOAK_SERIES series in all:
# `soak-short` 2 million, `soak` 10 million.
soak-short: SOAK_SERIES ?= 2000000
soak: SOAK_SERIES ?= 10000000
soak-short soak:
	$(CARGO) build --release -p metricore --features cli --bin metricore --example soak_writer
	$(CARGO) build --release -p metricore-lua
	./bindings-python/build.sh
	SOAK_SERIES=$(SOAK_SERIES) timeout -s INT -k 30 1800 .venv/bin/python -m pytest -q -s tests/soak

# One registry file, four languages: nginx (Lua), a uvicorn token service (Python), a C
# and a Rust program under load, with worker kills and an exporter restart; a real
# Prometheus checks it (tests/e2e). SIGINT at the time limit still stops every process.
e2e-tests:
	$(CARGO) build --release -p metricore --features cli --bin metricore --example e2e_recorder
	$(CARGO) build --release -p metricore-c -p metricore-lua
	./bindings-python/build.sh
	timeout -s INT -k 60 600 .venv/bin/python -m pytest -q tests/e2e

# The release artifacts in dist/ (scripts/dist.sh): the crates, the C library, the
# Python wheels and sdist, the Lua rock.
dist: dist-crates dist-c dist-python dist-lua

dist-crates dist-c dist-python dist-lua:
	./scripts/dist.sh $(patsubst dist-%,%,$@)

# Builds dist/, then installs every artifact from it alone and uses it: each wheel in a
# fresh virtualenv of its Python, the C library with make install and pkg-config, the
# rock with luarocks under LuaJIT and nginx (tests/dist/run.sh).
dist-tests: dist
	bash tests/dist/run.sh

# make install [PREFIX=/usr/local] [DESTDIR=] installs the C library (from dist/c) and
# the Lua module (from dist/lua), as make dist built them (it builds a part that is
# missing; run make dist again after a change). For OpenResty, e.g.
#   make install PREFIX=/usr/local/openresty LUA_LIB_DIR=/usr/local/openresty/lualib
# and lua_package_path "$(LUA_LIB_DIR)/?.lua;;", lua_package_cpath "$(LUA_CMOD_DIR)/?.so;;".
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# The Lua files (metricore/ffi.lua, metricore/prometheus.lua) and the module metricore.so.
LUA_LIB_DIR ?= $(PREFIX)/lib/lua/5.1
LUA_CMOD_DIR ?= $(LUA_LIB_DIR)
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
MAJOR := $(firstword $(subst ., ,$(VERSION)))
# metricore.pc's paths, relative to its ${prefix} where they are under PREFIX.
pc_libdir = $(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))
pc_includedir = $(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))

install: install-c install-lua

install-c: dist/c/lib/libmetricore.so.$(VERSION)
	install -d "$(DESTDIR)$(LIBDIR)" "$(DESTDIR)$(INCLUDEDIR)" "$(DESTDIR)$(PKGCONFIGDIR)"
	install -m 0755 dist/c/lib/libmetricore.so.$(VERSION) "$(DESTDIR)$(LIBDIR)/"
	ln -sf libmetricore.so.$(VERSION) "$(DESTDIR)$(LIBDIR)/libmetricore.so.$(MAJOR)"
	ln -sf libmetricore.so.$(MAJOR) "$(DESTDIR)$(LIBDIR)/libmetricore.so"
	install -m 0644 dist/c/lib/libmetricore.a "$(DESTDIR)$(LIBDIR)/"
	install -m 0644 dist/c/include/metricore.h "$(DESTDIR)$(INCLUDEDIR)/"
	sed -e 's|^prefix=.*|prefix=$(PREFIX)|' -e 's|^libdir=.*|libdir=$(pc_libdir)|' \
		-e 's|^includedir=.*|includedir=$(pc_includedir)|' dist/c/lib/pkgconfig/metricore.pc \
		> "$(DESTDIR)$(PKGCONFIGDIR)/metricore.pc"

# The module is copied beside its destination and renamed into place: a running nginx
# keeps the file it loaded (bindings-lua/install.sh).
install-lua: dist/lua/metricore.so
	install -d "$(DESTDIR)$(LUA_LIB_DIR)/metricore" "$(DESTDIR)$(LUA_CMOD_DIR)"
	install -m 0644 dist/lua/metricore/*.lua "$(DESTDIR)$(LUA_LIB_DIR)/metricore/"
	bindings-lua/install.sh dist/lua/metricore.so "$(DESTDIR)$(LUA_CMOD_DIR)"

# What install copies: built by make dist, or here when missing.
dist/c/lib/libmetricore.so.$(VERSION):
	./scripts/dist.sh c
dist/lua/metricore.so:
	./scripts/dist.sh lua

uninstall:
	rm -f "$(DESTDIR)$(LIBDIR)"/libmetricore.so.$(VERSION) "$(DESTDIR)$(LIBDIR)"/libmetricore.so.$(MAJOR) \
		"$(DESTDIR)$(LIBDIR)"/libmetricore.so "$(DESTDIR)$(LIBDIR)"/libmetricore.a \
		"$(DESTDIR)$(INCLUDEDIR)"/metricore.h "$(DESTDIR)$(PKGCONFIGDIR)"/metricore.pc \
		"$(DESTDIR)$(LUA_CMOD_DIR)"/metricore.so
	rm -rf "$(DESTDIR)$(LUA_LIB_DIR)"/metricore
