"""The adapter contract every device in `devices/` follows.

An adapter owns one device. Its public state is a `Status` snapshot (state, a stable reason
code, the action the reason calls for, its message as a Spanish msgid of the kiosk's catalogue,
supplies, counters, last error) that can be read at any time without I/O. Everything that
touches the device runs on the adapter's own worker thread with a deadline (`Adapter.call`),
so the UI thread never waits on hardware; a call that overruns its deadline abandons the
(daemon) worker and gets a fresh one, because a thread stuck in a driver call cannot be interrupted from Python.

Events (card inserted, credit accepted, paper low, device lost...) are handed to subscribers
through the injected `call_soon(fn)` scheduler: the Kivy app passes one built on
`Clock.schedule_once`, so callbacks run on the UI thread; tests pass a queue-based one.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from .urls import DeviceUrl


def log_event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one structured event: the name as the message, the facts in `record.fields`. An app
    formats them as it likes (the kiosk writes logfmt with personal data masked); this package
    imports nothing of the app, so it could be published alone."""
    logger.log(level, name, extra={"fields": fields})

CallSoon = Callable[[Callable[[], None]], None]
T = TypeVar("T")

log = logging.getLogger("kiosk.devices")


class State(enum.StrEnum):
    UNKNOWN = "unknown"
    READY = "ready"
    BUSY = "busy"
    DEGRADED = "degraded"  # works, but needs attention soon (paper low, no change available)
    ERROR = "error"  # connected, but cannot do its job (paper out, cover open, jam)
    OFFLINE = "offline"  # configured, not answering
    NO_DEVICE = "no_device"  # the port, file or reader is not there at all
    CLOSED = "closed"


USABLE_STATES = frozenset({State.READY, State.DEGRADED, State.BUSY})
FAILED_STATES = frozenset({State.OFFLINE, State.NO_DEVICE})


class Action(enum.StrEnum):
    NONE = "none"
    RETRY = "retry"
    CITIZEN = "citizen"
    TECHNICIAN = "technician"
    REPLACE_CONSUMABLE = "replace_consumable"


class Supply(enum.StrEnum):
    FULL = "full"
    LOW = "low"
    OUT = "out"
    UNKNOWN = "unknown"


def N_(message: str) -> str:
    """Marks a message for the kiosk's translation catalogue (kiosk/core/i18n.py finds the marked
    literals here too) without translating it: `devices/` stays stand-alone, and the kiosk
    translates a reason where a person reads it (`Reason.text(gettext)`)."""
    return message


@dataclass(frozen=True)
class Reason:
    code: str
    action: Action
    message: str  # in Spanish: the msgid of the kiosk's catalogue; may name {code}

    def text(self, gettext: Callable[[str], str] = N_) -> str:
        """The message in the reader's language (`gettext` of the kiosk's translator), Spanish by default."""
        return gettext(self.message).format(code=self.code)


def _r(code: str, action: Action, message: str) -> tuple[str, Reason]:
    return code, Reason(code, action, message)


