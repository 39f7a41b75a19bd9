"""The citizen's journey through the sample catalog, with real touches."""

from __future__ import annotations

from tests.ui.conftest import wake


def current(app) -> str:
    return app.root.manager.current


def page_text(app) -> str:
    return "\n".join(label.text for label in app.screens["procedure"].ids.body.children)


def test_home_category_procedure_and_every_page(catalog_app, ui):
    app = catalog_app
    wake(ui)
    ui.tap(ui.find(contains="Trámites y requisitos"))
    options = app.screens["menu"].ids.options.children
    assert 2 <= len(options) <= 6
    category = next(node for node in app.ctx.nav_tree.find("procedures").children if node.id.startswith(
        "procedures:cat:"))  # a catalog category, not a promoted procedure or a group
    ui.tap(ui.find(text=category.title))
    assert current(app) == "menu" and app.screens["menu"].title == category.title
    first_procedure = app.screens["menu"].ids.options.children[-1]
    name = first_procedure.text
    ui.tap(first_procedure)
    assert current(app) == "procedure"
    screen = app.screens["procedure"]
    assert screen.title == name
    seen = [page_text(app)]
    assert len(screen.pages) >= 2
    while screen.page < len(screen.pages) - 1:
        ui.tap(ui.find(id="next_page"))
        seen.append(page_text(app))
    assert len(seen) == len(screen.pages)
    everything = "\n".join(seen)
    for question in ("¿Qué es y quién puede hacerlo?", "¿Dónde se hace?", "¿Qué debe llevar?",
                     "¿Qué va antes y después?", "¿Cuánto tarda y cuánto cuesta?"):
        assert question in everything
    assert "original" in everything and "Hoy" in everything and "Costo" in everything
    ui.tap(ui.find(id="previous_page"))
    assert screen.page == len(screen.pages) - 2
    ui.tap(ui.find(id="back_button"))
    assert current(app) == "menu"


def test_most_popular_procedure_is_two_touches_from_home(catalog_app, ui):
    app = catalog_app
    wake(ui)
    ui.tap(ui.find(contains="Pagar"))
    ui.tap(ui.find(contains="Pago del impuesto predial"))
    assert current(app) == "procedure"
    assert app.ctx.navigator.depth == 2
    assert app.screens["procedure"].title == "Pago del impuesto predial"


def test_misspelled_search_finds_the_procedure(catalog_app, ui):
    app = catalog_app
    wake(ui)
    ui.tap(ui.find(contains="Buscar"))
    assert current(app) == "search"
    for letter in "PREDAL":  # "predial" with a letter missing
        ui.tap(ui.find(text=letter))
    results = [button.text for button in app.screens["search"].ids.results.children]
    assert any("predial" in title.lower() for title in results), results
    ui.tap(ui.find(id="erase_key"))
    assert app.screens["search"].query == "PREDA"
    ui.tap(ui.find(contains="Pago del impuesto predial"))
    assert current(app) == "procedure"


def test_search_says_so_when_nothing_matches(catalog_app, ui):
    wake(ui)
    ui.tap(ui.find(contains="Buscar"))
    for letter in "XQZW":
        ui.tap(ui.find(text=letter))
    assert "No encontramos «XQZW»" in ui.find(id="status").text
    assert not catalog_app.screens["search"].ids.results.children


def test_idle_reset_leaves_no_trace_of_the_search_or_choices(catalog_app, ui, clock, config):
    app = catalog_app
    wake(ui)
    ui.tap(ui.find(contains="Buscar"))
    for letter in "ACTA":
        ui.tap(ui.find(text=letter))
    assert app.screens["search"].ids.results.children
    clock.advance(config.kiosk.idle_timeout_s + config.kiosk.idle_warning_s + 1)
    ui.pump_until(lambda: current(app) == "attract")
    search = app.screens["search"]
    assert search.query == "" and not search.ids.results.children
    remaining = [ui.plain(getattr(w, "text", "")) for screen in app.screens.values() for w in screen.walk()]
    assert not any("ACTA" in text or "acta" in text.lower() for text in remaining)
    wake(ui)
    ui.tap(ui.find(contains="Buscar"))
    assert ui.find(id="query_box").text == "Toque las letras del teclado"


def test_procedure_page_in_english_uses_english_labels(catalog_app, ui):
    wake(ui)
    ui.tap(ui.find(id="language_button"))
    ui.tap(ui.find(contains="Pay"))
    ui.tap(catalog_app.screens["menu"].ids.options.children[-1])
    assert "What is it and who can apply?" in page_text(catalog_app)


def test_a_new_catalog_rebuilds_the_tree_on_screen(catalog_app, ui, sample_snapshot):
    from kiosk.flows.journey import build_snapshot

    app = catalog_app
    wake(ui)
    ui.tap(ui.find(contains="Pagar"))
    records = [dict(record) for record in sample_snapshot.records.values()]
    first = next(r for r in records if r["name"]["es"] == "Pago del impuesto predial")
    first["name"] = {"es": "Pago del predial 2027"}
    categories = [{"id": c, "name": {"es": c}} for c in {r["categories"][0] for r in records}]
    app.ctx.catalog.replace(build_snapshot(categories, records, ["es", "en"], revision=99))
    ui.pump(1)
    assert ui.find(contains="Pago del predial 2027")


def test_categories_follow_the_language_when_the_catalog_translates_them(catalog_app, ui):
    wake(ui)
    ui.tap(ui.find(id="language_button"))
    ui.tap(ui.find(contains="Procedures and requirements"))
    titles = [button.text for button in catalog_app.screens["menu"].ids.options.children]
    assert "Property tax" in titles or any("Property tax" in b.subtitle for b in
                                           catalog_app.screens["menu"].ids.options.children)
