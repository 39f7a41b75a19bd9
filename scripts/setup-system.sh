#!/usr/bin/env bash
# Installs the Debian packages listed in scripts/apt-packages.txt that are missing.
# Idempotent and quick when nothing is missing: it asks dpkg first and calls apt-get only if needed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t wanted < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$here/apt-packages.txt")
missing=()
for pkg in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ -n "${KIOSK_SKIP_APT:-}" ]]; then
  echo "setup: KIOSK_SKIP_APT is set; not installing: ${missing[*]}" >&2
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "setup: missing Debian packages: ${missing[*]}" >&2
  echo "setup: run 'make' as root once, or: sudo apt-get install -y ${missing[*]}" >&2
  echo "setup: (set KIOSK_SKIP_APT=1 to go on without them)" >&2
  exit 1
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# pcscd reads /etc/reader.conf.d only when it starts. The pcscd that its own maintainer scripts
# start during the install above may have started before vsmartcard-vpcd's reader was configured
# (apt configures pcscd early: it has a Pre-Depends), so restart it if it runs; the test fixtures
# also cope with a pcscd without the virtual reader (tests/devices/conftest.py).
if [[ " ${missing[*]} " == *" pcscd "* || " ${missing[*]} " == *" vsmartcard-vpcd "* ]]; then
  if [[ -d /run/systemd/system ]]; then
    systemctl try-restart pcscd.service || true
  elif [[ -x /etc/init.d/pcscd ]] && start-stop-daemon --status --pidfile /run/pcscd/pcscd.pid --exec /usr/sbin/pcscd; then
    echo "setup: restarting pcscd so that it loads the virtual reader (vsmartcard-vpcd)"
    invoke-rc.d pcscd restart || true
  fi
fi
