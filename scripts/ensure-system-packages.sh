#!/usr/bin/env bash
# Debian packages the tests drive for real: Chromium (browser tests; a browser downloaded by
# Playwright cannot be used here), OpenSSH's server (the SFTP backup destination's tests) and
# sqlmap (the outside attacker's check), npm (installs mongosh from tools/package-lock.json), and
# nginx (the shared cache's test, and the benchmarks' anchor), wrk (the shared cache's benchmark).
# Installs what is missing; fails loudly rather than letting those tests be skipped.
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
[ -x /usr/bin/ssh-keygen ] || missing+=(openssh-client)
[ -x /usr/bin/sqlmap ] || missing+=(sqlmap)
[ -x /usr/sbin/haproxy ] || missing+=(haproxy)  # the load-balanced test runs deploy/haproxy/shop.cfg
[ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)  # the integration pass through a pooler
[ -x /usr/bin/xmllint ] || missing+=(libxml2-utils)  # the deploy files are checked with their own validators
[ -x /usr/bin/promtool ] || missing+=(prometheus)  # … the alert rules with promtool
[ -x /usr/bin/systemd-analyze ] || missing+=(systemd)  # … the units' sandboxing with systemd-analyze security
[ -x /usr/sbin/nginx ] || missing+=(nginx)  # deploy/nginx/shop.conf's test; the benches' static-file anchor
[ -x /usr/bin/wrk ] || missing+=(wrk)  # bench/http_cache.py: 64 clients that nginx, not Python, is the limit of
command -v npm >/dev/null 2>&1 || missing+=(npm)  # mongosh for the hand-applied MongoDB schema test
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "Installing Debian packages for the tests: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "error: missing ${missing[*]} and this user cannot install them; run: apt-get install ${missing[*]}" >&2
  exit 1
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
[ -x /usr/bin/chromium ] && [ -x /usr/sbin/sshd ] && [ -x /usr/bin/sqlmap ] && [ -x /usr/sbin/haproxy ] && [ -x /usr/bin/xmllint ] \
  && [ -x /usr/bin/promtool ] && [ -x /usr/bin/systemd-analyze ] || { echo "error: install finished but a program is missing" >&2; exit 1; }
