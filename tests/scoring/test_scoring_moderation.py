"""moderate(): personal information refused, interference sent to review.

Each row is (text, kinds expected). An empty set is a true negative: the
words reports are made of (highways, times, counts, intersections, places)
must never be refused.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.moderation import REASON_CODE, Finding, FindingKind, Moderation, moderate

P, PH, EM, HA, LI, AD, CO, NA, IN = (
    FindingKind.PLATE,
    FindingKind.PHONE,
    FindingKind.EMAIL,
    FindingKind.HANDLE,
    FindingKind.LINK,
    FindingKind.ADDRESS,
    FindingKind.COORDINATES,
    FindingKind.NAME,
    FindingKind.INTERFERENCE,
)

POSITIVES = [
    # plates, English
    ("white van plate 7ABC123 parked by the school", P),
    ("license 8XYZ 321", P),
    ("license plate number is 7ABC123", P),
    ("Plates: 4GHJ982", P),
    ("tags 8KJH221 on a grey Tahoe", P),
    ("saw 7ABC123 near the trolley", P),
    ("abc1234 texas truck", P),
    ("silver tahoe ABC 1234", P),
    ("Texas plates, ending in 45", P),
    ("badge number 4521", P),
    # plates, Spanish
    ("placas ABC-1234 en la esquina", P),
    ("placa número ABC 123", P),
    ("placas que terminan en 45", P),
    ("placas de California ABC 123", P),
    ("matrícula 7ABC 123", P),
    ("camioneta con placas AB-12-345 de Baja", P),
    # phones
    ("call 619-555-1234", PH),
    ("(619) 555-1234", PH),
    ("+1 619 555 1234", PH),
    ("619.555.1234", PH),
    ("text me 555-1234", PH),
    ("+52 664 123 4567", PH),
    ("+52 1 55 1234 5678", PH),
    ("llamen al 664-123-45-67", PH),
    ("escríbeme al whatsapp 6641234567", PH),
    ("mi cel es 66 41 23 45 67", PH),
    ("llama al 619 555 1234", PH),
    # e-mail
    ("email me juan.perez@gmail.com", EM),
    ("escriban a juan arroba gmail punto com", EM),
    ("contact: maria (at) yahoo (dot) com", EM),
    # handles
    ("follow @someone on twitter", HA),
    ("ig: juan_perez99", HA),
    ("mi insta es @la.vecina.23", HA),
    # links: photos, profiles, any link
    ("see the photo https://imgur.com/a/Xy12AbC", LI),
    ("fotos en drive.google.com/file/d/1AbC", LI),
    ("imgur dot com slash a slash Xy12AbC", LI),
    # addresses
    ("1234 Main St", AD),
    ("245 W Broadway Ave", AD),
    ("they went into 1234 main street", AD),
    ("the 1200 block of Elm", AD),
    ("apt 5B", AD),
    ("Calle Juárez 123", AD),
    ("Av. Revolución #450", AD),
    ("en Calle 5 de Mayo 123", AD),
    ("Blvd. Agua Caliente 4558", AD),
    ("Paseo de los Heroes 9350", AD),
    ("1423 Calle Primera", AD),
    ("3 trucks at 1234 Main St", AD),
    # coordinates
    ("32.7157, -117.1611", CO),
    ("32.7157 -117.1611", CO),
    ("32°42'N 117°09'W", CO),
    ("lat 32.71 lon -117.16", CO),
    ("maps.app.goo.gl/AbC123xyz", CO),
    ("https://maps.google.com/?q=32.7,-117.1", CO),
    ("8M4V+2X San Diego", CO),
    # names
    ("his name is John Smith", NA),
    ("named Maria", NA),
    ("officer Johnson asked for papers", NA),
    ("the agent Smith said", NA),
    ("they took José", NA),
    ("ICE arrested Maria Lopez", NA),
    ("his wife Ana was crying", NA),
    ("se llama Juan Pérez", NA),
    ("se llama juan", NA),
    ("el agente Ramírez", NA),
    ("el agente Ramirez", NA),
    ("el oficial Pérez", NA),
    ("mi vecino Pedro González", NA),
    ("mi tío Juan", NA),
    ("se llevaron a María", NA),
    ("se llevaron a Maria", NA),
    ("el Sr. López de la tienda", NA),
    ("doña Rosa vende tamales", NA),
    # interference (review)
    ("block the van", IN),
    ("let's surround them", IN),
    ("slash their tires", IN),
    ("throw rocks at them", IN),
    ("follow them and see where they go", IN),
    ("everybody come block the street", IN),
    ("don't let them leave", IN),
    ("drive through the checkpoint", IN),
    ("bloqueen la calle", IN),
    ("vamos a rodearlos", IN),
    ("rodéenlos", IN),
    ("rodeenlos", IN),
    ("ponchen las llantas", IN),
    ("tírenles piedras", IN),
    ("tirenles piedras", IN),
    ("no los dejen pasar", IN),
    ("síganlos y vean a dónde van", IN),
    ("hay que seguirlos", IN),
    ("cierren la calle", IN),
]

NEGATIVES = [
    # highways, exits, roads
    "I-8 east near exit 40, checkpoint",
    "I-805 south",
    "SR-94 and CA-125 and US-101",
    "Hwy 94 at 10am",
    "CA125 exit",
    "2 ICE vans on SB 805 near exit 12",
    "I-5 N at Via de la Valle, 4 SUVs",
    "checkpoint on the 805 SB near Palomar St exit",
    "Otay Mesa Rd near 905",
    "the 5 freeway at exit 7",
    "ruta 15 km 25",
    "Hay retén en la 2000",
    # times and counts
    "3 vans and 2 trucks",
    "reported at 7:15am, still there 8am",
    "at 10:30 am on 3/14/2025",
    "2 vans, 3 agents, at 8:45",
    "between 2019-2024",
    "100 ICE agents at the border",
    "10 20 30 40 50",
    "10vans lol",
    "plates 100 feet away",
    "the plates of the 3 vans",
    "placas del carro 3 agentes",
    "plates from Texas",
    "2 white SUVs with CA plates near the 805",
    "camionetas blancas sin placas en la 5 y 10",
    "they were in 2 unmarked Tahoes and a Ford F-150",
    "the F150 and a Silverado 2500",
    "a 2019 Chevy Tahoe",
    "Caltrans sign says 15 mi",
    # intersections and streets without a house number
    "3 trucks on Main St",
    "Main St and 5th Ave",
    "we were at 3rd Ave and C St",
    "2 blocks from Main St",
    "10 min on Broadway Ave",
    "en la calle Juárez 3 camionetas",
    "esquina de calle Juárez y Av. Revolución",
    "Avenida Revolución y Calle 3",
    "en el Paseo de los Héroes cerca del Cecut",
    "Avenida Internacional frente a la garita",
    # hotlines are organisations, not people
    "Llamen a la línea 1-800-555-0199 si ven algo",
    "call 888 555 1234 hotline",
    # '@' meaning "at", temperatures
    "@ the corner",
    "meet @ 5pm",
    "@5pm near walmart",
    "it is 90° today",
    "costs 12.50, 13.75",
    # places and ordinary capitalised words
    "San Ysidro port of entry",
    "Home Depot parking lot",
    "ICE at Home Depot in National City",
    "Border Patrol agents at San Ysidro",
    "5 agentes en la Home Depot de National City a las 7am",
    "En la colonia Libertad hay 2 patrullas",
    "Officer in a green uniform",
    "the officers were rude",
    "officers took Broadway south",
    "they took the 805",
    "se lo llevaron a Tijuana",
    "detuvieron a un señor",
    "their name is unknown",
    "a man named after the saint",
    "un llamado a la comunidad",
    "el agente de la migra",
    "el señor de la camioneta",
    "my neighbor was taken by ICE",
    "mi vecino de enfrente",
    "se llevaron a mi vecino",
    "don't go near the checkpoint",
    # descriptions of what agents do are not instructions
    "agents block the road",
    "CBP is blocking the road",
    "the road is blocked by CBP",
    "agents surround the house",
    "la migra bloquea la calle",
    "bloquean la calle",
    "van a seguir patrullando",
    "sigan informando por favor",
    "let's go see",
]


def kinds(m: Moderation) -> set[FindingKind]:
    return {f.kind for f in m.refusals + m.review}


@pytest.mark.parametrize(("text", "kind"), POSITIVES)
def test_true_positive(text, kind):
    m = moderate(text)
    assert kind in kinds(m), f"missed {kind} in {text!r}"
    assert kinds(m) == {kind}, f"extra findings in {text!r}: {kinds(m)}"
    assert m.refused == (kind != FindingKind.INTERFERENCE)


@pytest.mark.parametrize("text", NEGATIVES)
def test_true_negative(text):
    m = moderate(text)
    assert kinds(m) == set(), [(f.kind, text[f.start : f.end]) for f in m.refusals + m.review]
    assert not m.refused


def test_table_is_big_and_covers_every_kind_in_both_languages():
    assert len(POSITIVES) + len(NEGATIVES) >= 60
    assert {k for _, k in POSITIVES} == set(FindingKind)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("white van plate 7ABC123 parked", "7ABC123"),
        ("mi vecino Pedro González, se lo llevaron", "Pedro González"),
        ("se llama José Pérez", "José Pérez"),
        ("call (619) 555-1234 now", "(619) 555-1234"),
        ("Av. Revolución #450", "Revolución #450"),
    ],
)
def test_spans_index_the_original_text(text, fragment):
    m = moderate(text)
    assert m.refusals
    f = m.refusals[0]
    assert fragment in text[f.start : f.end]


def test_invisible_characters_do_not_hide_a_plate():
    m = moderate("plate 7AB\u200bC123")
    assert m.refused
    assert "7AB\u200bC123" in "plate 7AB\u200bC123"[m.refusals[0].start : m.refusals[0].end]


def test_fullwidth_digits_are_folded():
    assert moderate("call ６１９-５５５-１２３４").refused


def test_interference_goes_to_review_only():
    m = moderate("bloqueen la calle, ya llegaron")
    assert not m.refused
    assert [f.kind for f in m.review] == [FindingKind.INTERFERENCE]


def test_several_kinds_at_once():
    m = moderate("officer Johnson, plate 7ABC123, call 619-555-1234. Let's surround them")
    assert {f.kind for f in m.refusals} == {NA, P, PH}
    assert {f.kind for f in m.review} == {IN}
    assert [f.start for f in m.refusals] == sorted(f.start for f in m.refusals)


def test_a_handle_inside_an_email_is_the_email():
    m = moderate("write to juan123@proton.me")
    assert [f.kind for f in m.refusals] == [EM]


def test_reason_codes():
    assert REASON_CODE == {
        P: "refused_plate",
        PH: "refused_phone",
        EM: "refused_email",
        HA: "refused_handle",
        LI: "refused_link",
        AD: "refused_address",
        CO: "refused_coordinates",
        NA: "refused_name",
        IN: "review_interference",
    }


def test_empty_text():
    assert moderate("") == Moderation()
    assert not Moderation().refused
    assert Moderation(refusals=(Finding(P, 0, 1),)).refused


@given(st.text(max_size=300))
def test_any_text_gives_valid_spans(text):
    m = moderate(text)
    for f in m.refusals + m.review:
        assert 0 <= f.start < f.end <= len(text)
    assert all(f.kind != IN for f in m.refusals)
    assert all(f.kind == IN for f in m.review)


@given(
    st.lists(
        st.sampled_from(
            [
                "plate",
                "7ABC123",
                "I-8",
                "calle",
                "Juárez",
                "123",
                "@",
                "+52",
                "664",
                "agente",
                "Ramírez",
                " ",
                "-",
                ".",
                ",",
                "#",
                "°",
                "32.7157",
                "block",
                "the",
                "van",
            ]
        ),
        max_size=40,
    )
)
def test_report_like_word_salad_never_crashes(words):
    text = " ".join(words)
    m = moderate(text)
    assert all(0 <= f.start < f.end <= len(text) for f in m.refusals + m.review)


# --------------------------------------------------------------------------
# Evasions: look-alikes, invisible characters, separators, spelled digits.
# (tests/scoring/test_scoring_moderation_corpus.py measures hundreds more.)


@pytest.mark.parametrize(
    ("text", "kind", "fragment"),
    [
        ("plates 7\u0410\u0412\u0421123", P, "7\u0410\u0412\u0421123"),  # Cyrillic
        ("plate 7\u2800ABC\u2800123", P, "7\u2800ABC\u2800123"),  # braille blank
        ("plate 7\u3164ABC\u3164123", P, "7\u3164ABC\u3164123"),  # hangul filler
        ("plate \uff17\uff21\uff22\uff23\uff11\uff12\uff13", P, "\uff17"),  # fullwidth
        ("plate 7.ABC.123", P, "7.ABC.123"),
        ("plate 7/ABC/123", P, "7/ABC/123"),
        ("plate 7 A B C 1 2 3", P, "7 A B C 1 2 3"),
        ("saw abc 1234 on the suv", P, "abc 1234"),
        ("placas siete a b c uno dos tres", P, "siete a b c uno dos tres"),
        ("text him at 619\u2013555\u20130187", PH, "619\u2013555\u20130187"),
        ("his number is 619/555/0187", PH, "619/555/0187"),
        ("call 6l9 555 O1OO", PH, "6l9 555 O1OO"),
        ("six one nine five five five zero one eight seven", PH, "six one nine"),
        (
            "ph 6\ufe0f\u20e31\ufe0f\u20e39\ufe0f\u20e35\ufe0f\u20e35\ufe0f\u20e35\ufe0f\u20e3"
            "0\ufe0f\u20e31\ufe0f\u20e38\ufe0f\u20e37\ufe0f\u20e3",
            PH,
            "6\ufe0f\u20e3",
        ),  # keycaps
        ("maria at protonmail dot ch", EM, "maria at protonmail dot ch"),
        ("IG maria_lopez88", HA, "maria_lopez88"),
        ("fb/maria.lopez.5", HA, "maria.lopez.5"),
        ("officer john smith asked", NA, "john smith"),
        ("J. Smith was the agent", NA, "J. Smith"),
        ("Maria Lopez was taken by ICE", NA, "Maria Lopez"),
        ("M\u200baria Lopez was detained", NA, "M\u200baria Lopez"),
        ("mi vecina María López", NA, "María López"),
        ("1234 El Cajon Blvd", AD, "1234 El Cajon Blvd"),
        ("they went into 1234 Main", AD, "1234 Main"),
        ("#1234 Main St", AD, "1234 Main St"),
        ("redada en Main 1234", AD, "Main 1234"),
        ("32.7157N 117.1611W", CO, "32.7157N 117.1611W"),
        ("32,7157 -117,1611", CO, "32,7157 -117,1611"),
        ("32°42'56.5\"N 117°09'40.0\"W", CO, "32°42'56.5"),
        ("11S 485123 3620456", CO, "485123"),
        ("8m4v+2x", CO, "8m4v+2x"),
        ("goo.gl/maps/AbC123xyz", CO, "goo.gl/maps/AbC123xyz"),
        ("make a human chain around the van", IN, "human chain"),
        ("pinchen las llantas", IN, "pinchen las llantas"),
    ],
)
def test_evasions_are_found_where_they_are(text, kind, fragment):
    m = moderate(text)
    hits = [f for f in m.refusals + m.review if f.kind == kind]
    assert hits, f"missed {kind} in {text!r}: {m}"
    assert any(fragment in text[f.start : f.end] for f in hits), [
        text[f.start : f.end] for f in hits
    ]


@pytest.mark.parametrize(
    "text",
    [
        "ICE arrested Guatemalan workers",
        "black Toyota 4Runner",
        "Chevy Silverado 2500HD",
        "white Ford F-150",
        "checkpoint on Dr. Martin Luther King Jr. Freeway",
        "agents on Cesar Chavez Pkwy",
        "migra @Vons on Euclid",
        "raid at Father Joe's Villages",
        "COVID19 testing site",
        "I-5 exit 21",
        "I-805 exit 12 southbound",
        "3 vans at 10:30",
        "Home Depot parking lot",
        "in Grant Hill",
        "Linda Vista near the school",
        "unmarked Dodge Durango and a Ram 1500",
        "a las siete en punto de la tarde",
        "they asked for IDs at Walmart",
        "Ya llegaron.No salgan",  # a missing space is not a link to a .no host
        "on 2025-06-01 14:00 at the corner",
        "ICE arrested 200 Guatemalans",
        "MY NEIGHBOR HEARD 3 VANS NEAR VONS",
    ],
)
def test_hard_innocent_cases(text):
    m = moderate(text)
    assert not m.refusals and not m.review, [(f.kind, text[f.start : f.end]) for f in m.refusals]


def test_a_link_is_refused_with_its_own_reason_and_a_map_link_as_a_place():
    assert [f.kind for f in moderate("see https://imgur.com/a/Xy12AbC").refusals] == [LI]
    assert [f.kind for f in moderate("maps.app.goo.gl/AbC123xyz").refusals] == [CO]


def test_the_gazetteer_s_own_names_are_never_refused():
    path = Path(__file__).resolve().parents[2] / "node" / "data" / "gazetteer.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    labels = [label for area in data["area"] for label in (area["name"], *area["aliases"])]
    labels += data["region"]["highways"]
    assert len(labels) > 100
    refused = {label: moderate(label) for label in labels}
    assert [label for label, m in refused.items() if m.refusals or m.review] == []


@settings(max_examples=300)
@given(st.text(alphabet=st.characters(codec=None), max_size=400))
def test_never_raises_and_is_deterministic_on_any_text(text):
    first = moderate(text)
    assert moderate(text) == first
    for f in first.refusals + first.review:
        assert 0 <= f.start < f.end <= len(text)


_JUNK = [
    "\u200b", "\u200d", "\u2800", "\u3164", "\ufe0f", "\u20e3", "\u0430", "\u0412", "\u041e",
    "\uff17", "\u2013", "\u00a0", "\u0301", "\U0001d7d5", "@", "#", ".", "/", " ", "-", "+",
    "°", "'", '"', "at", "dot", "siete", "uno", "six", "O", "l", "I", "7", "123", "4567", "619",
    "ABC", "abc", "Maria", "Lopez", "officer", "calle", "Main", "St", "32.7157", "-117.1611",
    "N", "W", "ig", "fb/", "imgur.com", "block", "the", "van", "ponchen", "llantas", "I-805",
]  # fmt: skip


@settings(max_examples=300)
@given(st.lists(st.sampled_from(_JUNK), max_size=60))
def test_evasion_salad_never_raises_and_is_deterministic(pieces):
    text = "".join(pieces)
    first = moderate(text)
    assert moderate(text) == first
    assert all(0 <= f.start < f.end <= len(text) for f in first.refusals + first.review)
