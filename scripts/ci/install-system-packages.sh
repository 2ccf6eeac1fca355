#!/usr/bin/env bash
# Installs the Debian packages that the Redis, browser and Prometheus tests need (Debian 12 / bookworm):
#   redis-server      tests start their own instances on free loopback ports
#                     (test/helpers/redis-server.ts); the packaged daemon is never used
#   chromium          driven headless by playwright-core (test/helpers/browser.ts)
#   fonts-liberation  Arial/Times/Courier-metric fonts, so screenshots render real text
#   openssl           makes the test-only CA and certificates of the Redis TLS tests
#                     (test/helpers/test-certificates.ts); absent from slim images
#   prometheus        promtool checks and unit-tests deploy/prometheus/alerts.yml; the
#                     prometheus binary scrapes a real proxy (test/helpers/prometheus.ts);
#                     the packaged daemon is never used
#
# Idempotent: when everything is installed it does nothing, not even `apt-get update`.
# Works as root on a machine or container without systemd. Installing redis-server or
# prometheus never starts the packaged daemon (on 6379, 9090): service starts are denied
# through policy-rc.d for the duration of the install (any existing policy-rc.d is put back
# afterwards).
set -euo pipefail

PACKAGES=(redis-server chromium fonts-liberation openssl prometheus)
POLICY=/usr/sbin/policy-rc.d

installed () {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = 'install ok installed' ]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-system-packages: already installed: ${PACKAGES[*]}"
else
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-system-packages: missing ${missing[*]}; run this script as root (sudo $0)" >&2
    exit 1
  fi

  # Deny every service start while installing, unless the local policy already does.
  backup=''
  if [ -e "$POLICY" ]; then
    rc=0
    "$POLICY" redis-server start >/dev/null 2>&1 || rc=$?
    if [ "$rc" -ne 101 ]; then
      backup="$(mktemp "$POLICY.backup.XXXXXX")"
      cp -p "$POLICY" "$backup"
    fi
  fi
  restore_policy () {
    if [ -n "$backup" ]; then
      mv -f "$backup" "$POLICY"
    elif [ -n "${created_policy:-}" ]; then
      rm -f "$POLICY"
    fi
  }
  trap restore_policy EXIT
  if [ ! -e "$POLICY" ] || [ -n "$backup" ]; then
    [ -e "$POLICY" ] || created_policy=1
    printf '#!/bin/sh\n# written by install-system-packages.sh for the duration of an install\nexit 101\n' > "$POLICY"
    chmod 755 "$POLICY"
  fi

  export DEBIAN_FRONTEND=noninteractive
  echo "install-system-packages: installing ${missing[*]}"
  apt-get update
  # Recommends are not needed: chromium runs headless as root with --no-sandbox, so
  # chromium-sandbox is not used, and the fonts it recommends are installed explicitly;
  # prometheus recommends its node exporter, which the tests do not use.
  apt-get install -y --no-install-recommends "${missing[@]}"
  restore_policy
  trap - EXIT
fi

# Prove the binaries actually run (fails the script, and so CI, if they do not).
redis-server --version
openssl version
prometheus --version
promtool --version
chromium_bin="${CHROMIUM_PATH:-/usr/bin/chromium}"
"$chromium_bin" --version
dom="$("$chromium_bin" --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
  --dump-dom 'data:text/html,<p>headless chromium works</p>' 2>&1)" || true
case "$dom" in
  *'<p>headless chromium works</p>'*) echo "install-system-packages: headless chromium renders pages" ;;
  *) printf 'install-system-packages: %s did not render a page headless:\n%s\n' "$chromium_bin" "$dom" >&2; exit 1 ;;
esac
