# ruff: noqa: E501  (the procedure tables read best one entry per line)
"""Deterministic generator of the bundled sample catalog and of large synthetic catalogs.

The sample is a fictional municipality, "Municipio de San Andrés del Valle" (Puebla, México),
with costs shaped like real Mexican municipal fees (fixed amounts such as $204.50, ranges,
formulas over the cadastral value, UMA-based fines, free certificates, January predial
discounts) and offices with buildings, floors, windows and weekday hours. Nothing here is
copied from a real catalog. Run `python -m kiosk.catalog.sample` to rewrite
`kiosk/data/sample-catalog.json`; the same inputs always give the same bytes.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

from kiosk.catalog.model import CATALOG_FORMAT, with_content_hash

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
SAMPLE_PATH = DATA_DIR / "sample-catalog.json"
GENERATED_AT = "2026-01-02T08:00:00-06:00"
REVIEWED_AT = "2025-12-15"
YEAR = 2026
WEB = "https://tramites.sanandresdelvalle.example"

MUNICIPALITY = {
    "id": "mx-21-999", "name": "Municipio de San Andrés del Valle", "country": "MX", "currency": "MXN",
    "languages": ["es"], "timezone": "America/Mexico_City", "url": WEB, "phone": "222 555 0100",
}

# (id, name, order, icon, description)
CATEGORIES = [
    ("predial", "Impuesto predial", 1, "casa", "Pago, descuentos y constancias del impuesto predial"),
    ("agua", "Agua potable y drenaje", 2, "gota", "Contratos, pagos y reportes del servicio de agua"),
    ("registro_civil", "Registro civil", 3, "familia", "Actas de nacimiento, matrimonio y defunción"),
    ("desarrollo_urbano", "Desarrollo urbano y construcción", 4, "grua", "Licencias de construcción y uso de suelo"),
    ("licencias_comerciales", "Negocios y licencias de funcionamiento", 5, "tienda", "Abrir y renovar un negocio"),
    ("transito", "Tránsito, vialidad y multas", 6, "auto", "Infracciones, permisos y licencias de manejo"),
    ("catastro", "Catastro y certificados", 7, "mapa", "Avalúos, deslindes y certificados catastrales"),
    ("medio_ambiente", "Medio ambiente", 8, "arbol", "Poda, derribo de árboles y permisos ambientales"),
    ("panteones", "Panteones", 9, "flor", "Inhumaciones, exhumaciones y refrendo de fosas"),
    ("programas_sociales", "Programas sociales", 10, "manos", "Apoyos, becas y credenciales"),
    ("proteccion_civil", "Protección civil", 11, "escudo", "Dictámenes, visto bueno y capacitación"),
    ("servicios_publicos", "Servicios públicos", 12, "foco", "Alumbrado, limpia, baches y parques"),
    ("atencion_ciudadana", "Constancias y atención ciudadana", 13, "persona", "Constancias y cartas"),
]

# The catalog's own English for its categories, so an English session navigates in English;
# procedure texts are Spanish only here and the kiosk falls back to them field by field.
CATEGORIES_EN = {
    "predial": ("Property tax", "Payments, discounts and certificates for property tax"),
    "agua": ("Water and drainage", "Contracts, payments and reports for the water service"),
    "registro_civil": ("Civil registry", "Birth, marriage and death certificates"),
    "desarrollo_urbano": ("Urban development and building", "Building permits and land use"),
    "licencias_comerciales": ("Businesses and operating licences", "Open and renew a business"),
    "transito": ("Traffic, roads and fines", "Fines, permits and driving licences"),
    "catastro": ("Land registry and certificates", "Valuations, boundaries and land registry certificates"),
    "medio_ambiente": ("Environment", "Pruning, tree removal and environmental permits"),
    "panteones": ("Cemeteries", "Burials, exhumations and grave renewals"),
    "programas_sociales": ("Social programmes", "Support, grants and ID cards"),
    "proteccion_civil": ("Civil protection", "Safety reports, approvals and training"),
    "servicios_publicos": ("Public services", "Street lighting, cleaning, potholes and parks"),
    "atencion_ciudadana": ("Certificates and citizen services", "Certificates and letters"),
}

# Offices: id -> (name, street, number, building, floor, window, hours, lat, lng, phone)
_WEEK = [{"days": [1, 2, 3, 4, 5], "opens": "08:00", "closes": "15:00"}]
_WEEK_SAT = [*_WEEK, {"days": [6], "opens": "09:00", "closes": "13:00"}]
OFFICES: dict[str, tuple] = {
    "of-tesoreria": ("Tesorería Municipal, cajas", "Av. Hidalgo", "1", "Palacio Municipal", "Planta baja",
                     "Ventanillas 1 a 6", _WEEK_SAT, 19.0512, -98.2031, "222 555 0110"),
    "of-catastro": ("Dirección de Catastro", "Av. Hidalgo", "1", "Palacio Municipal", "Planta baja",
                    "Ventanilla 8", _WEEK, 19.0512, -98.2031, "222 555 0120"),
    "of-registro": ("Oficialía del Registro Civil", "Av. Hidalgo", "1", "Palacio Municipal", "Primer piso",
                    "Ventanillas 10 a 12", _WEEK_SAT, 19.0512, -98.2031, "222 555 0130"),
    "of-obras": ("Dirección de Desarrollo Urbano y Obras", "Calle Morelos", "14", "Edificio Anexo",
                 "Segundo piso", "Ventanilla única de construcción", _WEEK, 19.0518, -98.2026, "222 555 0140"),
    "of-comercio": ("Dirección de Industria y Comercio", "Calle Morelos", "14", "Edificio Anexo",
                    "Primer piso", "Ventanilla de licencias", _WEEK, 19.0518, -98.2026, "222 555 0150"),
    "of-agua": ("Sistema de Agua Potable de San Andrés (SAPASA)", "Blvd. de los Manantiales", "220",
                "Oficinas SAPASA", "Planta baja", "Módulo de atención", _WEEK_SAT, 19.0487, -98.2102,
                "222 555 0160"),
    "of-transito": ("Dirección de Tránsito y Vialidad", "Av. Reforma", "305", "Comandancia", "Planta baja",
                    "Ventanilla de infracciones", _WEEK, 19.0555, -98.1987, "222 555 0170"),
    "of-ecologia": ("Dirección de Medio Ambiente", "Calle Morelos", "14", "Edificio Anexo", "Tercer piso",
                    "Recepción", _WEEK, 19.0518, -98.2026, "222 555 0180"),
    "of-panteon": ("Administración del Panteón Municipal", "Camino al Panteón", "s/n", "Panteón Municipal",
                   "Planta baja", "Administración", [{"days": [1, 2, 3, 4, 5, 6, 7], "opens": "08:00",
                                                      "closes": "17:00"}], 19.0431, -98.2150, "222 555 0190"),
    "of-dif": ("Sistema DIF Municipal", "Calle Allende", "50", "Casa DIF", "Planta baja", "Trabajo social",
               _WEEK, 19.0502, -98.2060, "222 555 0200"),
    "of-pc": ("Coordinación de Protección Civil", "Av. Reforma", "305", "Estación de Bomberos", "Primer piso",
              "Recepción", _WEEK, 19.0555, -98.1987, "222 555 0210"),
    "of-servicios": ("Dirección de Servicios Públicos", "Calle Juárez", "8", "Palacio Municipal",
                     "Segundo piso", "Atención ciudadana", _WEEK_SAT, 19.0512, -98.2031, "222 555 0220"),
    "of-secretaria": ("Secretaría del Ayuntamiento", "Av. Hidalgo", "1", "Palacio Municipal", "Segundo piso",
                      "Ventanilla de constancias", _WEEK, 19.0512, -98.2031, "222 555 0230"),
}
HOLIDAYS = [("2026-01-01", "Año Nuevo"), ("2026-02-02", "Día de la Constitución"),
            ("2026-03-16", "Natalicio de Benito Juárez"), ("2026-04-02", "Jueves Santo"),
            ("2026-04-03", "Viernes Santo"), ("2026-05-01", "Día del Trabajo"),
            ("2026-09-16", "Día de la Independencia"), ("2026-11-02", "Día de Muertos"),
            ("2026-11-16", "Día de la Revolución"), ("2026-12-25", "Navidad")]

# Authority per category: (id, name, unit, office id)
AUTHORITIES = {
    "predial": ("tesoreria", "Tesorería Municipal", "Departamento de Ingresos", "of-tesoreria"),
    "agua": ("sapasa", "Sistema de Agua Potable de San Andrés", "Área Comercial", "of-agua"),
    "registro_civil": ("registro-civil", "Registro Civil", "Oficialía 01", "of-registro"),
    "desarrollo_urbano": ("desarrollo-urbano", "Dirección de Desarrollo Urbano", "Licencias", "of-obras"),
    "licencias_comerciales": ("comercio", "Dirección de Industria y Comercio", "Licencias de funcionamiento",
                              "of-comercio"),
    "transito": ("transito", "Dirección de Tránsito y Vialidad", "Infracciones", "of-transito"),
    "catastro": ("catastro", "Dirección de Catastro", "Certificaciones", "of-catastro"),
    "medio_ambiente": ("medio-ambiente", "Dirección de Medio Ambiente", "Normatividad", "of-ecologia"),
    "panteones": ("panteones", "Dirección de Servicios Públicos", "Panteón Municipal", "of-panteon"),
    "programas_sociales": ("dif", "Sistema DIF Municipal", "Programas Sociales", "of-dif"),
    "proteccion_civil": ("proteccion-civil", "Coordinación de Protección Civil", "Dictámenes", "of-pc"),
    "servicios_publicos": ("servicios-publicos", "Dirección de Servicios Públicos", "Atención ciudadana",
                           "of-servicios"),
    "atencion_ciudadana": ("secretaria", "Secretaría del Ayuntamiento", "Constancias", "of-secretaria"),
}

# Requirement pool: key -> (name, original, copies, certified, issued_by, procedure_id, kind)
REQUIREMENTS: dict[str, tuple] = {
    "ine": ("Identificación oficial vigente (INE, pasaporte o cédula profesional)", 1, 1, 0,
            "Instituto Nacional Electoral", None, "document"),
    "curp": ("CURP", 0, 1, 0, "Registro Nacional de Población", None, "document"),
    "domicilio": ("Comprobante de domicilio de no más de tres meses (luz, agua o teléfono)", 1, 1, 0,
                  "CFE, SAPASA o compañía telefónica", None, "document"),
    "acta_nac": ("Acta de nacimiento", 1, 1, 0, "Registro Civil", "sadv:RC-001", "document"),
    "escritura": ("Escritura pública o título de propiedad", 0, 0, 1, "Notaría pública", None, "document"),
    "boleta_predial": ("Recibo del predial del año en curso", 1, 1, 0, "Tesorería Municipal", "sadv:PRE-001",
                       "document"),
    "no_adeudo": ("Constancia de no adeudo del predial", 1, 0, 0, "Tesorería Municipal", "sadv:PRE-004",
                  "document"),
    "recibo_agua": ("Último recibo de agua pagado", 1, 1, 0, "SAPASA", "sadv:AGU-001", "document"),
    "planos": ("Planos arquitectónicos firmados por el Director Responsable de Obra", 0, 3, 0,
               "Director Responsable de Obra", None, "document"),
    "uso_suelo": ("Licencia de uso de suelo", 1, 1, 0, "Dirección de Desarrollo Urbano", "sadv:DU-001", "document"),
    "alineamiento": ("Constancia de alineamiento y número oficial", 1, 1, 0, "Dirección de Desarrollo Urbano",
                     "sadv:DU-002", "document"),
    "dictamen_pc": ("Dictamen de protección civil", 1, 1, 0, "Coordinación de Protección Civil", "sadv:PC-001",
                    "document"),
    "rfc": ("Constancia de situación fiscal (RFC)", 1, 1, 0, "Servicio de Administración Tributaria", None,
            "document"),
    "acta_const": ("Acta constitutiva y poder del representante legal (personas morales)", 0, 1, 1,
                   "Notaría pública", None, "document"),
    "carta_poder": ("Carta poder firmada ante dos testigos, si acude un representante", 1, 0, 0, None, None,
                    "document"),
    "fotos": ("Dos fotografías tamaño infantil a color", 2, 0, 0, None, None, "document"),
    "tarjeta_circ": ("Tarjeta de circulación del vehículo", 1, 1, 0, "Secretaría de Movilidad del Estado", None,
                     "document"),
    "licencia": ("Licencia de conducir vigente", 1, 1, 0, "Secretaría de Movilidad del Estado", None, "document"),
    "boleta_infraccion": ("Boleta de infracción o número de folio", 1, 0, 0, "Dirección de Tránsito", None,
                          "document"),
    "cert_defuncion": ("Certificado de defunción expedido por el médico", 1, 1, 0, "Médico que certifica", None,
                       "document"),
    "acta_def": ("Acta de defunción", 0, 1, 1, "Registro Civil", "sadv:RC-007", "document"),
    "titulo_fosa": ("Título de derechos sobre la fosa", 1, 1, 0, "Panteón Municipal", None, "document"),
    "estudio_socio": ("Estudio socioeconómico", 1, 0, 0, "Sistema DIF Municipal", None, "document"),
    "ingresos": ("Comprobante de ingresos del último mes o carta de ingresos", 1, 1, 0, None, None, "document"),
    "fotos_predio": ("Fotografías del predio o del árbol", 0, 2, 0, None, None, "document"),
    "solicitud": ("Formato de solicitud llenado y firmado", 1, 0, 0, None, None, "document"),
    "presencia": ("Presentarse en persona", 0, 0, 0, None, None, "presence"),
    "mayor_edad": ("Ser mayor de 18 años", 0, 0, 0, None, None, "condition"),
    "vecino": ("Vivir en el municipio", 0, 0, 0, None, None, "condition"),
}

PAY, REQ, PRT = "pay", "request", "print"
# Per category: (code, name, summary, cost, deadline, output, kiosk actions, account, requirements, keywords)
# cost: "204.50" fixed | "free" | ("range", lo, hi) | ("formula", text, unit) | ("variable", text)
# deadline: (duration, day_kind, silence) ; output: (type, validity or None, name)
T = tuple[str, str, str, Any, tuple, tuple, tuple, str | None, tuple, tuple]
PROCEDURES: dict[str, list[T]] = {
    "predial": [
        ("PRE-001", "Pago del impuesto predial", "Pague el predial de su casa o terreno del año en curso.",
         ("formula", "0.15 % anual sobre el valor catastral; mínimo 2 UMA", None), ("PT10M", "calendar", "none"),
         ("receipt", None, "Recibo oficial de pago"), (PAY, PRT), "clave_catastral", ("boleta_predial",),
         ("impuesto predial", "predial", "contribución", "casa", "terreno")),
        ("PRE-002", "Pago anticipado del predial con descuento", "Pague todo el año en enero o febrero con descuento.",
         ("formula", "Impuesto anual menos el descuento vigente", None), ("PT10M", "calendar", "none"),
         ("receipt", None, "Recibo oficial de pago"), (PAY, PRT), "clave_catastral", (),
         ("descuento", "pronto pago", "predial anual")),
        ("PRE-003", "Descuento del predial para personas adultas mayores", "50 % de descuento en el predial de su casa.",
         "free", ("P5D", "business", "negativa_ficta"), ("document", "P1Y", "Resolución de descuento"), (REQ,), None,
         ("ine", "boleta_predial", "domicilio"), ("inapam", "tercera edad", "jubilado", "pensionado")),
        ("PRE-004", "Constancia de no adeudo del predial", "Documento que dice que su predio no debe impuesto predial.",
         "204.50", ("P1D", "business", "none"), ("certificate", "P3M", "Constancia de no adeudo"), (PAY, REQ, PRT),
         "clave_catastral", ("ine", "boleta_predial"), ("no adeudo", "constancia", "venta de casa")),
        ("PRE-005", "Convenio de pago en parcialidades del predial", "Pague su adeudo de predial en mensualidades.",
         "free", ("P3D", "business", "none"), ("document", None, "Convenio de pago"), (REQ,), "clave_catastral",
         ("ine", "boleta_predial", "solicitud"), ("parcialidades", "adeudo", "convenio", "mensualidades")),
        ("PRE-006", "Reimpresión de recibo de predial", "Obtenga otra copia de un recibo de predial ya pagado.",
         "35.00", ("PT5M", "calendar", "none"), ("receipt", None, "Copia de recibo"), (PAY, PRT), "clave_catastral", (),
         ("copia recibo", "duplicado")),
        ("PRE-007", "Estado de cuenta del predial", "Consulte cuánto debe de predial, con recargos.", "free",
         ("PT5M", "calendar", "none"), ("document", "P1M", "Estado de cuenta"), (REQ, PRT), "clave_catastral", (),
         ("adeudo", "saldo", "cuanto debo")),
        ("PRE-008", "Condonación de recargos del predial", "Solicite que le perdonen recargos y multas del predial.",
         "free", ("P10D", "business", "negativa_ficta"), ("document", None, "Resolución de condonación"), (REQ,),
         "clave_catastral", ("ine", "boleta_predial", "solicitud", "ingresos"), ("recargos", "multas", "perdón")),
        ("PRE-009", "Exención del predial para instituciones de asistencia",
         "Exención para asociaciones civiles sin fines de lucro.", "free", ("P20D", "business", "negativa_ficta"),
         ("document", "P1Y", "Resolución de exención"), (), None, ("acta_const", "rfc", "escritura", "solicitud"),
         ("asociación civil", "exención")),
        ("PRE-010", "Devolución de pago indebido del predial", "Recupere un pago duplicado o en exceso del predial.",
         "free", ("P30D", "business", "negativa_ficta"), ("document", None, "Resolución de devolución"), (REQ,),
         "clave_catastral", ("ine", "boleta_predial", "solicitud"), ("devolución", "reembolso", "pago doble")),
        ("PRE-011", "Aclaración de adeudo del predial", "Aclare un cobro de predial con el que no está de acuerdo.",
         "free", ("P10D", "business", "none"), ("document", None, "Respuesta de aclaración"), (REQ,),
         "clave_catastral", ("ine", "boleta_predial"), ("aclaración", "cobro equivocado")),
        ("PRE-012", "Cambio de domicilio fiscal para el predial",
         "Actualice la dirección donde recibe los avisos del predial.", "free", ("P2D", "business", "none"),
         ("document", None, "Acuse de actualización"), (REQ,), "clave_catastral", ("ine", "domicilio"),
         ("domicilio fiscal", "avisos")),
    ],
    "agua": [
        ("AGU-001", "Pago del recibo de agua", "Pague su recibo mensual de agua potable y drenaje.",
         ("variable", "Según el consumo medido o la cuota fija de su toma"), ("PT5M", "calendar", "none"),
         ("receipt", None, "Recibo de pago"), (PAY, PRT), "numero_contrato_agua", ("recibo_agua",),
         ("recibo de agua", "pagar agua", "consumo", "sapasa")),
        ("AGU-002", "Contrato de toma de agua doméstica", "Contrate el servicio de agua para su casa.", "4286.43",
         ("P10D", "business", "negativa_ficta"), ("document", None, "Contrato de servicio"), (REQ,), None,
         ("ine", "escritura", "alineamiento", "boleta_predial"), ("contrato de agua", "toma nueva", "conexión")),
        ("AGU-003", "Contrato de descarga al drenaje", "Conecte su casa al drenaje municipal.", "2150.00",
         ("P10D", "business", "negativa_ficta"), ("document", None, "Contrato de descarga"), (REQ,), None,
         ("ine", "escritura", "alineamiento"), ("drenaje", "alcantarillado", "descarga")),
        ("AGU-004", "Constancia de no adeudo de agua", "Documento que dice que su toma no debe agua.", "120.00",
         ("P1D", "business", "none"), ("certificate", "P1M", "Constancia de no adeudo de agua"), (PAY, REQ, PRT),
         "numero_contrato_agua", ("ine", "recibo_agua"), ("no adeudo agua", "constancia agua")),
        ("AGU-005", "Reporte de fuga de agua", "Avise de una fuga en la calle o en la red.", "free",
         ("P2D", "calendar", "none"), ("document", None, "Folio de reporte"), (REQ, PRT), None, (),
         ("fuga", "tubería rota", "desperdicio")),
        ("AGU-006", "Reconexión del servicio de agua", "Vuelva a tener agua después de un corte por adeudo.", "385.00",
         ("P2D", "business", "none"), ("document", None, "Orden de reconexión"), (PAY, REQ, PRT), "numero_contrato_agua",
         ("recibo_agua",), ("reconexión", "corte", "restablecer")),
        ("AGU-007", "Cambio de nombre del contrato de agua", "Ponga el contrato de agua a su nombre.", "250.00",
         ("P5D", "business", "none"), ("document", None, "Contrato actualizado"), (REQ,), "numero_contrato_agua",
         ("ine", "escritura", "recibo_agua"), ("cambio de titular", "traspaso")),
        ("AGU-008", "Instalación o cambio de medidor", "Solicite un medidor nuevo o el cambio del dañado.",
         ("range", "650.00", "1450.00"), ("P10D", "business", "none"), ("document", None, "Orden de trabajo"), (REQ,),
         "numero_contrato_agua", ("ine", "recibo_agua"), ("medidor", "contador de agua")),
        ("AGU-009", "Pipa de agua", "Pida una pipa de agua potable para su casa o evento.",
         ("range", "450.00", "900.00"), ("P2D", "business", "none"), ("receipt", None, "Orden de servicio"), (PAY, REQ, PRT),
         None, ("domicilio",), ("pipa", "agua a domicilio", "garrafón")),
        ("AGU-010", "Desazolve de drenaje", "Limpieza de drenaje tapado con equipo especial.",
         ("range", "300.00", "1200.00"), ("P5D", "business", "none"), ("document", None, "Orden de trabajo"),
         (PAY, REQ), None, ("domicilio",), ("drenaje tapado", "desazolve", "alcantarilla")),
        ("AGU-011", "Aclaración de consumo de agua", "Reclame un recibo de agua con cobro alto.", "free",
         ("P10D", "business", "none"), ("document", None, "Respuesta de aclaración"), (REQ,), "numero_contrato_agua",
         ("recibo_agua", "ine"), ("cobro alto", "reclamación", "consumo excesivo")),
        ("AGU-012", "Descuento en agua para adultos mayores", "50 % de descuento en el agua de su casa.", "free",
         ("P5D", "business", "negativa_ficta"), ("document", "P1Y", "Resolución de descuento"), (REQ,),
         "numero_contrato_agua", ("ine", "recibo_agua", "curp"), ("inapam", "tercera edad", "jubilado")),
        ("AGU-013", "Factibilidad de servicios de agua para fraccionamientos",
         "Dictamen de agua y drenaje para nuevos desarrollos.", ("formula", "15 UMA por vivienda", "UMA"),
         ("P30D", "business", "negativa_ficta"), ("document", "P1Y", "Dictamen de factibilidad"), (), None,
         ("escritura", "planos", "uso_suelo", "acta_const"), ("factibilidad", "fraccionamiento")),
    ],
    "registro_civil": [
        ("RC-001", "Copia certificada de acta de nacimiento", "Obtenga una copia de su acta de nacimiento.", "84.49",
         ("PT15M", "calendar", "none"), ("certificate", None, "Acta de nacimiento certificada"), (PAY, REQ, PRT),
         "folio_solicitud", ("curp",), ("acta de nacimiento", "copia de acta", "partida de nacimiento")),
        ("RC-002", "Registro de nacimiento", "Registre a su bebé en el registro civil.", "free",
         ("P0D", "calendar", "none"), ("certificate", None, "Acta de nacimiento"), (), None,
         ("ine", "domicilio", "presencia"), ("registrar bebé", "recién nacido", "nacimiento")),
        ("RC-003", "Registro extemporáneo de nacimiento", "Registro de personas que no fueron registradas a tiempo.",
         "168.98", ("P15D", "business", "none"), ("certificate", None, "Acta de nacimiento"), (), None,
         ("ine", "domicilio", "solicitud", "presencia"), ("registro tardío", "sin acta")),
        ("RC-004", "Matrimonio civil en oficina", "Cásese por el civil en la oficina del registro civil.", "650.00",
         ("P8D", "calendar", "none"), ("certificate", None, "Acta de matrimonio"), (REQ,), None,
         ("acta_nac", "ine", "curp", "solicitud"), ("boda", "casarse", "matrimonio")),
        ("RC-005", "Matrimonio civil a domicilio", "El juez del registro civil acude al lugar de su boda.", "2800.00",
         ("P15D", "calendar", "none"), ("certificate", None, "Acta de matrimonio"), (), None,
         ("acta_nac", "ine", "curp", "solicitud"), ("boda a domicilio", "casarse")),
        ("RC-006", "Copia certificada de acta de matrimonio", "Obtenga una copia de su acta de matrimonio.",
         "84.49", ("PT15M", "calendar", "none"), ("certificate", None, "Acta de matrimonio certificada"), (PAY, REQ, PRT),
         "folio_solicitud", ("ine",), ("acta de matrimonio", "copia")),
        ("RC-007", "Registro de defunción", "Registre el fallecimiento de un familiar.", "free",
         ("P0D", "calendar", "none"), ("certificate", None, "Acta de defunción"), (), None,
         ("cert_defuncion", "ine"), ("defunción", "fallecimiento", "muerte")),
        ("RC-008", "Copia certificada de acta de defunción", "Obtenga una copia de un acta de defunción.", "84.49",
         ("PT15M", "calendar", "none"), ("certificate", None, "Acta de defunción certificada"), (PAY, REQ, PRT),
         "folio_solicitud", ("ine",), ("acta de defunción", "copia")),
        ("RC-009", "Divorcio administrativo", "Divorcio de común acuerdo sin hijos menores ni bienes en común.",
         "1850.00", ("P15D", "business", "none"), ("certificate", None, "Acta de divorcio"), (), None,
         ("acta_nac", "ine", "curp", "solicitud", "presencia"), ("divorcio", "separación")),
        ("RC-010", "Reconocimiento de hijos", "Reconozca legalmente a su hijo o hija.", "free",
         ("P0D", "calendar", "none"), ("certificate", None, "Acta de reconocimiento"), (), None,
         ("acta_nac", "ine", "presencia"), ("reconocer hijo", "paternidad")),
        ("RC-011", "Aclaración administrativa de acta", "Corrija errores de escritura en un acta.", "350.00",
         ("P10D", "business", "none"), ("document", None, "Resolución de aclaración"), (REQ,), None,
         ("acta_nac", "ine", "curp", "solicitud"), ("corregir acta", "error en acta", "aclaración")),
        ("RC-012", "Constancia de inexistencia de registro", "Documento que dice que una persona no está registrada.",
         "120.00", ("P3D", "business", "none"), ("certificate", "P6M", "Constancia de inexistencia"), (REQ,), None,
         ("ine", "solicitud"), ("inexistencia", "no registrado")),
        ("RC-013", "Inscripción de acta de nacimiento extranjera", "Registre en México un acta de otro país.",
         "450.00", ("P15D", "business", "none"), ("certificate", None, "Acta de inserción"), (), None,
         ("acta_nac", "ine", "solicitud"), ("inserción", "doble nacionalidad", "nacido en estados unidos")),
        ("RC-014", "Copia certificada de CURP", "Imprima su CURP certificada.", "free",
         ("PT5M", "calendar", "none"), ("document", None, "CURP impresa"), (REQ, PRT), None, (),
         ("curp", "clave única", "imprimir curp")),
    ],
    "desarrollo_urbano": [
        ("DU-001", "Licencia de uso de suelo", "Permiso que dice qué puede construir o abrir en un predio.",
         ("range", "850.00", "12500.00"), ("P10D", "business", "afirmativa_ficta"),
         ("license", "P1Y", "Licencia de uso de suelo"), (REQ,), None, ("ine", "escritura", "no_adeudo", "solicitud"),
         ("uso de suelo", "zonificación", "compatibilidad")),
        ("DU-002", "Alineamiento y número oficial", "Obtenga el número oficial y los límites de su predio frente a la calle.",
         "247.60", ("P5D", "business", "afirmativa_ficta"), ("certificate", "P1Y", "Constancia de alineamiento"),
         (REQ,), None, ("ine", "escritura", "no_adeudo"), ("número oficial", "alineamiento", "numero de casa")),
        ("DU-003", "Licencia de construcción de vivienda", "Permiso para construir o ampliar su casa.",
         ("formula", "1.5 % del costo de la obra según el tabulador; vivienda de hasta 60 m2 paga 4 UMA", "UMA"),
         ("P15D", "business", "afirmativa_ficta"), ("license", "P1Y", "Licencia de construcción"), (REQ,), None,
         ("ine", "escritura", "planos", "alineamiento", "uso_suelo", "no_adeudo"),
         ("permiso de construcción", "construir", "ampliación", "obra")),
        ("DU-004", "Licencia de construcción comercial", "Permiso para construir locales, bodegas u oficinas.",
         ("formula", "2 % del costo de la obra según el tabulador", None), ("P20D", "business", "afirmativa_ficta"),
         ("license", "P1Y", "Licencia de construcción"), (), None,
         ("ine", "escritura", "planos", "alineamiento", "uso_suelo", "dictamen_pc", "acta_const"),
         ("construcción comercial", "local", "bodega")),
        ("DU-005", "Permiso de demolición", "Permiso para demoler una construcción.", ("formula", "12.00 por m2", None),
         ("P10D", "business", "afirmativa_ficta"), ("permit", "P3M", "Permiso de demolición"), (REQ,), None,
         ("ine", "escritura", "fotos_predio"), ("demoler", "tirar barda")),
        ("DU-006", "Terminación de obra", "Aviso de que terminó su construcción.", "520.00",
         ("P10D", "business", "afirmativa_ficta"), ("certificate", None, "Constancia de terminación de obra"),
         (REQ,), None, ("ine", "planos"), ("terminación de obra", "aviso de terminación")),
        ("DU-007", "Subdivisión de predio", "Divida un terreno en dos o más partes.", ("formula", "3 UMA por fracción", "UMA"),
         ("P20D", "business", "negativa_ficta"), ("license", "P6M", "Licencia de subdivisión"), (), None,
         ("ine", "escritura", "planos", "no_adeudo"), ("dividir terreno", "subdivisión", "lotificación")),
        ("DU-008", "Fusión de predios", "Una dos o más terrenos en uno solo.", ("formula", "3 UMA por predio fusionado", "UMA"),
         ("P20D", "business", "negativa_ficta"), ("license", "P6M", "Licencia de fusión"), (), None,
         ("ine", "escritura", "planos", "no_adeudo"), ("unir terrenos", "fusión")),
        ("DU-009", "Permiso de ruptura de pavimento", "Permiso para romper la calle para una conexión.",
         ("formula", "185.00 por m2 más la reposición", None), ("P5D", "business", "none"),
         ("permit", "P1M", "Permiso de ruptura"), (REQ,), None, ("ine", "solicitud"), ("romper calle", "zanja")),
        ("DU-010", "Permiso para anuncio publicitario", "Permiso para poner un anuncio o letrero.",
         ("range", "350.00", "6500.00"), ("P10D", "business", "none"), ("permit", "P1Y", "Permiso de anuncio"),
         (REQ,), None, ("ine", "fotos_predio", "solicitud"), ("anuncio", "letrero", "espectacular")),
        ("DU-011", "Regularización de construcción", "Regularice una construcción hecha sin licencia.",
         ("formula", "Derechos de la licencia más 50 % de recargo", None), ("P20D", "business", "negativa_ficta"),
         ("license", None, "Licencia de regularización"), (), None, ("ine", "escritura", "planos", "no_adeudo"),
         ("regularizar", "construcción sin permiso")),
        ("DU-012", "Constancia de zonificación", "Consulte la zona y los usos permitidos de un predio.", "310.00",
         ("P3D", "business", "none"), ("certificate", "P6M", "Constancia de zonificación"), (PAY, REQ, PRT), None,
         ("ine",), ("zonificación", "plan de desarrollo")),
        ("DU-013", "Permiso de bardeo", "Permiso para construir una barda.", ("formula", "25.00 por metro lineal", None),
         ("P5D", "business", "afirmativa_ficta"), ("permit", "P6M", "Permiso de bardeo"), (REQ,), None,
         ("ine", "escritura", "alineamiento"), ("barda", "muro", "cerca")),
        ("DU-014", "Registro de Director Responsable de Obra", "Inscripción o refrendo de peritos de obra.",
         "1500.00", ("P15D", "business", "none"), ("registration", "P1Y", "Registro de DRO"), (), None,
         ("ine", "fotos", "rfc", "solicitud"), ("dro", "perito", "arquitecto")),
    ],
    "licencias_comerciales": [
        ("COM-001", "Licencia de funcionamiento de bajo riesgo", "Abra un negocio de bajo riesgo (tienda, papelería, estética).",
         "650.00", ("P3D", "business", "afirmativa_ficta"), ("license", "P1Y", "Licencia de funcionamiento"),
         (REQ,), None, ("ine", "rfc", "uso_suelo", "boleta_predial"), ("abrir negocio", "tienda", "sare")),
        ("COM-002", "Refrendo de licencia de funcionamiento", "Renueve cada año la licencia de su negocio.",
         ("range", "450.00", "3800.00"), ("P1D", "business", "afirmativa_ficta"),
         ("license", "P1Y", "Refrendo de licencia"), (PAY, REQ, PRT), "folio_solicitud", ("rfc",),
         ("refrendo", "renovar licencia", "negocio")),
        ("COM-003", "Licencia de funcionamiento de mediano riesgo", "Licencia para restaurantes, talleres y similares.",
         ("range", "1800.00", "9500.00"), ("P10D", "business", "afirmativa_ficta"),
         ("license", "P1Y", "Licencia de funcionamiento"), (), None,
         ("ine", "rfc", "uso_suelo", "dictamen_pc", "acta_const"), ("restaurante", "taller")),
        ("COM-004", "Licencia para venta de bebidas alcohólicas", "Permiso para vender cerveza, vinos y licores.",
         ("range", "8500.00", "65000.00"), ("P30D", "business", "negativa_ficta"),
         ("license", "P1Y", "Licencia de alcoholes"), (), None,
         ("ine", "rfc", "uso_suelo", "dictamen_pc", "no_adeudo", "solicitud"), ("alcohol", "cerveza", "bar", "vinos")),
        ("COM-005", "Permiso para comercio en vía pública", "Permiso para vender en puestos fijos o semifijos.",
         ("formula", "Cuota diaria de 0.5 UMA por metro cuadrado", "UMA"), ("P5D", "business", "negativa_ficta"),
         ("permit", "P1Y", "Permiso de comercio"), (REQ,), None, ("ine", "curp", "fotos", "domicilio"),
         ("ambulante", "puesto", "tianguis", "vía pública")),
        ("COM-006", "Permiso para evento público o espectáculo", "Permiso para bailes, conciertos o ferias.",
         ("range", "1200.00", "25000.00"), ("P10D", "business", "negativa_ficta"), ("permit", None, "Permiso de evento"),
         (), None, ("ine", "dictamen_pc", "solicitud"), ("evento", "baile", "concierto", "feria")),
        ("COM-007", "Cambio de domicilio del negocio", "Actualice la dirección de su licencia de funcionamiento.",
         "350.00", ("P5D", "business", "afirmativa_ficta"), ("license", None, "Licencia actualizada"), (REQ,), None,
         ("ine", "uso_suelo"), ("cambio de domicilio", "mudanza de negocio")),
        ("COM-008", "Cambio de giro del negocio", "Cambie la actividad autorizada de su negocio.", "480.00",
         ("P5D", "business", "afirmativa_ficta"), ("license", None, "Licencia actualizada"), (REQ,), None,
         ("ine", "uso_suelo", "rfc"), ("cambio de giro", "actividad")),
        ("COM-009", "Baja de licencia de funcionamiento", "Dé de baja la licencia de un negocio que cerró.", "free",
         ("P3D", "business", "afirmativa_ficta"), ("document", None, "Constancia de baja"), (REQ,), None,
         ("ine", "solicitud"), ("cerrar negocio", "baja")),
        ("COM-010", "Horario extendido para negocios", "Permiso para abrir fuera del horario normal.",
         ("range", "500.00", "5000.00"), ("P5D", "business", "negativa_ficta"), ("permit", "P1M", "Permiso de horario"),
         (REQ,), None, ("ine", "solicitud"), ("horario extendido", "abrir tarde")),
        ("COM-011", "Permiso para mesas en banqueta", "Permiso para poner mesas de su negocio en la banqueta.",
         ("formula", "1 UMA por metro cuadrado al mes", "UMA"), ("P5D", "business", "negativa_ficta"),
         ("permit", "P6M", "Permiso de ocupación de banqueta"), (REQ,), None, ("ine", "fotos_predio", "solicitud"),
         ("banqueta", "terraza")),
        ("COM-012", "Registro en el padrón de proveedores del municipio", "Venda bienes o servicios al municipio.",
         "950.00", ("P10D", "business", "none"), ("registration", "P1Y", "Cédula de proveedor"), (), None,
         ("rfc", "acta_const", "ine", "domicilio"), ("proveedor", "licitación")),
    ],
    "transito": [
        ("TRA-001", "Pago de multa de tránsito", "Pague una infracción de tránsito con descuento por pronto pago.",
         ("formula", "Según el tabulador: de 5 a 60 UMA; 50 % de descuento en los primeros 10 días", "UMA"),
         ("PT10M", "calendar", "none"), ("receipt", None, "Recibo de pago de infracción"), (PAY, PRT), "folio_infraccion",
         ("boleta_infraccion",), ("infracción", "multa", "boleta", "fotomulta")),
        ("TRA-002", "Devolución de placa retenida", "Recupere la placa que le retiró tránsito.", "free",
         ("PT30M", "calendar", "none"), ("document", None, "Orden de devolución"), (REQ,), "folio_infraccion",
         ("boleta_infraccion", "tarjeta_circ", "ine"), ("placa retenida", "recuperar placa")),
        ("TRA-003", "Liberación de vehículo del corralón", "Recupere un vehículo llevado al depósito.",
         ("formula", "Arrastre 1,250.00 más 95.00 por día de depósito", None), ("P1D", "business", "none"),
         ("document", None, "Orden de liberación"), (REQ,), "folio_infraccion",
         ("tarjeta_circ", "ine", "boleta_infraccion"), ("corralón", "grúa", "depósito")),
        ("TRA-004", "Permiso de carga y descarga", "Permiso para maniobras de carga en el centro.",
         ("range", "300.00", "2500.00"), ("P3D", "business", "none"), ("permit", "P1M", "Permiso de maniobras"),
         (REQ,), None, ("tarjeta_circ", "ine"), ("carga", "descarga", "camión")),
        ("TRA-005", "Permiso para cierre de calle", "Cierre una calle para un evento o una obra.", ("range", "400.00", "3000.00"),
         ("P5D", "business", "negativa_ficta"), ("permit", None, "Permiso de cierre"), (REQ,), None,
         ("ine", "solicitud"), ("cerrar calle", "fiesta", "obra en calle")),
        ("TRA-006", "Tarjetón de estacionamiento para personas con discapacidad",
         "Estacione en lugares reservados si usted tiene una discapacidad.", "free",
         ("P5D", "business", "none"), ("card", "P2Y", "Tarjetón de estacionamiento"), (REQ,), None,
         ("ine", "tarjeta_circ", "solicitud"), ("discapacidad", "estacionamiento", "tarjetón")),
        ("TRA-007", "Constancia de no infracción", "Documento que dice que un vehículo no tiene multas.", "150.00",
         ("P1D", "business", "none"), ("certificate", "P1M", "Constancia de no infracción"), (PAY, REQ, PRT), "placa",
         ("tarjeta_circ",), ("no infracción", "sin multas", "venta de auto")),
        ("TRA-008", "Inconformidad contra una multa", "Presente una queja si no está de acuerdo con una infracción.",
         "free", ("P15D", "business", "negativa_ficta"), ("document", None, "Resolución"), (REQ,), "folio_infraccion",
         ("boleta_infraccion", "ine", "solicitud"), ("queja", "recurso", "multa injusta")),
        ("TRA-009", "Curso de manejo para infractores", "Curso que reduce la multa por conducir de forma imprudente.",
         "free", ("P7D", "calendar", "none"), ("certificate", None, "Constancia del curso"), (REQ,), None,
         ("licencia", "boleta_infraccion"), ("curso vial", "educación vial")),
        ("TRA-010", "Permiso de estacionamiento exclusivo", "Reserve un cajón frente a su negocio o cochera.",
         ("formula", "3 UMA por metro lineal al año", "UMA"), ("P10D", "business", "negativa_ficta"),
         ("permit", "P1Y", "Permiso de exclusivo"), (REQ,), None, ("ine", "domicilio", "solicitud"),
         ("cajón", "exclusivo", "cochera")),
        ("TRA-011", "Pago de parquímetro y multas de parquímetro", "Pague multas por no pagar el parquímetro.",
         ("formula", "3 UMA por multa", "UMA"), ("PT10M", "calendar", "none"), ("receipt", None, "Recibo de pago"),
         (PAY, PRT), "placa", (), ("parquímetro", "inmovilizador", "araña")),
        ("TRA-012", "Permiso provisional para circular sin placas", "Circule 30 días mientras tramita sus placas.",
         "280.00", ("P1D", "business", "none"), ("permit", "P30D", "Permiso provisional"), (REQ,), None,
         ("ine", "domicilio", "solicitud"), ("sin placas", "permiso provisional", "auto nuevo")),
    ],
    "catastro": [
        ("CAT-001", "Certificado de valor catastral", "Conozca el valor catastral oficial de su predio.", "204.50",
         ("P3D", "business", "none"), ("certificate", "P6M", "Certificado de valor catastral"), (PAY, REQ, PRT),
         "clave_catastral", ("ine", "boleta_predial"), ("valor catastral", "avalúo")),
        ("CAT-002", "Avalúo catastral", "Avalúo oficial para compraventa o herencia.", ("formula", "2 al millar del valor, mínimo 650.00", None),
         ("P10D", "business", "none"), ("document", "P6M", "Avalúo catastral"), (REQ,), "clave_catastral",
         ("ine", "escritura", "no_adeudo"), ("avalúo", "compraventa", "herencia")),
        ("CAT-003", "Traslado de dominio", "Registre que un predio cambió de dueño.", "900.00",
         ("P10D", "business", "none"), ("document", None, "Aviso de traslado de dominio"), (), "clave_catastral",
         ("escritura", "no_adeudo", "ine"), ("traslado", "compraventa", "cambio de dueño", "isai")),
        ("CAT-004", "Deslinde catastral", "Medición oficial de los límites de su terreno.", ("range", "1200.00", "4500.00"),
         ("P15D", "business", "none"), ("document", None, "Plano de deslinde"), (REQ,), "clave_catastral",
         ("ine", "escritura"), ("deslinde", "medición", "linderos")),
        ("CAT-005", "Alta de predio en el padrón catastral", "Registre un predio nuevo en catastro.", "350.00",
         ("P10D", "business", "none"), ("registration", None, "Clave catastral"), (), None,
         ("ine", "escritura", "planos"), ("alta", "registro de predio", "clave catastral")),
        ("CAT-006", "Cédula catastral", "Documento con los datos catastrales de un predio.", "150.00",
         ("P1D", "business", "none"), ("certificate", "P6M", "Cédula catastral"), (PAY, REQ, PRT), "clave_catastral",
         ("ine",), ("cédula", "datos del predio")),
        ("CAT-007", "Plano catastral certificado", "Copia certificada del plano de su manzana o predio.", "280.00",
         ("P3D", "business", "none"), ("certificate", None, "Plano certificado"), (REQ,), "clave_catastral",
         ("ine",), ("plano", "croquis", "cartografía")),
        ("CAT-008", "Actualización de construcción en catastro", "Registre una ampliación de su casa en catastro.",
         "free", ("P10D", "business", "none"), ("document", None, "Acuse de actualización"), (REQ,), "clave_catastral",
         ("ine", "planos"), ("actualización", "ampliación")),
        ("CAT-009", "Certificado de no propiedad", "Documento que dice que usted no tiene predios en el municipio.",
         "204.50", ("P3D", "business", "none"), ("certificate", "P3M", "Certificado de no propiedad"), (PAY, REQ, PRT), None,
         ("ine", "curp"), ("no propiedad", "crédito infonavit", "vivienda")),
        ("CAT-010", "Rectificación de superficie", "Corrija los metros registrados de su predio.", "650.00",
         ("P20D", "business", "negativa_ficta"), ("document", None, "Resolución de rectificación"), (), "clave_catastral",
         ("ine", "escritura", "planos"), ("superficie", "metros", "rectificación")),
        ("CAT-011", "Consulta de clave catastral", "Busque la clave catastral de su predio.", "free",
         ("PT5M", "calendar", "none"), ("document", None, "Ficha del predio"), (REQ, PRT), None, ("ine",),
         ("clave catastral", "cuenta predial", "buscar predio")),
        ("CAT-012", "Certificado de historia catastral", "Historial de dueños y valores de un predio.", "410.00",
         ("P5D", "business", "none"), ("certificate", None, "Historia catastral"), (REQ,), "clave_catastral",
         ("ine", "escritura"), ("historial", "antecedentes")),
    ],
    "medio_ambiente": [
        ("AMB-001", "Permiso de derribo de árbol", "Permiso para quitar un árbol que representa un riesgo.",
         "81.50", ("P10D", "business", "negativa_ficta"), ("permit", "P15D", "Dictamen de derribo"), (REQ,), None,
         ("ine", "fotos_predio", "solicitud"), ("tala", "derribo", "árbol", "cortar árbol")),
        ("AMB-002", "Permiso de poda de árbol", "Permiso para podar árboles en banqueta o domicilio.", "free",
         ("P5D", "business", "afirmativa_ficta"), ("permit", "P1M", "Permiso de poda"), (REQ,), None,
         ("ine", "fotos_predio"), ("poda", "ramas")),
        ("AMB-003", "Licencia ambiental municipal", "Licencia para negocios que generan emisiones o residuos.",
         ("range", "900.00", "7500.00"), ("P20D", "business", "negativa_ficta"),
         ("license", "P1Y", "Licencia ambiental"), (), None, ("ine", "rfc", "uso_suelo", "solicitud"),
         ("licencia ambiental", "emisiones", "impacto ambiental")),
        ("AMB-004", "Denuncia ambiental", "Denuncie contaminación, ruido, humo o tiradero clandestino.", "free",
         ("P10D", "business", "none"), ("document", None, "Folio de denuncia"), (REQ, PRT), None, (),
         ("contaminación", "ruido", "humo", "tiradero", "denuncia")),
        ("AMB-005", "Registro de generador de residuos de manejo especial", "Registro para negocios con residuos especiales.",
         "650.00", ("P15D", "business", "none"), ("registration", "P1Y", "Registro de generador"), (), None,
         ("rfc", "ine", "solicitud"), ("residuos", "basura industrial")),
        ("AMB-006", "Donación de árboles", "Reciba árboles para plantar en su colonia.", "free",
         ("P5D", "business", "none"), ("document", None, "Vale de árboles"), (REQ, PRT), None, ("ine",),
         ("reforestación", "plantar", "árboles gratis")),
        ("AMB-007", "Permiso de quema agrícola controlada", "Permiso para quemas controladas en parcelas.", "free",
         ("P5D", "business", "negativa_ficta"), ("permit", "P7D", "Permiso de quema"), (REQ,), None,
         ("ine", "solicitud"), ("quema", "parcela", "campo")),
        ("AMB-008", "Recolección de residuos voluminosos", "Pida que recojan muebles o colchones viejos.",
         ("range", "150.00", "600.00"), ("P7D", "calendar", "none"), ("receipt", None, "Orden de recolección"),
         (PAY, REQ, PRT), None, ("domicilio",), ("cacharros", "muebles viejos", "colchón", "tiliches")),
        ("AMB-009", "Registro de mascotas y esterilización", "Registre a su perro o gato y agende esterilización.",
         "free", ("P7D", "calendar", "none"), ("document", None, "Cita de esterilización"), (REQ, PRT), None, ("ine",),
         ("mascota", "perro", "gato", "esterilizar", "vacuna antirrábica")),
        ("AMB-010", "Dictamen de ruido para negocios", "Dictamen de emisiones de ruido de un negocio.", "750.00",
         ("P10D", "business", "none"), ("document", "P1Y", "Dictamen de ruido"), (), None, ("ine", "rfc"),
         ("ruido", "decibeles", "sonido")),
        ("AMB-011", "Adopción de áreas verdes", "Adopte y cuide un parque o camellón.", "free",
         ("P15D", "business", "none"), ("document", "P1Y", "Convenio de adopción"), (), None, ("ine", "solicitud"),
         ("parque", "jardín", "camellón")),
    ],
    "panteones": [
        ("PAN-001", "Inhumación en panteón municipal", "Permiso para sepultar a un familiar.", "950.00",
         ("P0D", "calendar", "none"), ("permit", None, "Permiso de inhumación"), (), None,
         ("acta_def", "titulo_fosa", "ine"), ("sepultura", "entierro", "inhumación")),
        ("PAN-002", "Exhumación", "Permiso para sacar restos de una fosa.", "1250.00",
         ("P5D", "business", "negativa_ficta"), ("permit", None, "Permiso de exhumación"), (), None,
         ("acta_def", "titulo_fosa", "ine", "solicitud"), ("exhumación", "restos")),
        ("PAN-003", "Refrendo de fosa", "Pague el refrendo de la fosa de su familia.", ("formula", "2 UMA por año", "UMA"),
         ("PT10M", "calendar", "none"), ("receipt", None, "Recibo de refrendo"), (PAY, PRT), "folio_solicitud",
         ("titulo_fosa",), ("refrendo", "fosa", "perpetuidad")),
        ("PAN-004", "Compra de fosa a perpetuidad", "Adquiera derechos sobre una fosa.", ("range", "4500.00", "12000.00"),
         ("P3D", "business", "none"), ("document", None, "Título de fosa"), (), None, ("ine", "curp", "domicilio"),
         ("comprar fosa", "lote", "gaveta")),
        ("PAN-005", "Permiso de construcción de monumento funerario", "Permiso para construir una lápida o capilla.",
         ("range", "350.00", "2500.00"), ("P5D", "business", "afirmativa_ficta"), ("permit", "P3M", "Permiso de construcción"),
         (REQ,), None, ("titulo_fosa", "ine"), ("lápida", "capilla", "monumento")),
        ("PAN-006", "Cremación", "Servicio de cremación en el crematorio municipal.", "3800.00",
         ("P1D", "calendar", "none"), ("document", None, "Constancia de cremación"), (), None,
         ("acta_def", "ine"), ("cremación", "cenizas")),
        ("PAN-007", "Traslado de restos", "Permiso para trasladar restos a otro panteón.", "650.00",
         ("P3D", "business", "none"), ("permit", None, "Permiso de traslado"), (), None,
         ("acta_def", "titulo_fosa", "ine"), ("traslado", "otro panteón")),
        ("PAN-008", "Cambio de titular de fosa", "Ponga la fosa a nombre de otro familiar.", "450.00",
         ("P5D", "business", "none"), ("document", None, "Título actualizado"), (REQ,), None,
         ("titulo_fosa", "ine", "acta_def"), ("cambio de titular", "herencia de fosa")),
        ("PAN-009", "Constancia de fosa", "Documento con los datos de una fosa y su titular.", "120.00",
         ("P1D", "business", "none"), ("certificate", "P6M", "Constancia de fosa"), (PAY, REQ, PRT), "folio_solicitud",
         ("ine",), ("constancia", "ubicación de fosa")),
        ("PAN-010", "Mantenimiento anual de fosa", "Limpieza y pintura de la fosa por el panteón.", "380.00",
         ("P15D", "calendar", "none"), ("receipt", None, "Recibo de mantenimiento"), (PAY, REQ, PRT), "folio_solicitud",
         (), ("limpieza", "mantenimiento")),
        ("PAN-011", "Búsqueda de ubicación de fosa", "Encuentre dónde está sepultado un familiar.", "free",
         ("PT15M", "calendar", "none"), ("document", None, "Ficha de ubicación"), (REQ, PRT), None, (),
         ("buscar tumba", "dónde está", "ubicación")),
    ],
    "programas_sociales": [
        ("SOC-001", "Apoyo a adultos mayores", "Apoyo económico bimestral para personas de 65 años o más.", "free",
         ("P30D", "business", "none"), ("registration", "P1Y", "Registro en el programa"), (REQ,), None,
         ("ine", "curp", "domicilio", "acta_nac"), ("adulto mayor", "tercera edad", "pensión", "apoyo")),
        ("SOC-002", "Beca municipal para estudiantes", "Beca para estudiantes de primaria a universidad.", "free",
         ("P30D", "business", "none"), ("registration", "P1Y", "Registro de beca"), (REQ,), None,
         ("curp", "domicilio", "ingresos", "acta_nac"), ("beca", "escuela", "estudiante")),
        ("SOC-003", "Despensa para familias en situación vulnerable", "Apoyo alimentario mensual.", "free",
         ("P15D", "business", "none"), ("registration", "P6M", "Tarjeta de beneficiario"), (REQ,), None,
         ("ine", "curp", "estudio_socio"), ("despensa", "comida", "alimentos")),
        ("SOC-004", "Credencial de discapacidad", "Credencial que da descuentos a personas con discapacidad.", "free",
         ("P10D", "business", "none"), ("card", "P3Y", "Credencial"), (REQ,), None, ("ine", "curp", "fotos"),
         ("discapacidad", "credencial", "descuentos")),
        ("SOC-005", "Préstamo de silla de ruedas o aparatos ortopédicos", "Préstamo temporal de aparatos.", "free",
         ("P5D", "business", "none"), ("document", None, "Vale de préstamo"), (REQ,), None, ("ine", "curp"),
         ("silla de ruedas", "muletas", "andadera")),
        ("SOC-006", "Consulta médica en el DIF", "Consulta médica general a bajo costo.", "50.00",
         ("P1D", "calendar", "none"), ("document", None, "Ficha de consulta"), (PAY, REQ, PRT), None, ("curp",),
         ("doctor", "médico", "consulta")),
        ("SOC-007", "Terapia de rehabilitación", "Sesiones en la unidad básica de rehabilitación.",
         ("range", "30.00", "120.00"), ("P7D", "calendar", "none"), ("document", None, "Carnet de citas"),
         (PAY, REQ), None, ("curp", "estudio_socio"), ("terapia", "rehabilitación", "fisioterapia")),
        ("SOC-008", "Asesoría jurídica gratuita", "Asesoría legal en temas familiares.", "free",
         ("P3D", "business", "none"), ("document", None, "Cita"), (REQ, PRT), None, ("ine",),
         ("abogado", "pensión alimenticia", "asesoría legal")),
        ("SOC-009", "Inscripción a talleres y cursos comunitarios", "Talleres de oficios, arte y deporte.",
         ("range", "0.00", "250.00"), ("P7D", "calendar", "none"), ("registration", None, "Inscripción"), (PAY, REQ, PRT),
         None, ("curp",), ("cursos", "talleres", "manualidades", "deporte")),
        ("SOC-010", "Apoyo para mejoramiento de vivienda", "Láminas, cemento o tinacos a bajo costo.", "free",
         ("P30D", "business", "none"), ("document", None, "Vale de materiales"), (REQ,), None,
         ("ine", "curp", "estudio_socio", "escritura"), ("láminas", "cemento", "tinaco", "vivienda")),
        ("SOC-011", "Credencial INAPAM en el municipio", "Tramite aquí su credencial de adulto mayor.", "free",
         ("P1D", "business", "none"), ("card", None, "Credencial INAPAM"), (REQ,), None,
         ("ine", "curp", "fotos", "domicilio"), ("inapam", "tercera edad", "descuentos")),
        ("SOC-012", "Registro a guardería municipal", "Inscriba a su hijo en la estancia infantil.",
         ("range", "0.00", "400.00"), ("P15D", "business", "none"), ("registration", "P1Y", "Inscripción"), (REQ,), None,
         ("acta_nac", "curp", "ine", "domicilio"), ("guardería", "estancia infantil", "niños")),
    ],
    "proteccion_civil": [
        ("PC-001", "Dictamen de protección civil para negocios", "Revisión de seguridad obligatoria para abrir un negocio.",
         ("range", "450.00", "8500.00"), ("P10D", "business", "afirmativa_ficta"),
         ("document", "P1Y", "Dictamen de protección civil"), (REQ,), None, ("ine", "rfc", "solicitud"),
         ("dictamen", "seguridad", "extintores")),
        ("PC-002", "Visto bueno para eventos masivos", "Revisión de seguridad para eventos con mucha gente.",
         ("range", "800.00", "15000.00"), ("P10D", "business", "negativa_ficta"), ("document", None, "Visto bueno"),
         (), None, ("ine", "solicitud"), ("evento masivo", "concierto", "feria")),
        ("PC-003", "Programa interno de protección civil", "Registro del programa interno de su empresa.",
         "1200.00", ("P15D", "business", "none"), ("registration", "P1Y", "Registro del programa"), (), None,
         ("rfc", "acta_const", "solicitud"), ("programa interno", "empresa")),
        ("PC-004", "Capacitación en primeros auxilios", "Curso de primeros auxilios para vecinos y empresas.",
         ("range", "0.00", "3500.00"), ("P15D", "calendar", "none"), ("certificate", "P1Y", "Constancia de curso"),
         (REQ,), None, ("ine",), ("primeros auxilios", "curso", "brigada")),
        ("PC-005", "Revisión de riesgo en vivienda", "Inspección de grietas, bardas o árboles con riesgo.", "free",
         ("P5D", "business", "none"), ("document", None, "Opinión técnica"), (REQ, PRT), None, ("ine", "domicilio"),
         ("riesgo", "grietas", "derrumbe", "inspección")),
        ("PC-006", "Permiso para quema de pirotecnia", "Permiso para fuegos artificiales en fiestas.",
         ("range", "500.00", "5000.00"), ("P10D", "business", "negativa_ficta"), ("permit", None, "Permiso de quema"),
         (), None, ("ine", "solicitud"), ("cohetes", "fuegos artificiales", "pirotecnia")),
        ("PC-007", "Simulacro en escuela o empresa", "Solicite apoyo para un simulacro.", "free",
         ("P15D", "business", "none"), ("document", None, "Constancia de simulacro"), (REQ,), None, ("solicitud",),
         ("simulacro", "sismo", "evacuación")),
        ("PC-008", "Registro de gasera o pipa de gas", "Registro de seguridad para distribuidores de gas.",
         "2500.00", ("P15D", "business", "negativa_ficta"), ("registration", "P1Y", "Registro"), (), None,
         ("rfc", "acta_const", "solicitud"), ("gas", "pipa de gas", "gasera")),
        ("PC-009", "Reporte de emergencia no urgente", "Reporte de enjambres, cables caídos o fugas de gas pequeñas.",
         "free", ("P1D", "calendar", "none"), ("document", None, "Folio de reporte"), (REQ, PRT), None, (),
         ("abejas", "enjambre", "cables caídos", "fuga de gas")),
        ("PC-010", "Constancia de no riesgo para vivienda", "Constancia para créditos de vivienda.", "350.00",
         ("P5D", "business", "none"), ("certificate", "P6M", "Constancia de no riesgo"), (REQ,), None,
         ("ine", "escritura"), ("no riesgo", "crédito", "infonavit")),
    ],
    "servicios_publicos": [
        ("SP-001", "Reporte de alumbrado público", "Avise de una lámpara apagada o que parpadea en su calle.", "free",
         ("P3D", "business", "none"), ("document", None, "Folio de reporte"), (REQ, PRT), None, (),
         ("alumbrado", "lámpara", "poste", "calle oscura")),
        ("SP-002", "Reporte de bache", "Avise de un bache o hundimiento en la calle.", "free",
         ("P10D", "business", "none"), ("document", None, "Folio de reporte"), (REQ, PRT), None, (),
         ("bache", "hoyo", "pavimento")),
        ("SP-003", "Recolección de basura especial", "Pida recolección de ramas, escombro o basura extra.",
         ("range", "200.00", "900.00"), ("P5D", "calendar", "none"), ("receipt", None, "Orden de servicio"), (PAY, REQ, PRT),
         None, ("domicilio",), ("basura", "escombro", "ramas", "limpia")),
        ("SP-004", "Reporte de falta de recolección de basura", "Avise si el camión de basura no pasó.", "free",
         ("P2D", "calendar", "none"), ("document", None, "Folio de reporte"), (REQ, PRT), None, (),
         ("camión de basura", "no pasó", "recolección")),
        ("SP-005", "Instalación de nueva luminaria", "Pida una lámpara nueva donde no hay alumbrado.", "free",
         ("P30D", "business", "none"), ("document", None, "Folio de solicitud"), (REQ, PRT), None, ("ine", "domicilio"),
         ("alumbrado nuevo", "poste nuevo", "lámpara")),
        ("SP-006", "Préstamo de espacios públicos", "Use un parque, auditorio o cancha para un evento.",
         ("range", "0.00", "3500.00"), ("P10D", "business", "negativa_ficta"), ("permit", None, "Permiso de uso"),
         (REQ,), None, ("ine", "solicitud"), ("auditorio", "cancha", "salón", "parque")),
        ("SP-007", "Limpieza de lote baldío", "Denuncie o pida la limpieza de un terreno abandonado.",
         ("formula", "5.00 por m2 con cargo al propietario", None), ("P15D", "business", "none"),
         ("document", None, "Folio de reporte"), (REQ, PRT), None, (), ("lote baldío", "terreno sucio", "maleza")),
        ("SP-008", "Reporte de fuga de drenaje en vía pública", "Avise de drenaje desbordado en la calle.", "free",
         ("P2D", "calendar", "none"), ("document", None, "Folio de reporte"), (REQ, PRT), None, (),
         ("aguas negras", "drenaje", "mal olor")),
        ("SP-009", "Balizamiento y pintura de topes", "Pida que pinten topes, pasos peatonales o guarniciones.",
         "free", ("P30D", "business", "none"), ("document", None, "Folio de solicitud"), (REQ, PRT), None, (),
         ("topes", "paso de cebra", "pintura")),
        ("SP-010", "Reporte de perro callejero o animal muerto", "Pida el retiro de animales en la vía pública.",
         "free", ("P2D", "calendar", "none"), ("document", None, "Folio de reporte"), (REQ, PRT), None, (),
         ("perro callejero", "animal muerto", "antirrábico")),
        ("SP-011", "Mantenimiento de parques y jardines", "Pida poda de pasto, juegos o bancas en un parque.", "free",
         ("P15D", "business", "none"), ("document", None, "Folio de solicitud"), (REQ, PRT), None, (),
         ("parque", "juegos infantiles", "pasto")),
        ("SP-012", "Alumbrado para evento en la calle", "Conexión temporal de luz para fiestas patronales.",
         ("range", "300.00", "1500.00"), ("P5D", "business", "none"), ("permit", None, "Permiso de conexión"),
         (PAY, REQ), None, ("ine", "solicitud"), ("luz", "fiesta", "conexión temporal")),
    ],
    "atencion_ciudadana": [
        ("AC-001", "Constancia de residencia", "Documento que dice que usted vive en el municipio.", "84.49",
         ("P1D", "business", "none"), ("certificate", "P6M", "Constancia de residencia"), (PAY, REQ, PRT), None,
         ("ine", "domicilio", "fotos"), ("residencia", "vecindad", "domicilio")),
        ("AC-002", "Constancia de identidad", "Constancia con fotografía para quien no tiene identificación.",
         "84.49", ("P1D", "business", "none"), ("certificate", "P6M", "Constancia de identidad"), (REQ,), None,
         ("acta_nac", "domicilio", "fotos", "presencia"), ("identidad", "sin identificación")),
        ("AC-003", "Constancia de origen", "Documento que dice que usted nació en el municipio.", "84.49",
         ("P1D", "business", "none"), ("certificate", "P6M", "Constancia de origen"), (REQ,), None,
         ("acta_nac", "ine"), ("origen", "originario")),
        ("AC-004", "Constancia de dependencia económica", "Constancia de que una persona depende de usted.",
         "84.49", ("P1D", "business", "none"), ("certificate", "P6M", "Constancia de dependencia"), (REQ,), None,
         ("ine", "acta_nac", "presencia"), ("dependencia económica", "seguro")),
        ("AC-005", "Constancia de ingresos", "Constancia de ingresos para personas sin recibo de nómina.", "84.49",
         ("P1D", "business", "none"), ("certificate", "P3M", "Constancia de ingresos"), (REQ,), None,
         ("ine", "domicilio"), ("ingresos", "sueldo", "trabajo informal")),
        ("AC-006", "Carta de no antecedentes de faltas administrativas", "Constancia de que no tiene faltas en el juzgado cívico.",
         "120.00", ("P1D", "business", "none"), ("certificate", "P3M", "Carta de no faltas"), (PAY, REQ, PRT), None,
         ("ine", "curp"), ("antecedentes", "carta de policía", "trabajo")),
        ("AC-007", "Cartilla del Servicio Militar Nacional", "Trámite de la cartilla militar para jóvenes de 18 años.",
         "free", ("P30D", "business", "none"), ("card", None, "Cartilla militar"), (REQ,), None,
         ("acta_nac", "curp", "domicilio", "fotos", "mayor_edad"), ("cartilla", "servicio militar")),
        ("AC-008", "Queja o sugerencia ciudadana", "Presente una queja sobre un servidor público o un servicio.",
         "free", ("P10D", "business", "none"), ("document", None, "Folio"), (REQ, PRT), None, (),
         ("queja", "sugerencia", "denuncia", "mal servicio")),
        ("AC-009", "Solicitud de acceso a la información pública", "Pida información pública al municipio.", "free",
         ("P20D", "business", "none"), ("document", None, "Respuesta"), (REQ, PRT), None, (),
         ("transparencia", "información pública")),
        ("AC-010", "Audiencia con el presidente municipal", "Solicite una audiencia pública.", "free",
         ("P15D", "business", "none"), ("document", None, "Cita"), (REQ,), None, ("ine",), ("audiencia", "alcalde",
                                                                                         "presidente municipal")),
        ("AC-011", "Constancia de concubinato", "Constancia de que dos personas viven juntas.", "120.00",
         ("P1D", "business", "none"), ("certificate", "P6M", "Constancia de concubinato"), (REQ,), None,
         ("ine", "domicilio", "presencia"), ("unión libre", "concubinato", "pareja")),
        ("AC-012", "Certificación de documentos municipales", "Copias certificadas de documentos del archivo municipal.",
         ("formula", "25.00 por hoja", None), ("P3D", "business", "none"), ("certificate", None, "Copia certificada"),
         (PAY, REQ), None, ("ine", "solicitud"), ("copias certificadas", "archivo")),
        ("AC-013", "Registro en la bolsa de trabajo municipal", "Encuentre empleo en empresas de la región.", "free",
         ("P1D", "business", "none"), ("registration", "P6M", "Registro"), (REQ, PRT), None, ("ine", "curp"),
         ("empleo", "trabajo", "vacantes")),
    ],
}

LEGAL = {
    "ley-ingresos": ("municipal", "ley_ingresos",
                     f"Ley de Ingresos del Municipio de San Andrés del Valle para el Ejercicio Fiscal {YEAR}"),
    "codigo-fiscal": ("municipal", "codigo", "Código Fiscal y Presupuestario del Municipio de San Andrés del Valle"),
    "reglamento": ("municipal", "reglamento", "Reglamento de la Administración Pública Municipal"),
    "ley-registro": ("state", "ley", "Ley del Registro Civil del Estado de Puebla"),
    "ley-ordenamiento": ("state", "ley", "Ley de Desarrollo Urbano Sustentable del Estado de Puebla"),
    "ley-procedimiento": ("state", "ley", "Ley de Procedimiento Administrativo del Estado de Puebla"),
}
CATEGORY_LAW = {"registro_civil": "ley-registro", "desarrollo_urbano": "ley-ordenamiento",
                "catastro": "ley-ordenamiento"}


def _es(value: str) -> dict[str, str]:
    return {"es": value}


def office_record(office_id: str) -> dict[str, Any]:
    name, street, number, building, floor, window, hours, lat, lng, phone = OFFICES[office_id]
    return {
        "id": office_id, "name": _es(name),
        "address": {"street": street, "number": number, "locality": "Centro", "postal_code": "72990",
                    "municipality": "San Andrés del Valle", "state": "Puebla", "country": "MX",
                    "building": building, "floor": floor, "window": window},
        "geo": {"lat": lat, "lng": lng}, "phone": phone, "hours": [dict(h) for h in hours],
        "closures": [{"date": day, "reason": _es(reason)} for day, reason in HOLIDAYS],
    }


def _requirement(key: str) -> dict[str, Any]:
    name, original, copies, certified, issued_by, procedure_id, kind = REQUIREMENTS[key]
    record: dict[str, Any] = {"id": key, "name": _es(name), "kind": kind}
    if kind == "document":
        record.update(original=original, copies=copies, certified_copies=certified)
    if issued_by:
        record["issued_by"] = _es(issued_by)
    if procedure_id:
        record["procedure_id"] = procedure_id
    if key == "carta_poder":
        record["optional"] = True
    return record


def _cost(spec: Any, actions: tuple, article: int, category: str) -> dict[str, Any]:
    places = ["office", "bank"] + (["kiosk"] if PAY in actions else [])
    base: dict[str, Any] = {"id": "derechos", "currency": "MXN", "per": "tramite", "payment_places": places,
                            "payment_moment": "before", "effective_from": f"{YEAR}-01-01",
                            "effective_to": f"{YEAR}-12-31", "legal_basis_ids": ["ley-ingresos"],
                            "concept": _es(f"Derechos, artículo {article} de la Ley de Ingresos {YEAR}")}
    if spec == "free":
        base.update(kind="free")
        for key in ("payment_places", "payment_moment", "per"):
            base.pop(key)
    elif isinstance(spec, str):
        base.update(kind="fixed", amount=spec)
    elif spec[0] == "range":
        base.update(kind="range", min=spec[1], max=spec[2])
    elif spec[0] == "formula":
        base.update(kind="formula", formula=_es(spec[1]))
        if spec[2]:
            base["unit"] = spec[2]
    else:
        base.update(kind="variable", text=_es(spec[1]))
    if category == "predial":
        # January/February/March discounts for paying the whole year early, as many municipalities do.
        base["discounts"] = [
            {"from": f"{YEAR}-01-01", "to": f"{YEAR}-01-31", "percent": "15", "text": _es("Pago anual en enero")},
            {"from": f"{YEAR}-02-01", "to": f"{YEAR}-02-28", "percent": "10", "text": _es("Pago anual en febrero")},
            {"from": f"{YEAR}-03-01", "to": f"{YEAR}-03-31", "percent": "5", "text": _es("Pago anual en marzo")},
        ]
    return base


def _channels(office_id: str, actions: tuple, account: str | None, code: str) -> list[dict[str, Any]]:
    channels: list[dict[str, Any]] = [
        {"id": "ventanilla", "type": "in_person", "office_ids": [office_id], "languages": ["es"],
         "steps": [_es("Acuda a la ventanilla con sus documentos."), _es("Pague los derechos en caja si aplica."),
                   _es("Reciba su comprobante o la fecha de entrega.")]},
        {"id": "telefono", "type": "phone", "phone": OFFICES[office_id][9]},
    ]
    if actions:
        kiosk: dict[str, Any] = {"pay": PAY in actions, "request": REQ in actions, "print": PRT in actions,
                                 "id_methods": ["account_number"] if account else ["ine_qr", "curp"]}
        if account:
            kiosk["account"] = account
        channels.append({"id": "kiosco", "type": "kiosk", "kiosk": kiosk, "processing_time": "PT10M",
                         "languages": ["es"]})
        channels.append({"id": "en-linea", "type": "online", "url": f"{WEB}/tramites/{code.lower()}"})
    return channels


def build_procedure(category: str, entry: T, index: int, rng: random.Random) -> dict[str, Any]:
    code, name, summary, cost, deadline, output, actions, account, requirements, keywords = entry
    authority_id, authority_name, unit, office_id = AUTHORITIES[category]
    output_type, validity, output_name = output
    law = CATEGORY_LAW.get(category, "reglamento")
    article = 10 + index * 3 + len(name) % 7
    record: dict[str, Any] = {
        "id": f"sadv:{code}",
        "external_ids": {"homoclave": f"SADV-{code}"},
        "kind": "servicio" if (output_type == "document" and "Folio" in output_name) else "tramite",
        "name": _es(name), "summary": _es(summary),
        "description": _es(f"{summary} Este trámite lo atiende {authority_name} ({unit}). "
                           "Revise los requisitos antes de acudir y lleve originales y copias."),
        "authority": {"id": authority_id, "name": _es(authority_name), "unit": _es(unit),
                      "phone": OFFICES[office_id][9]},
        "audience": [{"who": "persona_moral" if "acta_const" in requirements else "persona_fisica"}],
        "requirements": [_requirement(key) for key in requirements],
        "costs": [_cost(cost, actions, article, category)],
        "deadlines": [{"kind": "resolve", "duration": deadline[0], "day_kind": deadline[1],
                       "silence_rule": deadline[2]}],
        "outputs": [{"id": "resultado", "name": _es(output_name), "type": output_type,
                     **({"validity": validity} if validity else {})}],
        "channels": _channels(office_id, actions, account, code),
        "offices": [office_record(office_id)],
        "legal_basis": [
            {"id": "ley-ingresos", "order": "municipal", "type": LEGAL["ley-ingresos"][1],
             "name": LEGAL["ley-ingresos"][2], "article": str(article)},
            {"id": law, "order": LEGAL[law][0], "type": LEGAL[law][1], "name": LEGAL[law][2],
             "article": str(5 + index)},
        ],
        "categories": [category],
        "keywords": {"es": list(keywords)},
        "popularity": _popularity(category, index, rng),
        "digital_level": 2 if actions else 1,
        "status": "active",
        "meta": {"rev": 1, "reviewed_at": REVIEWED_AT, "source_updated_at": "2025-12-15T10:00:00-06:00"},
    }
    if deadline[2] != "none":
        record["deadlines"].append({"kind": "prevent", "duration": "P5D", "day_kind": "business",
                                    "text": _es("Si falta algo, le avisarán dentro de este plazo.")})
    if "solicitud" in requirements:
        record["forms"] = [{"id": "solicitud", "name": _es(f"Formato de solicitud: {name.lower()}"),
                            "url": f"{WEB}/formatos/{code.lower()}.pdf"}]
    if len(requirements) >= 2:
        record["requirements"].append(_requirement("carta_poder"))
    return record


def _popularity(category: str, index: int, rng: random.Random) -> int:
    # The first procedures of the busiest categories are what most people come for (predial, water,
    # birth certificates, fines); the rest decays with a little noise.
    heavy = {"predial": 1000, "agua": 900, "registro_civil": 800, "transito": 700}.get(category, 400)
    return min(1000, max(1, int(heavy / (1 + index * 0.8)) + rng.randint(0, 20)))


ZIPF_EXPONENT = 1.2
TOP_WEIGHT = 1000  # popularity is a relative weight, 0-1000


def _realistic_demand(procedures: list[dict[str, Any]]) -> None:
    """Popularity shaped like demand at a city hall's counters: keep the order the
    templates give (predial, water, civil registry, fines first) but let demand fall off as a Zipf
    law, so the property tax and water bills are over a third of all visits and the top ten about
    two thirds. A city's own statistics replace these numbers in a real catalog."""
    ranked = sorted(procedures, key=lambda p: (-p["popularity"], p["id"]))
    for rank, record in enumerate(ranked, start=1):
        record["popularity"] = max(1, round(TOP_WEIGHT / rank**ZIPF_EXPONENT))
        with_content_hash(record)


