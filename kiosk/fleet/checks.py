"""From facts to checks: pure functions, one per thing a technician looks at.

They take plain values (numbers, dicts as the adapters and stores report them) and return
`Check`s, so every threshold and every message is tested without hardware or network. The
probes that gather the facts are in kiosk/fleet/probes.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from kiosk.fleet.errorlog import ErrorEntry
from kiosk.fleet.model import FAIL, OK, WARN, Check, worst

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
    "retry": "It usually recovers by itself; if it persists check its cable, power and connection.",
    "citizen": "The citizen can fix it at the device.",
    "technician": "A technician must check the device.",
    "replace_consumable": "Load paper or refill it.",
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
                 self_test: Mapping[str, Any] | None = None) -> Check:
    """One device from its `Status.to_dict()` (plus capabilities, diagnostics, a self-test)."""
    name, state, reason = str(status["name"]), str(status["state"]), str(status["reason"])
    supplies: dict[str, str] = dict(status.get("supplies") or {})
    verdicts = [STATE_STATUS.get(state, WARN)] + [SUPPLY_STATUS.get(level, WARN) for level in supplies.values()]
    problems = []
    if STATE_STATUS.get(state, WARN) != OK:
        message = (status.get("message") or {}).get("en", reason)
        problems.append(f"{state} ({reason}): {message} {ADVICE.get(str(status.get('action')), '')}".strip())
    problems += [f"{supply} {level}." for supply, level in supplies.items() if SUPPLY_STATUS.get(level, WARN) != OK]
    if self_test is not None and not self_test.get("ok"):
        verdicts.append(FAIL)
        failed = [c["name"] for c in self_test.get("checks", []) if not c.get("ok")]
        problems.append(f"self-test failed ({', '.join(failed) or self_test.get('reason', '')}).")
    value = state if reason in ("ok", "busy") else f"{state} ({reason})"
    if supplies:
        value += "; " + ", ".join(f"{supply} {level}" for supply, level in supplies.items())
    if self_test is not None:
        value += f"; self-test {'passed' if self_test.get('ok') else 'FAILED'}"
    raw = {"kind": status.get("kind"), "driver": status.get("driver"), "url": without_query(str(status.get("url", ""))),
           "state": state, "reason": reason, "action": status.get("action"), "supplies": supplies,
           "last_error": status.get("last_error", ""), "last_error_at": status.get("last_error_at"),
           "last_ok_at": status.get("last_ok_at"), "counters": dict(status.get("counters") or {}),
           "capabilities": dict(capabilities or {}), "diagnostics": dict(diagnostics or {}),
           "self_test": dict(self_test) if self_test is not None else None}
    return Check("devices", f"device.{name}", worst(verdicts), value, " ".join(problems), raw)


def device_not_open_check(name: str, driver: str) -> Check:
    return Check("devices", f"device.{name}", WARN, "not open",
                 "The app has not opened this device yet (it does just after starting); if this lasts, "
                 "check [devices] in the configuration and the logs.",
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


def api_check(probe: ApiProbe) -> Check:
    raw = {"url": public_url(probe.url), "up": probe.reachable and probe.http_status == 200,
           "http_status": probe.http_status, "latency_s": probe.latency_s, "error": probe.error,
           "server_catalog_revision": probe.server_revision}
    if not probe.reachable:
        return Check("network", "api", FAIL, f"unreachable ({probe.error})",
                     f"The municipal API at {raw['url']} does not answer ({probe.error}). Payments queue up and "
                     "the catalog ages; check the network cable or Wi-Fi, DNS, the proxy and the API's status.", raw)
    latency = f"{(probe.latency_s or 0) * 1000:.0f} ms"
    if probe.http_status != 200:
        return Check("network", "api", FAIL, f"HTTP {probe.http_status} in {latency}",
                     f"The API answers its health check with HTTP {probe.http_status}; it is up but unwell: "
                     "report it to the API's operators.", raw)
    if (probe.latency_s or 0) > SLOW_API_S:
        return Check("network", "api", WARN, f"slow: {latency}",
                     f"The API took {latency} to answer its health check (over {SLOW_API_S:.0f} s): citizens "
                     "wait on every lookup. Check the link's quality and the API's load.", raw)
    return Check("network", "api", OK, f"reachable, {latency}", "", raw)


def heartbeat_check(last: Mapping[str, Any] | None, interval_s: float) -> Check | None:
    """The last heartbeat's outcome (only inside the app, which sends them)."""
    if interval_s <= 0:
        return Check("network", "heartbeat", OK, "off ([fleet] heartbeat_interval_s = 0)", "", {"enabled": False})
    if last is None:
        return None
    raw = dict(last, enabled=True)
    if last.get("ok"):
        return Check("network", "heartbeat", OK, f"sent, HTTP {last.get('status_code')}", "", raw)
    return Check("network", "heartbeat", WARN, f"failed ({last.get('error') or last.get('status_code')})",
                 "The last heartbeat did not reach the API, so the city's fleet view shows this kiosk as silent. "
                 "If the API check is fine, the API may not offer /v1/kiosks/{id}/heartbeat yet.", raw)


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


