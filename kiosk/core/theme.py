"""Theme: colours and physical sizes, without Kivy.

Sizes are decided in millimetres and turned into pixels with the panel's DPI from the config,
so a button is 20 mm tall on a 21.5-inch panel and on a 15.6-inch one alike. Body text is sized
so a capital letter subtends 0.7 degrees at the viewing distance (EN 301 549 5.1.4): 7.33 mm at
600 mm. Every text/background pair must reach 7:1 contrast (WCAG 1.4.6); tests enforce both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

MM_PER_INCH = 25.4
# Capital-letter height as a fraction of the font size for Roboto, Kivy's bundled font
# (measured from rendered glyphs; a UI test re-measures it).
CAP_HEIGHT_RATIO = 0.70
CAP_ANGLE_DEG = 0.7
MIN_TARGET_MM = 20.0
MIN_GAP_MM = 5.0
MIN_CONTRAST = 7.0
TEXT_SCALES = (1.0, 1.25, 1.5)


def hex_to_rgba(color: str) -> tuple[float, float, float, float]:
    color = color.lstrip("#")
    red, green, blue = (int(color[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return (red, green, blue, 1.0)


def relative_luminance(color: str) -> float:
    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4

    red, green, blue, _ = hex_to_rgba(color)
    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


def contrast_ratio(first: str, second: str) -> float:
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@dataclass(frozen=True)
class Palette:
    """Colours as hex strings. Pairs named `x` and `on_x` are background and text."""

    background: str
    on_background: str
    muted_text: str
    primary: str
    on_primary: str
    primary_pressed: str
    secondary: str
    on_secondary: str
    help: str
    on_help: str
    banner: str
    on_banner: str
    dialog: str
    on_dialog: str

    def text_pairs(self) -> list[tuple[str, str, str]]:
        """(name, text colour, background colour) for every pair a screen may draw."""
        pairs = [
            ("body", self.on_background, self.background),
            ("muted", self.muted_text, self.background),
            ("primary", self.on_primary, self.primary),
            ("primary pressed", self.on_primary, self.primary_pressed),
            ("secondary", self.on_secondary, self.secondary),
            ("help", self.on_help, self.help),
            ("banner", self.on_banner, self.banner),
            ("dialog", self.on_dialog, self.dialog),
        ]
        return pairs


STANDARD = Palette(
    background="#FFFFFF",
    on_background="#1A1A1A",
    muted_text="#3D3D3D",
    primary="#0B3D91",
    on_primary="#FFFFFF",
    primary_pressed="#062456",
    secondary="#E8EEF7",
    on_secondary="#0A2A5E",
    help="#1E5C1E",
    on_help="#FFFFFF",
    banner="#5C1A00",
    on_banner="#FFFFFF",
    dialog="#F4F4F4",
    on_dialog="#1A1A1A",
)

HIGH_CONTRAST = Palette(
    background="#000000",
    on_background="#FFFFFF",
    muted_text="#FFFF00",
    primary="#FFFF00",
    on_primary="#000000",
    primary_pressed="#FFFFFF",
    secondary="#000000",
    on_secondary="#FFFF00",
    help="#00FFFF",
    on_help="#000000",
    banner="#FFFFFF",
    on_banner="#000000",
    dialog="#000000",
    on_dialog="#FFFFFF",
)


@dataclass(frozen=True)
class Theme:
    """Everything a view needs to draw: colours, and sizes already converted to pixels."""

    dpi: float
    viewing_distance_mm: float
    palette: Palette = STANDARD
    text_scale: float = 1.0
    high_contrast: bool = False

    def mm(self, millimetres: float) -> float:
        return millimetres / MM_PER_INCH * self.dpi

    def px_to_mm(self, pixels: float) -> float:
        return pixels / self.dpi * MM_PER_INCH

    @property
    def min_cap_mm(self) -> float:
        return self.viewing_distance_mm * math.tan(math.radians(CAP_ANGLE_DEG))

    @property
    def body_px(self) -> float:
        return math.ceil(self.mm(self.min_cap_mm / CAP_HEIGHT_RATIO) * self.text_scale)

    @property
    def title_px(self) -> float:
        return math.ceil(self.body_px * 1.35)

    @property
    def huge_px(self) -> float:
        return math.ceil(self.body_px * 1.8)

    @property
    def target_px(self) -> float:
        """Smallest control: 20 mm, growing with text so labels still fit."""
        return max(self.mm(MIN_TARGET_MM + 2), self.body_px * 1.9)

    @property
    def option_px(self) -> float:
        """Main choices on a 2-3 option screen: at least 30 mm (research §3)."""
        return max(self.mm(40), self.body_px * 3.6)

    @property
    def gap_px(self) -> float:
        return self.mm(MIN_GAP_MM + 3)

    @property
    def margin_px(self) -> float:
        return self.mm(10)

    @property
    def bar_px(self) -> float:
        return self.target_px + 2 * self.mm(4)

    def rgba(self, name: str) -> tuple[float, float, float, float]:
        return hex_to_rgba(getattr(self.palette, name))

    def with_options(self, *, high_contrast: bool | None = None, text_scale: float | None = None) -> Theme:
        contrast = self.high_contrast if high_contrast is None else high_contrast
        return Theme(
            dpi=self.dpi,
            viewing_distance_mm=self.viewing_distance_mm,
            palette=HIGH_CONTRAST if contrast else STANDARD,
            text_scale=self.text_scale if text_scale is None else text_scale,
            high_contrast=contrast,
        )


def palette_names() -> list[str]:
    return [spec.name for spec in fields(Palette)]