A = Action
REASONS: dict[str, Reason] = dict(
    [
        _r("ok", A.NONE, N_("Listo.")),
        _r("not_opened", A.NONE, N_("El dispositivo aún no se ha abierto.")),
        _r("closed", A.NONE, N_("Dispositivo cerrado.")),
        _r("busy", A.NONE, N_("Dispositivo ocupado, espere.")),
        _r("status_unknown", A.RETRY, N_("El dispositivo no informó su estado.")),
        _r("transport.no_device", A.TECHNICIAN, N_("Dispositivo no encontrado o desconectado.")),
        _r("transport.timeout", A.RETRY, N_("El dispositivo no responde a tiempo.")),
        _r("transport.connection_lost", A.RETRY, N_("Se perdió la conexión con el dispositivo.")),
        _r("transport.garbled", A.RETRY, N_("Respuesta ilegible del dispositivo.")),
        _r("config.invalid", A.TECHNICIAN, N_("Configuración del dispositivo no válida.")),
        _r("driver.fault", A.TECHNICIAN, N_("Error interno del controlador del dispositivo.")),
        _r("driver.missing", A.TECHNICIAN, N_("Falta un componente del sistema para este dispositivo.")),
        _r("printer.paper_low", A.REPLACE_CONSUMABLE, N_("Queda poco papel en la impresora.")),
        _r("printer.paper_out", A.REPLACE_CONSUMABLE, N_("La impresora no tiene papel.")),
        _r("printer.cover_open", A.TECHNICIAN, N_("La tapa de la impresora está abierta.")),
        _r("printer.offline", A.TECHNICIAN, N_("La impresora está fuera de línea.")),
        _r("printer.cutter_error", A.TECHNICIAN, N_("Falla del cortador de papel.")),
        _r("printer.error", A.TECHNICIAN, N_("Error de la impresora.")),
        _r("printer.no_status", A.TECHNICIAN,
           N_("La impresora no puede informar si tiene papel (conexión de solo escritura).")),
        _r("card.absent", A.NONE, N_("Inserte su identificación.")),
        _r("card.mute", A.CITIZEN, N_("La tarjeta no responde. Retírela y vuelva a insertarla.")),
        _r("card.foreign", A.CITIZEN, N_("Esta tarjeta no es una identificación reconocida.")),
        _r("card.removed", A.CITIZEN, N_("La tarjeta se retiró antes de terminar la lectura.")),
        _r("card.unreadable", A.CITIZEN, N_("No se pudo leer la tarjeta.")),
        _r("card.service_unavailable", A.TECHNICIAN, N_("El servicio de lectores de tarjetas (pcscd) no responde.")),
        _r("card.no_reader", A.TECHNICIAN, N_("No se encuentra el lector de tarjetas.")),
        _r("cash.jam", A.TECHNICIAN, N_("Billete o moneda atascada.")),
        _r("cash.fraud", A.TECHNICIAN, N_("Intento de fraude detectado en el aceptador.")),
        _r("cash.no_change", A.NONE, N_("Solo se acepta el importe exacto: no hay cambio.")),
        _r("cash.rejected", A.CITIZEN, N_("Billete o moneda rechazada; tome su dinero.")),
        _r("payment.declined", A.CITIZEN, N_("Pago rechazado por el banco.")),
        _r("payment.cancelled", A.CITIZEN, N_("Pago cancelado.")),
        _r("payment.timeout", A.RETRY, N_("La terminal de pago no respondió; no se cobró nada que no se informe.")),
        _r("payment.host_unreachable", A.RETRY, N_("La terminal no pudo contactar al banco.")),
        _r("payment.error", A.TECHNICIAN, N_("Error de la terminal de pago.")),
        _r("scanner.invalid_code", A.CITIZEN, N_("Código no válido; intente con otro recibo.")),
        _r("self_test.failed", A.TECHNICIAN, N_("La autoprueba falló.")),
    ]
)
del A


def reason(code: str) -> Reason:
    """The catalogued reason for `code`; unknown codes are technician matters, never silent."""
    found = REASONS.get(code)
    if found is not None:
        return found
    return Reason(code, Action.TECHNICIAN, N_("Error del dispositivo ({code})."))


def state_for(code: str) -> State | None:
    """The device state a failure code implies; None for failures of one operation only."""
    if code in ("transport.no_device", "card.no_reader"):
        return State.NO_DEVICE
    if code.startswith("transport.") or code in ("card.service_unavailable", "status_unknown"):
        return State.OFFLINE
    if code in ("printer.paper_low", "printer.no_status"):
        return State.DEGRADED
    if code.startswith(("printer.", "config.", "driver.")) or code in ("cash.jam", "cash.fraud", "payment.error"):
        return State.ERROR
    return None


