"""From facts to checks: pure functions, one per thing a technician looks at.

They take plain values (numbers, dicts as the adapters and stores report them) and return
`Check`s, so every threshold and every message is tested without hardware or network. The
probes that gather the facts are in kiosk/fleet/probes.py.

Every text a technician reads is a Spanish msgid passed through `_`, the gettext of the
kiosk's configured language (the Collector passes `Translator(config.kiosk.language).gettext`);
without one the texts stay Spanish, the source language.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from kiosk.core.i18n import N_
from kiosk.fleet.errorlog import ErrorEntry
from kiosk.fleet.model import FAIL, OK, WARN, Check, Gettext, spanish, worst

SLOW_API_S = 2.0  # a health answer slower than this makes citizens wait on every lookup
MIN_AVAILABLE_MB = 100.0  # below this the kernel starts killing; Kivy textures need headroom
MAX_RSS_MB = 1024.0  # the app settles near 150-250 MB; four times that is a leak
RECENT_ERRORS_S = 900.0  # ERROR records this recent ask for attention; older ones are history
MB = 1024 * 1024

# Device states and supply levels as adapters report them (devices/contract.py, as strings so
# a report read back from status.json is judged the same way).
STATE_STATUS = {"ready": OK, "busy": OK, "degraded": WARN, "unknown": WARN, "closed": WARN,
                "error": FAIL, "offline": FAIL, "no_device": FAIL}
SUPPLY_STATUS = {"full": OK, "unknown": OK, "low": WARN, "out": FAIL}  # unknown: the state says why
ADVICE = {
    "none": "",
    "retry": N_("Suele recuperarse solo; si sigue, revise su cable, su alimentación y su conexión."),
    "citizen": N_("El ciudadano puede resolverlo en el dispositivo."),
    "technician": N_("Un técnico debe revisar el dispositivo."),
    "replace_consumable": N_("Cargue papel o reponga el consumible."),
}


def human_duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600:.0f} h {seconds % 3600 // 60:.0f} min"
    return f"{seconds // 86400:.0f} d {seconds % 86400 // 3600:.0f} h"


def human_mb(size_bytes: float) -> str:
    megabytes = size_bytes / MB
    return f"{megabytes / 1024:.1f} GB" if megabytes >= 1024 else f"{megabytes:.0f} MB"


def without_query(url: str) -> str:
    """A device URL without its options (they can carry tokens on some transports)."""
    return url.split("?", 1)[0]


def public_url(url: str) -> str:
    """The API URL without user, password, query or fragment."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{host}{parts.path}"


# ---- devices ------------------------------------------------------------------------------------

def device_check(status: Mapping[str, Any], capabilities: Mapping[str, Any] | None = None,
                 diagnostics: Mapping[str, Any] | None = None,
                 self_test: Mapping[str, Any] | None = None, _: Gettext = spanish) -> Check:
    """One device from its `Status.to_dict()` (plus capabilities, diagnostics, a self-test)."""
    name, state, reason = str(status["name"]), str(status["state"]), str(status["reason"])
    supplies: dict[str, str] = dict(status.get("supplies") or {})
    verdicts = [STATE_STATUS.get(state, WARN)] + [SUPPLY_STATUS.get(level, WARN) for level in supplies.values()]
    problems = []
    if STATE_STATUS.get(state, WARN) != OK:
        message = _device_message(status, reason, _)
        advice = ADVICE.get(str(status.get("action")), "")
        problems.append(f"{state} ({reason}): {message} {_(advice) if advice else ''}".strip())
    problems += [_("{supply}: {level}.").format(supply=supply, level=level)
                 for supply, level in supplies.items() if SUPPLY_STATUS.get(level, WARN) != OK]
    if self_test is not None and not self_test.get("ok"):
        verdicts.append(FAIL)
        failed = [c["name"] for c in self_test.get("checks", []) if not c.get("ok")]
        problems.append(_("La autoprueba falló ({checks}).").format(
            checks=", ".join(failed) or self_test.get("reason", "")))
    value = state if reason in ("ok", "busy") else f"{state} ({reason})"
    if supplies:
        value += "; " + ", ".join(f"{supply} {level}" for supply, level in supplies.items())
    if self_test is not None:
        value += "; " + (_("autoprueba superada") if self_test.get("ok") else _("autoprueba FALLIDA"))
    raw = {"kind": status.get("kind"), "driver": status.get("driver"), "url": without_query(str(status.get("url", ""))),
           "state": state, "reason": reason, "action": status.get("action"), "supplies": supplies,
           "last_error": status.get("last_error", ""), "last_error_at": status.get("last_error_at"),
           "last_ok_at": status.get("last_ok_at"), "counters": dict(status.get("counters") or {}),
           "capabilities": dict(capabilities or {}), "diagnostics": dict(diagnostics or {}),
           "self_test": dict(self_test) if self_test is not None else None}
    return Check("devices", f"device.{name}", worst(verdicts), value, " ".join(problems), raw)


