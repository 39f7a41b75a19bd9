#!/usr/bin/env bash
# Removes what scripts/install.sh installed: `make uninstall` (as root), or from a staging root
# with `make uninstall DESTDIR=/some/dir`. Safe to run twice.
#
# Kept unless PURGE=1: /etc/kiosk (the kiosk's configuration and keys), /var/lib/kiosk (its
# data: queued transactions, receipts, audit log) and the user `kiosk` that owns that data.
# With PURGE=1 they go too. Undelivered transactions in /var/lib/kiosk are money: purge only
# after `kiosk` reports an empty queue.
set -euo pipefail

DESTDIR=${DESTDIR:-}
DESTDIR=${DESTDIR%/}
PURGE=${PURGE:-}

KIOSK_USER=kiosk
PREFIX=/opt/kiosk
CONFDIR=/etc/kiosk
DATADIR=/var/lib/kiosk
UNITDIR=/etc/systemd/system
STATE=$PREFIX/.install-state

say() { echo "uninstall: $*"; }
die() { echo "uninstall: error: $*" >&2; exit 1; }
staging() { [[ -n "$DESTDIR" ]]; }
systemd_running() { ! staging && [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; }
udev_running() { ! staging && [[ -S /run/udev/control ]] && command -v udevadm >/dev/null; }

if staging; then
  [[ -d "$DESTDIR" ]] || { say "nothing installed in $DESTDIR"; exit 0; }
  DESTDIR=$(cd "$DESTDIR" && pwd)
  say "staging uninstall from $DESTDIR"
else
  [[ $(id -u) -eq 0 ]] || die "run as root (sudo make uninstall), or set DESTDIR=DIR for a staging root"
fi
D=$DESTDIR

# --- 1. stop and disable the service -----------------------------------------------------------
if systemd_running && systemctl list-unit-files kiosk.service >/dev/null 2>&1; then
  systemctl stop kiosk.service 2>/dev/null || true
fi
rm -f "$D$UNITDIR/multi-user.target.wants/kiosk.service"
rmdir "$D$UNITDIR/multi-user.target.wants" 2>/dev/null || true
rm -f "$D$UNITDIR/kiosk.service"
# Drop-ins a technician added from the release's share/kiosk (e.g. the X11 alternative).
rm -rf "$D$UNITDIR/kiosk.service.d"

# --- 2. undo the OS lock-down, only where install.sh did it ------------------------------------
if [[ -e "$D$STATE/masked-ctrl-alt-del" && -L "$D$UNITDIR/ctrl-alt-del.target" ]]; then
  rm -f "$D$UNITDIR/ctrl-alt-del.target"
  say "unmasked ctrl-alt-del.target"
fi
if [[ -e "$D$STATE/disabled-getty-tty1" ]]; then
  getty_unit=""
  for candidate in /lib/systemd/system/getty@.service /usr/lib/systemd/system/getty@.service; do
    [[ -e "$D$candidate" ]] && { getty_unit=$candidate; break; }
  done
  if [[ -n "$getty_unit" ]]; then
    install -d -m 0755 "$D$UNITDIR/getty.target.wants"
    ln -sfn "$getty_unit" "$D$UNITDIR/getty.target.wants/getty@tty1.service"
    say "re-enabled the login prompt on tty1"
  else
    say "warning: getty@.service not found; enable a login prompt with: systemctl enable getty@tty1"
  fi
fi
rm -f "$D/etc/udev/rules.d/99-kiosk.rules" \
  "$D/etc/systemd/journald.conf.d/kiosk.conf" \
  "$D/etc/systemd/logind.conf.d/kiosk.conf" \
  "$D/etc/sysctl.d/90-kiosk.conf" \
  "$D/etc/pam.d/kiosk"
for dir in /etc/systemd/journald.conf.d /etc/systemd/logind.conf.d; do
  rmdir "$D$dir" 2>/dev/null || true
done

# --- 3. the application ---------------------------------------------------------------------------
rm -rf "${D}${PREFIX:?}"
rm -f "$D$CONFDIR/kiosk.toml.dist"

# --- 4. configuration, data and user: only with PURGE=1 -----------------------------------------
if [[ "$PURGE" == 1 ]]; then
  rm -rf "${D}${CONFDIR:?}" "${D}${DATADIR:?}"
  say "PURGE=1: removed $CONFDIR and $DATADIR"
  if ! staging && getent passwd "$KIOSK_USER" >/dev/null; then
    userdel "$KIOSK_USER" && say "removed user $KIOSK_USER"
  fi
else
  for kept in "$CONFDIR" "$DATADIR"; do
    if [[ -e "$D$kept" ]]; then say "kept $kept (PURGE=1 removes it)"; fi
  done
fi

# --- 5. tell the running system -------------------------------------------------------------------
if systemd_running; then
  systemctl daemon-reload
  systemctl try-restart systemd-journald.service || true
fi
if udev_running; then
  udevadm control --reload-rules || true
fi
say "done"
