"""Home: the three general choices, built from the navigation tree's first level."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kiosk.catalog.navtree import MAX_HOME_OPTIONS
from screens.common import KioskScreen, load_kv
from screens.menu import fill_options, forget_options


class HomeScreen(KioskScreen):
    def show(self, params: Mapping[str, Any]) -> None:
        tree = self.ctx.nav_tree
        fill_options(self.ids.options, tree.children[:MAX_HOME_OPTIONS], self.ctx)

    def reset(self) -> None:
        forget_options(self.ids.options)


load_kv(__file__)