def _device_message(status: Mapping[str, Any], reason: str, _: Gettext) -> str:
    """The adapter's message (a Spanish msgid from devices/contract.py) in the report's language;
    a status.json from before the msgids carried {"es": ..., "en": ...}."""
    message = status.get("message") or ""
    if isinstance(message, Mapping):
        message = message.get("es", "")
    return _(str(message)).format(code=reason) if message else reason


def device_not_open_check(name: str, driver: str, _: Gettext = spanish) -> Check:
    return Check("devices", f"device.{name}", WARN, _("sin abrir"),
                 _("La aplicación aún no abre este dispositivo (lo hace justo después de arrancar); si sigue así, "
                   "revise [devices] en la configuración y los registros."),
                 {"driver": driver, "state": "closed", "reason": "not_opened", "supplies": {}})


# ---- network ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ApiProbe:
    url: str
    reachable: bool
    http_status: int | None = None
    latency_s: float | None = None
    error: str = ""
    server_revision: int | None = None


def api_check(probe: ApiProbe, _: Gettext = spanish) -> Check:
    raw = {"url": public_url(probe.url), "up": probe.reachable and probe.http_status == 200,
           "http_status": probe.http_status, "latency_s": probe.latency_s, "error": probe.error,
           "server_catalog_revision": probe.server_revision}
    if not probe.reachable:
        return Check("network", "api", FAIL, _("inalcanzable ({error})").format(error=probe.error),
                     _("La API municipal en {url} no responde ({error}). Los pagos se acumulan en la cola y el "
                       "catálogo envejece; revise el cable de red o el Wi-Fi, el DNS, el proxy y el estado de la "
                       "API.").format(url=raw["url"], error=probe.error), raw)
    latency = f"{(probe.latency_s or 0) * 1000:.0f} ms"
    if probe.http_status != 200:
        return Check("network", "api", FAIL, _("HTTP {status} en {latency}").format(
            status=probe.http_status, latency=latency),
                     _("La API responde a su verificación de salud con HTTP {status}: está arriba pero con "
                       "problemas; repórtelo a los operadores de la API.").format(status=probe.http_status), raw)
    if (probe.latency_s or 0) > SLOW_API_S:
        return Check("network", "api", WARN, _("lenta: {latency}").format(latency=latency),
                     _("La API tardó {latency} en responder a su verificación de salud (más de {limit} s): los "
                       "ciudadanos esperan en cada consulta. Revise la calidad del enlace y la carga de la "
                       "API.").format(latency=latency, limit=f"{SLOW_API_S:.0f}"), raw)
    return Check("network", "api", OK, _("alcanzable, {latency}").format(latency=latency), "", raw)


