"""A procedure's page: the six answers, split into pages that fit, with large page buttons.

The text comes from kiosk.flows.procedure_page; this view only measures it and lays it out. Pages
are cut by rendered height, never by a scroll area, and a heading is never left at the foot of
a page without its first line.

Coming back to the same page ("Atrás" from an action, a page turned back) reuses what was laid
out and rendered, as long as nothing it depends on changed (catalog, language, text size,
contrast, actions on offer, the minute: "abierto ahora" follows the clock).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from kivy.factory import Factory
from kivy.properties import ListProperty, NumericProperty

from kiosk.flows.procedure_page import PageWriter
from screens.common import KioskButton, KioskScreen, load_kv, spoken_text, text_height, tr

Entry = tuple[str, str]  # ("heading" | "line", text)


class ProcedureScreen(KioskScreen):
    page = NumericProperty(0)
    pages = ListProperty([])
    procedure_id = ""

    def __init__(self, **kwargs: Any) -> None:
        self._laid_out: tuple = ()
        self._laid_out_from: Any = None  # the catalog snapshot (compared by identity: it is large)
        self._page_widgets: dict[int, list] = {}
        super().__init__(**kwargs)

    def show(self, params: Mapping[str, Any]) -> None:
        self.procedure_id = params.get("procedure", "")
        record = self.ctx.catalog.procedure(self.procedure_id)
        if record is None:
            self.reset()
            self.title = tr._("Este trámite ya no está en el catálogo. Toque «Inicio» para buscar otro.")
            return
        layout, snapshot = self._layout_key(), self.ctx.catalog.snapshot
        if layout != self._laid_out or snapshot is not self._laid_out_from:
            self._lay_out(record)
            self._laid_out, self._laid_out_from = layout, snapshot
        self.page = 0
        self._render_page()

    def _layout_key(self) -> tuple:
        from kivy.app import App

        return (self.procedure_id, self.ctx.translator.language,
                App.get_running_app().theme, tuple(self.manager.size) if self.manager else (),
                self.ctx.actions.available, dt.datetime.now().strftime("%Y-%m-%d %H:%M"))

    def _lay_out(self, record: Mapping[str, Any]) -> None:
        writer = PageWriter(self.ctx.translator)
        self.title = writer.text(record.get("name"))
        sections = writer.sections(record, self.ctx.catalog.procedure, self.ctx.catalog.followers(record["id"]))
        entries: list[Entry] = []
        for section in sections:
            entries.append(("heading", section.title))
            entries += [("line", line) for line in section.lines]
        self._fill_actions(writer, record)
        self._page_widgets = {}
        self.pages = self._paginate(entries)

    def reset(self) -> None:
        self.title = ""
        self.pages = []
        self.page = 0
        self.procedure_id = ""
        self._laid_out, self._laid_out_from = (), None
        self._page_widgets = {}
        self.ids.body.clear_widgets()
        self.ids.actions.clear_widgets()

    def turn_to(self, page: int) -> None:
        self.page = page
        self._render_page()
        self.ctx.speaker.say(spoken_text(self))

    def _fill_actions(self, writer: PageWriter, record: Mapping[str, Any]) -> None:
        box = self.ids.actions
        box.clear_widgets()
        for action in writer.actions(record):
            if action.key not in self.ctx.actions.available:
                continue  # only what this kiosk's devices and services can do
            button = KioskButton(text=action.label, role="primary")
            button.action_key = action.key  # for the crawler and the tests: which action this is
            button.bind(on_release=lambda _b, key=action.key: self.ctx.actions.start(key, self.procedure_id))
            box.add_widget(button)

    def _line_widget(self, kind: str, text: str):
        label = Factory.KioskLabel(text=text)
        if kind == "heading":
            label.bold = True
        return label

    def _paginate(self, entries: list[Entry]) -> list[list[Entry]]:
        from kivy.app import App

        theme = App.get_running_app().theme
        width, height = self._body_size()
        spacing = self.ids.body.spacing
        heights = [text_height(text, theme.body_px, width, bold=kind == "heading") for kind, text in entries]
        pages: list[list[Entry]] = [[]]
        used = 0.0
        for index, (kind, text) in enumerate(entries):
            needed = heights[index] + spacing
            if (kind == "heading" or text.endswith(":")) and index + 1 < len(entries):
                needed += heights[index + 1] + spacing  # a heading stays with its first line
            if pages[-1] and used + needed > height:
                pages.append([])
                used = 0.0
            pages[-1].append((kind, text))
            used += heights[index] + spacing
        return pages

    def _body_size(self) -> tuple[float, float]:
        """The page area: the screen less title, page buttons, actions, margins and gaps."""
        from kivy.app import App

        theme = App.get_running_app().theme
        screen_w, screen_h = self.manager.size if self.manager else self.size
        title = text_height(self.title, theme.title_px, screen_w - 2 * theme.margin_px, bold=True)
        actions = (theme.target_px * 1.6) if self.ids.actions.children else 0
        fixed = title + theme.target_px + actions + 2 * theme.margin_px + 4 * theme.gap_px
        return screen_w - 2 * theme.margin_px, max(screen_h - fixed, theme.body_px * 4)

    def _render_page(self) -> None:
        body = self.ids.body
        body.clear_widgets()
        if not self.pages:
            return
        if self.page not in self._page_widgets:
            self._page_widgets[self.page] = self._page_labels(self.pages[self.page])
        for label in self._page_widgets[self.page]:
            body.add_widget(label)

    def _page_labels(self, entries: list[Entry]) -> list:
        """Consecutive lines share one label: each label is a texture to upload, and uploads
        are what a page turn costs on a software-rendered display."""
        labels = []
        lines: list[str] = []
        for kind, text in entries:
            if kind == "heading":
                if lines:
                    labels.append(self._line_widget("line", "\n".join(lines)))
                    lines = []
                labels.append(self._line_widget(kind, text))
            else:
                lines.append(text)
        if lines:
            labels.append(self._line_widget("line", "\n".join(lines)))
        return labels


load_kv(__file__)
