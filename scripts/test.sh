#!/usr/bin/env bash
# The project's one test command (`make test` runs it). Extra arguments go to both pytest runs,
# e.g. `bash scripts/test.sh -k refresh`.
#
#   1. ruff: lint and format check of the whole tree; mypy with django-stubs over the code.
#   2. pytest against PostgreSQL, with a real Celery worker over Redis (integration) and
#      Chromium through Playwright (browser).
#   3. pytest again against the embedded SQLite stack: the integration tests run here too (the
#      worker opens the same file test database); browser tests are left out to save time.
#
# PostgreSQL and Redis are required, not optional: if either is unreachable this fails with a
# message instead of skipping, because CI has to exercise them.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
BIN="$ROOT/.venv/bin"

PG_URL="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/twinadmin}"
REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"

section() { printf '\n===== %s =====\n' "$*"; }
die() {
    printf '\nERROR: %s\n' "$*" >&2
    exit 1
}

[[ -x "$BIN/pytest" && -x "$BIN/ruff" && -x "$BIN/mypy" ]] || die "$BIN has no pytest/ruff/mypy: run 'make venv' first."

# The test databases (test_twinadmin on PostgreSQL) and Redis db 15 are shared by every checkout
# on this machine: runs of this script take turns instead of dropping each other's database.
LOCK_FILE="${TMPDIR:-/tmp}/twinadmin-test.lock"
exec 9>"$LOCK_FILE"
if ! flock -n 9; then
    echo "Another test run holds $LOCK_FILE; waiting for it (up to 30 minutes)..."
    flock -w 1800 9 || die "gave up waiting for $LOCK_FILE"
fi

# The test environment is defined here, not by a developer's .env (explicit variables win over
# .env in settings): no DEBUG (workers would keep every query in memory), the local vector store.
export DEBUG=0
export SECRET_KEY="test-only-not-a-secret"
export VECTOR_BACKEND=local
export CELERY_BROKER_URL="$REDIS_URL"
export PYTHONDONTWRITEBYTECODE=1

WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/twinadmin-test.XXXXXX")"
trap 'rm -rf "$WORK_DIR"' EXIT

section "Services"
"$BIN/python" - "$PG_URL" "$REDIS_URL" <<'PY' || die "PostgreSQL and Redis must be running for the test suite (see above)."
import sys
from urllib.parse import urlsplit

import psycopg
import redis

pg_url, redis_url = sys.argv[1], sys.argv[2]
ok = True
# The maintenance database: the test database is created from it, the named one need not exist.
maint = urlsplit(pg_url)._replace(path="/postgres").geturl()
try:
    with psycopg.connect(maint, connect_timeout=5) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
    print(f"PostgreSQL {version} reachable at {urlsplit(pg_url).netloc}")
except Exception as exc:
    print(f"PostgreSQL NOT reachable at {urlsplit(pg_url).netloc}: {exc}", file=sys.stderr)
    ok = False
try:
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=5)
    client.ping()
    print(f"Redis {client.info('server')['redis_version']} reachable at {redis_url}")
except Exception as exc:
    print(f"Redis NOT reachable at {redis_url}: {exc}", file=sys.stderr)
    ok = False
sys.exit(0 if ok else 1)
PY

section "ruff check"
"$BIN/ruff" check . || die "ruff check found problems (see above; 'make format' fixes many)."
section "ruff format --check"
"$BIN/ruff" format --check . || die "ruff format --check: files need formatting ('make format')."
section "mypy (django-stubs) over twinadmin/ and migrations_app/"
"$BIN/mypy" || die "mypy found type errors (see above)."

# pytest exits 5 when it collected nothing: a broken path or marker must not pass as green.
# Only when a developer narrowed the run (extra arguments) may the SQLite pass select nothing,
# e.g. `bash scripts/test.sh tests/browser`.
run_pytest() {
    local label="$1" allow_empty="$2"
    shift 2
    local rc=0
    "$BIN/pytest" "$@" || rc=$?
    if [[ $rc -eq 5 && $allow_empty == yes ]]; then
        echo "pytest ($label): nothing selected by the given arguments."
    elif [[ $rc -eq 5 ]]; then
        die "pytest ($label) collected no tests."
    elif [[ $rc -ne 0 ]]; then
        die "pytest ($label) failed with exit code $rc."
    fi
}

section "pytest: PostgreSQL + Celery worker over Redis + browser"
started=$SECONDS
DATABASE_URL="$PG_URL" run_pytest "PostgreSQL" no --durations=5 "$@"
echo "PostgreSQL pass: $((SECONDS - started))s"

NARROWED=no
if [[ $# -gt 0 ]]; then NARROWED=yes; fi
section "pytest: SQLite + Celery worker over Redis (browser tests skipped)"
started=$SECONDS
# A fresh file per run, so a plain `pytest` elsewhere in this checkout (var/test.sqlite3) is
# never touched.
DATABASE_URL="sqlite:///$WORK_DIR/twinadmin.sqlite3" TEST_SQLITE_PATH="$WORK_DIR/test.sqlite3" \
    run_pytest "SQLite" "$NARROWED" -m "not browser" --durations=5 "$@"
echo "SQLite pass: $((SECONDS - started))s"

section "All checks passed"
