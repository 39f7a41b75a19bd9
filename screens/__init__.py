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


def screen_class(name: str) -> type:
    import importlib

    module, _, cls = SCREENS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def screen_classes() -> dict[str, type]:
    """Every screen's class (imports them all; the app uses screen_class() on demand)."""
    return {name: screen_class(name) for name in SCREENS}


def dialog_classes() -> dict[str, type]:
    from screens.cash import CashDialog
    from screens.display import DisplayDialog
    from screens.help import HelpDialog
    from screens.idle_prompt import IdlePrompt
    from screens.printing import PrintDialog
    from screens.resolve import ResolveDialog
    from screens.staff_pin import StaffPinDialog

    return {"help": HelpDialog, "display": DisplayDialog, "print": PrintDialog, "idle": IdlePrompt,
            "staff_pin": StaffPinDialog, "resolve": ResolveDialog, "cash": CashDialog}
