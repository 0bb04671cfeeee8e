#!/usr/bin/env bash
# Debian's chromium for the browser tests (tests/browser.py drives it with Playwright, which downloads no browser
# of its own). Idempotent: nothing to do when $RIVER_CHROMIUM or /usr/bin/chromium exists. Without apt-get or
# root it says so and the browser tests skip; with RIVER_REQUIRE_BROWSER=1 (CI) that is an error instead.
set -euo pipefail
exe="${RIVER_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$exe" ]; then
  exit 0
fi
give_up() {
  echo "browser: $1" >&2
  if [ "${RIVER_REQUIRE_BROWSER:-}" = 1 ]; then
    exit 1
  fi
  echo "browser: the browser tests will be skipped" >&2
  exit 0
}
command -v apt-get >/dev/null || give_up "no apt-get here: install chromium and set RIVER_CHROMIUM to its path"
run=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    run=(sudo -n)
  else
    give_up "not root and no password-less sudo: run 'sudo apt-get install chromium'"
  fi
fi
echo "browser: installing Debian's chromium with apt-get (once)"
"${run[@]}" apt-get update -qq || give_up "apt-get update failed"
"${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
  || give_up "apt-get install chromium failed"
[ -x /usr/bin/chromium ] || give_up "chromium was installed but /usr/bin/chromium is missing"
/usr/bin/chromium --version
