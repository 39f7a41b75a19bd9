"""Search: type on the large keyboard, results update with every key, a misspelling still finds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kivy.app import App
from kivy.properties import StringProperty

from kiosk.catalog.navtree import NavNode, text_in
from screens.common import KioskScreen, load_kv, paginate, text_height, tr
from screens.keyboard import SpanishKeyboard, apply_key
from screens.menu import fill_options, forget_options, option_heights

MAX_RESULTS = 3
__all__ = ["SearchScreen", "SpanishKeyboard"]  # the kv rule uses SpanishKeyboard


class SearchScreen(KioskScreen):
    query = StringProperty("")

    def show(self, params: Mapping[str, Any]) -> None:
        self._refresh()

    def reset(self) -> None:
        self.query = ""
        forget_options(self.ids.results)
        self.ids.status.text = ""

    def type_key(self, key: str) -> None:
        self.query = apply_key(self.query, key)
        self._refresh()

    def _refresh(self) -> None:
        language = self.ctx.translator.language
        hits = self.ctx.catalog.search(self.query, limit=MAX_RESULTS)
        nodes = []
        for hit in hits:
            record = self.ctx.catalog.procedure(hit.id) or {}
            nodes.append(NavNode(id=f"proc:{hit.id}", title=text_in(record.get("name"), language) or hit.name,
                                 subtitle=text_in(record.get("summary"), language), procedure_id=hit.id,
                                 screen="procedure"))
        fill_options(self.ids.results, nodes[: self._results_that_fit(nodes)], self.ctx)
        if not self.query.strip():
            self.ids.status.text = tr._("Escriba una o dos palabras, por ejemplo «predial» o «acta».")
        elif not hits:
            self.ids.status.text = tr._("No encontramos «{text}». Pruebe con otra palabra o toque «Ayuda».").format(
                text=self.query.strip())
        else:
            self.ids.status.text = ""


    def _results_that_fit(self, nodes: list[NavNode]) -> int:
        """With larger text each result is taller: show only as many as fit above the keyboard."""
        if not nodes:
            return 0
        theme = App.get_running_app().theme
        width, height = self.manager.size if self.manager else self.size
        inner = width - 2 * theme.margin_px
        fixed = (text_height(tr._("¿Qué busca?"), theme.title_px, inner, bold=True)
                 + text_height("Ag", theme.title_px, inner) + theme.mm(8)  # the query box
                 + self.ids.keyboard.minimum_height + 2 * theme.margin_px + 4 * theme.gap_px)
        pages = paginate(option_heights(nodes, self.ctx, inner), height - fixed, self.ids.results.spacing)
        return max(1, len(pages[0]))


load_kv(__file__)
