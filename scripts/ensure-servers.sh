#!/bin/sh
# Makes sure the real XMPP servers the tests run are installed: Prosody 0.12
# with prosody-modules (mod_privilege, mod_delegation) and ejabberd (23.01 in
# Debian bookworm), the Debian 13 root with Prosody 13, ejabberd 24.12 and
# the real components (ensure-debian13.sh), and Chromium for the status page's
# browser test (ensure-chromium.sh). As root it installs what is missing;
# otherwise it says what to run. The tests start their own throwaway instances
# on free loopback ports.
set -eu
here=$(dirname "$0")
sh "$here/ensure-prosody.sh"
sh "$here/ensure-debian13.sh"
sh "$here/ensure-chromium.sh"
command -v ejabberdctl >/dev/null 2>&1 && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "privguard: ejabberd is needed (real server for the compatibility tests)." >&2
  echo "privguard: install it as root:  apt-get update && apt-get install -y ejabberd" >&2
  exit 1
fi
echo "privguard: installing ejabberd (apt-get)..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq ejabberd >&2 || { apt-get update -qq >&2 && apt-get install -y -qq ejabberd >&2; } ||
  { echo "privguard: apt-get could not install ejabberd (network? apt sources? another apt running?); see above" >&2; exit 1; }
# The package may start a system-wide ejabberd; the tests use their own instances.
if command -v service >/dev/null 2>&1; then service ejabberd stop >/dev/null 2>&1 || true; fi
command -v ejabberdctl >/dev/null 2>&1 || { echo "privguard: ejabberd still missing after apt-get" >&2; exit 1; }
