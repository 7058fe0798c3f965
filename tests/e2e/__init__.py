# A package, so that pytest imports this directory's conftest as e2e.conftest and the
# `conftest` module of tests/prometheus stays its own when both suites run at once.
