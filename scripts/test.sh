#!/usr/bin/env bash
# The project's one test command (`make test` runs it). Extra arguments go to both pytest runs,
# e.g. `bash scripts/test.sh -k refresh`.
#
#   1. ruff: lint and format check of the whole tree; mypy with django-stubs over the code.
#   2. pytest against PostgreSQL, with a real Celery worker over Redis (integration) and
#      Chromium through Playwright (browser).
#   3. pytest again against the embedded SQLite stack: the integration tests run here too (the
#      worker opens the same file test database); browser tests, and the tests that never reach
#      the database (TEST_DATABASE_ONLY=1), ran in pass 2 and are left out to save time.
#
# Under CI (CI=true, as .ci/run sets) PostgreSQL and Redis are required: if either is
# unreachable this fails instead of skipping, because CI has to exercise them (and the browser
# tests fail without Chromium). Anywhere else it runs what can run: no PostgreSQL, no pass 2;
# no Redis (or RabbitMQ, whichever TEST_REDIS_URL names), the worker tests use kombu's
# filesystem broker; no Chromium, no browser tests. The last lines list what was skipped and why.
#
#   TEST_POSTGRES_URL  the PostgreSQL server (default postgres://postgres@127.0.0.1:5432/twinadmin)
#   TEST_REDIS_URL     the broker for worker tests (default redis://127.0.0.1:6379/15)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
BIN="$ROOT/.venv/bin"

PG_URL="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/twinadmin}"
REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"

section() { printf '\n===== %s =====\n' "$*"; }
ci() { [[ -n "${CI:-}" && "${CI}" != "false" && "${CI}" != "0" ]]; }
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
export PYTHONDONTWRITEBYTECODE=1

WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/twinadmin-test.XXXXXX")"
trap 'rm -rf "$WORK_DIR"' EXIT
# What this run left out, one "what<TAB>why" a line; printed at the end.
SKIPPED="$WORK_DIR/skipped.tsv"
: >"$SKIPPED"

section "Services"
# Prints "postgres ok|down <detail>" and "broker ok|down <detail>"; never fails itself.
"$BIN/python" - "$PG_URL" "$REDIS_URL" >"$WORK_DIR/services" <<'PY'
import sys
from urllib.parse import urlsplit

import psycopg
from kombu import Connection

pg_url, broker_url = sys.argv[1], sys.argv[2]
# The maintenance database: the test database is created from it, the named one need not exist.
maint = urlsplit(pg_url)._replace(path="/postgres").geturl()
try:
    with psycopg.connect(maint, connect_timeout=5) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
    print(f"postgres ok PostgreSQL {version} reachable at {urlsplit(pg_url).netloc}")
except Exception as exc:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    print(f"postgres down PostgreSQL not reachable at {urlsplit(pg_url).netloc} ({reason})")
try:
    with Connection(broker_url, connect_timeout=5) as conn:
        conn.ensure_connection(max_retries=1, timeout=5)
    print(f"broker ok {urlsplit(broker_url).scheme} broker reachable at {urlsplit(broker_url).netloc}")
except Exception as exc:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    print(f"broker down {urlsplit(broker_url).scheme} broker not reachable at {urlsplit(broker_url).netloc} ({reason})")
PY
PG_STATE="$(awk '$1 == "postgres" {print $2}' "$WORK_DIR/services")"
PG_DETAIL="$(awk '$1 == "postgres" {$1 = $2 = ""; print substr($0, 3)}' "$WORK_DIR/services")"
BROKER_STATE="$(awk '$1 == "broker" {print $2}' "$WORK_DIR/services")"
BROKER_DETAIL="$(awk '$1 == "broker" {$1 = $2 = ""; print substr($0, 3)}' "$WORK_DIR/services")"
echo "$PG_DETAIL"
echo "$BROKER_DETAIL"
if ci && [[ $PG_STATE != ok || $BROKER_STATE != ok ]]; then
    die "CI needs PostgreSQL and the broker running for the test suite (see above)."
fi
if [[ $BROKER_STATE == ok ]]; then
    export CELERY_BROKER_URL="$REDIS_URL"
