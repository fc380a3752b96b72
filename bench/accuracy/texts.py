"""What simulated people type: honest descriptions, botnet templates, copy-paste edits.

Rules kept here:
- Pure: every function takes a random.Random and returns text; nothing else.
- Honest witnesses write independently: each text is built from a grammar of
  openers, subjects, places, details and closers, in several sentence shapes,
  in English or Spanish, with human noise (lower case, no punctuation, a
  dropped accent), so two witnesses of one event rarely share a phrase.
- Botnets fill one of a few fixed templates per language (the same skeleton,
  different slot values): pairwise they differ, as a whole they are one voice.
- Copy-paste floods start from one honest-looking text and apply light edits
  (a swapped synonym, a dropped or added word, punctuation, case, an emoji).
- Nothing here carries personal information: the node's moderation must
  accept every text (tests/bench checks it on thousands of samples).
"""

from __future__ import annotations

import random

TYPE_WORD = {  # what a reporter picks on the form, by language
    "en": {"checkpoint": "checkpoint", "raid": "raid", "vehicle": "vehicle", "patrol": "patrol"},
    "es": {"checkpoint": "retén", "raid": "redada", "vehicle": "vehículo", "patrol": "patrulla"},
}

SUBJECTS = {
    "en": {
        "checkpoint": (
            "a checkpoint",
            "a checkpoint with cones",
            "agents stopping every car",
            "a roadblock, they check papers",
            "officers checking IDs at a stop",
            "a traffic stop with several agents",
            "a line of cars held by agents",
            "border patrol stopping cars",
        ),
        "raid": (
            "a raid",
            "agents going into a building",
            "ICE detaining people",
            "agents took people from a workplace",
            "people being detained by agents",
            "agents knocking on doors",
            "a lot of agents taking workers",
            "immigration agents at an apartment complex",
        ),
        "vehicle": (
            "an unmarked van",
            "two white SUVs with agents",
            "a gray van with tinted windows",
            "an ICE vehicle parked",
            "unmarked trucks going around",
            "a dark SUV with federal agents",
            "a white van with no logos",
            "two vans that look like ICE",
        ),
        "patrol": (
            "agents walking around",
            "a patrol car driving slowly",
            "officers patrolling on foot",
            "two agents asking people questions",
            "a patrol going house to house",
            "border patrol driving around",
            "agents in vests looking around",
        ),
    },
    "es": {
        "checkpoint": (
            "un retén",
            "un retén con conos",
            "agentes parando todos los carros",
            "un punto de control, piden papeles",
            "oficiales revisando identificaciones",
            "una parada con varios agentes",
            "la migra parando carros",
            "fila de carros detenidos por agentes",
        ),
        "raid": (
            "una redada",
            "agentes entrando a un edificio",
            "ICE deteniendo gente",
            "se llevaron gente del trabajo",
            "están deteniendo personas",
            "agentes tocando puertas",
            "muchos agentes llevándose trabajadores",
            "migración en unos apartamentos",
        ),
        "vehicle": (
            "una camioneta sin placas visibles",
            "dos camionetas blancas con agentes",
            "una van gris con vidrios polarizados",
            "un vehículo de ICE estacionado",
            "trocas sin logos dando vueltas",
            "una camioneta oscura con agentes federales",
            "una van blanca sin logos",
            "dos vans que parecen de la migra",
        ),
        "patrol": (
            "agentes caminando por ahí",
            "una patrulla pasando despacio",
            "oficiales patrullando a pie",
            "dos agentes haciendo preguntas",
            "la patrulla va cuadra por cuadra",
            "la migra dando vueltas",
            "agentes con chalecos vigilando",
        ),
    },
}

PLACES = {
    "en": (
        "near the school",
        "by the gas station",
        "outside the market",
        "at the bus stop",
        "in front of the laundromat",
        "by the church",
        "next to the park",
        "at the freeway exit",
        "on the main road",
        "behind the shopping center",
        "near the clinic",
        "by the taco shop",
        "at the corner by the pharmacy",
        "close to the library",
    ),
    "es": (
        "cerca de la escuela",
        "por la gasolinera",
        "afuera del mercado",
        "en la parada del camión",
        "enfrente de la lavandería",
        "por la iglesia",
        "junto al parque",
        "en la salida de la autopista",
        "por el puente",
        "atrás del centro comercial",
        "cerca de la clínica",
        "por la taquería",
        "en la esquina de la farmacia",
        "cerca de la biblioteca",
    ),
}

DETAILS = {
    "en": (
        "about {n} agents",
        "{n} vehicles",
        "they have vests",
        "lights off",
        "they are asking for papers",
        "some wear masks",
        "been there a while",
        "just arrived",
        "more coming",
        "{n} or {m} of them",
        "people are scared",
        "kids around",
    ),
    "es": (
        "como {n} agentes",
        "{n} vehículos",
        "traen chalecos",
        "con las luces apagadas",
        "están pidiendo papeles",
        "algunos con máscara",
        "ya llevan rato",
        "acaban de llegar",
        "vienen más",
        "son {n} o {m}",
        "la gente tiene miedo",
        "hay niños cerca",
    ),
}

OPENERS = {
    "en": ("", "", "", "heads up", "careful", "just saw", "right now", "hey everyone", "FYI"),
    "es": ("", "", "", "ojo", "cuidado", "acabo de ver", "ahorita", "aviso", "oigan"),
}

CLOSERS = {
    "en": ("", "", "", "stay safe", "be careful", "please share", "!!", "right now"),
    "es": ("", "", "", "cuídense", "tengan cuidado", "compartan", "!!", "ahorita"),
}

