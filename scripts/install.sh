#!/usr/bin/env bash
# Installs the kiosk on this machine: `make install` (as root), or into a staging root with
# `make install DESTDIR=/some/dir` (no users created, nothing started, any user may run it).
#
#   /opt/kiosk/releases/<version>/venv   the app in its own venv (read-only to the service)
#   /opt/kiosk/current -> releases/<version>   what kiosk.service runs; switched atomically
#   /etc/kiosk/kiosk.toml                the kiosk's configuration, never overwritten once there
#   /var/lib/kiosk                       data (databases, keys, receipts), owned by user kiosk
#   /etc/udev/rules.d/99-kiosk.rules     device permissions and stable names
#   /etc/systemd/system/kiosk.service    enabled for multi-user.target
#   journald, logind and sysctl drop-ins for bounded logs and OS-level lock-down
#   /etc/pam.d/kiosk                     the minimal PAM stack of the kiosk's logind session
#
# Running it again upgrades (or repairs) in place; docs/deployment.md has upgrade and rollback.
#
# Environment:
#   DESTDIR                  staging root (empty: this machine)
#   KIOSK_INSTALL_SKIP_VENV  1: do not build the venv (staging tests of the layout)
#   KIOSK_WHEELHOUSE         a directory of wheels: install offline from it (pip --no-index)
#   KIOSK_PIP_ARGS           extra arguments for the pip install of the project
#   KIOSK_KEEP_RELEASES      how many releases to keep in /opt/kiosk/releases (default 3)
#   PYTHON                   the interpreter for the venv (default /usr/bin/python3)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
DESTDIR=${DESTDIR:-}
DESTDIR=${DESTDIR%/}
# Debian's interpreter by default: one under /root or /home would be hidden by ProtectHome=.
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x /usr/bin/python3 ]]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
KEEP=${KIOSK_KEEP_RELEASES:-3}

KIOSK_USER=kiosk
# video/render: DRM/KMS and GPU; input: touch panel, HID scanners; audio: speech;
# lp: USB receipt printers; dialout: serial cash and payment devices. kiosk.service lists the same.
KIOSK_GROUPS=(video render input audio lp dialout)

PREFIX=/opt/kiosk
CONFDIR=/etc/kiosk
DATADIR=/var/lib/kiosk
UNITDIR=/etc/systemd/system
STATE=$PREFIX/.install-state   # what this installer changed outside its own files

say() { echo "install: $*"; }
die() { echo "install: error: $*" >&2; exit 1; }

