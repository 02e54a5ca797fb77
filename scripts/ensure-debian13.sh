#!/bin/sh
# Makes sure the Debian 13 (trixie) root the tests run Prosody 13, ejabberd 24.12,
# slidge and Libervia PubSub from exists: made once (debootstrap + apt-get, about
# 2 minutes), reused afterwards. As root it makes or repairs it; otherwise it
# says what to run. PRIVGUARD_DEBIAN13_ROOT moves it; PRIVGUARD_SERVERS without a
# Debian 13 server (prosody-13, ejabberd-24.12) skips it.
set -eu
R=${PRIVGUARD_DEBIAN13_ROOT:-/var/cache/privguard/debian13}
PKGS="prosody prosody-modules lua-event ejabberd python3-slidge libervia-pubsub postgresql"
# The same list the tests read (comma-separated; blanks allowed around the names).
case ",$(printf '%s' "${PRIVGUARD_SERVERS:-prosody-13}" | tr -d ' \t')," in
  *,prosody-13,*|*,ejabberd-24.12,*) ;;
  *) exit 0 ;;
esac

complete() {
  [ -x "$R/usr/bin/prosody" ] && [ -x "$R/usr/sbin/ejabberdctl" ] &&
    [ -e "$R/usr/lib/python3/dist-packages/slidge/__init__.py" ] &&
    [ -e "$R/usr/share/libervia/sat_pubsub/__init__.py" ] &&
    [ -x "$R/usr/lib/postgresql/17/bin/initdb" ]
}
mounted() { [ -e "$R/proc/self" ] && [ -e "$R/dev/null" ] && [ -c "$R/dev/urandom" ]; }

if complete && mounted; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  if complete; then
    echo "privguard: the Debian 13 root at $R is complete but /proc and /dev are not mounted in it (after a reboot they must be mounted again)." >&2
    echo "privguard: as root:  sh scripts/ensure-debian13.sh   (or restrict the matrix: PRIVGUARD_SERVERS=prosody-0.12,ejabberd-23.01)" >&2
    exit 1
  fi
  echo "privguard: the Debian 13 servers (Prosody 13, ejabberd 24.12) and components (slidge, Libervia PubSub) run from a trixie root at $R, which is missing or incomplete." >&2
  echo "privguard: make it once as root:  sh scripts/ensure-debian13.sh   (or restrict the matrix: PRIVGUARD_SERVERS=prosody-0.12,ejabberd-23.01)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if [ ! -x "$R/usr/bin/apt-get" ]; then
  command -v debootstrap >/dev/null 2>&1 || { apt-get install -y -qq debootstrap >&2 || { apt-get update -qq >&2 && apt-get install -y -qq debootstrap >&2; }; } ||
    { echo "privguard: apt-get could not install debootstrap, needed to make the Debian 13 root; see above" >&2; exit 1; }
  echo "privguard: making the Debian 13 root at $R (debootstrap, about a minute)..." >&2
  mkdir -p "$R"
  debootstrap --variant=minbase trixie "$R" http://deb.debian.org/debian >&2 ||
    { echo "privguard: debootstrap of Debian 13 into $R failed (network? mirror?); see above" >&2; exit 1; }
fi
mounted || {
  { mountpoint -q "$R/proc" || mount -t proc proc "$R/proc"; } &&
    { mountpoint -q "$R/dev" || mount --bind /dev "$R/dev"; }
} || { echo "privguard: could not mount /proc and /dev in the Debian 13 root at $R (a container without mount rights?); see above" >&2; exit 1; }
# Packages must not start their services inside the root.
printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d"
chmod +x "$R/usr/sbin/policy-rc.d"
if ! complete; then
  echo "privguard: installing $PKGS into the Debian 13 root (about 40 s)..." >&2
  # shellcheck disable=SC2086
  chroot "$R" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PKGS >&2 ||
    { chroot "$R" apt-get update -qq >&2 && chroot "$R" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PKGS >&2; } ||
    { echo "privguard: apt-get install in the Debian 13 root failed; see above" >&2; exit 1; }
fi
complete || { echo "privguard: the Debian 13 root at $R is still incomplete after apt-get" >&2; exit 1; }
