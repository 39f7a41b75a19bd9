"""The Kivy application: wires the core services to the views and does little else.

Kivy is imported here (and in kiosk.ui.tour / kiosk.ui.uidriver) only; call `kiosk.ui.kivyenv.prepare`
before importing this module so Kivy starts with the kiosk's settings.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kivy.app import App
from kivy.base import ExceptionManager
from kivy.clock import Clock
from kivy.core.audio import SoundLoader
from kivy.core.window import Window
from kivy.properties import ObjectProperty
from kivy.uix.screenmanager import NoTransition

import screens.common
from kiosk.context import KioskContext, build_context
from kiosk.core import sdnotify
from kiosk.core.i18n import endonym
from kiosk.core.logs import event
from kiosk.core.threads import mark_ui_thread, run_in_thread
from kiosk.device_hub import DeviceHub
from kiosk.flows.journey import CatalogFeed
from kiosk.shell.idle import IdlePhase
from kiosk.shell.navigation import HOME, Place
from kiosk.staff.gesture import Area, StaffGesture
from kiosk.ui import kivyenv
from kiosk.ui.ui_guard import EXIT_UI_FAILED, UiGuard, error_code
from screens import DIALOGS, SCREENS, dialog_class, screen_class
from screens.common import KioskDialog, KioskRoot, KioskScreen, load_kv, spoken_text, tr
from screens.guard import GuardDialog

if TYPE_CHECKING:
    from kiosk.fleet.monitor import FleetMonitor
    from kiosk.transactions.service import TransactionService
    from screens.assisted import AssistedBar

log = logging.getLogger("kiosk.ui.app")
IDLE_CHECK_S = 0.25
WARM_UP_AFTER_S = 1.5
SERVICES_AFTER_S = 0.5
# Keys that would leave or disturb a kiosk if a keyboard is ever plugged in.
ESCAPE, KEY_Q = 27, 113
BLOCKED_KEYS = {ESCAPE, 9} | set(range(282, 294))  # Escape, Tab, F1-F12
STAFF_CORNER_MM = 10.0


class KioskApp(App):
    theme = ObjectProperty(None, rebind=True)  # kv binds through it: app.theme.body_px
    ctx: KioskContext

    def __init__(self, ctx: KioskContext, locked: bool = True, **kwargs: Any):
        """`locked`: a kiosk's window, which refuses to close; False for a desktop window (the demo)."""
        super().__init__(**kwargs)
        self.ctx = ctx
        self.locked = locked
        self.theme = ctx.base_theme
        self.title = "Kiosco"
        self.screens: dict[str, KioskScreen] = {}
        self.dialogs = Dialogs(lambda name: dialog_class(name)(ctx=self.ctx))
        self.exit_status = 0
        self.intervals: list[Any] = []  # the app's own periodic work, kept running by the guard
        self.staff_gesture = StaffGesture(Area(1, 1, 0), self._open_staff_pin, now=ctx.now)

    # -- building ---------------------------------------------------------------------------
    def build(self) -> KioskRoot:
        mark_ui_thread()
        tr.attach(self.ctx.translator)
        on_ui_thread = self.call_on_ui_thread
        self.ctx.speaker.attach(SoundPlayer(), call_soon=on_ui_thread)
        self.ctx.help.call_soon = on_ui_thread
        self.ctx.staff.call_soon = on_ui_thread
        self.ctx.staff.restart = self.stop_with
        self.screen_classes = dict(SCREENS)
        load_kv(screens.common.__file__)  # the shared rules, KioskRoot's among them
        root = KioskRoot(ctx=self.ctx)
        root.manager.transition = NoTransition()  # instant: no motion for elderly users to wait on
        self.root_manager = root.manager
        for name in ("attract", "home"):  # the rest are built on first use or in the warm-up
            self.screen(name)
        # The other dialogs are built in the warm-up, or when first asked for (self.dialogs[name]).
        self.dialogs["error"] = GuardDialog(ctx=self.ctx)  # built now: at the time of a fault, build nothing
        self.guard = UiGuard(self.ctx, show=self._show_fault, keep_running=self.keep_intervals_running,
                             stop=self.stop_now)
        self.devices = DeviceHub(self.ctx.config.devices, on_ui_thread)
        self.catalog_feed = CatalogFeed(self.ctx.config, self.ctx.catalog, on_ui_thread)
        self.transactions: TransactionService | None = None
        self.fleet: FleetMonitor | None = None
        self._stopping = threading.Event()
        self.ctx.navigator.add_listener(self._show)
        self.ctx.navigator.on_hold(lambda _held: self._refresh_chrome(self.root))
        self.ctx.translator.add_listener(self._language_switched)
        self.ctx.sessions.on_wipe(self._wipe_views)
        self.ctx.catalog.on_change(lambda _snapshot: self._show(self.ctx.navigator.current))
        self.assisted: AssistedBar | None = None  # built at the first staff login or logout
        self.ctx.staff.on_change(self._staff_changed)
        self._refresh_chrome(root)
        return root

    def on_start(self) -> None:
        ExceptionManager.add_handler(self.guard)  # from now on a fault shows "Algo salió mal", not a crash
        # Bound first, so it runs after _any_touch: a staff gesture touch still counts as a touch.
        Window.bind(on_touch_down=self._staff_gesture_down, on_touch_up=self._staff_gesture_up)
        Window.bind(on_touch_down=self._any_touch, on_request_close=self._refuse_close,
                    on_keyboard=self._swallow_key)
        self.intervals.append(Clock.schedule_interval(self._check_idle, IDLE_CHECK_S))
        Window.bind(on_flip=self._first_frame_drawn)
        self._show(self.ctx.navigator.current)
        # Draw first, then connect: devices, catalog and payments start a moment after the first
        # screen is up, so their imports and disk work do not hold up what the citizen sees.
        # Kivy counts a timeout from the clock's last tick, and at start that tick is as old as
        # the Kivy import (half a second): scheduled from here, "0.5 s later" fell in the very
        # first frame and the workers' imports competed with it for the GIL. Scheduled from the
        # first frame's tick, the delays are measured from when the attract screen goes up.
        Clock.schedule_once(lambda _dt: self._after_first_tick(), 0)
        interval = sdnotify.watchdog_interval_s()
        if interval:
            # Pinged from the UI clock: a frozen UI stops the pings and systemd restarts us.
            self.intervals.append(Clock.schedule_interval(lambda _dt: sdnotify.ping_watchdog(), interval))

    def _after_first_tick(self) -> None:
        Clock.schedule_once(lambda _dt: self._start_services(), SERVICES_AFTER_S)
        Clock.schedule_once(lambda _dt: self._warm_up_views(), WARM_UP_AFTER_S)

    def open_settings(self, *_args: Any) -> bool:
        return False  # Kivy's settings panel (F1) is not for citizens

    def on_stop(self) -> None:
        ExceptionManager.remove_handler(self.guard)  # it is process-wide; the next app brings its own
        # The window outlives the app in tests and tools that start another one in it.
        Window.unbind(on_touch_down=self._staff_gesture_down, on_touch_up=self._staff_gesture_up)
        Window.unbind(on_touch_down=self._any_touch, on_request_close=self._refuse_close,
                      on_keyboard=self._swallow_key)
        self._stopping.set()
        sdnotify.stopping()
        self.ctx.help.close("shutdown")
        self.devices.stop()
        self.catalog_feed.stop()
        if self.fleet is not None:
            self.fleet.stop()
        if self.transactions is not None:
            self.transactions.stop()

    def stop_with(self, status: int) -> None:
        """Stop the app so that `kiosk run` exits with `status` (systemd decides what follows)."""
        event(log, "app.exiting", status=status)
        self.exit_status = status
        Clock.schedule_once(lambda _dt: self.stop(), 0)

    def _show_fault(self, code: str, folio: str) -> None:
        """The guard's dialog, alone in front: what happened, help is coming, the way on."""
        self.close_dialogs()
        dialog = self.dialogs["error"]
        dialog.code, dialog.folio, dialog.held = code, folio, self.ctx.navigator.held
        self.open_dialog("error")

    def keep_intervals_running(self) -> None:
        """Kivy drops an interval whose callback raised: after a fault, schedule the app's own
        again (without the idle check, a session would never be wiped)."""
        for interval in self.intervals:
            if not interval.is_triggered:
                interval()

    def stop_now(self, status: int) -> None:
        """Stop at once, from Kivy's exception handler (the clock may be what is failing)."""
        event(log, "app.exiting", status=status)
        self.exit_status = status
        self.stop()

    def _first_frame_drawn(self, *_args: Any) -> None:
        Window.unbind(on_flip=self._first_frame_drawn)
        sdnotify.ready("first screen drawn")
        event(log, "app.ready", screen=self.ctx.navigator.current.screen)

    @staticmethod
    def call_on_ui_thread(work) -> None:
        """Results of background work come back to the UI through the Kivy clock."""
        Clock.schedule_once(lambda _dt: work(), 0)

    # -- actions the views call ---------------------------------------------------------------
    def switch_language(self) -> None:
        self.ctx.sessions.set_language(self.ctx.next_language())

    def open_help(self) -> None:
        """"Ayuda": the help dialog; while a payment holds the screen, the call goes out without a
        dialog over the money (the paying screen says a person is coming)."""
        if not self.ctx.navigator.held:
            self.open_dialog("help")
            return
        self.ctx.help.request(self.ctx.navigator.current.screen)
        screen = self.screens.get(self.ctx.navigator.current.screen)
        if screen is not None and hasattr(screen, "help_called"):
            screen.help_called()

    def _open_staff_pin(self) -> None:
        """The staff gesture; not while a citizen's money can come in (the payment ends first)."""
        if self.ctx.navigator.held:
            event(log, "staff.gesture_refused", reason="payment_in_progress")
            return
        self.open_dialog("staff_pin")

    def open_dialog(self, name: str) -> KioskDialog:
        dialog = self.dialogs[name]
        if dialog.parent is None:
            dialog.open(animation=False)
            self.ctx.speaker.say(spoken_text(dialog))
        return dialog

    def _start_services(self) -> None:
        self.devices.start(ready=self._devices_ready)
        self.catalog_feed.start()
        run_in_thread(self._start_fleet_monitor, "fleet-start")

    def _start_fleet_monitor(self) -> None:
        """Health report, metrics and heartbeat on their own thread (their imports are slow too)."""
        from kiosk.fleet.monitor import FleetMonitor
        from kiosk.fleet.report import Sources
        from kiosk.flows.technician import technician_tools

        sources = Sources(devices=lambda: self.devices.adapters, transactions=lambda: self.transactions,
                          catalog_feed=self.catalog_feed)
        monitor = FleetMonitor(self.ctx.config, sources, self.call_on_ui_thread, audit_head=self.ctx.staff.audit_head)
        self.ctx.staff.tools = technician_tools(self.ctx.config, monitor, self.ctx.device, self.catalog_feed)
        if self._stopping.is_set():
            return  # the app stopped while this was being set up
        self.ctx.sessions.on_begin(monitor.session_started)
        self.ctx.sessions.on_end(monitor.session_ended)
        self.fleet = monitor
        monitor.start()

    def _devices_ready(self, devices: DeviceHub) -> None:
        """Offer what the configured devices allow, once they exist."""
        self.ctx.devices = devices
        if devices.get("printer") is not None:
            self.ctx.actions.register("print", self.print_information)
        from kiosk.flows.payment import open_transactions_in_background  # not needed before devices exist

        open_transactions_in_background(self.ctx.config, devices.adapters, self.call_on_ui_thread,
                                        ready=self._payments_ready)

    def _payments_ready(self, service) -> None:
        """Money can be taken once the outbox is open: only then is "Pagar aquí" offered."""
        from kiosk.flows.payment import PaymentFlow

        self.transactions = service
        self.ctx.payments = PaymentFlow(service, self.call_on_ui_thread, navigator=self.ctx.navigator,
                                        idle=self.ctx.idle)
        self.ctx.sessions.on_wipe(self.ctx.payments.reset)
        self.ctx.actions.register("pay", self.start_payment)
        self.ctx.actions.register("request", self.start_request)

    def _warm_up_views(self) -> None:
        """Build the dialogs, then the other screens and their keyboards, while nobody waits,
        one per frame."""
        dialog = next((name for name in DIALOGS if name not in self.dialogs), None)
        if dialog is not None:
            self.dialogs[dialog]  # asking builds it
            Clock.schedule_once(lambda _dt: self._warm_up_views(), 0)
            return
        pending = [name for name in self.screen_classes if name not in self.screens]
        if pending:
            self.screen(pending[0]).warm_up()
            Clock.schedule_once(lambda _dt: self._warm_up_views(), 0)
            return
        # Everything long-lived now exists (views, catalog, services): keep it out of the garbage
        # collector's full scans, which otherwise pause a touch now and then.
        gc.collect()
        gc.freeze()

    def start_payment(self, procedure_id: str) -> None:
        record = self.ctx.catalog.procedure(procedure_id)
        if record is not None:
            self.ctx.payments.start(record)
            self.ctx.navigator.go("account")

    def start_request(self, procedure_id: str) -> None:
        record = self.ctx.catalog.procedure(procedure_id)
        if record is not None:
            self.ctx.payments.start_request(record)
            self.ctx.navigator.go("identify")

    def print_information(self, procedure_id: str) -> None:
        from kiosk.flows.info_sheet import SheetPrinting  # loads the printer driver: only when printing

        dialog = self.open_dialog("print")
        dialog.printing()
        if not SheetPrinting(self.ctx, self.devices.get("printer")).start(procedure_id, dialog.finished):
            dialog.dismiss()

    def toggle_audio(self) -> None:
        options = self.ctx.sessions.session.accessibility
        options.audio = not options.audio
        self.ctx.speaker.enable(options.audio)
        self.root.audio_on = options.audio
        if options.audio:
            self.ctx.speaker.repeat()

    def repeat_speech(self) -> None:
        self.ctx.speaker.repeat()

    def set_text_step(self, step: int) -> None:
        self.ctx.sessions.session.accessibility.text_step = step
        self.theme = self.ctx.theme()

    def set_high_contrast(self, on: bool) -> None:
        self.ctx.sessions.session.accessibility.high_contrast = on
        self.theme = self.ctx.theme()

    def close_dialogs(self) -> None:
        for dialog in self.dialogs.values():
            if dialog.parent is not None:
                dialog.dismiss(animation=False)

    # -- reacting to the core ---------------------------------------------------------------
    def screen(self, name: str) -> KioskScreen:
        """The view for `name`, created the first time it is needed."""
        if name not in self.screens:
            screen = screen_class(name)(name=name, ctx=self.ctx)
            self.screens[name] = screen
            self.root_manager.add_widget(screen)
        return self.screens[name]

    def _show(self, place: Place) -> None:
        screen = self.screen(place.screen)
        screen.show(place.params)
        manager = self.root.manager
        if manager.current != place.screen:
            manager.current = place.screen
        self._refresh_chrome(self.root)
        self.ctx.speaker.say(spoken_text(screen))

    def _refresh_chrome(self, root: KioskRoot) -> None:
        navigator = self.ctx.navigator
        root.chrome = self.screen(navigator.current.screen).chrome
        root.can_go_back = navigator.can_go_back and not navigator.held
        root.at_home = navigator.current.screen == HOME
        root.held = navigator.held
        root.next_language = endonym(self.ctx.next_language())
        root.audio_on = self.ctx.sessions.session.accessibility.audio

    def _staff_changed(self) -> None:
        """A login or logout; when assisted mode began or ended: its strip, the text size, and the
        screen laid out again for the room left (the strip takes its height next frame)."""
        if self.assisted is None:
            from screens.assisted import AssistedBar  # its rules load when staff first come

            self.assisted = AssistedBar(ctx=self.ctx, host=self.root)  # joins the root's top only while assisting
        if self.assisted.follow():
            self.theme = self.ctx.theme()
            Clock.schedule_once(lambda _dt: self._show(self.ctx.navigator.current), 0)

    def _language_switched(self, _language: str) -> None:
        self._show(self.ctx.navigator.current)  # views re-read data that is not bound to tr

    def _wipe_views(self) -> None:
        self.close_dialogs()
        for screen in self.screens.values():
            screen.reset()
        self.theme = self.ctx.theme()
        self.root.audio_on = False
        Clock.schedule_once(lambda _dt: gc.collect(), 0)  # nothing of the last citizen lingers

    def _any_touch(self, _window: Any, _touch: Any) -> bool:
        self.ctx.speaker.stop()  # any touch interrupts speech (EN 301 549 5.1.3.5)
        if self.ctx.sessions.session.active:
            self.ctx.sessions.touched()
        self.ctx.staff.touched()
        return False  # observe only; the touch goes on to the widgets

    def _staff_gesture_down(self, window: Any, touch: Any) -> bool:
        self.staff_gesture.area = Area(window.width, window.height, self.theme.mm(STAFF_CORNER_MM))
        return self.staff_gesture.down(touch.uid, *touch.pos)  # True keeps the touch from the widgets

    def _staff_gesture_up(self, _window: Any, touch: Any) -> bool:
        return self.staff_gesture.up(touch.uid, *touch.pos)

    def _check_idle(self, _dt: float) -> None:
        if self.transactions is not None:  # the offline banner follows what the submitter last saw
            self.root.offline = not self.transactions.online
        state = self.ctx.idle.state()
        prompt = self.dialogs.get("idle")  # None until built: then it is not open either
        if state.phase is IdlePhase.WARNING:
            self.dialogs["idle"].show_seconds(state.seconds_left)
            self.open_dialog("idle")
        elif prompt is not None and prompt.parent is not None:
            prompt.dismiss(animation=False)
        if state.phase is IdlePhase.EXPIRED:
            self.ctx.sessions.end("idle")
        self.ctx.staff.check_idle()

    def _refuse_close(self, *_args: Any, **_kwargs: Any) -> bool:
        if not self.locked:
            event(log, "app.window_closed")
            return False  # a desktop window closes like any other
        event(log, "app.close_refused", level=logging.WARNING)
        return True

    def _swallow_key(self, _window: Any, key: int, _scancode: int, _codepoint: str, modifiers: list[str]) -> bool:
        if not self.locked:
            if key == ESCAPE or (key == KEY_Q and "ctrl" in modifiers):
                event(log, "app.window_closed", key="escape" if key == ESCAPE else "ctrl+q")
                self.stop()
                return True
            return False
        return key in BLOCKED_KEYS or "alt" in modifiers or "ctrl" in modifiers or "meta" in modifiers


