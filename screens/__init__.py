"""Thin Kivy views: one .py + .kv per screen or dialog. Importing this package needs Kivy."""

from __future__ import annotations


def screen_classes() -> dict[str, type]:
    """Screen name -> class, in the order the tour visits them."""
    from screens.account import AccountScreen
    from screens.attract import AttractScreen
    from screens.bill import BillScreen
    from screens.done import DoneScreen
    from screens.home import HomeScreen
    from screens.identify import IdentifyScreen
    from screens.menu import MenuScreen
    from screens.paying import PayingScreen
    from screens.procedure import ProcedureScreen
    from screens.search import SearchScreen

    return {
        "attract": AttractScreen, "home": HomeScreen, "menu": MenuScreen, "search": SearchScreen,
        "procedure": ProcedureScreen, "account": AccountScreen, "identify": IdentifyScreen, "bill": BillScreen,
        "paying": PayingScreen, "done": DoneScreen,
    }


def dialog_classes() -> dict[str, type]:
    from screens.display import DisplayDialog
    from screens.help import HelpDialog
    from screens.idle_prompt import IdlePrompt
    from screens.printing import PrintDialog

    return {"help": HelpDialog, "display": DisplayDialog, "print": PrintDialog, "idle": IdlePrompt}