def heartbeat_check(last: Mapping[str, Any] | None, interval_s: float, _: Gettext = spanish) -> Check | None:
    """The last heartbeat's outcome (only inside the app, which sends them)."""
    if interval_s <= 0:
        return Check("network", "heartbeat", OK, _("apagado ([fleet] heartbeat_interval_s = 0)"), "",
                     {"enabled": False})
    if last is None:
        return None
    raw = dict(last, enabled=True)
    if last.get("ok"):
        return Check("network", "heartbeat", OK, _("enviado, HTTP {status}").format(status=last.get("status_code")),
                     "", raw)
    return Check("network", "heartbeat", WARN, _("falló ({error})").format(
        error=last.get("error") or last.get("status_code")),
                 _("El último latido no llegó a la API, así que la vista de la flota de la ciudad muestra este "
                   "kiosco en silencio. Si la verificación de la API está bien, puede que la API aún no ofrezca "
                   "{path}.").format(path="/v1/kiosks/{id}/heartbeat"), raw)


@dataclass(frozen=True)
class TlsProbe:
    host: str
    port: int
    connected: bool
    verified: bool = False
    problem: str = ""  # why verification failed, or why no connection
    not_after: float | None = None  # Unix time
    subject: str = ""
    issuer: str = ""


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def tls_check(base_url: str, probe: TlsProbe | None, warn_days: int, now: float, _: Gettext = spanish) -> Check:
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if parts.scheme != "https":
        raw = {"tls": False, "host": host}
        if _loopback(host):
            return Check("tls", "tls", OK, _("sin TLS (API en loopback)"), "", raw)
        return Check("tls", "tls", WARN, _("sin TLS"),
                     _("La API se alcanza por http simple: los pagos y la identidad del kiosco viajan sin cifrar. "
                       "Ponga en [api] base_url la dirección https://."), raw)
    if probe is None or not probe.connected:
        problem = probe.problem if probe else _("sin revisar")
        return Check("tls", "tls", WARN, _("sin revisar ({problem})").format(problem=problem),
                     _("No se pudo leer el certificado porque la API no se alcanza; vea la verificación de la API."),
                     {"tls": True, "host": host, "error": problem})
    days_left = None if probe.not_after is None else (probe.not_after - now) / 86400
    expires = "?" if probe.not_after is None else dt.datetime.fromtimestamp(probe.not_after, dt.UTC).date().isoformat()
    raw = {"tls": True, "host": host, "port": probe.port, "verified": probe.verified, "problem": probe.problem,
           "not_after": probe.not_after, "days_left": None if days_left is None else round(days_left, 2),
           "subject": probe.subject, "issuer": probe.issuer}
    if days_left is not None and days_left <= 0:
        return Check("tls", "tls", FAIL, _("venció el {date}").format(date=expires),
                     _("El certificado de la API venció el {date}: el kiosco rechaza la conexión, así que nada se "
                       "sincroniza ni se paga en línea. Los operadores de la API deben renovarlo.").format(
                         date=expires), raw)
    if not probe.verified:
        return Check("tls", "tls", FAIL, _("no confiable ({problem})").format(problem=probe.problem),
                     _("El certificado de la API no se verifica ({problem}): el kiosco rechaza la conexión. Revise "
                       "las autoridades (CA) en que confía el kiosco y la cadena y el nombre del certificado de la "
                       "API.").format(problem=probe.problem), raw)
    if days_left is not None and days_left <= warn_days:
        return Check("tls", "tls", WARN, _("vence en {days} días ({date})").format(
            days=f"{days_left:.0f}", date=expires),
                     _("El certificado de la API vence el {date}, dentro de {days} días: pida a los operadores de "
                       "la API que lo renueven antes de que los kioscos pierdan la conexión.").format(
                         date=expires, days=warn_days), raw)
    left = "?" if days_left is None else f"{days_left:.0f}"
    return Check("tls", "tls", OK, _("válido hasta el {date} ({days} días)").format(date=expires, days=left), "", raw)


# ---- catalog ------------------------------------------------------------------------------------

