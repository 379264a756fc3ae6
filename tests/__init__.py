"""lobflow's pytest suite (a package so tests can share generators and the oracle)."""