def build_sample(revision: int = 1) -> dict[str, Any]:
    rng = random.Random(20260101)
    procedures = []
    for category, entries in PROCEDURES.items():
        for index, entry in enumerate(entries):
            record = build_procedure(category, entry, index, rng)
            record["meta"]["rev"] = revision
            procedures.append(with_content_hash(record))
    _realistic_demand(procedures)
    # One withdrawn procedure shows how a retired trámite stays resolvable for old receipts.
    withdrawn = procedures[-1]
    withdrawn["status"] = "withdrawn"
    with_content_hash(withdrawn)
    return {
        "format": CATALOG_FORMAT, "revision": revision, "generated_at": GENERATED_AT,
        "municipality": MUNICIPALITY,
        "categories": [{"id": cid, "name": {**_es(name), "en": CATEGORIES_EN[cid][0]}, "order": order,
                        "icon": icon, "description": {**_es(desc), "en": CATEGORIES_EN[cid][1]}}
                       for cid, name, order, icon, desc in CATEGORIES],
        "procedures": procedures,
    }


_QUALIFIERS = ["", " (zona norte)", " (zona sur)", " para comercios", " para personas morales", " urgente",
               " en delegación", " (segunda vez)", " por internet", " para fraccionamientos"]


def build_synthetic(count: int, seed: int = 7, revision: int = 1) -> dict[str, Any]:
    """A catalog of `count` procedures made by varying the sample's templates (for benchmarks)."""
    sample = build_sample(revision)
    templates = sample["procedures"]
    rng = random.Random(seed)
    procedures = []
    for number in range(count):
        base = templates[number % len(templates)]
        record = json.loads(json.dumps(base))
        variant = number // len(templates)
        suffix = _QUALIFIERS[variant % len(_QUALIFIERS)]
        if variant >= len(_QUALIFIERS):
            suffix += f" {variant // len(_QUALIFIERS) + 1}"
        record["id"] = f"syn:{number:06d}"
        record["name"] = _es(base["name"]["es"] + suffix)
        record["popularity"] = rng.randint(0, 1000)
        record["status"] = "active"
        if record["costs"][0]["kind"] == "fixed":
            amount = float(record["costs"][0]["amount"]) * (1 + rng.randint(0, 40) / 100)
            record["costs"][0]["amount"] = f"{amount:.2f}"
        for requirement in record["requirements"]:
            requirement.pop("procedure_id", None)  # synthetic ids do not line up with the sample's
        procedures.append(with_content_hash(record))
    sample["procedures"] = procedures
    return sample


def write_json(document: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def load_sample() -> dict[str, Any]:
    """The bundled sample catalog (package data)."""
    return json.loads(SAMPLE_PATH.read_text(encoding="utf-8"))


if __name__ == "__main__":
    write_json(build_sample(), Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLE_PATH)