class Dialogs(dict[str, KioskDialog]):
    """The app's dialogs by name; one not built yet is built the first time it is asked for
    (`dialogs["help"]`). get(), values() and `in` see only those built: a dialog never built was
    never opened."""

    def __init__(self, build: Callable[[str], KioskDialog]):
        super().__init__()
        self._build = build

    def __missing__(self, name: str) -> KioskDialog:
        dialog = self[name] = self._build(name)
        return dialog


class SoundPlayer:
    """Plays speech through SDL2's mixer; stop() cuts it off at once."""

    def __init__(self) -> None:
        self._sound: Any = None  # a Kivy Sound while one plays

    def play(self, wav) -> None:
        self.stop()
        self._sound = SoundLoader.load(str(wav))
        if self._sound is not None:
            self._sound.play()

    def stop(self) -> None:
        if self._sound is not None:
            self._sound.stop()
            self._sound.unload()
            self._sound = None


def run_kiosk(config) -> int:
    """`kiosk run` (and `kiosk demo` on a desktop): the kiosk until the system or the person at the
    desktop stops it (kivyenv already prepared; its window plan says which kind of window)."""
    plan = kivyenv.chosen_window() or kivyenv.plan_window(config, headless=False, desktop=False)
    app = KioskApp(build_context(kivyenv.fitted(config, plan)), locked=plan.locked)

    def stop_on_signal(signum: int, _frame: Any) -> None:
        event(log, "app.stopping", signal=signal.Signals(signum).name)
        Clock.schedule_once(lambda _dt: app.stop(), 0)

    signal.signal(signal.SIGTERM, stop_on_signal)
    try:
        app.run()
    except Exception as error:  # the guard gave up, or failed: say so in one line, exit for a restart
        code, where = error_code(error)
        event(log, "app.crashed", level=logging.CRITICAL, code=code, error=type(error).__name__, where=where)
        return app.exit_status or EXIT_UI_FAILED
    return app.exit_status
