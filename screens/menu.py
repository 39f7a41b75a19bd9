"""A level of the navigation tree: the node's title and up to six large choices."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kiosk.navtree import NavNode
from screens.common import KioskScreen, OptionButton, load_kv, tr


def node_text(node: NavNode, ctx) -> tuple[str, str]:
    if node.translatable:
        return ctx.translator.gettext(node.title), ctx.translator.gettext(node.subtitle) if node.subtitle else ""
    return node.title, node.subtitle


def fill_options(container, nodes: Iterable[NavNode], ctx) -> None:
    """One big button per node; touching it goes one level down (or to the node's screen)."""
    container.clear_widgets()
    for node in nodes:
        title, subtitle = node_text(node, ctx)
        button = OptionButton(text=title, subtitle=subtitle, speak=f"{title}. {subtitle}".strip(" ."))
        button.node_id = node.id
        button.bind(on_release=lambda _button, target=node: ctx.navigator.go(target.screen, node=target.id))
        container.add_widget(button)


class MenuScreen(KioskScreen):
    def show(self, params: Mapping[str, Any]) -> None:
        node = self.ctx.nav_tree.find(params.get("node", ""))
        if node is None:
            self.reset()
            self.ids.empty.text = tr._("Esta opción ya no está disponible. Toque «Inicio» para volver a empezar.")
            return
        self.title = node_text(node, self.ctx)[0]
        fill_options(self.ids.options, node.children[:6], self.ctx)
        self.ids.empty.text = "" if node.children else tr._(
            "Por ahora este kiosco no puede mostrar esta sección. Toque «Ayuda» y una persona le atenderá."
        )

    def reset(self) -> None:
        self.title = ""
        self.ids.options.clear_widgets()
        self.ids.empty.text = ""


load_kv(__file__)
