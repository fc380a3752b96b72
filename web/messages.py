"""The web's message ids, the request's language, and translation through node.i18n.

Every text the web shows is a message id of the node's catalogs. WEB_MESSAGES
lists the ids that belong to the web (English and Spanish) so the catalogs can
carry them; until they do, a catalog miss falls back to this table, so a page
never shows a bare id.
"""

from __future__ import annotations

from aiohttp import web

from node import i18n

# id -> (English, Spanish). Placeholders use {name}.
WEB_MESSAGES: dict[str, tuple[str, str]] = {
    "web_title": ("Neighbourhood reports", "Reportes del vecindario"),
    "web_active_reports": ("Active reports", "Reportes activos"),
    "web_no_reports": ("No active reports right now.", "No hay reportes activos ahora."),
    "web_report_form_title": ("Report what you see", "Reporte lo que ve"),
    "web_field_type": ("What did you see?", "¿Qué vio?"),
    "web_field_area": (
        "Area (neighbourhood or town, not an exact address)",
        "Zona (barrio o pueblo, no una dirección exacta)",
    ),
    "web_field_highway": ("Road or highway (optional)", "Carretera (opcional)"),
    "web_field_description": (
        "What is happening? (optional; no names, plates, phone numbers or addresses)",
        "¿Qué está pasando? (opcional; sin nombres, placas, teléfonos ni direcciones)",
    ),
    "web_field_still_active": ("It is still there", "Todavía está ahí"),
    "web_submit": ("Send report", "Enviar reporte"),
    "web_privacy_note": (
        "No account needed. We do not keep your IP address, your browser details "
        "or the exact time.",
        "No necesita cuenta. No guardamos su dirección IP, los datos de su "
        "navegador ni la hora exacta.",
    ),
    "web_form_has_errors": (
        "Please fix the fields marked below. Your text has been kept.",
        "Corrija los campos marcados abajo. Su texto se ha conservado.",
    ),
    "web_sent_title": ("Thank you, your report was received", "Gracias, recibimos su reporte"),
    "web_sent_body": (
        "It is shown with its confidence level, which rises as neighbours and "
        "moderators confirm it.",
        "Se muestra con su nivel de confianza, que sube cuando vecinos y "
        "moderadores lo confirman.",
    ),
    "web_back": ("Back to reports", "Volver a los reportes"),
    "web_sources": ("Independent reports: {count}", "Reportes independientes: {count}"),
    "web_still_active": ("Still there", "Todavía ahí"),
    "web_not_active": ("No longer active", "Ya no está activo"),
    "web_debunked": ("Debunked: false report", "Desmentido: reporte falso"),
    "web_language": ("Language", "Idioma"),
    "web_required": ("This field is required.", "Este campo es obligatorio."),
    "web_invalid_kind": (
        "Must be \"still_there\" or \"gone\".",
        "Debe ser \"still_there\" o \"gone\".",
    ),
    "web_invalid_action": ("Unknown moderator action.", "Acción de moderación desconocida."),
    "web_not_found": ("Not found.", "No encontrado."),
    "web_method_not_allowed": (
        "This method is not allowed here.",
        "Este método no está permitido aquí.",
    ),
    "web_bad_request": ("Bad request.", "Solicitud incorrecta."),
    "web_server_error": (
        "Something went wrong on our side. Nothing about you was recorded.",
        "Algo falló de nuestro lado. No se registró nada sobre usted.",
    ),
    "web_cross_site": (
        "Requests sent from other sites are refused.",
        "Se rechazan las solicitudes enviadas desde otros sitios.",
    ),
    "web_login_required": (
        "Moderator login required.",
        "Se requiere iniciar sesión como moderador.",
    ),
    "web_csrf_failed": (
        "Missing or wrong CSRF token.",
        "Falta el token CSRF o no es correcto.",
    ),
    "web_login_failed": ("Wrong name or password.", "Nombre o contraseña incorrectos."),
    "web_login_throttled": (
        "Too many login attempts. Please try again in {minutes} minutes.",
        "Demasiados intentos de inicio de sesión. Intente de nuevo en {minutes} minutos.",
    ),
}

# Native names for the language switch (never translated).
LANGUAGE_NAMES: dict[str, str] = {"en": "English", "es": "Español"}

_LANG_KEY: web.RequestKey[str] = web.RequestKey("vecinos_lang", str)


def translate(code: str, lang: str, **params: str) -> str:
    """The text of a message id in lang; a catalog miss falls back to WEB_MESSAGES."""
    try:
        text = i18n.translate(code, lang, **params)
    except LookupError:
        text = code
    if text == code and code in WEB_MESSAGES:
        english, spanish = WEB_MESSAGES[code]
        template = spanish if lang == "es" else english
        try:
            text = template.format(**params)
        except (KeyError, IndexError, ValueError):
            text = template
    return text


def request_lang(request: web.Request) -> str:
    """The language of this request: ?lang= first, then Accept-Language (memoised)."""
    cached = request.get(_LANG_KEY)
    if cached is not None:
        return cached
    explicit = request.query.get("lang")
    if explicit is not None and not (0 < len(explicit) <= 16 and explicit.isascii()):
        explicit = None
    accept = request.headers.get("Accept-Language")
    if accept is not None and len(accept) > 512:
        accept = accept[:512]
    lang = i18n.negotiate(accept, explicit)
    request[_LANG_KEY] = lang
    return lang


def supported_languages() -> tuple[str, ...]:
    return tuple(i18n.SUPPORTED)


def minutes(seconds: int) -> str:
    """Seconds to whole minutes (at least 1), as text for a {minutes} placeholder."""
    return str(max(1, -(-int(seconds) // 60)))
