# The two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: demo test deps lint unit loom python-tests

demo:
	$(CARGO) run --release -p metricore --example demo

test: deps lint unit loom python-tests
	@echo "all tests passed"

deps:
	./scripts/install-deps.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit:
	$(CARGO) test --workspace

loom:
	RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
		$(CARGO) test -p metricore --test loom --release

# Builds the Python extension into .venv (scripts/venv.sh) and runs its pytest suite.
python-tests:
	./bindings-python/build.sh
	.venv/bin/python -m pytest -q bindings-python/tests