def tls_check(base_url: str, probe: TlsProbe | None, warn_days: int, now: float) -> Check:
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if parts.scheme != "https":
        raw = {"tls": False, "host": host}
        if _loopback(host):
            return Check("tls", "tls", OK, "not TLS (API on loopback)", "", raw)
        return Check("tls", "tls", WARN, "not TLS",
                     "The API is reached over plain http: payments and the kiosk's identity travel unencrypted. "
                     "Set [api] base_url to the https:// address.", raw)
    if probe is None or not probe.connected:
        problem = probe.problem if probe else "not checked"
        return Check("tls", "tls", WARN, f"not checked ({problem})",
                     "The certificate could not be read because the API is unreachable; see the API check.",
                     {"tls": True, "host": host, "error": problem})
    days_left = None if probe.not_after is None else (probe.not_after - now) / 86400
    expires = "?" if probe.not_after is None else dt.datetime.fromtimestamp(probe.not_after, dt.UTC).date().isoformat()
    raw = {"tls": True, "host": host, "port": probe.port, "verified": probe.verified, "problem": probe.problem,
           "not_after": probe.not_after, "days_left": None if days_left is None else round(days_left, 2),
           "subject": probe.subject, "issuer": probe.issuer}
    if days_left is not None and days_left <= 0:
        return Check("tls", "tls", FAIL, f"expired on {expires}",
                     f"The API's certificate expired on {expires}: the kiosk refuses the connection, so nothing syncs "
                     "or gets paid online. The API's operators must renew it.", raw)
    if not probe.verified:
        return Check("tls", "tls", FAIL, f"not trusted ({probe.problem})",
                     f"The API's certificate does not verify ({probe.problem}): the kiosk refuses the connection. "
                     "Check the CA bundle the kiosk trusts and the API's certificate chain and host name.", raw)
    if days_left is not None and days_left <= warn_days:
        return Check("tls", "tls", WARN, f"expires in {days_left:.0f} days ({expires})",
                     f"The API's certificate expires on {expires}, within {warn_days} days: ask the API's "
                     "operators to renew it before the kiosks lose the connection.", raw)
    left = "?" if days_left is None else f"{days_left:.0f}"
    return Check("tls", "tls", OK, f"valid until {expires} ({left} days)", "", raw)


# ---- catalog ------------------------------------------------------------------------------------

def catalog_checks(status: Mapping[str, Any] | None, max_sync_age_s: float) -> list[Check]:
    """From `CatalogStore.status()` (None: nothing stored)."""
    if status is None or status.get("revision") is None:
        return [Check("catalog", "catalog.age", FAIL, "no catalog",
                      "No catalog has been stored: citizens see the bundled sample at best. Run `kiosk sync` "
                      "(the API must be reachable and [api] public_key set).", dict(status or {}))]
    return [_catalog_age(status, max_sync_age_s), _catalog_signature(status)]


