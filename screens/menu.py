"""A level of the navigation tree: the node's title and up to six large choices."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kivy.app import App
from kivy.properties import ListProperty, NumericProperty

from kiosk.catalog.navtree import MAX_OPTIONS, NavNode
from screens.common import KioskScreen, OptionButton, load_kv, paginate, text_height, tr


def node_text(node: NavNode, ctx) -> tuple[str, str]:
    if node.translatable:
        return ctx.translator.gettext(node.title), ctx.translator.gettext(node.subtitle) if node.subtitle else ""
    return node.title, node.subtitle


OPTION_CACHE_SIZE = 48


def fill_options(container, nodes: Iterable[NavNode], ctx) -> None:
    """One big button per node; touching it goes one level down (or to the node's screen).

    Buttons are kept per container and reused when the same choice comes back (home, a menu
    revisited): their text is already rendered, which is most of the cost of showing a screen.
    """
    cache: dict[tuple[str, str, str], OptionButton] = container.__dict__.setdefault("_option_cache", {})
    container.clear_widgets()
    for node in nodes:
        title, subtitle = node_text(node, ctx)
        key = (node.id, title, subtitle)
        button = cache.get(key)
        if button is None:
            button = OptionButton(text=title, subtitle=subtitle, speak=f"{title}. {subtitle}".strip(" ."))
            button.node_id = node.id
            button.bind(on_release=lambda _button, target=node: go_to(ctx, target))
            if len(cache) >= OPTION_CACHE_SIZE:
                cache.pop(next(iter(cache)))
            cache[key] = button
        container.add_widget(button)


def forget_options(container) -> None:
    """A session ends: drop the reusable buttons too (search results say what was searched)."""
    container.clear_widgets()
    container.__dict__.pop("_option_cache", None)


def go_to(ctx, node: NavNode) -> None:
    if node.procedure_id:
        ctx.navigator.go("procedure", procedure=node.procedure_id)
    else:
        ctx.navigator.go(node.screen, node=node.id)


def option_heights(nodes: list[NavNode], ctx, width: float) -> list[float]:
    """How tall each OptionButton will be, measured from its texts (see common.kv: padding 5 mm
    across and 4 mm above and below, four children 1.5 mm apart, at least option_px)."""
    theme = App.get_running_app().theme
    inner = width - theme.mm(10)
    heights = []
    for node in nodes:
        title, subtitle = node_text(node, ctx)
        content = text_height(title, theme.body_px, inner, bold=True) + theme.mm(8) + 3 * theme.mm(1.5)
        if subtitle:
            content += text_height(subtitle, theme.body_px, inner)
        heights.append(max(theme.option_px, content))
    return heights


PAGINATION_CACHE_SIZE = 64


class MenuScreen(KioskScreen):
    page = NumericProperty(0)
    pages = ListProperty([])

    def __init__(self, **kwargs: Any) -> None:
        # How each menu splits into pages, per language, text size and size of the screen: coming
        # back with "Atrás" need not measure every choice's text again.
        self._pagination: dict[tuple, list[list[int]]] = {}
        self._paginated_from: Any = None  # the catalog snapshot those were measured for
        super().__init__(**kwargs)

    def show(self, params: Mapping[str, Any]) -> None:
        node = self.ctx.nav_tree.find(params.get("node", ""))
        if node is None:
            self.reset()
            self.ids.empty.text = tr._("Esta opción ya no está disponible. Toque «Inicio» para volver a empezar.")
            return
        self.title = node_text(node, self.ctx)[0]
        self.ids.empty.text = "" if node.children else tr._(
            "Por ahora este kiosco no puede mostrar esta sección. Toque «Ayuda» y una persona le atenderá."
        )
        self._nodes = list(node.children[:MAX_OPTIONS])
        self.pages = self._pages_for(node)
        self.turn_to(0)

    def _pages_for(self, node: NavNode) -> list[list[int]]:
        theme = App.get_running_app().theme
        size = tuple(self.manager.size if self.manager else self.size)
        key = (node.id, self.ctx.translator.language, theme, size)
        if self.ctx.catalog.snapshot is not self._paginated_from:
            self._pagination, self._paginated_from = {}, self.ctx.catalog.snapshot
        if key not in self._pagination:
            if len(self._pagination) >= PAGINATION_CACHE_SIZE:
                self._pagination.pop(next(iter(self._pagination)))
            self._pagination[key] = self._paginate(self._nodes)
        return self._pagination[key]

    def turn_to(self, page: int) -> None:
        self.page = page
        nodes = [self._nodes[index] for index in self.pages[page]] if self.pages else []
        fill_options(self.ids.options, nodes, self.ctx)

    def _paginate(self, nodes: list[NavNode]) -> list[list[int]]:
        """Six choices fit on a page at normal text; larger text may need two or three pages.
        What is left for them is the screen less the column's padding, the gaps between its
        parts, the title as it wraps and the page buttons."""
        theme = App.get_running_app().theme
        width, height = self.manager.size if self.manager else self.size
        column = self.ids.column
        inner = width - column.padding[0] - column.padding[2]
        fixed = (column.padding[1] + column.padding[3] + column.spacing * (len(column.children) - 1)
                 + text_height(self.title, theme.title_px, inner, bold=True) + theme.target_px)
        heights = option_heights(nodes, self.ctx, inner)
        return paginate(heights, height - fixed, self.ids.options.spacing)

    def reset(self) -> None:
        self.title = ""
        self._nodes = []
        self.pages = []
        self.page = 0
        self._pagination, self._paginated_from = {}, None
        forget_options(self.ids.options)
        self.ids.empty.text = ""


load_kv(__file__)
