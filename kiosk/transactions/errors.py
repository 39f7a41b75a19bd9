"""Refusals the transaction service and the attendant desk raise, with plain sentences.

Kept apart from service.py so the attendant and cash-office modules can raise `Refused` without
importing the service (which imports them). A refusal carries its stable code (logs, metrics,
tests) and its sentence as a Spanish msgid of the kiosk's catalogue; the screen that shows it
translates it (`translator.gettext(error.message)`) in the reader's language.
"""

from __future__ import annotations

from kiosk.core.errors import TransactionError
from kiosk.core.i18n import N_

# Plain reasons, in Spanish (the msgids), for what cannot be done now.
REASONS: dict[str, str] = {
    "ok": "",
    "network.lookup_needs_network": N_(
        "Sin conexión no podemos consultar su adeudo. Si trae su recibo impreso, puede pagar en efectivo "
        "escaneando su código."),
    "network.card_needs_network": N_("Sin conexión no se puede pagar con tarjeta. Puede pagar en efectivo."),
    "network.cash_offline_disabled": N_("Sin conexión este cajero no recibe pagos."),
    "printer.not_ready": N_("La impresora no está lista, por eso no recibimos pagos ahora. No se cobró nada."),
    "device.no_payment_terminal": N_("Este cajero no acepta tarjeta."),
    "device.no_cash": N_("Este cajero no acepta efectivo."),
    "cash.no_change": N_("Este cajero no da cambio: deposite el importe exacto."),
    "bill.paid_up": N_("Su cuenta está al corriente: no hay nada que pagar."),
    "account.not_found": N_("No encontramos esa cuenta. Revise el número."),
    "procedure.not_payable": N_("Este trámite no se puede pagar en el cajero."),
    # attendant desk and cash office (kiosk/transactions/attendant.py, cash_office.py)
    "attendant.not_in_attention": N_(
        "Esta operación ya no espera a un asesor: alguien la resolvió o cambió de estado."),
    "attendant.staff_id": N_("Identificador de asesor no válido."),
    "attendant.note_required": N_("Escriba una nota: qué revisó y qué encontró."),
    "attendant.note_too_long": N_("La nota es demasiado larga (máximo 200 caracteres)."),
    "attendant.note_personal_data": N_(
        "La nota parece tener datos personales (tarjeta, CURP, RFC, correo o número largo). Quítelos."),
    "attendant.partial_cash": N_(
        "Solo se recibió parte del importe en efectivo: no se puede confirmar; emita un vale de devolución."),
    "attendant.api_refused": N_(
        "La tesorería ya rechazó esta operación: no se puede volver a enviar; emita un vale de devolución."),
    "attendant.api_unverified": N_(
        "Aún no sabemos si la tesorería aplicó esta operación: el cajero se lo está preguntando. Espere antes "
        "de devolver el dinero."),
    "attendant.api_applied": N_(
        "La tesorería sí aplicó este pago: quedó confirmado y no se devuelve. Reimprima el recibo para el "
        "ciudadano."),
    "attendant.api_unreachable_for_refund": N_(
        "No podemos preguntar a la tesorería si aplicó este pago (sin conexión). Intente la devolución más "
        "tarde."),
    "attendant.retry_window_over": N_(
        "Pasó el plazo de reintentos: consulte a la tesorería si el folio se aplicó antes de resolver."),
    "attendant.money_recorded": N_(
        "El cajero registró efectivo para esta operación: no puede cerrarse como «sin cobro»; emita un vale."),
    "attendant.still_recording": N_(
        "El cajero aún no termina de registrar este dinero (el disco lo rechaza): espere, o llame a soporte "
        "técnico."),
    "attendant.no_receipt": N_("No hay un recibo reciente que reimprimir."),
    "attendant.no_receipt_for_folio": N_("Ese folio no tiene un recibo válido: el pago no se completó."),
    "attendant.unknown_folio": N_("No se encontró ese folio en este cajero."),
    "attendant.unknown_voucher": N_("No se encontró ese vale en este cajero."),
    "cash.unknown_collection": N_("No se encontró esa recolección."),
    "cash.nothing_to_collect": N_("No hay efectivo ni vales nuevos desde la última recolección."),
}

TECHNICAL_PROBLEM = N_("No se pudo continuar por un problema técnico.")


class Refused(TransactionError):
    """The service will not start or continue this operation.

    `code` indexes REASONS or offline_cache.outbox.STORAGE_MESSAGES; `message` is the sentence
    for people (a Spanish msgid: REASONS[code] unless given); `detail` is for logs only."""

    def __init__(self, code: str, message: str = "", detail: str = ""):
        self.code, self.message, self.detail = code, message or REASONS.get(code, ""), detail
        super().__init__(f"{code}: {detail}" if detail else code)