def _catalog_age(status: Mapping[str, Any], max_sync_age_s: float) -> Check:
    age = status.get("age_s")
    error = status.get("last_error") or {}
    failing = f" The last attempt failed: {error.get('reason')} ({error.get('message')})." if error else ""
    raw = {"revision": status.get("revision"), "age_s": age, "synced_at": status.get("synced_at"),
           "expires_at": status.get("expires_at"), "expired": bool(status.get("expired")),
           "records": status.get("records"), "active": status.get("active"), "last_error": error or None,
           "max_sync_age_s": max_sync_age_s}
    value = f"revision {status.get('revision')}, " + ("never synced" if age is None else
                                                      f"synced {human_duration(age)} ago")
    if status.get("expired"):
        return Check("catalog", "catalog.age", FAIL, value + ", EXPIRED",
                     f"The catalog's signed manifest expired at {status.get('expires_at')}: the kiosk shows a frozen "
                     f"catalog whose fees may be wrong.{failing} Restore the connection to the API.", raw)
    if age is None or age > max_sync_age_s:
        return Check("catalog", "catalog.age", WARN, value,
                     f"The catalog has not synced for more than {human_duration(max_sync_age_s)}.{failing} "
                     "Check the API check; `kiosk sync` or the Force sync button retries now.", raw)
    return Check("catalog", "catalog.age", OK, value, "", raw)


def _catalog_signature(status: Mapping[str, Any]) -> Check:
    signature = str(status.get("signature") or "none")
    raw = {"signature": signature, "verified": signature.startswith("verified")}
    if raw["verified"]:
        return Check("catalog", "catalog.signature", OK, signature, "", raw)
    return Check("catalog", "catalog.signature", WARN, f"not verified ({signature})",
                 "The stored catalog was not verified against the municipality's key (a local import or a demo "
                 "load). Sync it from the API with [api] public_key set.", raw)


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


def queue_checks(facts: QueueFacts | None, max_queue_age_s: float) -> list[Check]:
    if facts is None:
        return [Check("queue", "queue.backlog", OK, "no transactions yet", "", {"counts": {}, "pending": 0,
                                                                                "oldest_pending_age_s": None})]
    checks = [_backlog(facts, max_queue_age_s), _attendant(facts)]
    if facts.storage_error:
        checks.append(Check("queue", "queue.storage", FAIL, facts.storage_error,
                            f"The transaction database reports {facts.storage_error}: the kiosk takes no money until "
                            "it is fixed. Check free disk space and the file's owner; see docs/transactions.md.",
                            {"storage_error": facts.storage_error}))
    return checks


def _backlog(facts: QueueFacts, max_queue_age_s: float) -> Check:
    age = facts.oldest_pending_age_s
    raw = {"counts": dict(facts.counts), "pending": facts.pending, "oldest_pending_age_s": age,
           "online": facts.online, "last_error": facts.last_error, "max_queue_age_s": max_queue_age_s}
    value = f"{facts.pending} pending" + ("" if age is None else f", oldest {human_duration(age)}")
    if age is not None and age > max_queue_age_s:
        cause = f" (last error: {facts.last_error})" if facts.last_error else ""
        return Check("queue", "queue.backlog", WARN, value,
                     f"The oldest unsent transaction has waited {human_duration(age)}, over "
                     f"{human_duration(max_queue_age_s)}: the API is not taking them{cause}. Check the API check; "
                     "`kiosk queue drain` retries now. Nothing is lost: they stay queued.", raw)
    return Check("queue", "queue.backlog", OK, value, "", raw)


def _attendant(facts: QueueFacts) -> Check:
    waiting = facts.counts.get("needs_attendant", 0)
    raw = {"needs_attendant": waiting, "rejected": facts.counts.get("rejected", 0),
           "attention": [dict(item) for item in facts.attention]}
    if waiting:
        return Check("queue", "queue.attendant", WARN, f"{waiting} need an attendant",
                     f"{waiting} transaction(s) stopped with money taken or an unknown outcome. An attendant must "
                     "resolve them in assisted mode (confirm or refund).", raw)
    return Check("queue", "queue.attendant", OK, "none waiting for an attendant", "", raw)


