"""The words moderation knows: names, common words, and the small lists reports are made of.

Rules kept here:
- Shipped data is read once at import with importlib.resources (scoring/data,
  sources in each file's header); nothing else is read, ever.
- Every word is lowercase with accents folded, as the views' `lower` text.
- A word list says what a word is, never whether a text is refused: the
  detectors decide, with the context.
"""

from __future__ import annotations

from importlib import resources

# A word counted this often in everyday English or Spanish (pyspellchecker's
# OpenSubtitles counts: "will", "rosa", "mesa", "grant", "white") is a word
# before it is a name: taken as a name only when written as one.
COMMON_AS_NAME = 20_000


def _lines(name: str) -> list[str]:
    text = resources.files("scoring").joinpath(f"data/{name}").read_text("utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def words(text: str) -> frozenset[str]:
    """A set of words written as one string, separated by spaces or newlines."""
    return frozenset(text.split())


FIRST_NAMES: frozenset[str] = frozenset(_lines("first_names.txt") + _lines("first_names_es.txt"))
SURNAMES: frozenset[str] = frozenset(_lines("surnames.txt"))
WORD_COUNT: dict[str, int] = {
    w: int(n) for w, n in (line.split() for line in _lines("common_words.txt"))
}


def count(word: str) -> int:
    return WORD_COUNT.get(word, 0)


FUNCTION_WORDS = words(
    """
    a an the this that these those he she they them him her his hers its it we us you
    your our their i me my mine who whom what when where which why how in on at near by
    from to of off with without and or but nor is was are were be been being am not no
    yes after before because so then there here up down over under into onto out about
    all some any every each other another unknown unclear sure maybe just only also still
    again now today tonight yesterday tomorrow morning afternoon evening night noon
    midnight ago around across behind front outside inside next past last first
    el la los las lo un una unos unas de del al en y e o u con sin por para que quien
    cual cuando donde como se su sus le les mi mis tu tus es era fue son estan esta estaba
    ser si no ni ya muy mas menos aqui alli ahi aca alla hoy ayer manana tarde noche
    mediodia todo todos toda todas otro otra desconocido nadie alguien pero porque
    entonces tambien solo frente afuera adentro cerca lejos hace hacia desde hasta
    since until till approx approximately like going junto durante como
    """
)

AGENCY_WORDS = words(
    """
    ice cbp hsi ero dhs fbi dea atf usbp bp lapd sdpd pd chp swat usa us mx uscis
    migra migracion immigration inmigracion border frontera patrol patrulla police
    policia sheriff sheriffs marshal marshals federal federales special especial
    enforcement customs aduana homeland security seguridad guardia nacional
    guard army military militares soldados marines
    """
)

ROLE_WORDS = words(
    """
    agent agents agente agentes officer officers oficial oficiales deputy deputies
    cop cops sergeant sgt detective det lieutenant lt captain capt trooper inspector
    supervisor boss jefe jefa guard guardia
    """
)

VEHICLE_WORDS = words(
    """
    van vans truck trucks suv suvs car cars vehicle vehicles bus buses camioneta camionetas
    troca trocas carro carros coche coches patrulla patrullas pickup sedan minivan
    chevy chevrolet ford dodge ram gmc toyota nissan honda jeep kia hyundai mercedes benz
    bmw audi lexus tesla subaru mazda volkswagen vw chrysler cadillac lincoln buick
    tahoe suburban silverado sierra yukon escalade colorado canyon express savana
    explorer expedition escape ranger transit econoline bronco raptor lobo interceptor
    durango charger challenger caravan promaster tacoma tundra highlander sienna camry
    corolla rav4 4runner sequoia altima sentra frontier titan pathfinder armada
    civic accord odyssey pilot wrangler cherokee compass sorento sportage sprinter
    crown victoria impala malibu equinox traverse blazer f150 f250 f350 e350 nv200
    np300 cr-v crv hr-v hd ltz lt trd srt z71 xl xlt duty super
    """
)

STREET_SUFFIXES = words(
    """
    st street ave avenue av blvd boulevard bl rd road dr drive ln lane way ct court pl
    place pkwy parkway pky ter terrace cir circle trl trail loop sq square row alley
    plaza cres crescent path pike hwy highway fwy freeway expy expressway
    """
)

PLACE_NOUNS = words(
    """
    park parque heights hills hill valley mesa beach grove village villages center
    centre plaza mall market mercado school escuela elementary middle high college
    university library hospital clinic clinica church iglesia station estacion
    bridge puente freeway fwy highway hwy blvd boulevard bulevar avenue ave street st
    parkway pkwy way drive dr road rd lane ln court ct memorial shrine cathedral
    airport aeropuerto port puerto bay harbor garita colonia barrio city county
    lake creek river canyon ranch rancho point island square landing gardens
    """
)

COUNT_NOUNS = words(
    """
    van vans truck trucks car cars suv suvs vehicle vehicles bus buses agent agents officer
    officers cop cops people person persons men man women guys unit units patrol patrols
    block blocks mile miles min mins minute minutes hour hours hr hrs km kms feet ft meter
    meters am pm times lanes lane exits exit days day weeks week years year dollars
    pesos kids children families workers
    camioneta camionetas troca trocas carro carros coche coches patrulla patrullas agente
    agentes oficial oficiales policia policias persona personas hombres mujeres unidades
    cuadra cuadras milla millas minuto minutos hora horas metros carril carriles dias
    semanas anos ninos familias trabajadores
    """
)

MONTHS_DAYS = words(
    """
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec
    enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre
    diciembre ene abr ago dic
    monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur
    thurs fri sat sun lunes martes miercoles jueves viernes sabado domingo
    """
)

# Nationalities and regional origins (EN/ES): an adjective, never a person's name.
DEMONYMS = words(
    """
    american mexican guatemalan honduran salvadoran salvadorean nicaraguan costa rican
    panamanian colombian venezuelan ecuadorian peruvian bolivian chilean argentine
    argentinian uruguayan paraguayan brazilian cuban dominican haitian puerto jamaican
    belizean canadian chinese filipino vietnamese korean indian pakistani afghan
    ukrainian russian african somali eritrean ethiopian nigerian senegalese ghanaian
    mauritanian cameroonian congolese haitians indigenous mayan maya mixtec mixteco
    zapotec zapoteco triqui purepecha nahua oaxacan michoacan guerrerense poblano
    jalisciense chiapaneco yucateco sinaloense sonorense tijuanense bajacaliforniano
    latino latina latinos latinas hispanic chicano chicana asian arab muslim european
    mexicano mexicana mexicanos mexicanas guatemalteco guatemalteca guatemaltecos
    guatemaltecas hondureno hondurena hondurenos hondurenas salvadoreno salvadorena
    salvadorenos salvadorenas nicaraguense nicaraguenses colombiano colombiana colombianos
    venezolano venezolana venezolanos venezolanas ecuatoriano ecuatorianos peruano
    peruanos cubano cubana cubanos dominicano dominicanos haitiano haitianos brasileno
    brasilenos chino chinos filipinos indigena indigenas oaxaqueno oaxaquena oaxaquenos
    oaxaquenas michoacano michoacanos poblanos jaliscienses chiapanecos yucatecos
    sinaloenses sonorenses tijuanenses migrante migrantes
    """
)

# People whose names are the names of roads, schools and parks.
PUBLIC_FIGURES: tuple[tuple[str, ...], ...] = tuple(
    tuple(line.split())
    for line in """
    martin luther king
    cesar chavez
    cesar e chavez
    rosa parks
    benito juarez
    miguel hidalgo
    emiliano zapata
    lazaro cardenas
    francisco i madero
    francisco madero
    pancho villa
    venustiano carranza
    alvaro obregon
    diaz ordaz
    ronald reagan
    john j montgomery
    john f kennedy
    abraham lincoln
    george washington
    thomas jefferson
    harvey milk
    frida kahlo
    jose marti
    simon bolivar
    """.strip().splitlines()
)


def is_demonym(word: str) -> bool:
    """A nationality, singular or plural: "Guatemalan", "Guatemalans", "hondureños"."""
    return (
        word in DEMONYMS
        or (word.endswith("s") and word[:-1] in DEMONYMS)
        or (word.endswith("es") and word[:-2] in DEMONYMS)
    )


# US states' and Mexican states' abbreviations: "CA 92154" is a ZIP code, not a plate.
STATE_CODES = words(
    """
    al ak az ar ca co ct de fl ga hi id il in ia ks ky la me md ma mi mn ms mo mt ne nv nh
    nj nm ny nc nd oh ok or pa ri sc sd tn tx ut vt va wa wv wi wy dc pr
    ags bc bcs camp chis chih cdmx coah col dgo gto gro hgo jal mex mich mor nay nl oax pue
    qro qroo slp sin son tab tamps tlax ver yuc zac
    """
)
