"""Refusals the transaction service and the attendant desk raise, with plain sentences.

Kept apart from service.py so the attendant and cash-office modules can raise `Refused` without
importing the service (which imports them).
"""

from __future__ import annotations

from kiosk.core.errors import TransactionError

# Plain reasons (es, en) for what cannot be done now.
REASONS: dict[str, tuple[str, str]] = {
    "ok": ("", ""),
    "network.lookup_needs_network": (
        "Sin conexión no podemos consultar su adeudo. Si trae su recibo impreso, puede pagar en efectivo "
        "escaneando su código.", "debt lookup needs the network; cash against a printed bill works offline"),
    "network.card_needs_network": (
        "Sin conexión no se puede pagar con tarjeta. Puede pagar en efectivo.",
        "the card terminal needs the network; cash is accepted offline"),
    "network.cash_offline_disabled": ("Sin conexión este cajero no recibe pagos.", "offline cash is disabled"),
    "printer.not_ready": ("La impresora no está lista, por eso no recibimos pagos ahora. No se cobró nada.",
                          "printer not ready: no money is taken without a receipt"),
    "device.no_payment_terminal": ("Este cajero no acepta tarjeta.", "no card terminal configured"),
    "device.no_cash": ("Este cajero no acepta efectivo.", "no cash device configured"),
    "cash.no_change": ("Este cajero no da cambio: deposite el importe exacto.", "no change available"),
    "bill.paid_up": ("Su cuenta está al corriente: no hay nada que pagar.", "nothing to pay"),
    "account.not_found": ("No encontramos esa cuenta. Revise el número.", "no such account"),
    "procedure.not_payable": ("Este trámite no se puede pagar en el cajero.", "procedure not payable at the kiosk"),
    # attendant desk and cash office (kiosk/transactions/attendant.py, cash_office.py)
    "attendant.not_in_attention": (
        "Esta operación ya no espera a un asesor: alguien la resolvió o cambió de estado.",
        "the transaction is not in needs_attendant (already resolved, or never was)"),
    "attendant.staff_id": ("Identificador de asesor no válido.",
                           "staff identifier must be 1-32 letters, digits, '.', '_' or '-'"),
    "attendant.note_required": ("Escriba una nota: qué revisó y qué encontró.",
                                "a note is required for confirm and refund"),
    "attendant.note_too_long": ("La nota es demasiado larga (máximo 200 caracteres).",
                                "the note is longer than 200 characters"),
    "attendant.note_personal_data": (
        "La nota parece tener datos personales (tarjeta, CURP, RFC, correo o número largo). Quítelos.",
        "the note looks like it holds personal data (card or ID number, CURP, RFC, e-mail)"),
    "attendant.partial_cash": (
        "Solo se recibió parte del importe en efectivo: no se puede confirmar; emita un vale de devolución.",
        "only part of the amount was inserted: refund it with a voucher"),
    "attendant.api_refused": (
        "La tesorería ya rechazó esta operación: no se puede volver a enviar; emita un vale de devolución.",
        "the API answered this key definitively with a refusal; resending replays it: refund instead"),
    "attendant.api_unverified": (
        "Aún no sabemos si la tesorería aplicó esta operación: el cajero se lo está preguntando. Espere antes de "
        "devolver el dinero.", "the API has not said yet whether it applied this key: no refund until it does"),
    "attendant.api_applied": (
        "La tesorería sí aplicó este pago: quedó confirmado y no se devuelve. Reimprima el recibo para el ciudadano.",
        "the API applied this key: recorded as confirmed; a refund would move the money twice"),
    "attendant.api_unreachable_for_refund": (
        "No podemos preguntar a la tesorería si aplicó este pago (sin conexión). Intente la devolución más tarde.",
        "the API cannot be asked whether it applied this key: the refund waits until it can"),
    "attendant.retry_window_over": (
        "Pasó el plazo de reintentos: consulte a la tesorería si el folio se aplicó antes de resolver.",
        "past the retry window a resend could apply twice: ask the treasury whether the folio was applied"),
    "attendant.money_recorded": (
        "El cajero registró efectivo para esta operación: no puede cerrarse como «sin cobro»; emita un vale.",
        "cash credits are recorded for this transaction: refund them with a voucher"),
    "attendant.still_recording": (
        "El cajero aún no termina de registrar este dinero (el disco lo rechaza): espere, o llame a soporte técnico.",
        "the outbox refuses writes: the money is journalled and is recorded as soon as it accepts them"),
    "attendant.no_receipt": ("No hay un recibo reciente que reimprimir.", "no receipt within retention to reprint"),
    "attendant.no_receipt_for_folio": ("Ese folio no tiene un recibo válido: el pago no se completó.",
                                       "that transaction produced no receipt (not paid, or cancelled)"),
    "attendant.unknown_folio": ("No se encontró ese folio en este cajero.", "no transaction with that folio"),
    "attendant.unknown_voucher": ("No se encontró ese vale en este cajero.", "no voucher with that number"),
    "cash.unknown_collection": ("No se encontró esa recolección.", "no collection with that number"),
    "cash.nothing_to_collect": ("No hay efectivo ni vales nuevos desde la última recolección.",
                                "nothing new since the last collection: nothing recorded"),
}


class Refused(TransactionError):
    """The service will not start or continue this operation; `code` indexes REASONS or STORAGE_MESSAGES."""

    def __init__(self, code: str, message_es: str = "", message_en: str = ""):
        es, en = REASONS.get(code, (message_es, message_en))
        self.code, self.message_es, self.message_en = code, message_es or es, message_en or en
        super().__init__(f"{code}: {self.message_en}")
