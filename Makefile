# The two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: demo test deps lint unit fuzz-test fuzz loom python-tests prometheus-tests exporter-tests slowloris-test c-tests lua-tests fault-tests e2e-tests

# The end-to-end scenario in a short form, until Ctrl-C (scripts/demo.sh; without
# python3 it is `metricore demo`).
demo:
	./scripts/demo.sh

test: deps lint unit fuzz-test loom python-tests prometheus-tests exporter-tests c-tests lua-tests fault-tests e2e-tests
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
		$(CARGO) test -p metricore --test loom --release

# Builds the Python extension into .venv (scripts/venv.sh) and runs its pytest suite.
python-tests:
	./bindings-python/build.sh
	.venv/bin/python -m pytest -q bindings-python/tests

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

# One registry file, four languages: nginx (Lua), a uvicorn token service (Python), a C
# and a Rust program under load, with worker kills and an exporter restart; a real
# Prometheus checks it (tests/e2e). SIGINT at the time limit still stops every process.
e2e-tests:
	$(CARGO) build --release -p metricore --features cli --bin metricore --example e2e_recorder
	$(CARGO) build --release -p metricore-c -p metricore-lua
	./bindings-python/build.sh
	timeout -s INT -k 60 600 .venv/bin/python -m pytest -q tests/e2e
