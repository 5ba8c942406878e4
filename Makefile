# PedsLink: `make run` starts everything on one machine; `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1
REDIS_URL ?= redis://127.0.0.1:6379/0
DICOM_PORT ?= 11112
export PORT HOST REDIS_URL DICOM_PORT

# `make run` is a trial on one machine, not a debug session (README, "A trial on one machine"):
# DEBUG off, plain http on HOST:PORT (so the https-only settings are off), SECRET_KEY and
# PATIENT_ID_HMAC_KEY generated once into var/secrets/ unless set, and SITE_URL fixed to the
# web address here: honcho gives each process its own PORT (the worker's is PORT+100).
# DEMO=0 skips the demo alliance (accounts with a published password) for a real trial.
DEMO ?= 1
PROCFILE ?= Procfile
run start: export DEBUG ?= 0
run start: export SECRETS_DIR ?= $(CURDIR)/var/secrets
run start: export SITE_URL ?= http://$(HOST):$(PORT)
run start: export ALLOWED_HOSTS ?= localhost,127.0.0.1,[::1],$(HOST)
run start: export SECURE_SSL_REDIRECT ?= 0
run start: export SESSION_COOKIE_SECURE ?= 0
run start: export CSRF_COOKIE_SECURE ?= 0
run start: export SECURE_HSTS_SECONDS ?= 0

TEST_DATABASE_URL ?= $(if $(DATABASE_URL),$(DATABASE_URL),postgres://postgres:postgres@127.0.0.1:5432/pedslink)
PYTEST_ARGS ?=

.PHONY: help install messages redis run start test bench lint format check typecheck clean ohif

help:
	@echo "make run    install, migrate, load the demo alliance and start web, worker, beat, listener"
	@echo "            (DEBUG off, keys generated in var/secrets/; DEMO=0: no demo alliance)"
	@echo "make test   install and run the whole test suite (PostgreSQL + Redis)"
	@echo "make bench  run the benchmarks in bench/"
	@echo "make lint   ruff check and format check"
	@echo "make check  static checks: layers (import contracts), imports inside functions, mypy"
	@echo "make typecheck  mypy alone"
	@echo "make ohif   install OHIF Viewer 3 (npm package @ohif/app, prebuilt) into static/ohif/"

$(VENV)/.installed: requirements.txt scripts/ensure_system.sh
	scripts/ensure_system.sh
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

messages: install
	$(PY) manage.py compilemessages --ignore=.venv --ignore=node_modules -v 0

redis:
	scripts/ensure_redis.sh

run: install messages redis ohif
	mkdir -p var
	$(PY) manage.py migrate --no-input
	$(PY) manage.py collectstatic --no-input -v 0
	$(if $(filter 1,$(DEMO)),$(PY) manage.py seed_demo --demo,@echo "DEMO=0: no demo alliance loaded")
	@echo
	@echo "PedsLink is starting at $(SITE_URL)/  (Ctrl-C stops everything)"
	@echo
	@$(MAKE) --no-print-directory start

# The processes of the Procfile, with the trial's environment above (`make run` ends here).
start:
	$(VENV)/bin/honcho start -f $(PROCFILE)

test: install messages redis ohif s3rver
	scripts/ensure_system.sh chromium docker-compose dcmtk postgresql-client nginx
	DATABASE_URL=$(TEST_DATABASE_URL) scripts/ensure_postgres.sh
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) -m pytest $(PYTEST_ARGS)

# s3rver (npm): a real S3-compatible server for the S3 tests and `BENCH_STORAGE=s3`.
S3RVER_VERSION ?= 3.7.1
S3RVER := var/node/node_modules/.bin/s3rver
.PHONY: s3rver
s3rver: $(S3RVER)

$(S3RVER):
	scripts/ensure_system.sh npm
	mkdir -p var/node
	npm install --no-audit --no-fund --prefix var/node s3rver@$(S3RVER_VERSION)

# OHIF Viewer 3 for specialists who prefer it (MPR): the prebuilt dist from npm, served at /ohif/.
OHIF_VERSION ?= 3.13.2
ohif: static/ohif/.installed-$(OHIF_VERSION)

static/ohif/.installed-$(OHIF_VERSION): scripts/install_ohif.py
	scripts/ensure_system.sh npm
	python3 scripts/install_ohif.py $(OHIF_VERSION)

bench: install messages redis s3rver
	$(PY) -m bench

# README "Bad input": the ingest fuzz (fresh seed unless FUZZ_SEED is given) and schemathesis, longer.
.PHONY: fuzz
fuzz: install messages redis
	DATABASE_URL=$(TEST_DATABASE_URL) scripts/ensure_postgres.sh
	FUZZ_CASES=$${FUZZ_CASES:-5000} FUZZ_SEED=$${FUZZ_SEED:-$$RANDOM$$RANDOM} \
	API_FUZZ_EXAMPLES=$${API_FUZZ_EXAMPLES:-50} DATABASE_URL=$(TEST_DATABASE_URL) \
	$(PY) -m pytest -s -p no:logging tests/viewer/ingest/test_ingest_fuzz.py \
	tests/consult/test_api_schemathesis.py $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# README "Static checks": the layer order (scripts/import_contracts.py, then import-linter's
# contract generated from it), imports inside functions, and mypy.
check: install
	$(PY) scripts/import_contracts.py --check
	$(VENV)/bin/lint-imports --no-cache
	$(PY) scripts/check_function_imports.py --check
	PY=$(PY) scripts/typecheck.sh

typecheck: install
	PY=$(PY) scripts/typecheck.sh

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:
	rm -rf var/staticfiles .pytest_cache
