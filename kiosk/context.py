"""The services a kiosk runs on, built once from the configuration and handed to the views.

This is wiring only: each service is its own small object; views get the context and use the
parts they need. Tests build it with a fake clock to move time without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiosk.catalog.navtree import NavNode
from kiosk.core.config import Config
from kiosk.core.i18n import Translator
from kiosk.core.theme import TEXT_SCALES, Theme
from kiosk.flows.journey import CitizenCatalog
from kiosk.flows.staff_desk import StaffDesk, open_staff_sessions
from kiosk.shell.actions import KioskActions
from kiosk.shell.helpdesk import HelpDesk, HttpHelpTransport
from kiosk.shell.idle import IdleMonitor
from kiosk.shell.navigation import Navigator
from kiosk.shell.session import SessionController
from kiosk.shell.speech import EspeakSynthesizer, Speaker


@dataclass
class KioskContext:
    config: Config
    translator: Translator
    navigator: Navigator
    idle: IdleMonitor
    sessions: SessionController
    help: HelpDesk
    base_theme: Theme
    catalog: CitizenCatalog
    actions: KioskActions
    speaker: Speaker
    now: Callable[[], float]
    payments: Any = None  # kiosk.flows.payment.PaymentFlow once the app has its transaction service
    devices: Any = None  # kiosk.device_hub.DeviceHub once its adapters exist
    staff: Any = None  # kiosk.flows.staff_desk.StaffDesk: staff login, panels and assisted mode

    def device(self, name: str) -> Any | None:
        return self.devices.get(name) if self.devices is not None else None

    def theme(self) -> Theme:
        """The base theme with the current citizen's text size and contrast applied."""
        options = self.sessions.session.accessibility
        return self.base_theme.with_options(high_contrast=options.high_contrast,
                                            text_scale=TEXT_SCALES[options.text_step])

    @property
    def nav_tree(self) -> NavNode:
        """The navigation tree in the citizen's language, from the catalog being shown."""
        return self.catalog.tree(self.translator.language)

    def next_language(self) -> str:
        """The language the language button offers: the next one in the configured list."""
        languages = self.config.kiosk.languages
        current = self.translator.language
        index = languages.index(current) if current in languages else -1
        return languages[(index + 1) % len(languages)]


def build_context(config: Config, now: Callable[[], float] = time.monotonic) -> KioskContext:
    translator = Translator(config.kiosk.language)
    navigator = Navigator()
    idle = IdleMonitor(config.kiosk.idle_timeout_s, config.kiosk.idle_warning_s, now=now)
    sessions = SessionController(config.kiosk.language, translator, navigator, idle)
    help_desk = HelpDesk(config.kiosk.id, config.kiosk.location, idle,
                         transport=HttpHelpTransport(config.api.base_url, config.api.timeout_s))
    sessions.on_wipe(lambda: help_desk.close("wiped"))
    theme = Theme(dpi=config.display.dpi, viewing_distance_mm=config.display.viewing_distance_mm)
    synthesizer = EspeakSynthesizer()
    speaker = Speaker(synthesizer, _SilentPlayer(), call_soon=lambda work: work())
    speaker.language = config.kiosk.language
    translator.add_listener(lambda language: setattr(speaker, "language", language))

    def forget_citizen_audio() -> None:
        speaker.reset(config.kiosk.language)
        synthesizer.forget()

    sessions.on_wipe(forget_citizen_audio)
    ctx = KioskContext(
        config=config,
        translator=translator,
        navigator=navigator,
        idle=idle,
        sessions=sessions,
        help=help_desk,
        base_theme=theme,
        catalog=CitizenCatalog(config.kiosk.languages),
        actions=KioskActions(),
        speaker=speaker,
        now=now,
    )
    ctx.staff = StaffDesk(ctx, open_sessions=lambda: open_staff_sessions(config, now), call_soon=lambda work: work())
    return ctx


class _SilentPlayer:
    """Until the app attaches its sound output (and in headless tools), speech goes nowhere."""

    def play(self, wav) -> None:
        return None

    def stop(self) -> None:
        return None