class DeviceError(Exception):
    """A failure with a stable reason code; `detail` is for logs (never personal data)."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail

    @property
    def reason(self) -> Reason:
        return reason(self.code)


@dataclass(frozen=True)
class Capabilities:
    kind: str
    driver: str
    model: str = "unknown"
    firmware: str = "unknown"
    serial_number: str = ""
    features: frozenset[str] = frozenset()
    details: tuple[tuple[str, str], ...] = ()  # extra facts, e.g. (("code_page", "CP858"),)


    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "driver": self.driver, "model": self.model, "firmware": self.firmware,
                "serial_number": self.serial_number, "features": sorted(self.features),
                "details": dict(self.details)}


@dataclass(frozen=True)
class Counters:
    reconnects: int = 0
    restarts: int = 0
    failures: int = 0
    operations: int = 0


@dataclass(frozen=True)
class Status:
    name: str
    kind: str
    driver: str
    url: str
    state: State
    reason: Reason
    supplies: tuple[tuple[str, Supply], ...] = ()
    last_error: str = ""
    last_error_at: float | None = None
    last_ok_at: float | None = None
    counters: Counters = field(default_factory=Counters)

    @property
    def usable(self) -> bool:
        return self.state in USABLE_STATES

    def supply(self, name: str) -> Supply:
        return dict(self.supplies).get(name, Supply.UNKNOWN)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "driver": self.driver,
            "url": self.url,
            "state": str(self.state),
            "reason": self.reason.code,
            "action": str(self.reason.action),
            "message": self.reason.message,  # Spanish msgid: readers translate it
            "supplies": {key: str(value) for key, value in self.supplies},
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "last_ok_at": self.last_ok_at,
            "counters": {
                "reconnects": self.counters.reconnects,
                "restarts": self.counters.restarts,
                "failures": self.counters.failures,
                "operations": self.counters.operations,
            },
        }


@dataclass(frozen=True)
class DeviceEvent:
    device: str
    kind: str  # e.g. "card.inserted", "credit.accepted", "paper.out", "device.lost", "state.changed"
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class SelfTestReport:
    device: str
    ok: bool
    checks: tuple[Check, ...]
    reason: Reason
    duration_ms: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "ok": self.ok,
            "reason": self.reason.code,
            "message": self.reason.message,  # Spanish msgid: readers translate it
            "duration_ms": round(self.duration_ms, 1),
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
        }


class _Worker:
    """One daemon thread running device calls in order; abandoned (not joined) when stuck."""

    def __init__(self, name: str):
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future] | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._loop, name=f"device-{name}", daemon=True)
        self.thread.start()

    def submit(self, fn: Callable[[], T]) -> Future:
        future: Future = Future()
        self._jobs.put((fn, future))
        return future

    def stop(self) -> None:
        self._jobs.put(None)

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fn, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as error:  # handed to the caller, who decides
                future.set_exception(error)


def immediate(fn: Callable[[], None]) -> None:
    """A call_soon that runs callbacks in the calling thread (CLI and benchmarks only)."""
    fn()


class Adapter:
    """Base class: state bookkeeping, the worker thread, deadlines and event delivery.

    Subclasses implement `_open`, `_close`, `_probe` (refresh state from the device) and
    `_self_test_checks`; they run on the worker thread and raise DeviceError on failure.
    """

    kind = "device"
    supply_names: tuple[str, ...] = ()

    def __init__(self, name: str, driver: str, url: DeviceUrl, call_soon: CallSoon = immediate):
        self.name = name
        self.driver = driver
        self.url = url
        self.timeout_s = url.float_option("timeout", 3.0)
        self._call_soon = call_soon
        self._lock = threading.RLock()
        self._subscribers: list[tuple[Callable[[DeviceEvent], None], bool]] = []  # (callback, direct)
        self._worker = _Worker(name)
        self._status = Status(
            name=name, kind=self.kind, driver=driver, url=url.redacted(), state=State.CLOSED,
            reason=reason("not_opened"), supplies=tuple((s, Supply.UNKNOWN) for s in self.supply_names),
        )
        self._capabilities = Capabilities(kind=self.kind, driver=driver)
        self._was_usable = False
        self._opened = threading.Event()  # `_open` succeeded since the last close

    # ----- public, callable from any thread (cheap, no I/O) -----

    def status(self) -> Status:
        with self._lock:
            return self._status

    def capabilities(self) -> Capabilities:
        with self._lock:
            return self._capabilities

    def diagnostics(self) -> dict[str, Any]:
        """Device-specific facts for technicians (never personal data)."""
        return {}

    def alive(self) -> bool:
        """False when a background thread the adapter depends on has died (supervisor restarts it)."""
        return True

    def subscribe(self, callback: Callable[[DeviceEvent], None], direct: bool = False) -> Callable[[], None]:
        """Receive the adapter's events through call_soon (the UI thread in the app), or with
        `direct` in the device's own thread, in order, before the operation that produced them
        returns (money: a credit must reach its session before the acceptor's disable() ends).
        A direct callback must be quick and must not raise (it only hands the event on)."""
        entry = (callback, direct)
        with self._lock:
            self._subscribers.append(entry)

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._subscribers:
                    self._subscribers.remove(entry)

        return unsubscribe

    # ----- blocking operations with deadlines (call from worker-friendly threads, never the UI) -----

    def open(self) -> Status:
        try:
            self.call(self._open, self.timeout_s * 2)
            self._opened.set()
            self.call(self._probe, self.timeout_s * 2)
        except DeviceError as error:
            self._fail(error)
        return self.status()

    def wait_open(self, timeout_s: float) -> bool:
        """Block until the device has been opened (the app opens devices and the payment service
        side by side; what a restart recovers needs the device read first). False: not in time."""
        return self._opened.wait(timeout_s)

    def close(self) -> None:
        self._opened.clear()
        with contextlib.suppress(DeviceError):
            self.call(self._close, self.timeout_s)
        self._set_state(State.CLOSED, "closed")
        # The worker stays: an idle daemon thread costs nothing and open() may follow.

    def refresh(self) -> Status:
        """Ask the device for its real state now (DLE EOT, reader state, poll...).

        While an operation runs (BUSY) the worker is taken; the status is returned as it is
        rather than queueing a probe that would overrun its deadline.
        """
        if self.status().state == State.BUSY:
            return self.status()
        try:
            self.call(self._probe, self.timeout_s * 2)
        except DeviceError as error:
            self._fail(error)
        return self.status()

    def restart(self) -> bool:
        """Close and reopen; True when the device is usable again. Used by the supervisor."""
        with contextlib.suppress(DeviceError):
            self.call(self._close, self.timeout_s)
        self._bump(restarts=1)
        before_failed = self.status().state in FAILED_STATES or self.status().state == State.ERROR
        status = self.open()
        if status.usable and before_failed:
            self._bump(reconnects=1)
        return status.usable

    def self_test(self) -> SelfTestReport:
        started = time.monotonic()
        try:
            self.call(self._probe, self.timeout_s * 2)  # a device that is not there fails here
            checks = tuple(self.call(self._self_test_checks, self.timeout_s * 5))
        except DeviceError as error:
            self._fail(error)
            checks = (Check("device", False, f"{error.code} {error.detail}".strip()),)
        ok = bool(checks) and all(check.ok for check in checks)
        status = self.status()
        chosen = status.reason if status.reason.code != "ok" or ok else reason("self_test.failed")
        log_event(log, "device.self_test", device=self.name, ok=ok, reason=chosen.code)
        return SelfTestReport(self.name, ok, checks, chosen, (time.monotonic() - started) * 1000)

    def call(self, fn: Callable[[], T], timeout_s: float | None = None) -> T:
        """Run `fn` on the worker with a deadline; a stuck worker is replaced, not waited for."""
        deadline = self.timeout_s if timeout_s is None else timeout_s
        if threading.current_thread() is self._worker.thread:
            return fn()  # already on the worker (an operation calling another): queueing would deadlock
        future = self._worker.submit(fn)
        try:
            return future.result(timeout=deadline)
        except FutureTimeout:
            self._replace_stuck_worker()
            raise DeviceError("transport.timeout", f"no answer within {deadline:.1f} s") from None
        except DeviceError:
            raise
        except OSError as error:
            raise DeviceError("transport.connection_lost", type(error).__name__) from None
        except Exception as error:  # a driver bug must still end as a state with a reason, not a crash
            log.error("device.driver_fault", exc_info=True, extra={"fields": {"device": self.name}})
            raise DeviceError("driver.fault", type(error).__name__) from None

    def request(self, fn: Callable[[], T], on_done: Callable[[T | None, DeviceError | None], None]) -> None:
        """The UI's entry point: run a blocking operation off the UI thread, outcome via call_soon.

        `fn` is one of the adapter's public operations, which carry their own deadlines, e.g.
        `printer.request(lambda: printer.print_receipt(receipt), on_printed)`.
        """

        def run() -> None:
            try:
                result = fn()
            except DeviceError as error:
                failure = error
                self._call_soon(lambda: on_done(None, failure))
                return
            except Exception as error:  # never lose the callback: the UI is waiting for it
                log.error("device.request_failed", exc_info=True, extra={"fields": {"device": self.name}})
                failure = DeviceError("driver.fault", type(error).__name__)
                self._call_soon(lambda: on_done(None, failure))
                return
            self._call_soon(lambda: on_done(result, None))

        threading.Thread(target=run, name=f"request-{self.name}", daemon=True).start()

    # ----- for subclasses -----

    def _open(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _probe(self) -> None:
        raise NotImplementedError

    def _self_test_checks(self) -> list[Check]:
        self._probe()
        status = self.status()
        return [Check("state", status.usable, f"{status.state} {status.reason.code}")]

    def _set_capabilities(self, **changes: Any) -> None:
        with self._lock:
            self._capabilities = replace(self._capabilities, **changes)

    def _set_state(self, state: State, reason_code: str) -> None:
        with self._lock:
            old = self._status
            now = time.time()
            changes: dict[str, Any] = {"state": state, "reason": reason(reason_code)}
            if state in USABLE_STATES:
                changes["last_ok_at"] = now
            self._status = replace(old, **changes)
            was_usable, self._was_usable = self._was_usable, state in USABLE_STATES
        if old.state != state or old.reason.code != reason_code:
            quiet = state in USABLE_STATES or state == State.CLOSED
            log_event(log, "device.state", level=logging.INFO if quiet else logging.WARNING,
                      device=self.name, state=str(state), reason=reason_code)
            self._emit("state.changed", state=str(state), reason=reason_code, previous=str(old.state))
            if was_usable and state in FAILED_STATES:
                self._emit("device.lost", reason=reason_code)
            elif not was_usable and state in USABLE_STATES and old.state in FAILED_STATES:
                self._emit("device.found")

    def _set_supply(self, name: str, level: Supply) -> None:
        with self._lock:
            supplies = dict(self._status.supplies)
            previous = supplies.get(name, Supply.UNKNOWN)
            supplies[name] = level
            self._status = replace(self._status, supplies=tuple(supplies.items()))
        if previous != level and level in (Supply.LOW, Supply.OUT):
            self._emit(f"{name}.{level}", previous=str(previous))

    def _fail(self, error: DeviceError) -> None:
        """Record a failure; transport and device faults change the state, citizen-level ones don't."""
        with self._lock:
            self._status = replace(
                self._status, last_error=error.code, last_error_at=time.time(),
                counters=replace(self._status.counters, failures=self._status.counters.failures + 1),
            )
        state = state_for(error.code)
        if state is not None:
            self._set_state(state, error.code)

    def _note_error(self, code: str) -> None:
        """Remember an operation's failure without changing the device's state."""
        with self._lock:
            self._status = replace(self._status, last_error=code, last_error_at=time.time())

    def _bump(self, **increments: int) -> None:
        with self._lock:
            counters = self._status.counters
            values = {key: getattr(counters, key) + amount for key, amount in increments.items()}
            self._status = replace(self._status, counters=replace(counters, **values))

    def _emit(self, event_kind: str, /, **data: Any) -> None:
        event = DeviceEvent(self.name, event_kind, data)
        with self._lock:
            subscribers = list(self._subscribers)
        for callback, direct in subscribers:
            if not direct:
                self._call_soon(functools.partial(callback, event))
                continue
            try:
                callback(event)
            except Exception:  # a subscriber's bug must not stop the device (or the other subscribers)
                log.error("device.subscriber_failed", exc_info=True, extra={"fields": {"device": self.name}})

    def _replace_stuck_worker(self) -> None:
        with self._lock:
            stuck, self._worker = self._worker, _Worker(self.name)
        stuck.stop()  # it exits when (if) its current call ever returns