def catalog_checks(status: Mapping[str, Any] | None, max_sync_age_s: float, _: Gettext = spanish) -> list[Check]:
    """From `CatalogStore.status()` (None: nothing stored)."""
    if status is None or status.get("revision") is None:
        return [Check("catalog", "catalog.age", FAIL, _("sin catálogo"),
                      _("No hay catálogo guardado: los ciudadanos ven, como mucho, la muestra incluida. Ejecute "
                        "`kiosk sync` (la API debe estar alcanzable y [api] public_key configurada)."),
                      dict(status or {}))]
    return [_catalog_age(status, max_sync_age_s, _), _catalog_signature(status, _)]


def _catalog_age(status: Mapping[str, Any], max_sync_age_s: float, _: Gettext) -> Check:
    age = status.get("age_s")
    error = status.get("last_error") or {}
    failing = (" " + _("El último intento falló: {reason} ({message}).").format(
        reason=error.get("reason"), message=error.get("message"))) if error else ""
    raw = {"revision": status.get("revision"), "age_s": age, "synced_at": status.get("synced_at"),
           "expires_at": status.get("expires_at"), "expired": bool(status.get("expired")),
           "records": status.get("records"), "active": status.get("active"), "last_error": error or None,
           "max_sync_age_s": max_sync_age_s}
    synced = _("nunca sincronizado") if age is None else _("sincronizado hace {age}").format(age=human_duration(age))
    value = _("revisión {revision}, {synced}").format(revision=status.get("revision"), synced=synced)
    if status.get("expired"):
        return Check("catalog", "catalog.age", FAIL, _("{value}, VENCIDO").format(value=value),
                     _("El manifiesto firmado del catálogo venció el {when}: el kiosco muestra un catálogo congelado "
                       "cuyas tarifas pueden estar mal.{failing} Restablezca la conexión con la API.").format(
                         when=status.get("expires_at"), failing=failing), raw)
    if age is None or age > max_sync_age_s:
        return Check("catalog", "catalog.age", WARN, value,
                     _("El catálogo no se sincroniza desde hace más de {age}.{failing} Vea la verificación de la "
                       "API; `kiosk sync` o el botón «Forzar sincronización» lo reintentan ahora.").format(
                         age=human_duration(max_sync_age_s), failing=failing), raw)
    return Check("catalog", "catalog.age", OK, value, "", raw)


def _catalog_signature(status: Mapping[str, Any], _: Gettext) -> Check:
    signature = str(status.get("signature") or "none")
    raw = {"signature": signature, "verified": signature.startswith("verified")}
    if raw["verified"]:
        return Check("catalog", "catalog.signature", OK, signature, "", raw)
    return Check("catalog", "catalog.signature", WARN, _("sin verificar ({signature})").format(signature=signature),
                 _("El catálogo guardado no se verificó con la llave del municipio (una importación local o una "
                   "carga de demostración). Sincronícelo desde la API con [api] public_key configurada."), raw)


# ---- queue --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class QueueFacts:
    counts: Mapping[str, int]
    oldest_pending_age_s: float | None
    online: bool | None = None  # what the submitter last saw; None outside the app
    last_error: str = ""
    storage_error: str = ""  # a StorageError code, "" when the outbox works
    attention: Sequence[Mapping[str, str]] = field(default_factory=list)  # folio, state, reason (no personal data)

    @property
    def pending(self) -> int:
        return sum(self.counts.get(state, 0) for state in ("paid", "queued", "submitted"))


def queue_checks(facts: QueueFacts | None, max_queue_age_s: float, _: Gettext = spanish) -> list[Check]:
    if facts is None:
        return [Check("queue", "queue.backlog", OK, _("aún no hay transacciones"), "",
                      {"counts": {}, "pending": 0, "oldest_pending_age_s": None})]
    checks = [_backlog(facts, max_queue_age_s, _), _attendant(facts, _)]
    if facts.storage_error:
        checks.append(Check("queue", "queue.storage", FAIL, facts.storage_error,
                            _("La base de datos de transacciones informa {code}: el kiosco no recibe dinero hasta que "
                              "se corrija. Revise el espacio libre en disco y el dueño del archivo; vea "
                              "docs/transactions.md.").format(code=facts.storage_error),
                            {"storage_error": facts.storage_error}))
    return checks


