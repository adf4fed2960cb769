#!/usr/bin/env bash
# Checks systemd/pantau.service with systemd-analyze verify. The unit names binaries and
# credential files that exist only on a server, so we verify a copy whose ExecStart points at
# a stand-in executable and whose credential paths exist.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/cred"
printf '#!/bin/sh\nexit 0\n' >"$tmp/bin/pantau"
chmod +x "$tmp/bin/pantau"
touch "$tmp/cred/slack_webhook_url" "$tmp/cred/smtp_password"
sed -e "s#/opt/pantau/venv/bin/pantau#$tmp/bin/pantau#" \
    -e "s#/etc/pantau/credentials#$tmp/cred#g" \
    "$here/pantau.service" >"$tmp/pantau.service"
out="$(systemd-analyze verify --man=no "$tmp/pantau.service" 2>&1 || true)"
# Ignore complaints about the host (no running systemd in containers), keep unit errors.
errors="$(printf '%s\n' "$out" | grep -v -E 'Failed to connect|System has not been booted|Failed to setup|Cannot find unit|bus|Access denied|/proc/' | grep -E "$tmp/pantau.service|pantau.service:" || true)"
if [ -n "$errors" ]; then
  printf 'systemd-analyze verify found problems:\n%s\n' "$errors" >&2
  exit 1
fi
echo "systemd/pantau.service: verified"
