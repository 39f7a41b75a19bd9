"""The minimal-choice navigation tree: data the views render, built from the catalog.

Home offers three general intents (pay, procedures and requirements, search); every screen
below offers at most six choices. The tree is built, never written by hand:

- the most popular procedures are promoted to the first screen under an intent, so the
  procedures most citizens want are two touches from home;
- the rest are grouped by their catalog category, and when there are more categories than
  slots, the less visited categories are gathered into groups named after their members
  ("Panteones, Medio ambiente y Protección civil");
- how many procedures to promote is chosen by measuring: the variant with the fewest touches
  weighted by popularity wins.

`nav_stats()` reports depth and weighted touches (`kiosk catalog nav-stats`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kiosk.core.i18n import N_

MAX_HOME_OPTIONS = 3
MAX_OPTIONS = 6
Translate = Callable[[str], str]


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
    weight: float = 0.0

    def find(self, node_id: str) -> NavNode | None:
        if self.id == node_id:
            return self
        for child in self.children:
            found = child.find(node_id)
            if found is not None:
                return found
        return None

    def walk(self, depth: int = 0) -> Iterable[tuple[NavNode, int]]:
        yield self, depth
        for child in self.children:
            yield from child.walk(depth + 1)


def starter_tree() -> NavNode:
    """Before any catalog is available: the intents, with nothing under them yet."""
    return _root(pay=(), browse=())


def _root(pay: tuple[NavNode, ...], browse: tuple[NavNode, ...]) -> NavNode:
    return NavNode(
        id="root",
        title=N_("¿Qué necesita hacer?"),
        translatable=True,
        children=(
            NavNode("pay", N_("Pagar"), N_("Predial, agua y multas"), children=pay, translatable=True),
            NavNode("procedures", N_("Trámites y requisitos"), N_("Qué necesita, dónde y cuánto cuesta"),
                    children=browse, translatable=True),
            NavNode("search", N_("Buscar"), N_("Escriba lo que busca"), screen="search", translatable=True),
        ),
    )


def text_in(value: Mapping[str, str] | str | None, language: str, fallback: str = "es") -> str:
    """A catalog text in the citizen's language, else in the catalog's first language."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return value.get(language) or value.get(fallback) or next(iter(value.values()), "")


def build_tree(categories: Sequence[Mapping[str, Any]], procedures: Sequence[Mapping[str, Any]],
               language: str, translate: Translate = lambda text: text) -> NavNode:
    """The whole tree for one language. Only active procedures appear."""
    from kiosk.catalog.model import kiosk_actions  # the full catalog model: not needed to show the starter tree

    builder = _Builder(categories, language, translate)
    active = sorted((p for p in procedures if p.get("status") == "active"),
                    key=lambda p: (-p.get("popularity", 0), p["id"]))
    payable = [p for p in active if kiosk_actions(p).get("pay")]
    pay = min((builder.level("pay", payable, payable, promote) for promote in range(MAX_OPTIONS)),
              key=lambda children: weighted_touches(children, start=1))
    # Under "procedures", promote what "pay" does not already put two touches from home, and
    # judge each variant on the whole tree, since a procedure is reached by its shortest path.
    near = {node.procedure_id for node in pay if node.procedure_id}
    promotable = [p for p in active if p["id"] not in near]
    variants = [_root(pay, builder.level("procedures", active, promotable, promote))
                for promote in range(MAX_OPTIONS)]
    return min(variants, key=lambda tree: weighted_touches(tree.children, start=0))


class _Builder:
    def __init__(self, categories: Sequence[Mapping[str, Any]], language: str, translate: Translate):
        self.categories = {c["id"]: c for c in categories}
        self.order = {c["id"]: c.get("order", 0) for c in categories}
        self.language = language
        self.translate = translate
        self._leaves: dict[str, NavNode] = {}  # every variant reuses the same leaf nodes
        self._categories: dict[tuple[str, str, str, int], NavNode] = {}  # and unchanged categories

    def level(self, prefix: str, ranked: list[Mapping[str, Any]], promotable: list[Mapping[str, Any]],
              promote: int) -> tuple[NavNode, ...]:
        """One intent's first screen: `promote` procedures shown directly, the rest by category.
        `ranked` is sorted by popularity, so each category lists its most visited first."""
        if len(ranked) <= MAX_OPTIONS:
            return tuple(self.leaf(p) for p in ranked)
        promoted = [self.leaf(p) for p in promotable[:promote]]
        promoted_ids = {node.procedure_id for node in promoted}
        by_category: dict[str, list[Mapping[str, Any]]] = {}
        for procedure in ranked:
            if procedure["id"] not in promoted_ids:
                by_category.setdefault(_first_category(procedure), []).append(procedure)
        category_nodes = sorted(
            (self.category(prefix, category_id, members) for category_id, members in by_category.items()),
            key=lambda node: -node.weight,
        )
        if len(category_nodes) == 1:  # one category left: show its procedures, not a lone button
            category_nodes = list(category_nodes[0].children)
        return tuple(promoted) + fit(category_nodes, MAX_OPTIONS - len(promoted), self.group_of_groups(prefix))

    def leaf(self, procedure: Mapping[str, Any]) -> NavNode:
        cached = self._leaves.get(procedure["id"])
        if cached is not None:
            return cached
        self._leaves[procedure["id"]] = node = NavNode(
            id=f"proc:{procedure['id']}",
            title=text_in(procedure.get("name"), self.language),
            subtitle=text_in(procedure.get("summary"), self.language),
            procedure_id=procedure["id"],
            screen="procedure",
            weight=float(procedure.get("popularity", 0)),
        )
        return node

    def category(self, prefix: str, category_id: str, members: list[Mapping[str, Any]]) -> NavNode:
        # Variants differ only in which top procedures are promoted out of their category, so a
        # category's first member and size identify its contents within one build.
        key = (prefix, category_id, members[0]["id"], len(members))
        if key not in self._categories:
            self._categories[key] = self._category(prefix, category_id, members)
        return self._categories[key]

    def _category(self, prefix: str, category_id: str, members: list[Mapping[str, Any]]) -> NavNode:
        category = self.categories.get(category_id, {})
        name = text_in(category.get("name"), self.language) or category_id
        leaves = [self.leaf(p) for p in members]
        more = self.translate("Más trámites de {category}").format(category=name)
        children = fit(leaves, MAX_OPTIONS, lambda index, total, chunk: _numbered(more, index, total, chunk))
        return NavNode(
            id=f"{prefix}:cat:{category_id}",
            title=name,
            subtitle=text_in(category.get("description"), self.language),
            children=children,
            weight=sum(leaf.weight for leaf in leaves),
        )

    def group_of_groups(self, prefix: str) -> GroupFactory:
        def make(index: int, total: int, chunk: list[NavNode]) -> tuple[str, str]:
            title = self.translate("Más temas")
            if total > 1:
                title = f"{title} ({index + 1}/{total})"
            return title, join_names([node.title for node in chunk], self.translate)

        return make