def _backlog(facts: QueueFacts, max_queue_age_s: float, _: Gettext) -> Check:
    age = facts.oldest_pending_age_s
    raw = {"counts": dict(facts.counts), "pending": facts.pending, "oldest_pending_age_s": age,
           "online": facts.online, "last_error": facts.last_error, "max_queue_age_s": max_queue_age_s}
    value = _("{count} pendientes").format(count=facts.pending) + (
        "" if age is None else _(", la más antigua de hace {age}").format(age=human_duration(age)))
    if age is not None and age > max_queue_age_s:
        cause = " " + _("(último error: {error})").format(error=facts.last_error) if facts.last_error else ""
        return Check("queue", "queue.backlog", WARN, value,
                     _("La transacción sin enviar más antigua lleva {age} esperando, más de {limit}: la API no las "
                       "está recibiendo{cause}. Vea la verificación de la API; `kiosk queue drain` lo reintenta "
                       "ahora. No se pierde nada: siguen en la cola.").format(
                         age=human_duration(age), limit=human_duration(max_queue_age_s), cause=cause), raw)
    return Check("queue", "queue.backlog", OK, value, "", raw)


def _attendant(facts: QueueFacts, _: Gettext) -> Check:
    waiting = facts.counts.get("needs_attendant", 0)
    raw = {"needs_attendant": waiting, "rejected": facts.counts.get("rejected", 0),
           "attention": [dict(item) for item in facts.attention]}
    if waiting:
        return Check("queue", "queue.attendant", WARN, _("{count} esperan a un asesor").format(count=waiting),
                     _("{count} transacción(es) se detuvieron con dinero recibido o un resultado desconocido. Un "
                       "asesor debe resolverlas en modo atención (confirmar o devolver).").format(count=waiting), raw)
    return Check("queue", "queue.attendant", OK, _("ninguna espera a un asesor"), "", raw)


# ---- system -------------------------------------------------------------------------------------

def disk_check(path: str, free_bytes: int | None, min_free_mb: float, stop_money_mb: float,
               _: Gettext = spanish) -> Check:
    raw = {"path": path, "free_bytes": free_bytes, "min_free_mb": min_free_mb, "stop_money_mb": stop_money_mb}
    if free_bytes is None:
        return Check("system", "disk", FAIL, _("ilegible"),
                     _("No se puede examinar el directorio de datos {path}: revise que exista y esté montado.").format(
                         path=path), raw)
    free = human_mb(free_bytes)
    value = _("{size} libres").format(size=free)
    if free_bytes < stop_money_mb * MB:
        return Check("system", "disk", FAIL, value,
                     _("Solo quedan {size} libres en {path}: por debajo de {limit} MB el kiosco deja de recibir "
                       "dinero. Libere espacio (registros viejos, diario) o cambie la tarjeta o el disco.").format(
                         size=free, path=path, limit=f"{stop_money_mb:.0f}"), raw)
    if free_bytes < min_free_mb * MB:
        return Check("system", "disk", WARN, value,
                     _("Solo quedan {size} libres en {path} (atención por debajo de {warn} MB); el kiosco deja de "
                       "recibir dinero en {limit} MB. Libere espacio pronto.").format(
                         size=free, path=path, warn=f"{min_free_mb:.0f}", limit=f"{stop_money_mb:.0f}"), raw)
    return Check("system", "disk", OK, value, "", raw)


