#!/bin/sh
# Makes sure the real Prosody the tests and the demo run is installed:
# Debian packages prosody, prosody-modules (mod_privilege, mod_delegation), lua-event.
# As root it installs them; otherwise it says what to run.
set -eu
have() {
  command -v prosody >/dev/null 2>&1 && command -v prosodyctl >/dev/null 2>&1 &&
    { [ -e /usr/lib/prosody/modules/mod_privilege ] || [ -e /usr/lib/prosody/modules/mod_privilege.lua ]; }
}
have && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "privguard: Prosody with prosody-modules is needed (real server for the tests and the demo)." >&2
  echo "privguard: install it as root:  apt-get update && apt-get install -y prosody prosody-modules lua-event" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "privguard: no apt-get here; install Prosody 0.12 with prosody-modules (mod_privilege, mod_delegation) by hand." >&2
  exit 1
fi
echo "privguard: installing prosody prosody-modules lua-event (apt-get)..." >&2
export DEBIAN_FRONTEND=noninteractive
{ apt-get update -qq >&2 && apt-get install -y -qq prosody prosody-modules lua-event >&2; } ||
  { echo "privguard: apt-get could not install prosody prosody-modules lua-event (network? apt sources? another apt running?); see above" >&2; exit 1; }
# The package may start a system-wide Prosody on the default ports; the tests
# use their own instances on free ports, so stop it if it runs.
if command -v service >/dev/null 2>&1; then service prosody stop >/dev/null 2>&1 || true; fi
have || { echo "privguard: Prosody still missing after apt-get" >&2; exit 1; }
