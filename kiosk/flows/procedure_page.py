"""A procedure's page: the six questions every citizen has, answered from its catalog record.

1. what it is and who may apply; 2. which office handles it; 3. where that office is, today's
hours and whether it is open now; 4. which documents to bring ("original y 2 copias");
5. what comes before or after; 6. how long it takes and what it costs, exactly as the catalog
states it (fixed, range, formula, free, variable; discounts in force today).

The result is a list of sections of plain text; the view splits them into pages that fit.
Clock and language are passed in, so the same record reads right on any day in any language.

"Solicitar aquí" is offered only when the kiosk can price the request today: every cost it would
charge is fixed or free and in force. A procedure whose price depends on the case (a range, a
formula) says instead where and how to request it, from the catalog's offices and channels.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from kiosk.catalog.model import amount_due, kiosk_actions
from kiosk.catalog.navtree import text_in
from kiosk.core.i18n import Translator

Record = Mapping[str, Any]
_DURATION = re.compile(
    r"P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Action:
    key: str  # pay, request or print
    label: str


def format_money(amount: str | Decimal, currency: str = "MXN") -> str:
    """'1234.5' -> '$1,234.50 MXN' (how amounts are written in Mexico, with the code to be exact)."""
    try:
        value = Decimal(amount)
    except (InvalidOperation, TypeError):
        return f"{amount} {currency}"
    return f"${value:,.2f} {currency}"


def format_cents(cents: int, currency: str = "MXN") -> str:
    """An amount kept in cents (payments, vouchers), written like format_money."""
    return format_money(Decimal(cents) / 100, currency)


def kiosk_can_price(record: Record, on: dt.date) -> bool:
    """Whether a request made at the kiosk on `on` has a price known in advance: each cost payable
    at the kiosk is fixed or free and in force that day. The transaction service charges exactly
    these (kiosk.transactions.service, `_procedure_amount`) and refuses the rest."""
    return all(amount_due(cost, on) is not None for cost in record.get("costs") or ()
               if "kiosk" in (cost.get("payment_places") or ("kiosk",)))


class PageWriter:
    def __init__(self, translator: Translator, now: Callable[[], dt.datetime] = dt.datetime.now):
        self._ = translator.gettext
        self._n = translator.ngettext
        self.language = translator.language
        self.now = now

    def text(self, value: Any) -> str:
        return text_in(value, self.language)

    # -- the page ---------------------------------------------------------------------------
    def sections(self, record: Record, catalog: Callable[[str], Record | None],
                 followers: Sequence[Record] = ()) -> list[Section]:
        return [
            Section("what", self._("¿Qué es y quién puede hacerlo?"), tuple(self.what(record))),
            Section("where", self._("¿Dónde se hace?"), tuple(self.where(record))),
            Section("bring", self._("¿Qué debe llevar?"), tuple(self.documents(record))),
            Section("order", self._("¿Qué va antes y después?"),
                    tuple(self.before_after(record, catalog, followers))),
            Section("cost", self._("¿Cuánto tarda y cuánto cuesta?"), tuple(self.time_and_cost(record))),
        ]

    def actions(self, record: Record) -> list[Action]:
        can = kiosk_actions(record)
        actions = []
        # Requesting includes paying the procedure's price; "pay" alone means a debt on an account.
        # A request the kiosk cannot price today is not offered (the page says where to make it).
        if can.get("request"):
            if kiosk_can_price(record, self.now().date()):
                actions.append(Action("request", self._("Solicitar aquí")))
        elif can.get("pay"):
            actions.append(Action("pay", self._("Pagar aquí")))
        actions.append(Action("print", self._("Imprimir esta información")))
        return actions

    # -- 1. what and who ----------------------------------------------------------------------
    def what(self, record: Record) -> list[str]:
        summary = self.text(record.get("summary"))
        description = self.text(record.get("description"))
        if description.startswith(summary):  # many catalogs repeat the summary as the first sentence
            description = description[len(summary):].strip()
        lines = [summary, description]
        who = {
            "persona_fisica": self._("Personas"),
            "persona_moral": self._("Empresas y organizaciones"),
            "cualquiera": self._("Cualquier persona"),
        }
        audiences = [who.get(entry.get("who"), entry.get("who", "")) for entry in record.get("audience") or ()]
        if audiences:
            lines.append(self._("Quién puede hacerlo: {who}.").format(who=", ".join(audiences)))
        return [line for line in lines if line]

    # -- 2 and 3. office, place, hours --------------------------------------------------------
    def where(self, record: Record) -> list[str]:
        lines = []
        authority = record.get("authority") or {}
        name = self.text(authority.get("name"))
        unit = self.text(authority.get("unit"))
        if name:
            lines.append(self._("Lo atiende: {office}.").format(office=", ".join(filter(None, (name, unit)))))
        for office in (record.get("offices") or ())[:2]:
            lines += self.office(office)
        if not record.get("offices"):
            lines.append(self._("Este trámite no se hace en una oficina."))
        if kiosk_actions(record).get("request") and not kiosk_can_price(record, self.now().date()):
            lines.append(self.request_elsewhere(record))
        return lines

    def request_elsewhere(self, record: Record) -> str:
        """Why the kiosk does not take this request, and the catalog's other ways to make it."""
        offices = {office.get("id"): office for office in record.get("offices") or ()}
        ways: list[str] = []
        for channel in record.get("channels") or ():
            kind = channel.get("type")
            if kind == "in_person":
                names = [self.text(offices[i].get("name")) for i in channel.get("office_ids") or () if i in offices]
                ways.append(self._("en {office}").format(office=names[0]) if names else self._("en la oficina"))
            elif kind == "phone" and channel.get("phone"):
                ways.append(self._("por teléfono al {phone}").format(phone=channel["phone"]))
            elif kind == "online" and channel.get("url"):
                ways.append(self._("en internet: {url}").format(url=channel["url"]))
        line = self._("En este kiosco no se puede solicitar: el costo depende de su caso.")
        ways = list(dict.fromkeys(ways))
        if ways:
            either = ways[0] if len(ways) == 1 else self._("{first} o {last}").format(
                first=", ".join(ways[:-1]), last=ways[-1])
            line += " " + self._("Puede solicitarlo {ways}.").format(ways=either)
        return line

    def office(self, office: Record) -> list[str]:
        address = office.get("address") or {}
        place = ", ".join(filter(None, (address.get("building"), address.get("floor"), address.get("window"))))
        street = " ".join(filter(None, (address.get("street"), address.get("number"))))
        lines = [self.text(office.get("name"))]
        if place:
            lines.append(place)
        if street:
            lines.append(", ".join(filter(None, (street, address.get("locality")))))
        lines.append(self.today(office))
        return lines

    def today(self, office: Record) -> str:
        now = self.now()
        for closure in office.get("closures") or ():
            if closure.get("date") == now.date().isoformat():
                reason = self.text(closure.get("reason"))
                return self._("Hoy está cerrado ({reason}).").format(reason=reason) if reason else self._(
                    "Hoy está cerrado.")
        spans = [span for span in office.get("hours") or () if now.isoweekday() in span.get("days") or ()]
        if not spans:
            return self._("Hoy no abre.")
        hours = self._(" y ").join(
            self._("de {opens} a {closes}").format(opens=span["opens"], closes=span["closes"]) for span in spans
        )
        clock = now.strftime("%H:%M")
        open_now = any(span["opens"] <= clock < span["closes"] for span in spans)
        state = self._("abierto ahora") if open_now else self._("cerrado en este momento")
        return self._("Hoy abre {hours}: {state}.").format(hours=hours, state=state)

    # -- 4. documents ---------------------------------------------------------------------------
    def documents(self, record: Record) -> list[str]:
        lines = []
        for requirement in record.get("requirements") or ():
            name = self.text(requirement.get("name"))
            copies = self.copies(requirement)
            issuer = self.text(requirement.get("issued_by"))
            line = f"• {name}" + (f": {copies}" if copies else "")
            if issuer:
                line += " " + self._("(lo expide {issuer})").format(issuer=issuer)
            lines.append(line + ".")
        return lines or [self._("No necesita llevar documentos.")]

    def copies(self, requirement: Record) -> str:
        parts = []
        if requirement.get("original"):
            parts.append(self._("original"))
        if requirement.get("copies"):
            count = requirement["copies"]
            parts.append(self._n("{count} copia", "{count} copias", count).format(count=count))
        if requirement.get("certified_copies"):
            count = requirement["certified_copies"]
            parts.append(self._n("{count} copia certificada", "{count} copias certificadas", count).format(count=count))
        if len(parts) > 1:
            return self._("{first} y {last}").format(first=", ".join(parts[:-1]), last=parts[-1])
        return parts[0] if parts else ""

    # -- 5. before and after -------------------------------------------------------------------
    def before_after(self, record: Record, catalog: Callable[[str], Record | None],
                     followers: Sequence[Record] = ()) -> list[str]:
        lines = []
        for requirement in record.get("requirements") or ():
            other = requirement.get("procedure_id")
            if other and other != record.get("id"):
                previous = catalog(other)
                name = self.text(previous.get("name")) if previous else self.text(requirement.get("name"))
                lines.append(self._("Antes: {procedure}.").format(procedure=name))
        if not lines:
            lines.append(self._("No necesita hacer otro trámite antes."))
        for channel in record.get("channels") or ():
            steps = [self.text(step) for step in channel.get("steps") or ()]
            if steps:
                lines.append(self._("Pasos:"))
                lines += [f"{number}. {step}" for number, step in enumerate(steps, start=1)]
                break
        for output in record.get("outputs") or ():
            lines.append(self._("Al final recibe: {output}.").format(output=self.output(output)))
        for follower in followers[:3]:
            lines.append(self._("Después puede hacer: {procedure}.").format(procedure=self.text(follower.get("name"))))
        return lines

    def how_to_obtain(self, record: Record, issued: bool = False) -> list[str]:
        """After a request at the kiosk: what the citizen gets, when and where, from the catalog's
        outputs, deadlines, offices and online channel (the screen and the receipt say it)."""
        outputs = record.get("outputs") or ()
        lines = [self._("Su documento: {output}.").format(output=self.output(outputs[0]))] if outputs else []
        if issued:
            lines.append(self._("Ya está emitido: descárguelo con el código QR de su recibo."))
        else:
            kinds = {deadline.get("kind"): deadline for deadline in record.get("deadlines") or ()}
            chosen = kinds.get("delivery") or kinds.get("resolve")
            if chosen and chosen.get("duration"):
                lines.append(self._("Estará listo en {time}.").format(time=self.duration(
                    chosen["duration"], business=chosen.get("day_kind") == "business")))
        for office in (record.get("offices") or ())[:1]:
            lines.append(self._("Dónde recogerlo: {office}.").format(office=self.text(office.get("name"))))
            lines += self.office(office)[1:]
        url = next((channel.get("url") for channel in record.get("channels") or ()
                    if channel.get("type") == "online" and channel.get("url")), "")
        if url:
            lines.append(self._("Consulte el avance en línea: {url}").format(url=url))
        return lines

    def output(self, output: Record) -> str:
        name = self.text(output.get("name"))
        validity = output.get("validity")
        if validity:
            return self._("{name}, válido {duration}").format(name=name, duration=self.duration(validity))
        return name

    # -- 6. time and cost ----------------------------------------------------------------------
    def time_and_cost(self, record: Record) -> list[str]:
        lines = [line for deadline in record.get("deadlines") or () if (line := self.deadline(deadline))]
        if not lines:  # said outright, like a missing cost: silence would read as "no wait"
            lines.append(self._("El catálogo no indica cuánto tarda."))
        today = self.now().date()
        costs = [cost for cost in record.get("costs") or () if _in_force(cost, today)]
        lines += [self.cost(cost, today) for cost in costs] or [self._("El catálogo no indica el costo.")]
        return lines

    def deadline(self, deadline: Record) -> str:
        duration = deadline.get("duration")
        if not duration:
            return self.text(deadline.get("text"))
        length = self.duration(duration, business=deadline.get("day_kind") == "business")
        templates: dict[str | None, str] = {
            "resolve": self._("Tiempo de respuesta: {time}."),
            "prevent": self._("Si falta algo, le avisan en un plazo de {time}."),
            "answer_prevention": self._("Tiene {time} para completar lo que falte."),
            "delivery": self._("Entrega: {time}."),
        }
        line = templates.get(deadline.get("kind"), self._("Plazo: {time}.")).format(time=length)
        silence = {
            "afirmativa_ficta": self._("Si no le responden a tiempo, la respuesta se considera a su favor."),
            "negativa_ficta": self._("Si no le responden a tiempo, la respuesta se considera negativa."),
        }.get(deadline.get("silence_rule", ""))
        return f"{line} {silence}" if silence else line

    def cost(self, cost: Record, today: dt.date) -> str:
        currency = cost.get("currency", "MXN")
        kind = cost.get("kind")
        if kind == "free":
            line = self._("Costo: gratuito.")
        elif kind == "fixed":
            line = self._("Costo: {amount}.").format(amount=format_money(cost["amount"], currency))
        elif kind == "range":
            line = self._("Costo: de {low} a {high}, según su caso.").format(
                low=format_money(cost["min"], currency), high=format_money(cost["max"], currency))
        elif kind == "formula":
            line = self._("Costo: {formula}.").format(formula=self.text(cost.get("formula")))
        else:
            line = self._("Costo: {text}.").format(text=self.text(cost.get("text")) or self._("variable"))
        concept = self.text(cost.get("concept"))
        if concept:
            line += " " + self._("Concepto: {concept}.").format(concept=concept)
        for discount in cost.get("discounts") or ():
            if discount.get("from", "") <= today.isoformat() <= discount.get("to", "9999"):
                until = dt.date.fromisoformat(discount["to"]).strftime("%d/%m/%Y")
                line += " " + self._("Hoy tiene {percent} % de descuento ({why}), hasta el {until}.").format(
                    percent=discount.get("percent", ""), why=self.text(discount.get("text")), until=until)
        return line

    def duration(self, iso: str, business: bool = False) -> str:
        match = _DURATION.match(iso or "")
        if not match:
            return iso
        units = {
            "years": ("{n} año", "{n} años"),
            "months": ("{n} mes", "{n} meses"),
            "weeks": ("{n} semana", "{n} semanas"),
            "days": ("{n} día hábil", "{n} días hábiles") if business else ("{n} día", "{n} días"),
            "hours": ("{n} hora", "{n} horas"),
            "minutes": ("{n} minuto", "{n} minutos"),
            "seconds": ("{n} segundo", "{n} segundos"),
        }
        parts = [
            self._n(singular, plural, int(value)).format(n=int(value))
            for name, (singular, plural) in units.items()
            if (value := match.group(name))
        ]
        return self._(" y ").join(parts) if parts else iso


def _in_force(cost: Record, today: dt.date) -> bool:
    return cost.get("effective_from", "") <= today.isoformat() <= cost.get("effective_to", "9999")