else
    # kombu's filesystem transport: a queue directory the worker processes share (var/celery).
    export CELERY_BROKER_URL="filesystem://"
    printf 'worker tests over %s\t%s; they ran over the filesystem broker instead\n' \
        "$(cut -d: -f1 <<<"$REDIS_URL")" "$BROKER_DETAIL" >>"$SKIPPED"
    echo "Worker tests will use the filesystem broker."
fi

section "ruff check"
"$BIN/ruff" check . || die "ruff check found problems (see above; 'make format' fixes many)."
section "ruff format --check"
"$BIN/ruff" format --check . || die "ruff format --check: files need formatting ('make format')."
section "mypy (django-stubs) over twinadmin/ and migrations_app/"
"$BIN/mypy" || die "mypy found type errors (see above)."

# The plain list of what did not run, and why: whole passes left out, then the tests pytest
# skipped, grouped by reason (from each pass's JUnit report). Printed last, passed or failed.
report_skipped() {
"$BIN/python" - "$SKIPPED" "$WORK_DIR"/postgres.xml "$WORK_DIR"/sqlite.xml <<'PY'
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

lines = [line.split("\t", 1) for line in Path(sys.argv[1]).read_text().splitlines() if line]
by_reason: dict[tuple[str, str], list[str]] = defaultdict(list)
for report in sys.argv[2:]:
    path = Path(report)
    if not path.exists():
        continue
    label = "PostgreSQL" if path.stem == "postgres" else "SQLite"
    for case in ET.parse(path).iter("testcase"):
        skipped = case.find("skipped")
        if skipped is not None:
            reason = (skipped.get("message") or "").removeprefix("Skipped: ").strip() or "no reason given"
            by_reason[(label, reason)].append(f"{case.get('classname')}::{case.get('name')}")
total = sum(len(tests) for tests in by_reason.values())
print(f"Skipped: {len(lines)} part(s) of the run, {total} test(s)." if lines or total else "Skipped: nothing.")
for what, why in lines:
    print(f"  - {what}: {why}")
for (label, reason), tests in sorted(by_reason.items()):
    modules = sorted({t.split("::")[0] for t in tests})
    shown = ", ".join(modules[:3]) + (f" and {len(modules) - 3} more" if len(modules) > 3 else "")
    print(f"  - {len(tests)} test(s) on {label}: {reason} ({shown})")
PY
}

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
        report_skipped
        die "pytest ($label) failed with exit code $rc."
    fi
}

if [[ $PG_STATE == ok ]]; then
    section "pytest: PostgreSQL + Celery worker over $(cut -d: -f1 <<<"$CELERY_BROKER_URL") + browser"
    started=$SECONDS
    DATABASE_URL="$PG_URL" run_pytest "PostgreSQL" no --durations=5 --junit-xml="$WORK_DIR/postgres.xml" "$@"
    echo "PostgreSQL pass: $((SECONDS - started))s"
    SQLITE_MARKS="not browser"
    # The tests that never reach the database ran in the PostgreSQL pass; they would do the same
    # on SQLite (tests/conftest.py deselects them).
    export TEST_DATABASE_ONLY=1
else
    printf 'the PostgreSQL pass (its tests ran on SQLite; PostgreSQL-only ones skipped)\t%s\n' "$PG_DETAIL" >>"$SKIPPED"
    # No pass on PostgreSQL: the browser tests run on SQLite instead (if Chromium is here).
    SQLITE_MARKS=""
fi

NARROWED=no
if [[ $# -gt 0 ]]; then NARROWED=yes; fi
section "pytest: SQLite + Celery worker over $(cut -d: -f1 <<<"$CELERY_BROKER_URL")${SQLITE_MARKS:+ (browser and database-free tests ran in the PostgreSQL pass)}"
started=$SECONDS
# A fresh file per run, so a plain `pytest` elsewhere in this checkout (var/test.sqlite3) is
# never touched.
DATABASE_URL="sqlite:///$WORK_DIR/twinadmin.sqlite3" TEST_SQLITE_PATH="$WORK_DIR/test.sqlite3" \
    run_pytest "SQLite" "$NARROWED" ${SQLITE_MARKS:+-m "$SQLITE_MARKS"} --durations=5 \
    --junit-xml="$WORK_DIR/sqlite.xml" "$@"
echo "SQLite pass: $((SECONDS - started))s"

section "All checks passed"
report_skipped
