"""lobflow's pytest-benchmark suites (a package so tests can share generators and the oracle)."""
