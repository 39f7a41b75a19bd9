"""`kiosk staff add|pin|remove|list|unlock` and `kiosk audit verify|tail`.

Staff management from the shell is audited like staff actions on the screen, with the actor
"shell:<unix user>". PINs are read from the terminal without echo (twice), or as one line on
standard input with --pin-stdin for provisioning scripts; they never appear in arguments, output
or logs. Heavy modules (argon2, sqlite3) load inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk.core.command_line import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CommandError, add_config_option, config_from_args

ROLE_CHOICES = ("attendant", "technician")  # kiosk.staff.model.ROLES, without importing it here


def register(subparsers: argparse._SubParsersAction) -> None:
    staff = subparsers.add_parser("staff", help="attendants and technicians: PINs, roles, the lockout")
    actions = staff.add_subparsers(dest="staff_command", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="add a staff member (asks for the PIN twice)")
    add.add_argument("staff_id", metavar="ID", type=_staff_id, help="1 to 8 digits, typed on the PIN pad")
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=ROLE_CHOICES)
    add.add_argument("--pin-stdin", action="store_true", help="read the PIN as one line from standard input")
    add.set_defaults(handler=_add)

    pin = actions.add_parser("pin", help="give a staff member a new PIN")
    pin.add_argument("staff_id", metavar="ID", type=_staff_id)
    pin.add_argument("--pin-stdin", action="store_true", help="read the PIN as one line from standard input")
    pin.set_defaults(handler=_set_pin)

    remove = actions.add_parser("remove", help="remove a staff member")
    remove.add_argument("staff_id", metavar="ID", type=_staff_id)
    remove.set_defaults(handler=_remove)

    listing = actions.add_parser("list", help="staff members and whether staff access is locked")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)

    unlock = actions.add_parser("unlock", help="lift the lock and clear every count of wrong PINs")
    unlock.set_defaults(handler=_unlock)

    audit = subparsers.add_parser("audit", help="the tamper-evident audit log of staff actions")
    audit_actions = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = audit_actions.add_parser("verify", help="check every entry's MAC and the chain (exit 1 if broken)")
    verify.add_argument("--json", action="store_true")
    verify.add_argument("--head", metavar="SEQ:MAC", type=_anchor,
                        help="a head recorded elsewhere earlier (reveals entries cut off at the end)")
    verify.set_defaults(handler=_verify)
    tail = audit_actions.add_parser("tail", help="the last entries")
    tail.add_argument("-n", type=int, default=20, metavar="N", help="how many (default 20)")
    tail.add_argument("--json", action="store_true")
    tail.set_defaults(handler=_tail)

    for parser in (add, pin, remove, listing, unlock, verify, tail):
        add_config_option(parser)


# ---- argument types -------------------------------------------------------------------------

def _staff_id(text: str) -> str:
    if not (1 <= len(text) <= 8 and text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError("a staff id is 1 to 8 digits")
    return text


def _anchor(text: str) -> tuple[int, str]:
    seq, _, mac = text.partition(":")
    if not seq.isdigit() or len(mac) != 64:
        raise argparse.ArgumentTypeError("expected SEQ:MAC, e.g. 41:<64 hex digits>")
    return int(seq), mac.lower()


# ---- shared plumbing ------------------------------------------------------------------------

def _shell_actor() -> tuple[str, dict[str, str]]:
    """The audit actor for a shell command: the real unix user (and who used sudo)."""
    import pwd

    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        user = f"uid{os.getuid()}"
    sudo_user = os.environ.get("SUDO_USER", "")
    return f"shell:{user}", ({"sudo_user": sudo_user} if sudo_user and sudo_user != user else {})


def _refuse_root_in_service_dir(data_dir: Path) -> None:
    """Root creating staff.sqlite, audit.sqlite or their -wal files in the service's data
    directory would leave files the kiosk user cannot open: staff access would stop working."""
    try:
        owner = data_dir.stat().st_uid
    except OSError:
        return
    if os.geteuid() == 0 and owner != 0:
        raise CommandError(f"run this as the owner of {data_dir} (e.g. sudo -u kiosk kiosk ...), not as root",
                           EXIT_USAGE)


def _open(config: Any, audit_too: bool = True) -> tuple[Any, Any]:
    from kiosk.staff.access import StaffAccess
    from kiosk.staff.audit import AuditLog
    from kiosk.staff.model import StaffUnavailable

    _refuse_root_in_service_dir(config.data_path)
    access = StaffAccess(config)
    if not audit_too:
        return access, None
    try:
        audit = AuditLog.open(config)
        audit.check_writable()  # before changing anything: a change must not go unrecorded
    except StaffUnavailable as error:
        access.close()
        raise CommandError(str(error)) from None
    return access, audit


def _run(access: Any, audit: Any, operation: Any) -> Any:
    """Run `operation()`, turning staff errors into one-line command errors, then close."""
    from kiosk.staff.model import StaffAccessError, WeakPin

    try:
        return operation()
    except WeakPin as error:
        raise CommandError(f"PIN refused: {error}", EXIT_USAGE) from None
    except StaffAccessError as error:  # an existing or unknown id, a storage or secret problem
        raise CommandError(str(error)) from None
    finally:
        access.close()
        if audit is not None:
            audit.close()


def _read_pin(args: argparse.Namespace, min_digits: int) -> str:
    from kiosk.staff import pins

    if args.pin_stdin:
        line = sys.stdin.readline()
        if not line:
            raise CommandError("--pin-stdin: nothing on standard input", EXIT_USAGE)
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise CommandError("no terminal to read the PIN from; use --pin-stdin", EXIT_USAGE)
    import getpass

    first = getpass.getpass("New PIN (digits, not shown): ")
    try:
        pins.check_pin(first, min_digits, args.staff_id)  # say so now, not after typing it twice
    except pins.WeakPin as error:
        raise CommandError(f"PIN refused: {error}", EXIT_USAGE) from None
    if getpass.getpass("The same PIN again: ") != first:
        raise CommandError("the two PINs differ; nothing changed")
    return first


# ---- kiosk staff ----------------------------------------------------------------------------

def _add(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    pin = _read_pin(args, config.staff.pin_min_digits)
    access, audit = _open(config)
    actor, extra = _shell_actor()

    def add() -> Any:
        member = access.add(args.staff_id, args.name, args.role, pin)
        audit.append(actor, "staff.added", staff_id=member.staff_id, role=member.role, **extra)
        return member

    member = _run(access, audit, add)
    print(f"added {member.role} {member.staff_id} ({member.name})")
    return EXIT_OK


def _set_pin(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    pin = _read_pin(args, config.staff.pin_min_digits)
    access, audit = _open(config)
    actor, extra = _shell_actor()

    def set_pin() -> None:
        access.set_pin(args.staff_id, pin)
        audit.append(actor, "staff.pin_changed", staff_id=args.staff_id, **extra)

    _run(access, audit, set_pin)
    print(f"new PIN set for {args.staff_id}")
    return EXIT_OK


def _remove(args: argparse.Namespace) -> int:
    access, audit = _open(config_from_args(args))
    actor, extra = _shell_actor()

    def remove() -> None:
        access.remove(args.staff_id)
        audit.append(actor, "staff.removed", staff_id=args.staff_id, **extra)

    _run(access, audit, remove)
    print(f"removed {args.staff_id}")
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    import time

    access, _ = _open(config_from_args(args), audit_too=False)
    members, status, lockouts = _run(access, None, lambda: (
        access.members_with_dates(), access.status(), access.lockouts(time.time() - 86400)))
    if args.json:
        print(json.dumps({
            "members": [{"staff_id": m.staff_id, "name": m.name, "role": m.role, "added_at": _iso(added)}
                        for m, added in members],
            "lock": {"locked": status.locked, "seconds_left": round(status.seconds_left),
                     "attempts_left": status.attempts_left},
            "lockouts_24h": len(lockouts)}, ensure_ascii=False))
        return EXIT_OK
    print(f"{'ID':<9} {'ROLE':<11} {'ADDED':<11} NAME")
    for member, added in members:
        print(f"{member.staff_id:<9} {member.role:<11} {_iso(added)[:10]:<11} {member.name}")
    print(_describe(status, len(lockouts)))
    return EXIT_OK


def _unlock(args: argparse.Namespace) -> int:
    access, audit = _open(config_from_args(args))
    actor, extra = _shell_actor()

    def unlock() -> Any:
        unlocked = access.unlock(actor)
        audit.append(actor, "staff.unlocked", was_locked=unlocked.was_locked,
                     attempts_cleared=unlocked.attempts_cleared, **extra)
        return unlocked

    unlocked = _run(access, audit, unlock)
    cleared = f"{unlocked.attempts_cleared} counted wrong PINs cleared"
    print(f"staff access unlocked; {cleared}" if unlocked.was_locked else f"staff access was not locked; {cleared}")
    return EXIT_OK


def _describe(status: Any, lockouts_24h: int) -> str:
    if status.locked:
        state = f"staff access LOCKED for {status.seconds_left / 60:.0f} more min (kiosk staff unlock lifts it)"
    else:
        state = f"staff access open ({status.attempts_left} wrong PINs before the lock)"
    return f"{state}; lockouts in the last 24 h: {lockouts_24h}"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# ---- kiosk audit ----------------------------------------------------------------------------

def _open_audit(args: argparse.Namespace) -> Any:
    from kiosk.staff.audit import AuditLog
    from kiosk.staff.model import StaffUnavailable

    config = config_from_args(args)
    _refuse_root_in_service_dir(config.data_path)
    try:
        return AuditLog.open(config)
    except StaffUnavailable as error:
        raise CommandError(str(error)) from None


def _verify(args: argparse.Namespace) -> int:
    from kiosk.staff.model import StaffUnavailable

    audit = _open_audit(args)
    try:
        verdict = audit.verify(args.head)
    except StaffUnavailable as error:
        raise CommandError(str(error)) from None
    finally:
        audit.close()
    if args.json:
        print(json.dumps({"ok": verdict.ok, "entries": verdict.entries, "first_bad_seq": verdict.first_bad_seq,
                          "problem": verdict.problem, "head": {"seq": verdict.head[0], "mac": verdict.head[1]}}))
        return EXIT_OK if verdict.ok else EXIT_FAILED
    if not verdict.ok:
        raise CommandError(f"audit log NOT intact: {verdict.problem} "
                           f"({verdict.entries} entries before it are intact)")
    print(f"audit log OK ({verdict.entries} entries)")
    return EXIT_OK


def _tail(args: argparse.Namespace) -> int:
    from kiosk.staff.model import StaffUnavailable

    if args.n < 0:
        raise CommandError("-n must be 0 or more", EXIT_USAGE)
    audit = _open_audit(args)
    try:
        entries = audit.tail(args.n)
    except StaffUnavailable as error:
        raise CommandError(str(error)) from None
    finally:
        audit.close()
    for entry in entries:
        if args.json:
            print(json.dumps({"seq": entry.seq, "ts": entry.ts, "actor": entry.actor, "action": entry.action,
                              "details": entry.details}, ensure_ascii=False, sort_keys=True))
        else:
            facts = " ".join(f"{_printable(key)}={json.dumps(value, ensure_ascii=False)}"
                             for key, value in entry.details.items())
            ts, actor, action = (_printable(text) for text in (entry.ts, entry.actor, entry.action))
            print(f"{_printable(str(entry.seq)):>6} {ts} {actor:<16} {action} {facts}".rstrip())
    return EXIT_OK


def _printable(text: str) -> str:
    """An edited entry must not break the one-line-per-entry listing or drive the terminal."""
    return "".join(char if char.isprintable() else f"\\x{ord(char):02x}" for char in text)
