# The two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: demo test deps lint unit loom python-tests prometheus-tests c-tests lua-tests

demo:
	$(CARGO) run --release -p metricore --features cli --bin metricore -- demo

test: deps lint unit loom python-tests prometheus-tests c-tests lua-tests
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

# The C API: C and C++ tests against the header, under valgrind; the header is current.
c-tests:
	bash ffi-c/tests/run.sh

# The Lua module: unit tests under LuaJIT (JIT on and off), then a real nginx.
lua-tests:
	bash bindings-lua/tests/run.sh