staging() { [[ -n "$DESTDIR" ]]; }
systemd_running() { ! staging && [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; }
udev_running() { ! staging && [[ -S /run/udev/control ]] && command -v udevadm >/dev/null; }

version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$repo/kiosk/__init__.py")
[[ -n "$version" ]] || die "cannot read __version__ from $repo/kiosk/__init__.py"
[[ "$KEEP" =~ ^[1-9][0-9]*$ ]] || die "KIOSK_KEEP_RELEASES must be a positive number, not '$KEEP'"

if staging; then
  say "staging install of kiosk $version into $DESTDIR (no users created, nothing started)"
  mkdir -p "$DESTDIR"
  DESTDIR=$(cd "$DESTDIR" && pwd)
else
  [[ $(id -u) -eq 0 ]] || die "run as root (sudo make install), or set DESTDIR=DIR for a staging install"
  say "installing kiosk $version"
fi
D=$DESTDIR

# --- 1. the kiosk user ---------------------------------------------------------------------------
if staging; then
  say "staging: skipping user '$KIOSK_USER' (groups ${KIOSK_GROUPS[*]})"
else
  for group in "${KIOSK_GROUPS[@]}"; do
    getent group "$group" >/dev/null || { groupadd --system "$group"; say "created group $group"; }
  done
  if ! getent passwd "$KIOSK_USER" >/dev/null; then
    useradd --system --user-group --home-dir "$DATADIR" --no-create-home \
      --shell /usr/sbin/nologin --comment "Municipal kiosk" "$KIOSK_USER"
    say "created user $KIOSK_USER"
  fi
  usermod --append --groups "$(IFS=,; echo "${KIOSK_GROUPS[*]}")" "$KIOSK_USER"
fi

# owner USER:GROUP PATH: chown on a real install; staging trees keep the installing user.
owner() { staging || chown "$1" "$2"; }

# --- 2. directories ---------------------------------------------------------------------------------
install -d -m 0755 "$D$PREFIX" "$D$PREFIX/releases" "$D$CONFDIR"
install -d -m 0750 "$D$DATADIR"
owner "$KIOSK_USER:$KIOSK_USER" "$D$DATADIR"
install -d -m 0755 "$D$STATE"

# --- 3. the release: venv with the project, docs, deploy files ---------------------------------
release=$PREFIX/releases/$version
backup=""
src=""
building=0
finish() {
  local status=$?
  [[ -n "$src" ]] && rm -rf "$src"
  if [[ $building == 1 ]]; then
    rm -rf "$D${release:?}"
    if [[ -n "$backup" && -e "$backup" ]]; then
      mv "$backup" "$D$release"
      echo "install: failed; the previous copy of $version was put back" >&2
    fi
  fi
  exit "$status"
}
trap finish EXIT
building=1
if [[ -e "$D$release" ]]; then
  # Same version again (a repair): move the old tree aside; it comes back if the build fails.
  backup="$D$release.previous"
  rm -rf "$backup"
  mv "$D$release" "$backup"
fi
install -d -m 0755 "$D$release" "$D$release/share/kiosk" "$D$release/share/doc/kiosk"

if [[ "${KIOSK_INSTALL_SKIP_VENV:-}" == 1 ]]; then
  say "KIOSK_INSTALL_SKIP_VENV=1: not building $release/venv"
else
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found (apt-get install python3-venv)"
  say "building $release/venv (pip install of the project and its dependencies)"
  "$PYTHON" -m venv "$D$release/venv" || die "cannot create a venv (apt-get install python3-venv)"
  base=$(readlink -f "$D$release/venv/bin/python")
  case "$base" in
    /root/*|/home/*|/run/user/*)
      message="$base is under a home directory, which kiosk.service hides (ProtectHome=yes)"
      if staging; then say "warning: $message"; else die "$message; set PYTHON=/usr/bin/python3"; fi ;;
  esac
  src=$(mktemp -d)
  # Build from a clean copy: pip builds in-tree and must not touch the checkout.
  tar -C "$repo" --exclude=.git --exclude=.venv --exclude='*.egg-info' --exclude=build \
    --exclude=var --exclude=tour --exclude=__pycache__ --exclude=.pytest_cache \
    --exclude=.ruff_cache -cf - . | tar -C "$src" -xf -
  pip_args=(--quiet --disable-pip-version-check --no-input)
  if [[ -n "${KIOSK_WHEELHOUSE:-}" ]]; then
    [[ -d "$KIOSK_WHEELHOUSE" ]] || die "KIOSK_WHEELHOUSE=$KIOSK_WHEELHOUSE is not a directory"
    pip_args+=(--no-index --find-links "$KIOSK_WHEELHOUSE")
  fi
  # shellcheck disable=SC2206  # KIOSK_PIP_ARGS is a list of words on purpose
  extra=(${KIOSK_PIP_ARGS:-})
  "$D$release/venv/bin/python" -m pip install "${pip_args[@]}" "${extra[@]}" "$src" \
    || die "pip could not install the project into $release/venv"
  "$D$release/venv/bin/kiosk" --version >/dev/null || die "the installed 'kiosk' command does not run"
fi

install -m 0644 "$repo/kiosk.service" "$repo/deploy/kiosk-x11.conf" "$repo/deploy/kiosk-xorg.conf" \
  "$repo/deploy/kiosk.toml" "$D$release/share/kiosk/"
if [[ -f "$repo/docs/deployment.md" ]]; then
  install -m 0644 "$repo/docs/deployment.md" "$D$release/share/doc/kiosk/"
fi
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
printf 'version=%s\ncommit=%s\ninstalled=%s\n' "$version" "$commit" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  >"$D$release/RELEASE"
chmod -R go-w "$D$release"
building=0
[[ -n "$backup" ]] && rm -rf "$backup"

# Switch `current` atomically: a new symlink renamed over the old one.
ln -sfn "releases/$version" "$D$PREFIX/current.new"
mv -T "$D$PREFIX/current.new" "$D$PREFIX/current"
say "current release: $version"

# Keep the newest $KEEP releases (and always the current one).
mapfile -t releases < <(find "$D$PREFIX/releases" -mindepth 1 -maxdepth 1 -type d ! -name '*.previous' \
  -printf '%T@ %f\n' | sort -rn | cut -d' ' -f2-)
for old in "${releases[@]:$KEEP}"; do
  [[ "$old" == "$version" ]] && continue
  rm -rf "$D$PREFIX/releases/${old:?}"
  say "removed old release $old"
done

# --- 4. configuration: kept on upgrade ------------------------------------------------------------
install -m 0644 "$repo/deploy/kiosk.toml" "$D$CONFDIR/kiosk.toml.dist"
if [[ -e "$D$CONFDIR/kiosk.toml" ]]; then
  say "keeping $CONFDIR/kiosk.toml (the new template is $CONFDIR/kiosk.toml.dist)"
else
  install -m 0640 "$repo/deploy/kiosk.toml" "$D$CONFDIR/kiosk.toml"
  owner "root:$KIOSK_USER" "$D$CONFDIR/kiosk.toml"
  say "wrote $CONFDIR/kiosk.toml from the template: edit it (docs/deployment.md, first boot)"
fi

# --- 5. udev rules, journald/logind/sysctl drop-ins, the PAM stack of the kiosk session ------
install -D -m 0644 "$repo/deploy/udev/99-kiosk.rules" "$D/etc/udev/rules.d/99-kiosk.rules"
install -D -m 0644 "$repo/deploy/journald-kiosk.conf" "$D/etc/systemd/journald.conf.d/kiosk.conf"
install -D -m 0644 "$repo/deploy/logind-kiosk.conf" "$D/etc/systemd/logind.conf.d/kiosk.conf"
install -D -m 0644 "$repo/deploy/sysctl-kiosk.conf" "$D/etc/sysctl.d/90-kiosk.conf"
install -D -m 0644 "$repo/deploy/pam-kiosk" "$D/etc/pam.d/kiosk"
if udev_running; then
  if ! { udevadm control --reload-rules && udevadm trigger --subsystem-match=usb \
      --subsystem-match=usbmisc --subsystem-match=tty --subsystem-match=input; }; then
    say "warning: udev did not reload the rules; they apply at the next boot"
  fi
fi
if ! staging && command -v sysctl >/dev/null; then
  sysctl -q -p "$D/etc/sysctl.d/90-kiosk.conf" || say "warning: sysctl settings apply at next boot"
fi

# --- 6. systemd: the unit, enabled; ctrl-alt-del masked; no getty on tty1 -------------------------
install -D -m 0644 "$repo/kiosk.service" "$D$UNITDIR/kiosk.service"
install -d -m 0755 "$D$UNITDIR/multi-user.target.wants"
ln -sfn "$UNITDIR/kiosk.service" "$D$UNITDIR/multi-user.target.wants/kiosk.service"
# Ctrl+Alt+Del on an attached keyboard must not reboot the kiosk. Remember whether we masked it.
if [[ ! -e "$D$UNITDIR/ctrl-alt-del.target" && ! -L "$D$UNITDIR/ctrl-alt-del.target" ]]; then
  ln -s /dev/null "$D$UNITDIR/ctrl-alt-del.target"
  touch "$D$STATE/masked-ctrl-alt-del"
fi
# The kiosk owns tty1: no login prompt there (kiosk.service also Conflicts= with it).
getty_link=$UNITDIR/getty.target.wants/getty@tty1.service
if [[ -L "$D$getty_link" ]]; then
  rm -f "$D$getty_link"
  touch "$D$STATE/disabled-getty-tty1"
fi
if systemd_running; then
  systemctl daemon-reload
  systemctl try-restart systemd-journald.service || true
  if systemctl is-active --quiet kiosk.service; then
    systemctl restart kiosk.service && say "restarted kiosk.service on release $version"
  else
    say "kiosk.service is enabled; it starts at the next boot (or now: systemctl start kiosk)"
  fi
else
  say "kiosk.service is enabled for multi-user.target (no running systemd here: nothing started)"
fi
say "done"
