# lobflow's one entry point. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
export VIRTUAL_ENV := $(VENV)
export PATH := $(VENV)/bin:$(PATH)
# Every cache the build writes stays inside the repo's ignored folders.
export PIP_CACHE_DIR := $(CURDIR)/.cache/pip
export CARGO_TARGET_DIR := $(CURDIR)/target
export MPLCONFIGDIR := $(CURDIR)/.cache/matplotlib
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# The exact Python packages every install here uses (the file says why).
export PIP_CONSTRAINT := $(CURDIR)/constraints.txt

.PHONY: help dev demo test lint fmt lock test-rust test-py test-slow miri bench bench-rust clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(VENV)/.deps: pyproject.toml constraints.txt
	@# What a fresh machine must already have, said plainly rather than as a build failure.
	@command -v cargo > /dev/null || { echo "make: lobflow needs Rust's cargo on PATH" \
		"(a stable toolchain with clippy and rustfmt, e.g. from https://rustup.rs)" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2> /dev/null || { \
		echo "make: lobflow needs CPython 3.11 or newer as \`$(PYTHON)\`" \
		"(constraints.txt is locked on 3.11); run e.g. make PYTHON=python3.11 ..." >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "maturin>=1.9.4,<2"
	touch $@

dev: $(VENV)/.deps ## build the extension in release mode into .venv (with dev tools and test hooks)
	@# cluster (Dask, for `lobflow sweep`) and peers (hftbacktest) too: their tests skip without them.
	maturin develop --release --extras dev,cluster,peers --features test-hooks
	$(PY) -c "import lobflow._core"

demo: dev ## build everything and run the whole pipeline on the bundled data
	$(PY) -m lobflow.demo

lint: dev ## formatters and linters (Rust and Python), stubs against the extension
	cargo fmt --all --check
	@# --release: the proc-macro that pyo3-polars' derive needs pulls polars' crates in for the
	@# host; built with the release profile's build settings they are the ones `make dev` built.
	cargo clippy --release --workspace --all-targets --all-features -- -D warnings
	ruff format --check python tests benches
	ruff check python tests benches
	mypy
	$(PY) -m mypy.stubtest lobflow._core

test-rust: ## cargo tests: unit, integration, doctests, the release stress test, loom, benches compile
	# One test thread: the engine and ring tests spin two pinned threads each; several at once
	# on a 2-core machine would wait on the scheduler instead of each other.
	cargo test -p lobflow-core --features test-hooks -- --test-threads=1
	cargo test -p lobflow-core --release --test ring_stress -- --test-threads=1
	RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=$(CURDIR)/target/loom \
		cargo test -p lobflow-core --release --test ring_loom
	cargo test -p lobflow-core --benches

test-py: dev ## pytest (slow and benchmark tests deselected), doctests, one run under PYTHONMALLOC=debug
	$(PY) -m pytest -q
	$(PY) -m pytest -q --doctest-modules python/lobflow -p no:cacheprovider
	PYTHONMALLOC=debug $(PY) -m pytest -q tests/test_engine.py tests/test_engine_errors.py -p no:cacheprovider

test: lint test-rust test-py test-slow ## build everything and run all tests (Rust and Python) and lints

test-slow: dev ## the long pytest cases (`make test` runs them too; `test-py` leaves them out)
	$(PY) -m pytest -q -m "slow" -p no:cacheprovider

miri: ## the ring's unit tests under Miri (needs a nightly toolchain with the miri component)
	# Not part of `make test`: a fresh machine has no nightly toolchain. Strict provenance
	# checks the whole-run slot copies' pointers as well as every access.
	MIRIFLAGS="-Zmiri-strict-provenance" CARGO_TARGET_DIR=$(CURDIR)/target/miri \
		cargo +nightly miri test -p lobflow-core --lib ring::

bench-rust: ## criterion benches (ring vs rtrb and crossbeam, features, engine)
	cargo bench -p lobflow-core

bench: dev ## pytest-benchmark suites in benches/ (Engine.run vs NumPy, collector, features, backtest)
	mkdir -p .cache
	$(PY) -m pytest benches -m benchmark --benchmark-enable -p no:cacheprovider \
		--benchmark-columns=min,median,mean,max,ops --benchmark-json=.cache/bench.json

LOCK_VENV := $(CURDIR)/.cache/lock-venv
lock: ## re-pin constraints.txt to the newest releases pyproject.toml allows (then `make test`)
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(PYTHON) -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb")); \
		print(*p["build-system"]["requires"], *p["project"]["dependencies"], \
		*(d for e in ("dev", "cluster", "peers") for d in p["project"]["optional-dependencies"][e]), \
		sep="\n")' > $(LOCK_VENV)/requirements.txt
	env -u PIP_CONSTRAINT $(LOCK_VENV)/bin/python -m pip install --quiet --upgrade pip
	env -u PIP_CONSTRAINT $(LOCK_VENV)/bin/python -m pip install --quiet -r $(LOCK_VENV)/requirements.txt
	{ grep '^#' constraints.txt; $(LOCK_VENV)/bin/python -m pip freeze --all; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	git diff --stat constraints.txt

fmt: dev ## format Rust and Python in place
	cargo fmt --all
	ruff format python tests benches
	ruff check --fix python tests benches

clean: ## remove build outputs (keeps .venv)
	cargo clean
