# A package, so that pytest imports this directory's modules under their own names when
# several suites run at once.