GroupFactory = Callable[[int, int, list[NavNode]], tuple[str, str]]


def _numbered(title: str, index: int, total: int, chunk: list[NavNode]) -> tuple[str, str]:
    label = title if total == 1 else f"{title} ({index + 1}/{total})"
    return label, chunk[0].title


def fit(nodes: list[NavNode], slots: int, name_group: GroupFactory) -> tuple[NavNode, ...]:
    """At most `slots` choices: the heaviest shown directly, the rest in evenly sized groups."""
    slots = max(slots, 1)
    if len(nodes) <= slots:
        return tuple(nodes)
    groups = min(slots, math.ceil((len(nodes) - slots) / (MAX_OPTIONS - 1)))
    direct = slots - groups
    rest = nodes[direct:]
    size = math.ceil(len(rest) / groups)
    chunks = [rest[i : i + size] for i in range(0, len(rest), size)]
    grouped = []
    for index, chunk in enumerate(chunks):
        title, subtitle = name_group(index, len(chunks), chunk)
        grouped.append(NavNode(
            id="group:" + "+".join(node.id for node in chunk),
            title=title,
            subtitle=subtitle,
            children=fit(chunk, MAX_OPTIONS, name_group),
            weight=sum(node.weight for node in chunk),
        ))
    return tuple(nodes[:direct]) + tuple(grouped)


def join_names(names: list[str], translate: Translate) -> str:
    if len(names) == 1:
        return names[0]
    return translate("{first} y {last}").format(first=", ".join(names[:-1]), last=names[-1])


def _first_category(procedure: Mapping[str, Any]) -> str:
    categories = procedure.get("categories") or ["otros"]
    return categories[0]


def weighted_touches(children: Iterable[NavNode], start: int) -> float:
    """Mean touches to reach each procedure (shallowest path), weighted by popularity."""
    best: dict[str, tuple[int, float]] = {}
    stack = [(child, start) for child in children]
    while stack:  # iterative: this runs for every candidate tree, on catalogs of 10,000
        node, depth = stack.pop()
        if node.procedure_id:
            known = best.get(node.procedure_id)
            if known is None or depth < known[0]:
                best[node.procedure_id] = (depth, node.weight)
        stack.extend((child, depth + 1) for child in node.children)
    total = sum(max(weight, 1.0) for _, weight in best.values())
    return sum(depth * max(weight, 1.0) for depth, weight in best.values()) / total if total else 0.0


@dataclass(frozen=True)
class NavStats:
    procedures: int
    max_touches: int
    weighted_mean_touches: float
    widest_home: int
    widest_screen: int
    worst: list[tuple[int, str]]
    popular: list[tuple[int, str]]
    unreachable: list[str]


def nav_stats(tree: NavNode, active_ids: Iterable[str], worst: int = 5, popular: int = 10) -> NavStats:
    """Touches from home to each procedure page (the touch on home counts as the first)."""
    best: dict[str, tuple[int, float, str]] = {}
    widest = 0
    for node, depth in tree.walk():
        if node is not tree:
            widest = max(widest, len(node.children))
        if node.procedure_id:
            known = best.get(node.procedure_id)
            if known is None or depth < known[0]:
                best[node.procedure_id] = (depth, node.weight, node.title)
    total = sum(max(weight, 1.0) for _, weight, _ in best.values()) or 1.0
    mean = sum(depth * max(weight, 1.0) for depth, weight, _ in best.values()) / total
    by_depth = sorted(((depth, title) for depth, _, title in best.values()), reverse=True)
    by_weight = sorted(best.values(), key=lambda entry: -entry[1])
    return NavStats(
        procedures=len(best),
        max_touches=max((depth for depth, _, _ in best.values()), default=0),
        weighted_mean_touches=round(mean, 3),
        widest_home=len(tree.children),
        widest_screen=widest,
        worst=by_depth[:worst],
        popular=[(depth, title) for depth, _, title in by_weight[:popular]],
        unreachable=sorted(set(active_ids) - set(best)),
    )
