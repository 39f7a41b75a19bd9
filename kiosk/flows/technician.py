"""The technician panel's tools, bound to the running kiosk: the health report, device tests and
a forced catalog sync (kiosk.fleet does the work; this maps each button to it).

Each tool runs on a worker thread (the staff desk calls it there) and returns the desk's Outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.flows.staff_desk import Outcome


def technician_tools(config: Any, monitor: Any, device: Callable[[str], Any], catalog_feed: Any
                     ) -> dict[str, Callable[[], Outcome]]:
    from kiosk.core.i18n import N_, Translator
    from kiosk.fleet import actions

    # The panel's results speak the kiosk's configured language, as its report does.
    _ = Translator(config.kiosk.language).gettext

    def report() -> Outcome:
        found = monitor.run_once()
        return Outcome(found is not None, "" if found is not None else _(N_("aún no hay reporte")), found)

    def outcome_of(result: Any) -> Outcome:
        return Outcome(result.ok, result.message, result)

    def self_tests() -> Outcome:
        """Every device's own self-test; the results show in the report from now on."""
        results = [actions.self_test(adapter, _) for adapter in monitor.sources.devices().values()]
        for result in results:
            if "device" in result.details:
                monitor.record_self_test(result.details)
        failed = [result.message for result in results if not result.ok]
        return Outcome(not failed, "; ".join(failed) or _("{count} autopruebas superadas").format(count=len(results)),
                       results)

    return {
        "report": report,
        "test_print": lambda: outcome_of(actions.test_print(device("printer"), config, _=_)),
        "read_card": lambda: outcome_of(actions.read_card(device("card_reader"), _)),
        "poll_cash": lambda: outcome_of(actions.poll_cash(device("cash"), _)),
        "force_sync": lambda: outcome_of(actions.force_sync(catalog_feed, _=_)),
        "self_test": self_tests,
    }
