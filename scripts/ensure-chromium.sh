#!/usr/bin/env bash
# The browser tests drive Debian's Chromium (a browser downloaded by Playwright cannot be used here).
# Installs it when missing; fails loudly rather than letting the browser tests be skipped.
set -euo pipefail
CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
echo "Chromium is missing: installing Debian's chromium package for the browser tests..."
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "error: $CHROMIUM is missing and this user cannot install it; run: apt-get install chromium" >&2
  exit 1
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
[ -x "$CHROMIUM" ] || { echo "error: chromium installed but $CHROMIUM is not there" >&2; exit 1; }
