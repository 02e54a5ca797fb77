#!/bin/sh
# Makes sure the headless browser of the status-page test is installed: the
# Debian package `chromium` (/usr/bin/chromium), driven by playwright-core.
# As root it installs it (apt-get); otherwise it says what to run and fails:
# the browser test is never skipped silently.
set -eu
have() { [ -x /usr/bin/chromium ]; }
have && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "privguard: Chromium is needed (the status page is tested in a real headless browser)." >&2
  echo "privguard: install it as root:  apt-get update && apt-get install -y chromium" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "privguard: no apt-get here; install Chromium so that /usr/bin/chromium exists." >&2
  exit 1
fi
echo "privguard: installing chromium (apt-get)..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq -o DPkg::Lock::Timeout=600 chromium >&2 ||
  { apt-get update -qq -o DPkg::Lock::Timeout=600 >&2 && apt-get install -y -qq -o DPkg::Lock::Timeout=600 chromium >&2; }
have || { echo "privguard: /usr/bin/chromium still missing after apt-get" >&2; exit 1; }
