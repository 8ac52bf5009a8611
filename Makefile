# twinadmin: `make run` starts everything on a fresh machine; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint format venv bootstrap clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

.env:
	cp .env.example .env

# Migrate, create demo users (passwords printed when created, and kept in var/demo-logins for
# `make run` to show again), load the seed's legacy index.
bootstrap: venv .env
	$(PY) manage.py backup_keygen
	$(PY) manage.py migrate --noinput
	set -o pipefail; $(PY) manage.py bootstrap_demo | bash scripts/demo_logins.sh remember
	$(PY) manage.py seed_legacy --if-empty
	$(PY) manage.py refresh_index

# Web server and a Celery worker together on 127.0.0.1:8000 (Procfile, run by honcho;
# TWINADMIN_PORT moves it), then, once it answers, its address and the demo logins as the last
# lines (scripts/run.sh). The demo's audit signing key is created under var/audit/ on first use
# (AUDIT_SIGNING_KEY_FILE).
run: bootstrap
	$(PY) manage.py audit_keygen
	bash scripts/run.sh

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: venv
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

test: venv .env
	bash scripts/test.sh

clean:
	rm -rf var/*.sqlite3* var/celery staticfiles

# pinecone_local's gRPC modules (committed) from its .proto: run after changing the .proto.
PROTO := twinadmin/vectors/server/proto/db_data.proto
.PHONY: grpc-proto
grpc-proto: venv
	$(PY) -m grpc_tools.protoc -I . --python_out=. --pyi_out=. --grpc_python_out=. $(PROTO)
