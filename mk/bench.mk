# Benchmark (issue 7): `make bench`. Not part of `make test` or CI.
# Starts PostgreSQL + Redis through devstack (or uses DATABASE_URL / REDIS_URL),
# then bench/run.py runs the service, the ceilings and the peer one after the
# other and prints the table. See docs/benchmarks.md.

BENCH_VENV := $(TOOLS)/bench-venv
BENCH_PY   := $(BENCH_VENV)/bin/python
BENCH_ARGS ?=

.PHONY: bench bench-profile bench-tools

$(BENCH_VENV)/.installed: bench/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/pip install --quiet -r bench/requirements.txt
	touch $@

bench-tools: $(BENCH_VENV)/.installed ## wrk (Debian) and the bench venv (peer stack, matplotlib, py-spy)
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y -q wrk >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }; \
	  else echo "bench: wrk is missing: sudo apt-get install wrk" >&2; exit 2; fi; }

bench: venv bench-tools ## benchmark: service vs ceilings vs FastAPI peer, then cost at 10k/100k/1M trades (about 13 min; BENCH_ARGS=--help)
	$(PY) -m gold_devtools.devstack -- $(BENCH_PY) bench/run.py $(BENCH_ARGS)

bench-profile: venv bench-tools ## the service's scenarios only, with py-spy on each worker
	$(PY) -m gold_devtools.devstack -- $(BENCH_PY) bench/run.py --only service --profile $(BENCH_ARGS)
