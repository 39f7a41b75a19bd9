"""Every screen and dialog, as the tour shows them, measured in millimetres on the configured panel.

Targets at least 20 mm both ways with 5 mm between them; every text's capital height at least
0.7 degrees at the viewing distance (7.33 mm at 600 mm), using the cap height measured from
the rendered font, not assumed.
"""

from __future__ import annotations

import math

import pytest
from kivy.uix.label import Label

from kiosk.core.theme import CAP_HEIGHT_RATIO, MIN_GAP_MM, MIN_TARGET_MM
from kiosk.ui.tour import tour_steps, view_names


def measured_cap_ratio(font_size: float = 100) -> float:
    label = Label(text="H", font_size=font_size)
    label.texture_update()
    texture = label.texture
    pixels = texture.pixels  # RGBA rows
    width, height = texture.size
    rows = [row for row in range(height)
            if any(pixels[(row * width + col) * 4 + 3] > 127 for col in range(width))]
    return (max(rows) - min(rows) + 1) / font_size


def rect_mm(widget, theme) -> tuple[float, float, float, float]:
    x, y = widget.to_window(*widget.pos)
    return tuple(theme.px_to_mm(v) for v in (x, y, x + widget.width, y + widget.height))


def gap_mm(a, b) -> float:
    dx = max(0.0, max(a[0], b[0]) - min(a[2], b[2]))
    dy = max(0.0, max(a[1], b[1]) - min(a[3], b[3]))
    return math.hypot(dx, dy)


def visible_labels(ui):
    return [w for w in ui.walk() if isinstance(w, Label) and ui.visible(w) and ui.plain(w.text).strip()]


def test_cap_height_ratio_of_the_bundled_font_matches_the_theme(window):
    assert measured_cap_ratio() >= CAP_HEIGHT_RATIO - 0.01


@pytest.fixture
def views(catalog_app, clock, ui):
    """(name, theme) for each view the tour brings up, while it is on screen."""
    return ((name, catalog_app.theme) for name in tour_steps(catalog_app, clock))


def test_every_view_meets_the_physical_rules(views, ui, window, config):
    ratio = measured_cap_ratio()
    min_cap_mm = config.display.viewing_distance_mm * math.tan(math.radians(0.7))
    assert min_cap_mm >= 7.3
    seen = []
    problems = []
    for name, theme in views:
        seen.append(name)
        from kivy.core.window import Window

        targets = ui.touch_targets(Window.children[0])  # under a modal dialog nothing else can be touched
        if name != "attract":  # the attract screen is one whole-screen target
            assert targets, f"{name}: no touch targets found"
        rects = [(ui.plain(t.text) or t.__class__.__name__, rect_mm(t, theme)) for t in targets]
        for label, (x1, y1, x2, y2) in rects:
            if x2 - x1 < MIN_TARGET_MM or y2 - y1 < MIN_TARGET_MM:
                problems.append(f"{name}: '{label}' is {x2 - x1:.1f} x {y2 - y1:.1f} mm")
        for index, (label_a, a) in enumerate(rects):
            for label_b, b in rects[index + 1:]:
                if gap_mm(a, b) < MIN_GAP_MM:
                    problems.append(f"{name}: '{label_a}' and '{label_b}' are {gap_mm(a, b):.1f} mm apart")
        for label in visible_labels(ui):
            cap_mm = theme.px_to_mm(label.font_size * ratio)
            if cap_mm < min_cap_mm:
                problems.append(f"{name}: text '{ui.plain(label.text)[:30]}' cap height {cap_mm:.2f} mm")
    assert not problems, "\n".join(problems)
    assert set(seen) >= set(view_names()), "every screen and dialog is visited (the tour also shows assisted mode)"


def test_larger_text_keeps_targets_apart_and_on_screen(catalog_app, ui, clock):
    from kivy.core.window import Window

    app = catalog_app
    app.set_text_step(2)
    ui.pump(2)
    width_mm, height_mm = app.theme.px_to_mm(Window.width), app.theme.px_to_mm(Window.height)
    for name in tour_steps(app, clock):
        rects = [(ui.plain(t.text), rect_mm(t, app.theme)) for t in ui.touch_targets(Window.children[0])]
        for label, (x1, y1, x2, y2) in rects:
            assert x2 - x1 >= MIN_TARGET_MM and y2 - y1 >= MIN_TARGET_MM, (name, label)
            assert x1 >= 0 and y1 >= 0 and x2 <= width_mm + 0.1 and y2 <= height_mm + 0.1, (name, label, "off screen")
        for index, (label_a, a) in enumerate(rects):
            for label_b, b in rects[index + 1:]:
                assert gap_mm(a, b) >= MIN_GAP_MM, (name, label_a, label_b)
        for label in visible_labels(ui):
            # Text must fit its box: a wrapped label is never wider than its parent's width.
            assert label.texture_size[0] <= label.width + 1 or label.text_size[0] is None, (name, label.text)


def rendered_contrast(picture, widget) -> float:
    """Contrast between a label's commonest pixel colour (its background) and the pixel that
    differs most from it (the core of a glyph), read from the real rendered frame."""
    from kivy.core.window import Window

    from kiosk.core.theme import contrast_ratio

    x, y = widget.to_window(*widget.pos)
    top = Window.height - (y + widget.height)
    box = picture.crop((int(x), int(top), int(x + widget.width), int(top + widget.height)))
    colours = box.getcolors(maxcolors=box.width * box.height)
    background = max(colours)[1]
    hexes = {colour: "#{:02X}{:02X}{:02X}".format(*colour[:3]) for _, colour in colours}
    return max(contrast_ratio(hexes[colour], hexes[background]) for _, colour in colours)


def test_text_as_rendered_reaches_7_to_1_on_every_view(catalog_app, ui, clock, tmp_path):
    app = catalog_app
    from kivy.core.window import Window
    from PIL import Image

    problems = []
    for name in tour_steps(app, clock):
        with Image.open(ui.screenshot(tmp_path / f"{name}.png")) as shot:
            picture = shot.convert("RGB")
        front = Window.children[0]  # an open dialog, or the whole screen
        for label in visible_labels(ui):
            if label not in list(front.walk(restrict=True)):
                continue
            ratio = rendered_contrast(picture, label)
            if ratio < 7:
                problems.append(f"{name}: '{ui.plain(label.text)[:30]}' renders at {ratio:.1f}:1")
    assert not problems, "\n".join(problems)
