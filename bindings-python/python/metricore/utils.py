"""Number formatting as ``prometheus_client.utils`` has it."""

import math

INF = float("inf")
MINUS_INF = float("-inf")
NaN = float("NaN")


def floatToGoString(d) -> str:
    """``d`` as Prometheus writes a float: ``+Inf``, ``-Inf``, ``NaN``, else Python's
    shortest form, with a positive value of 10^6 or more in Go's exponent form
    (``1e+06``, ``1.234567e+06``)."""
    d = float(d)
    if d == INF:
        return "+Inf"
    if d == MINUS_INF:
        return "-Inf"
    if math.isnan(d):
        return "NaN"
    s = repr(d)
    dot = s.find(".")
    if d > 0 and dot > 6:
        mantissa = f"{s[0]}.{s[1:dot]}{s[dot + 1:]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return s
