"""Research probes: measured once, not part of the product (nothing in the product imports them).

Their conclusions are in docs/accuracy.md ("Where the gap is"); ``tests/benchmarks`` checks
that the probe scripts still import and parse their options.
"""