# ---- system -------------------------------------------------------------------------------------

def disk_check(path: str, free_bytes: int | None, min_free_mb: float, stop_money_mb: float) -> Check:
    raw = {"path": path, "free_bytes": free_bytes, "min_free_mb": min_free_mb, "stop_money_mb": stop_money_mb}
    if free_bytes is None:
        return Check("system", "disk", FAIL, "unreadable",
                     f"The data directory {path} cannot be examined: check that it exists and is mounted.", raw)
    free = human_mb(free_bytes)
    if free_bytes < stop_money_mb * MB:
        return Check("system", "disk", FAIL, f"{free} free",
                     f"Only {free} free in {path}: below {stop_money_mb:.0f} MB the kiosk stops taking money. "
                     "Free space (old logs, journal) or replace the card/disk.", raw)
    if free_bytes < min_free_mb * MB:
        return Check("system", "disk", WARN, f"{free} free",
                     f"Only {free} free in {path} (attention below {min_free_mb:.0f} MB); the kiosk stops taking "
                     f"money at {stop_money_mb:.0f} MB. Free space soon.", raw)
    return Check("system", "disk", OK, f"{free} free", "", raw)


def memory_check(rss_bytes: int | None, available_bytes: int | None, total_bytes: int | None) -> Check:
    raw = {"rss_bytes": rss_bytes, "available_bytes": available_bytes, "total_bytes": total_bytes}
    value = f"{human_mb(available_bytes) if available_bytes is not None else '?'} available"
    if rss_bytes is not None:
        value = f"app {human_mb(rss_bytes)}, {value}"
    if available_bytes is not None and available_bytes < MIN_AVAILABLE_MB * MB:
        return Check("system", "memory", WARN, value,
                     f"Less than {MIN_AVAILABLE_MB:.0f} MB of memory is available: the system may kill the app. "
                     "Look for other processes using memory, or restart the kiosk.", raw)
    if rss_bytes is not None and rss_bytes > MAX_RSS_MB * MB:
        return Check("system", "memory", WARN, value,
                     f"The app uses over {MAX_RSS_MB:.0f} MB, several times its normal size (a leak?). Restart the "
                     "app at a quiet moment and report the version and uptime.", raw)
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


def application_checks(version: str, summary: Mapping[str, Any], app_state: Mapping[str, Any]) -> list[Check]:
    import platform

    devices = ", ".join(f"{name} ({d['driver']} {d['scheme']}://)" for name, d in summary["devices"].items())
    return [
        Check("application", "version", OK, f"kiosk {version}, Python {platform.python_version()}", "",
              {"version": version, "python": platform.python_version()}),
        Check("application", "config", OK,
              f"{summary['kiosk_id']} at {summary['location']}; API {summary['api_base_url']}; "
              f"devices: {devices or 'none'}", "", dict(summary)),
        Check("application", "app", OK, str(app_state.get("text", "")), "", dict(app_state)),
    ]


# ---- errors -------------------------------------------------------------------------------------

def errors_check(entries: Sequence[ErrorEntry], now: float) -> Check:
    recent = [e for e in entries if e.level in ("ERROR", "CRITICAL") and now - e.at <= RECENT_ERRORS_S]
    last_hour = sum(1 for e in entries if now - e.at <= 3600)
    raw = {"kept": len(entries), "last_hour": last_hour, "recent_errors": len(recent)}
    value = f"{len(entries)} kept, {last_hour} in the last hour"
    if recent:
        newest = recent[0]
        return Check("errors", "errors", WARN, value,
                     f"{len(recent)} ERROR record(s) in the last {RECENT_ERRORS_S / 60:.0f} min; the newest: "
                     f"{newest.event} ({newest.logger}). Read the list below or `journalctl -u kiosk`.", raw)
    return Check("errors", "errors", OK, value, "", raw)
