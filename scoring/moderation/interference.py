"""Calls to interfere with agents or evade a checkpoint, in English and Spanish: sent to review.

Rules kept here:
- An instruction, not a description: imperatives ("block the vans", "pinchen
  las llantas"), first-person plural and "let's" forms ("rodeemos", "let's
  surround them"), and "we should / hay que / vamos a" + the act. What agents
  do ("agents block the road", "la migra bloquea la calle") is a report.
- Acts: blocking, surrounding or boxing in people or vehicles (human chains,
  linked arms, sitting or standing in front), damaging vehicles (tyres,
  windows), throwing things, chasing or following agents home, attacking,
  and running a checkpoint.
- Never refused: a moderator reads it first (review).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from scoring.moderation.normal import View

Span = tuple[int, int]

_TARGET_EN = (
    r"(?:them|him|her|it|those|that|the(?:ir)?\s+(?:\w+\s+)?(?:vans?|trucks?|cars?|suvs?|"
    r"vehicles?|agents?|officers?|cops?|feds?|migra|ice|patrol|bus|door|doors|driveway|exit|"
    r"exits|entrance|street|road|way|gate|intersection|lot))"
)
_LEAD_EN = (
    r"(?:^|[.!?;:,\n]\s*|\b(?:let'?s|lets|let\s+us|we\s+(?:should|need\s+to|must|gotta|have\s+to|"
    r"can|will)|everyone|every1|everybody|y'?all|you\s+guys|guys|people|someone|somebody|"
    r"anyone|go|come|gotta|need\s+to|time\s+to|please|pls|get\s+everyone\s+to|"
    r"tell\s+everyone\s+to)\s+)"
)
_VERB_EN = (
    r"(?:block|blockade|barricade|surround|stop|confront|chase|follow|attack|fight|box|trap|"
    r"slash|puncture|flatten|deflate|spike|pop|throw|smash|break|hit|jump|rush|storm|push|shove|"
    r"ambush|corner|mob|swarm|encircle|lock|link|form|sit|stand|lie|lay|park|run|drive|dox|"
    r"doxx|cut|egg)"
)
_EN = [
    # "block the vans", "let's surround the agents", "everyone go block the exit"
    re.compile(
        rf"{_LEAD_EN}(?:go\s+|come\s+|and\s+)?(?:block|blockade|barricade|surround|encircle|"
        rf"swarm|mob|rush|storm|ambush|corner|confront|attack|jump|trap|box|push\s+back|shove|"
        rf"chase|stop)\s+(?:off\s+)?(?:all\s+)?{_TARGET_EN}"
    ),
    re.compile(rf"{_LEAD_EN}(?:go\s+)?(?:block|blockade|barricade)\s+(?:off\s+)?the\s+\w+"),
    re.compile(
        r"\b(?:let'?s|lets|let\s+us|we\s+should|we\s+need\s+to|we\s+must|we\s+gotta)\s+(?:go\s+)?"
        r"(?:block|blockade|barricade|surround|confront|chase|attack|fight|box|trap|slash|puncture|"
        r"flatten|deflate|spike|throw|smash|break|jump|rush|storm|shove|ambush|corner|mob|swarm|"
        r"encircle|dox+)\b"
    ),
    # tyres, windows, throwing
    re.compile(
        r"\b(?:slash|puncture|flatten|pop|cut|deflate|spike|let\s+the\s+air\s+out\s+of)\s+"
        r"(?:all\s+)?(?:the\s+|their\s+|his\s+|her\s+|them\s+|those\s+)?(?:\w+\s+)?"
        r"(?:tires|tyres|tire|tyre|wheels)\b"
    ),
    re.compile(r"\blet\s+the\s+air\s+out\b"),
    re.compile(
        r"\bthrow(?:ing)?\s+(?:some\s+)?(?:rocks|stones|bottles|bricks|eggs|things|stuff|paint|"
        r"shit|trash|fireworks)\b"
    ),
    re.compile(
        r"\b(?:smash|break|bust)\s+(?:the\s+|their\s+|his\s+|her\s+)?(?:\w+\s+)?(?:windows?|"
        r"windshields?|glass|cameras?|lights)\b"
    ),
    # bodies and cars in the way
    re.compile(r"\b(?:human\s+chain|link\s+arms|lock\s+arms|hold\s+hands\s+around)\b"),
    re.compile(r"\bchain\s+(?:yourselves|yourself|ourselves|themselves)\s+to\b"),
    re.compile(
        r"\b(?:nails|spikes|tacks|glass|caltrops|clavos|tachuelas|vidrios)\s+(?:under|behind|in\s+"
        r"front\s+of|debajo\s+de|bajo|frente\s+a|atras\s+de)\s+(?:the|their|las|sus)?\s*"
        r"(?:tires|tyres|wheels|llantas|ruedas)\b"
    ),
    re.compile(
        rf"{_LEAD_EN}(?:go\s+)?(?:sit|stand|lie|lay|get|form\s+a\s+line|line\s+up|park(?:\s+your\s+"
        r"cars?)?)\s+(?:down\s+)?(?:in\s+front\s+of|across|around|behind|under)\s+(?:the|their|"
        r"them|those)\b"
    ),
    re.compile(
        r"\b(?:so|so\s+that)\s+they\s+(?:can'?t|cannot|can\s+not)\s+(?:leave|get\s+out|move|go|drive|pass|take)\b"
    ),
    re.compile(
        r"\b(?:stop|keep)\s+(?:the|their|them|those)\s+(?:\w+\s+)?(?:from\s+leaving|from\s+going|"
        r"from\s+taking|in)\b"
    ),
    re.compile(r"\bbox\s+(?:them|him|her|it|the\s+\w+)\s+in\b|\bblock\s+them\s+in\b"),
    re.compile(
        r"\bfollow\s+(?:them|him|her|it|the\s+(?:vans?|trucks?|agents?|cars?|officers?|suvs?|"
        r"vehicles?))\s+(?:home|and|to|until|so)\b"
    ),
    re.compile(
        r"\b(?:don'?t|do\s+not|dont)\s+let\s+them\s+(?:leave|go|pass|through|take|out|in|"
        r"get\s+away|drive)\b"
    ),
    # evading a checkpoint
    re.compile(
        r"\b(?:drive|speed|run|go|blow)\s+(?:through|past|around)\s+the\s+(?:checkpoint|roadblock)\b"
    ),
    re.compile(rf"{_LEAD_EN}run\s+the\s+(?:checkpoint|roadblock)\b"),
    re.compile(r"\b(?:don'?t|do\s+not|dont|never)\s+stop\s+(?:at|for)\s+the\s+checkpoint\b"),
    re.compile(r"\boutrun\b"),
    re.compile(r"\bdox+\b"),
]

# Spanish: ustedes/nosotros imperatives and "hay que / vamos a" + infinitive; the
# indicative ("bloquean", "rodean", "siguen") describes the agents and stays.
_ES = [
    re.compile(
        r"\b(?:bloque|rode|acorral|embosc|encierr|persig|ataqu|golpe|apedre|enfrent|detengan|"
        r"paren|tapen|cierren|quiebr|romp|ponch|pinch|desinfl|sig)"
        r"(?:en|emos|anles|enles|enlos|enlas|enla|enlo|amoslos|amoslas|emoslos|emoslas|anlos|"
        r"anlas)\b"
    ),
    re.compile(
        r"\b(?:hay\s+que|hay\s+q|ay\s+que|ai\s+que|vamos\s+a|vengan\s+(?:todos\s+)?a|tenemos\s+que|"
        r"debemos|necesitamos|ayudenme\s+a|ayuden\s+a|todos\s+a|a\s+(?=bloquear|rodear))\s+"
        r"(?:ir\s+a\s+)?(?:(?:bloquear|rodear|atacar|enfrentar|ponchar|pinchar|desinflar|apedrear|"
        r"golpear|acorralar|emboscar|encerrar|quebrar|romper)(?:les|los|las|le|la|lo)?|"
        r"(?:seguir|perseguir|tapar|cerrar|parar|detener|sacar)(?:les|los|las|le|la|lo)|"
        r"(?:ponchar|pinchar|cortar|desinflar)\s+(?:las\s+)?llantas)\b"
    ),
    re.compile(
        r"\b(?:todos|todas)\s+(?:a\s+)?(?:la|el|las|los)?\s*\w*\s*a\s+(?:bloquear|rodear|tapar|cerrar)\w*"
    ),
    re.compile(
        r"\b(?:ponch\w*|pinch\w*|cort\w*|desinfl\w*|rajen|raj\w*)\s+(?:les\s+)?(?:las\s+|sus\s+)?"
        r"(?:llantas|neumaticos|ruedas|gomas)\b"
    ),
    re.compile(
        r"\b(?:tiren|tiremos|tirar|tirarles|tirenles|avienten|aventar|aventemos|aventarles|"
        r"aventenles|lancen|lanzar|lancemos|lancenles|arrojen|arrojar|echenles|echen|echarles|"
        r"echenle|tirenle|aventenle|lancenle|arrojenle)\s+"
        r"(?:les\s+)?(?:piedras|botellas|ladrillos|huevos|cosas|pintura|basura|cohetes)\b"
    ),
    re.compile(
        r"\b(?:sigan|sigamos|persigan)\s+(?:a\s+)?(?:la|las|el|los|esa|esas|ese|esos)\s+"
        r"(?:camionetas?|vans?|trocas?|agentes?|patrullas?|carros?|migra)\b"
    ),
    re.compile(r"\bsiganlos\b|\bsiganlas\b|\bsigan(?:los|las)?\s+(?:y|hasta)\b"),
    re.compile(
        r"\b(?:cierren|cerremos|tapen|tapemos|bloqueen|bloqueemos)\s+(?:les\s+)?(?:el\s+paso|la\s+calle|"
        r"las\s+calles|la\s+salida|las\s+salidas|la\s+entrada|el\s+camino|la\s+camioneta|la\s+van|"
        r"la\s+troca)\b"
    ),
    re.compile(r"\btapar(?:les|le)?\s+el\s+paso\b|\bbloquear(?:les|le)\s+el\s+paso\b"),
    re.compile(
        r"\bno\s+(?:los|las|les|lo|la)\s+dejen\s+(?:pasar|salir|entrar|ir|irse|llevar\w*)\b"
    ),
    re.compile(
        r"\bno\s+(?:dejen|permitan|dejemos)\s+que\s+(?:se\s+)?(?:lo|la|los|las|le|les)?\s*"
        r"(?:lleven|detengan|agarren|saquen|vayan|salgan|pasen)\b"
    ),
    re.compile(
        r"\b(?:rompan|rompamos|quiebren|quebren|quiebrenles|rompanles)\s+(?:los|las|sus)\s+\w+"
    ),
    re.compile(r"\bcadena\s+humana\b|\bagarrense\s+de\s+los\s+brazos\b"),
    re.compile(
        r"\b(?:ponganse|pongamonos|parense|paremonos|sientense|sentemonos|acuestense)\s+"
        r"(?:enfrente|delante|frente|alrededor|atras|detras)\b"
    ),
    re.compile(r"\bpara\s+que\s+no\s+(?:se\s+)?(?:vayan|puedan|salgan|pasen|lleven)\b"),
    re.compile(
        r"\b(?:huyan|escapen|corran|huye|escapa|corre)\s+(?:de|del)\s+(?:la\s+migra|ice|los\s+"
        r"agentes|la\s+policia|ellos|la\s+patrulla|migracion)\b"
    ),
    re.compile(
        r"\bno\s+se\s+(?:detengan|paren)\s+en\s+el\s+(?:reten|punto\s+de\s+control|checkpoint)\b"
    ),
    re.compile(r"\b(?:encierrenlos|encerrarlos|encerremos|encerrar(?:los|las)?\s+con)\b"),
]
# Cheap pre-check: the start of a word some pattern below needs.
_MAYBE = re.compile(
    r"\b(?:block|barricade|surround|encircle|slash|puncture|tire|tyre|wheel|throw|rock|chase|"
    r"follow|box|human|arms|sit|stand|lie|lay|line|form|park|swarm|mob|jump|push|shove|break|"
    r"smash|bust|spike|flatten|deflate|pop|cut|air|let|checkpoint|roadblock|outrun|dox|so|stop|"
    r"keep|attack|confront|ambush|corner|trap|fight|storm|rush|front|drive|"
    r"bloque|rode|ponch|pinch|desinfl|raj|cort|llanta|piedra|sig|persig|cierr|cerr|tap|cadena|"
    r"pong|pare|sient|acuest|quieb|quebr|romp|dejen|dejemos|permit|enfrent|ataq|golpe|apedre|"
    r"hay|ay|ai|vamos|vengan|todos|todas|tenemos|debemos|necesitamos|ayud|huy|escap|corr|"
    r"encerr|encierr|echen|para|acorral|embosc|tir|avient|avent|lanc|lanz|arroj|agarr|deten|no|"
    r"chain|nails|spikes|tacks|glass|caltrops|clavos|tachuelas|vidrios)"
)


def interference(view: View) -> Iterator[Span]:
    low = view.lower
    if not _MAYBE.search(low):
        return
    for rx in _EN + _ES:
        for m in rx.finditer(low):
            yield m.start(), m.end()
