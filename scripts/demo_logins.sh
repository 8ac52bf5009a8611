#!/usr/bin/env bash
# The demo logins `make run` shows once the server is up. bootstrap_demo prints a password only
# when it creates a user (or with --reset-passwords), long before the server is ready and amid
# the installer's output, so:
#
#   manage.py bootstrap_demo | bash scripts/demo_logins.sh remember   passes the output through
#       and keeps each printed "user NAME password PW" in var/demo-logins (mode 0600; var/ is
#       not in git), newer passwords replacing older ones;
#   bash scripts/demo_logins.sh show                                  prints "NAME / PW" lines,
#       or how to get a password that was never kept (a user made before this file existed).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
STORE="var/demo-logins"
USERS=(operator approver auditor admin)

case "${1:-}" in
remember)
    umask 077 # passwords: readable by this user only
    mkdir -p var
    touch "$STORE"
    while IFS= read -r line; do
        printf '%s\n' "$line"
        read -r -a word <<<"$line"
        if [[ ${#word[@]} -ge 4 && ${word[0]} == user && ${word[2]} == password ]]; then
            # One line per user: drop the old one, keep the new.
            { grep -v "^${word[1]} " "$STORE" || true; } >"$STORE.new"
            printf '%s %s\n' "${word[1]}" "${word[3]}" >>"$STORE.new"
            mv "$STORE.new" "$STORE"
        fi
    done
    ;;
show)
    for user in "${USERS[@]}"; do
        password="$(awk -v u="$user" '$1 == u { print $2 }' "$STORE" 2>/dev/null || true)"
        if [[ -n $password ]]; then
            printf '  %-9s / %s\n' "$user" "$password"
        else
            printf '  %-9s / (not kept: .venv/bin/python manage.py bootstrap_demo --reset-passwords)\n' "$user"
        fi
    done
    ;;
*)
    echo "usage: $0 remember|show" >&2
    exit 2
    ;;
esac
