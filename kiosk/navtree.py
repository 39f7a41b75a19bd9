"""The minimal-choice navigation tree: data the views render, never code per procedure.

The home screen shows the root's children (at most three); every node below shows at most six.
Until the catalog provides the tree (see kiosk.catalog), `starter_tree()` offers the three
general intents with no procedures under them, and the views say the catalog is not available.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.i18n import N_

MAX_HOME_OPTIONS = 3
MAX_OPTIONS = 6


@dataclass(frozen=True)
class NavNode:
    id: str
    title: str
    subtitle: str = ""
    children: tuple[NavNode, ...] = field(default=())
    procedure_id: str | None = None
    screen: str = "menu"
    translatable: bool = False
    """True when title and subtitle are interface messages (gettext), not catalog data."""

    def find(self, node_id: str) -> NavNode | None:
        if self.id == node_id:
            return self
        for child in self.children:
            found = child.find(node_id)
            if found is not None:
                return found
        return None


def starter_tree() -> NavNode:
    return NavNode(
        id="root",
        title=N_("¿Qué necesita hacer?"),
        translatable=True,
        children=(
            NavNode("pay", N_("Pagar"), N_("Predial, agua y multas"), translatable=True),
            NavNode("procedures", N_("Trámites y requisitos"), N_("Qué necesita, dónde y cuánto cuesta"),
                    translatable=True),
            NavNode("search", N_("Buscar"), N_("Escriba lo que busca"), translatable=True),
        ),
    )
