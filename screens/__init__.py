"""Thin Kivy views: one .py + .kv per screen or dialog. Importing this package needs Kivy."""

from __future__ import annotations

# Screen name -> "module:Class", in the order the tour visits them. A screen's module (and its
# .kv rules) is imported when the screen is first built, so start-up parses only what it shows.
SCREENS = {
    "attract": "screens.attract:AttractScreen", "home": "screens.home:HomeScreen",
    "menu": "screens.menu:MenuScreen", "search": "screens.search:SearchScreen",
    "procedure": "screens.procedure:ProcedureScreen", "account": "screens.account:AccountScreen",
    "identify": "screens.identify:IdentifyScreen", "bill": "screens.bill:BillScreen",
    "paying": "screens.paying:PayingScreen", "done": "screens.done:DoneScreen",
    "attendant": "screens.attendant:AttendantScreen", "technician": "screens.technician:TechnicianScreen",
}


# Dialog name -> "module:Class". The app builds a dialog when it is first asked for, or in the
# warm-up after the first screen is drawn (the guard's own dialog, screens.guard, is built at start).
DIALOGS = {
    "help": "screens.help:HelpDialog", "display": "screens.display:DisplayDialog",
    "print": "screens.printing:PrintDialog", "idle": "screens.idle_prompt:IdlePrompt",
    "staff_pin": "screens.staff_pin:StaffPinDialog", "resolve": "screens.resolve:ResolveDialog",
    "cash": "screens.cash:CashDialog",
}


def _load(spec: str) -> type:
    import importlib

    module, _, cls = spec.partition(":")
    return getattr(importlib.import_module(module), cls)


def screen_class(name: str) -> type:
    return _load(SCREENS[name])


def screen_classes() -> dict[str, type]:
    """Every screen's class (imports them all; the app uses screen_class() on demand)."""
    return {name: screen_class(name) for name in SCREENS}


def dialog_class(name: str) -> type:
    return _load(DIALOGS[name])


def dialog_classes() -> dict[str, type]:
    """Every dialog's class (imports them all; the app uses dialog_class() on demand)."""
    return {name: dialog_class(name) for name in DIALOGS}
