# Two commands a newcomer needs (README, "Quickstart"). Both create .venv on first use.
.PHONY: dashboard test bench

SHELL := /bin/bash
PY := .venv/bin/python

# Open the Voilà dashboard on the shipped model (http://127.0.0.1:8866).
dashboard:
	@scripts/setup-env
	$(PY) -m serwidgets.cli dashboard

# The whole test suite: unit tests, real-corpus tests, notebooks and browser tests.
# pytest exits 5 when it collected no test; make treats that, like any failure, as an error.
test:
	@scripts/setup-env --browser
	$(PY) -m pytest --durations=15

# The dashboard and hub benchmarks drive Chromium and start a JupyterHub, as the browser tests do.
bench:
	@scripts/setup-env --browser
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done
