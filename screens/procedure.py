"""A procedure's page: the six answers, split into pages that fit, with large page buttons.

The text comes from kiosk.procedure_page; this view only measures it and lays it out. Pages
are cut by rendered height, never by a scroll area, and a heading is never left at the foot of
a page without its first line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kivy.factory import Factory
from kivy.properties import ListProperty, NumericProperty

from kiosk.procedure_page import PageWriter
from screens.common import KioskButton, KioskScreen, load_kv, spoken_text, text_height, tr

Entry = tuple[str, str]  # ("heading" | "line", text)


class ProcedureScreen(KioskScreen):
    page = NumericProperty(0)
    pages = ListProperty([])
    procedure_id = ""

    def show(self, params: Mapping[str, Any]) -> None:
        self.procedure_id = params.get("procedure", "")
        record = self.ctx.catalog.procedure(self.procedure_id)
        if record is None:
            self.reset()
            self.title = tr._("Este trámite ya no está en el catálogo. Toque «Inicio» para buscar otro.")
            return
        writer = PageWriter(self.ctx.translator)
        self.title = writer.text(record.get("name"))
        sections = writer.sections(record, self.ctx.catalog.procedure, self.ctx.catalog.followers(record["id"]))
        entries: list[Entry] = []
        for section in sections:
            entries.append(("heading", section.title))
            entries += [("line", line) for line in section.lines]
        self._fill_actions(writer, record)
        self.pages = self._paginate(entries)
        self.page = 0
        self._render_page()

    def reset(self) -> None:
        self.title = ""
        self.pages = []
        self.page = 0
        self.procedure_id = ""
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
        """Consecutive lines share one label: each label is a texture to upload, and uploads
        are what a page turn costs on a software-rendered display."""
        body = self.ids.body
        body.clear_widgets()
        if not self.pages:
            return
        lines: list[str] = []
        for kind, text in self.pages[self.page]:
            if kind == "heading":
                if lines:
                    body.add_widget(self._line_widget("line", "\n".join(lines)))
                    lines = []
                body.add_widget(self._line_widget(kind, text))
            else:
                lines.append(text)
        if lines:
            body.add_widget(self._line_widget("line", "\n".join(lines)))


load_kv(__file__)
