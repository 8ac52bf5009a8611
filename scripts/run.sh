#!/usr/bin/env bash
# `make run`'s last step: the web server and the Celery worker (Procfile, run by honcho), and,
# once the web server answers, a block with its address and the demo logins, so that the last
# thing a newcomer reads is where to go and how to sign in, not the installer's output.
#
# TWINADMIN_PORT (default 8000) moves the web server; set TWINADMIN_BASE_URL to match, for the
# links in emails. Ctrl-C stops everything (honcho stops its processes when it is told to stop).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export TWINADMIN_PORT="${TWINADMIN_PORT:-8000}"
URL="http://127.0.0.1:${TWINADMIN_PORT}/"
READY_SECONDS="${TWINADMIN_READY_SECONDS:-120}"

.venv/bin/honcho start &
honcho=$!
stop() { kill -TERM "$honcho" 2>/dev/null || true; }
trap stop INT TERM

# Ready: the sign-in page answers. Give up (and say so) if honcho exits or time runs out.
deadline=$((SECONDS + READY_SECONDS))
until curl -fsS -o /dev/null --max-time 2 "${URL}accounts/login/" 2>/dev/null; do
    if ! kill -0 "$honcho" 2>/dev/null; then
        wait "$honcho" || exit $?
        exit 1
    fi
    if ((SECONDS >= deadline)); then
        printf '\ntwinadmin: no answer from %s after %ss; see the output above.\n' "$URL" "$READY_SECONDS" >&2
        break
    fi
    sleep 0.5
done
if ((SECONDS < deadline)); then
    # The worker's start-up banner arrives about when the web server does: let it finish first.
    sleep "${TWINADMIN_BANNER_DELAY:-3}"
    rule="$(printf '%.0s=' {1..72})"
    printf '\n%s\n' "$rule"
    printf 'twinadmin is running: %s\n' "$URL"
    printf 'Demo logins (user / password):\n'
    bash scripts/demo_logins.sh show
    printf 'Stop with Ctrl-C.\n%s\n\n' "$rule"
fi

status=0
wait "$honcho" || status=$?
# A signal interrupts `wait`; wait on while honcho stops its processes.
while kill -0 "$honcho" 2>/dev/null; do wait "$honcho" || status=$?; done
exit "$status"