THERE_IS = {"en": "there is", "es": "hay"}

ACCENTS = str.maketrans("áéíóúñ", "aeioun")


def _detail(rng: random.Random, lang: str) -> str:
    n = rng.randint(2, 9)
    return rng.choice(DETAILS[lang]).format(n=n, m=n + rng.randint(1, 3))


def honest(rng: random.Random, report_type: str, lang: str) -> str:
    """An independent witness's description of what they saw."""
    subject = rng.choice(SUBJECTS[lang][report_type])
    place = rng.choice(PLACES[lang])
    opener = rng.choice(OPENERS[lang])
    closer = rng.choice(CLOSERS[lang])
    shape = rng.randrange(6)
    if shape == 0:
        text = f"{subject} {place}"
    elif shape == 1:
        text = f"{subject} {place}, {_detail(rng, lang)}"
    elif shape == 2:
        text = f"{place}: {subject}. {_detail(rng, lang)}"
    elif shape == 3:
        text = f"{THERE_IS[lang]} {subject} {place}"
    elif shape == 4:
        text = f"{subject}, {_detail(rng, lang)}, {_detail(rng, lang)}"
    else:
        text = f"{subject} {place}. {_detail(rng, lang)}, {_detail(rng, lang)}"
    if opener:
        text = f"{opener}, {text}" if rng.random() < 0.5 else f"{opener} {text}"
    if closer:
        text = f"{text} {closer}" if closer == "!!" else f"{text}. {closer}"
    return _noise(rng, text)


def _noise(rng: random.Random, text: str) -> str:
    """How people type on a phone: often lower case, sometimes no punctuation or accents."""
    roll = rng.random()
    if roll < 0.4:
        text = text.lower()
    elif roll < 0.7:
        text = text[:1].upper() + text[1:]
    if rng.random() < 0.25:
        text = text.replace(",", "").replace(".", "").replace(":", "")
    if rng.random() < 0.3:
        text = text.translate(ACCENTS)
    return text


# -- botnets: one voice, many mouths ------------------------------------------------

TEMPLATES = {
    "en": (
        "URGENT: {typew} in {area} right now. {n} agents and {v} {veh}. Share with everyone!",
        "ALERT {typew} at {area}, {n} officers, {v} {veh}. Stay inside and share this",
        "{typew} happening in {area} now!! {n} agents {v} {veh}. Pass it on",
    ),
    "es": (
        "URGENTE: {typew} en {area} ahora mismo. {n} agentes y {v} {veh}. ¡Compartan con todos!",
        "ALERTA {typew} en {area}, {n} oficiales, {v} {veh}. Quédense adentro y compartan",
        "¡¡{typew} en {area} ahorita!! {n} agentes {v} {veh}. Pásenlo",
    ),
}
TEMPLATE_VEHICLES = {
    "en": ("vans", "trucks", "SUVs", "unmarked cars"),
    "es": ("camionetas", "trocas", "vans", "carros sin logos"),
}


def templated(rng: random.Random, report_type: str, area: str, lang: str, family: int) -> str:
    """A botnet's text: template `family` (mod the templates) with its slots filled."""
    templates = TEMPLATES[lang]
    return templates[family % len(templates)].format(
        typew=TYPE_WORD[lang][report_type].upper()
        if rng.random() < 0.5
        else TYPE_WORD[lang][report_type],
        area=area,
        n=rng.randint(3, 15),
        v=rng.randint(2, 6),
        veh=rng.choice(TEMPLATE_VEHICLES[lang]),
    )


# -- copy-paste floods ------------------------------------------------------------------

SYNONYMS = {
    "agents": "officers",
    "officers": "agents",
    "near": "close to",
    "van": "truck",
    "vans": "trucks",
    "people": "folks",
    "now": "right now",
    "agentes": "oficiales",
    "oficiales": "agentes",
    "cerca": "junto",
    "camioneta": "troca",
    "gente": "personas",
    "ahorita": "ahora",
    "migra": "ICE",
}
FILLERS = ("now", "!!", "please", "ya", "ojo", "ahora", "🚨", "!!!", "omg")


def long_honest(rng: random.Random, report_type: str, lang: str, min_words: int = 12) -> str:
    """An honest-looking text of at least `min_words` words (the base of a copy-paste flood)."""
    while True:
        text = honest(rng, report_type, lang)
        if len(text.split()) >= min_words:
            return text
        text = f"{text}, {_detail(rng, lang)}, {rng.choice(PLACES[lang])}"
        if len(text.split()) >= min_words:
            return text


def light_edit(rng: random.Random, text: str) -> str:
    """One copy of a text with one or two small edits (or none, a fifth of the time)."""
    if rng.random() < 0.2:
        return text
    words = text.split()
    for _ in range(rng.choice((1, 1, 2))):
        op = rng.randrange(5)
        i = rng.randrange(len(words))
        if op == 0:  # a synonym where there is one, else a filler
            j = next((k for k, w in enumerate(words) if w.lower().strip(",.!") in SYNONYMS), None)
            if j is not None:
                words[j] = SYNONYMS[words[j].lower().strip(",.!")]
            else:
                words.insert(i, rng.choice(FILLERS))
        elif op == 1 and len(words) > 8:
            del words[i]
        elif op == 2:
            words.insert(i, rng.choice(FILLERS))
        elif op == 3:
            words[i] = words[i].lower()
        else:
            words[-1] = words[-1].rstrip(".!") + rng.choice(("!", "!!", ".", " 🚨", ""))
    return " ".join(words)