def memory_check(rss_bytes: int | None, available_bytes: int | None, total_bytes: int | None,
                 _: Gettext = spanish) -> Check:
    raw = {"rss_bytes": rss_bytes, "available_bytes": available_bytes, "total_bytes": total_bytes}
    value = _("{size} disponibles").format(size=human_mb(available_bytes) if available_bytes is not None else "?")
    if rss_bytes is not None:
        value = _("aplicación {size}, {rest}").format(size=human_mb(rss_bytes), rest=value)
    if available_bytes is not None and available_bytes < MIN_AVAILABLE_MB * MB:
        return Check("system", "memory", WARN, value,
                     _("Hay menos de {limit} MB de memoria disponible: el sistema puede matar la aplicación. Busque "
                       "otros procesos que usen memoria, o reinicie el kiosco.").format(
                         limit=f"{MIN_AVAILABLE_MB:.0f}"), raw)
    if rss_bytes is not None and rss_bytes > MAX_RSS_MB * MB:
        return Check("system", "memory", WARN, value,
                     _("La aplicación usa más de {limit} MB, varias veces su tamaño normal (¿una fuga?). Reiníciela "
                       "en un momento tranquilo e informe la versión y el tiempo encendida.").format(
                         limit=f"{MAX_RSS_MB:.0f}"), raw)
    return Check("system", "memory", OK, value, "", raw)


# ---- application --------------------------------------------------------------------------------

def config_summary(config: Any) -> dict[str, Any]:
    """What is configured, without secrets: device options, key material and URL users are left out."""
    return {
        "kiosk_id": config.kiosk.id, "location": config.kiosk.location, "municipality": config.kiosk.municipality,
        "language": config.kiosk.language, "data_dir": str(config.data_path), "source": str(config.source),
        "api_base_url": public_url(config.api.base_url), "public_key_pinned": bool(config.api.public_key),
        "sync_interval_s": config.api.sync_interval_s,
        "devices": {name: {"driver": entry.driver, "scheme": urlsplit(entry.url).scheme}
                    for name, entry in config.devices.items()},
        "fleet": {"metrics_port": config.fleet.metrics_port, "heartbeat_interval_s": config.fleet.heartbeat_interval_s,
                  "status_interval_s": config.fleet.status_interval_s},
    }


def application_checks(version: str, summary: Mapping[str, Any], app_state: Mapping[str, Any],
                       _: Gettext = spanish) -> list[Check]:
    import platform

    devices = ", ".join(f"{name} ({d['driver']} {d['scheme']}://)" for name, d in summary["devices"].items())
    return [
        Check("application", "version", OK, f"kiosk {version}, Python {platform.python_version()}", "",
              {"version": version, "python": platform.python_version()}),
        Check("application", "config", OK,
              _("{kiosk} en {location}; API {api}; dispositivos: {devices}").format(
                  kiosk=summary["kiosk_id"], location=summary["location"], api=summary["api_base_url"],
                  devices=devices or _("ninguno")), "", dict(summary)),
        Check("application", "app", OK, str(app_state.get("text", "")), "", dict(app_state)),
    ]


# ---- errors -------------------------------------------------------------------------------------

def errors_check(entries: Sequence[ErrorEntry], now: float, _: Gettext = spanish) -> Check:
    recent = [e for e in entries if e.level in ("ERROR", "CRITICAL") and now - e.at <= RECENT_ERRORS_S]
    last_hour = sum(1 for e in entries if now - e.at <= 3600)
    raw = {"kept": len(entries), "last_hour": last_hour, "recent_errors": len(recent)}
    value = _("{kept} guardados, {hour} en la última hora").format(kept=len(entries), hour=last_hour)
    if recent:
        newest = recent[0]
        return Check("errors", "errors", WARN, value,
                     _("{count} registro(s) ERROR en los últimos {minutes} min; el más reciente: {event} ({logger}). "
                       "Lea la lista de abajo o `journalctl -u kiosk`.").format(
                         count=len(recent), minutes=f"{RECENT_ERRORS_S / 60:.0f}", event=newest.event,
                         logger=newest.logger), raw)
    return Check("errors", "errors", OK, value, "", raw)
