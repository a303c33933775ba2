#!/usr/bin/env python3
"""Deterministic dataset generator for the civil-society project registry benchmark.

Writes one JSON Lines file per table into OUT_DIR:

    organisations.jsonl  programmes.jsonl  indicators.jsonl  projects.jsonl
    project_partners.jsonl  activities.jsonl  metric_values.jsonl
    manifest.json        (counts, seed, scale, generator version)
    bench_params.json    (sampled parameters for the read/write benchmarks)

Scale 1 = 2,000 organisations, 40 programmes, 20,000 projects, 60,000 partner
links, 100,000 activities, 20 indicators (fixed, it is a catalogue) and 400,000
metric values.  Fractional scales (e.g. 0.01) are allowed for quick tests.

Same --seed and --scale => byte-identical output.  Standard library only.

Usage:
    python3 gen_dataset.py OUT_DIR [--scale 1] [--seed 20240601]
"""

import argparse
import datetime as dt
import json
import os
import random
import sys
import uuid

GENERATOR_VERSION = 2  # 2: project_funding.jsonl (amounts); other tables unchanged

BASE = {
    "organisations": 2000,
    "programmes": 40,
    "projects": 20000,
    "project_partners": 60000,
    "activities": 100000,
    "indicators": 20,  # fixed, does not scale
    "metric_values": 400000,
    "project_funding": 20000,  # ~1.3 lines per project; the count is the number of projects
}

REGIONS = ["Rīga", "Vidzeme", "Kurzeme", "Zemgale", "Latgale"]
REGION_WEIGHTS = [40, 15, 15, 12, 18]
TARGET_GROUPS = [
    "children", "youth", "seniors", "young_parents", "low_income",
    "ethnic_minorities", "non_citizens", "third_country_nationals", "general_public",
]
STATUSES = ["planned", "active", "completed"]
PARTNER_ROLES = ["partner", "funder", "co_funder", "administrator", "associate"]
PARTNER_ROLE_WEIGHTS = [60, 8, 10, 7, 15]

# "today" for deriving project status; fixed so output does not depend on the clock
REFERENCE_DATE = dt.date(2025, 9, 1)
DATE_MIN = dt.date(2005, 1, 1)
DATE_MAX = dt.date(2026, 12, 31)

ORG_KINDS = [
    ("association", "Biedrība", 45),
    ("foundation", "Nodibinājums", 15),
    ("municipality", None, 8),
    ("public_agency", None, 6),
    ("company", "SIA", 10),
    ("religious_organisation", "Draudze", 4),
    ("education", None, 7),
    ("international", None, 5),
]

# word stock for names ---------------------------------------------------------
ADJ = [
    "Zaļā", "Baltā", "Saulainā", "Jaunā", "Drošā", "Atvērtā", "Gaišā", "Kopīgā",
    "Radošā", "Dzīvā", "Sirsnīgā", "Stiprā", "Čaklā", "Ģimeniskā", "Mīļā", "Rūpīgā",
    "Ziemeļu", "Dienvidu", "Austrumu", "Rietumu", "Vecā", "Lielā", "Mazā", "Sudraba",
]
NOUN = [
    "Ieleja", "Māja", "Saule", "Upe", "Birzs", "Tilts", "Dzirnava", "Sēta", "Ligzda",
    "Krasts", "Pļava", "Gaisma", "Atslēga", "Roka", "Sirds", "Zīle", "Ozola", "Liepa",
    "Dzērve", "Ēna", "Ābele", "Šūpole", "Ķirsis", "Ņieburs", "Lāčplēsis", "Jūra",
]
THEME = [
    "Ģimeņu atbalsta centrs", "Jauniešu iniciatīvu centrs", "Senioru klubs",
    "Kopienas attīstības fonds", "Integrācijas resursu centrs", "Cilvēktiesību centrs",
    "Brīvprātīgo tīkls", "Sociālo pakalpojumu aģentūra", "Kultūras biedrība",
    "Mazākumtautību forums", "Migrantu atbalsta punkts", "Bērnu tiesību alianse",
    "Pilsoniskās sabiedrības institūts", "Līdzdalības darbnīca", "Iekļaušanas tīkls",
    "Valodu mācību centrs", "Dzimumu līdztiesības centrs", "Sporta un veselības klubs",
    "Amatnieku kopiena", "Lauku sieviešu apvienība",
]
TOWNS = [
    "Rīga", "Daugavpils", "Liepāja", "Jelgava", "Jūrmala", "Ventspils", "Rēzekne",
    "Valmiera", "Jēkabpils", "Ogre", "Tukums", "Cēsis", "Kuldīga", "Sigulda",
    "Bauska", "Talsi", "Gulbene", "Ludza", "Krāslava", "Aizkraukle", "Madona",
    "Alūksne", "Smiltene", "Līvāni", "Saldus", "Preiļi", "Balvi", "Dobele",
    "Limbaži", "Valka", "Ķekava", "Mārupe", "Ādaži", "Salaspils", "Olaine",
]
TOWN_REGION = {
    "Rīga": "Rīga", "Jūrmala": "Rīga", "Ķekava": "Rīga", "Mārupe": "Rīga", "Ādaži": "Rīga",
    "Salaspils": "Rīga", "Olaine": "Rīga", "Ogre": "Rīga", "Sigulda": "Vidzeme",
    "Daugavpils": "Latgale", "Rēzekne": "Latgale", "Ludza": "Latgale", "Krāslava": "Latgale",
    "Līvāni": "Latgale", "Preiļi": "Latgale", "Balvi": "Latgale",
    "Liepāja": "Kurzeme", "Ventspils": "Kurzeme", "Kuldīga": "Kurzeme", "Talsi": "Kurzeme",
    "Saldus": "Kurzeme", "Tukums": "Kurzeme",
    "Jelgava": "Zemgale", "Jēkabpils": "Zemgale", "Bauska": "Zemgale", "Dobele": "Zemgale",
    "Aizkraukle": "Zemgale",
    "Valmiera": "Vidzeme", "Cēsis": "Vidzeme", "Gulbene": "Vidzeme", "Madona": "Vidzeme",
    "Alūksne": "Vidzeme", "Smiltene": "Vidzeme", "Limbaži": "Vidzeme", "Valka": "Vidzeme",
}
MUNICIPALITY_NAMES = [
    "{t} valstspilsētas pašvaldība", "{t} novada pašvaldība", "{t} novada sociālais dienests",
    "{t} novada bāriņtiesa", "{t} pilsētas kultūras centrs",
]
AGENCIES = [
    "Sabiedrības integrācijas fonds", "Labklājības ministrija", "Kultūras ministrija",
    "Centrālā finanšu un līgumu aģentūra", "Nodarbinātības valsts aģentūra",
    "Izglītības un zinātnes ministrija", "Pilsonības un migrācijas lietu pārvalde",
    "Valsts bērnu tiesību aizsardzības inspekcija", "Tiesībsarga birojs",
    "Latviešu valodas aģentūra", "Iekšlietu ministrija", "Valsts reģionālās attīstības aģentūra",
]
EDUCATION = [
    "{t} vidusskola", "{t} pamatskola", "{t} tehnikums", "{t} Tautas augstskola",
    "{t} mūzikas un mākslas skola", "{t} bērnudārzs",
]
INTERNATIONAL = [
    ("Norwegian Refugee Council", "NO"), ("Nordic Council of Ministers Office", "DK"),
    ("Eesti Pagulasabi", "EE"), ("Lietuvos Raudonasis Kryžius", "LT"),
    ("Goethe-Institut Riga", "DE"), ("British Council Latvia", "GB"),
    ("Fondation pour l'Inclusion", "FR"), ("Stiftung Bürgerengagement", "DE"),
    ("EEA and Norway Grants Financial Mechanism Office", "BE"),
    ("Suomen Punainen Risti", "FI"), ("Svenska Institutet", "SE"),
    ("Fundacja Otwarty Dialog", "PL"),
]
FIRST_NAMES = [
    "Anna", "Jānis", "Līga", "Andris", "Ilze", "Pēteris", "Inese", "Māris", "Dace",
    "Ģirts", "Kristīne", "Uldis", "Zane", "Edgars", "Ieva", "Gunārs", "Sanita",
    "Raimonds", "Laura", "Aivars", "Elīna", "Mārtiņš", "Baiba", "Kārlis", "Agnese",
]
LAST_NAMES = [
    "Bērziņš", "Kalniņš", "Ozoliņš", "Jansons", "Liepiņš", "Krūmiņš", "Balodis",
    "Zariņš", "Pētersons", "Kļaviņš", "Vītols", "Lācis", "Šmits", "Ķēniņš", "Āboliņš",
    "Grīnbergs", "Eglītis", "Ņikiforovs", "Čakste", "Žagars",
]

# title vocabulary: bench "search by word" picks from SEARCH_WORDS, which all appear
# in lowercase inside titles
TITLE_START = [
    "Atbalsts", "Programma", "Iniciatīva", "Apmācības", "Darbnīcas", "Tīkls",
    "Centrs", "Kampaņa", "Forums", "Platforma", "Nometne", "Sadarbība", "Skola",
    "Mentorings", "Pakalpojumi", "Kursi", "Dialogs", "Festivāls",
]
TITLE_MID = [
    "kopienas", "ģimeņu", "jauniešu", "senioru", "bērnu", "imigrantu", "mazākumtautību",
    "kaimiņu", "brīvprātīgo", "pilsoniskās", "sociālās", "kultūras", "valodas",
    "līdzdalības", "iekļaušanas", "integrācijas", "dažādības", "drošības",
]
TITLE_END = [
    "iekļaušanai", "integrācijai", "līdzdalībai", "stiprināšanai", "attīstībai",
    "saliedētībai", "izglītībai", "nodarbinātībai", "labklājībai", "atbalstam",
    "dialogam", "sadarbībai", "veselībai", "drošībai", "pašapziņai",
]
TITLE_PLACE = ["", "", "", " {t}", " {t} novadā", " Latgalē", " Kurzemē", " Vidzemē",
               " Zemgalē", " Rīgā", " Daugavpilī", " Liepājā", " pierobežā"]
SEARCH_WORDS = [
    "kopienas", "ģimeņu", "jauniešu", "senioru", "bērnu", "valodas", "kultūras",
    "integrācijai", "līdzdalībai", "dialogam", "dažādības", "brīvprātīgo",
    "mazākumtautību", "drošības", "saliedētībai", "iekļaušanai",
]
SUMMARY_SENT = [
    "Projekts stiprina {g} iesaisti vietējās kopienas dzīvē (norises vieta: {t}).",
    "Tiek organizētas regulāras nodarbības un konsultācijas {g} mērķgrupai.",
    "Aktivitātes notiek sadarbībā ar pašvaldību, skolām un nevalstiskajām organizācijām.",
    "Īpaša uzmanība tiek pievērsta latviešu valodas apguvei un pilsoniskajai izglītībai.",
    "Dalībnieki iegūst prasmes, kas palīdz atrast darbu un veidot sociālos kontaktus.",
    "Projekta laikā tiek izstrādāti metodiskie materiāli un labās prakses apraksts.",
    "Brīvprātīgie mentori sniedz individuālu atbalstu ģimenēm ar bērniem.",
    "Rezultāti tiek apkopoti un publiskoti atvērtā ziņojumā.",
    "Kopīgi kultūras pasākumi veicina savstarpēju sapratni un uzticēšanos.",
    "Projektā tiek izmantotas neformālās izglītības metodes un digitālie rīki.",
]
GROUP_LV = {
    "children": "bērnu", "youth": "jauniešu", "seniors": "senioru",
    "young_parents": "jauno vecāku", "low_income": "maznodrošināto iedzīvotāju",
    "ethnic_minorities": "mazākumtautību", "non_citizens": "nepilsoņu",
    "third_country_nationals": "trešo valstu pilsoņu", "general_public": "sabiedrības",
}
AIMS = [
    "Veicināt {g} sociālo iekļaušanu un līdzdalību.",
    "Mazināt sociālo atstumtību un diskrimināciju.",
    "Uzlabot {g} piekļuvi pakalpojumiem un informācijai.",
    "Stiprināt sabiedrības saliedētību {t}.",
    "Attīstīt nevalstisko organizāciju kapacitāti darbā ar {g} mērķgrupu.",
]
ACTIVITY_KINDS = [
    ("workshop", "Darbnīca"), ("training", "Apmācības"), ("conference", "Konference"),
    ("camp", "Nometne"), ("consultation", "Konsultācija"), ("language_course", "Valodas kursi"),
    ("cultural_event", "Kultūras pasākums"), ("sports_event", "Sporta diena"),
    ("volunteering", "Brīvprātīgo talka"), ("campaign", "Informatīvā kampaņa"),
    ("study_visit", "Pieredzes apmaiņas brauciens"), ("mentoring", "Mentoringa sesija"),
]
ACTIVITY_TOPIC = [
    "par pilsonisko līdzdalību", "ģimenēm ar bērniem", "jauniešiem", "senioriem",
    "par latviešu valodu", "par medijpratību", "par darba tirgu", "par kultūras mantojumu",
    "par drošību internetā", "par veselīgu dzīvesveidu", "kaimiņu kopienai",
]
INDICATORS = [
    ("IND-PART", "Dalībnieku skaits", "persons"),
    ("IND-PART-F", "Dalībnieces (sievietes)", "persons"),
    ("IND-PART-Y", "Jaunieši dalībnieki (15–25)", "persons"),
    ("IND-PART-S", "Seniori dalībnieki (65+)", "persons"),
    ("IND-PART-TCN", "Trešo valstu pilsoņi dalībnieki", "persons"),
    ("IND-VOL", "Iesaistītie brīvprātīgie", "persons"),
    ("IND-VOL-H", "Brīvprātīgā darba stundas", "hours"),
    ("IND-EVT", "Organizētie pasākumi", "events"),
    ("IND-TRN-H", "Apmācību stundas", "hours"),
    ("IND-LANG", "Valodas kursus pabeigušie", "persons"),
    ("IND-CONS", "Sniegtās konsultācijas", "consultations"),
    ("IND-ORG", "Iesaistītās organizācijas", "organisations"),
    ("IND-MAT", "Izstrādātie metodiskie materiāli", "items"),
    ("IND-MEDIA", "Publikācijas medijos", "items"),
    ("IND-REACH", "Sasniegtā auditorija", "persons"),
    ("IND-EMP", "Dalībnieki, kas atraduši darbu", "persons"),
    ("IND-SAT", "Dalībnieku apmierinātība", "percent"),
    ("IND-BUD", "Izlietotais finansējums", "EUR"),
    ("IND-COFIN", "Piesaistītais līdzfinansējums", "EUR"),
    ("IND-VOLV", "Brīvprātīgā darba vērtība", "EUR"),
]
PROGRAMME_DEFS = [
    # code prefix, name, start year, length years
    ("EEZ-NFI-2004", "EEZ un Norvēģijas finanšu instruments 2004–2009: NVO fonds", 2005, 5),
    ("EEZ-NFI-2009", "EEZ finanšu instruments 2009–2014: NVO fonds", 2010, 6),
    ("EEZ-NFI-2014", "EEZ un Norvēģijas granti 2014–2021: Aktīvo iedzīvotāju fonds", 2016, 8),
    ("EEZ-NFI-2021", "EEZ un Norvēģijas granti 2021–2028: Pilsoniskā sabiedrība", 2023, 4),
    ("EIF-2007", "Eiropas Fonds trešo valstu pilsoņu integrācijai", 2007, 7),
    ("AMIF-2014", "Patvēruma, migrācijas un integrācijas fonds 2014–2020", 2015, 7),
    ("AMIF-2021", "Patvēruma, migrācijas un integrācijas fonds 2021–2027", 2022, 5),
    ("ESF-2007", "Eiropas Sociālais fonds 2007–2013: sociālā iekļaušana", 2008, 6),
    ("ESF-2014", "Eiropas Sociālais fonds 2014–2020: 9.1.4. pasākums", 2015, 8),
    ("ESF+-2021", "ESF+ 2021–2027: 4.3.1. sociālā iekļaušana", 2022, 5),
    ("NVO-FONDS", "NVO fonds (valsts budžeta programma)", 2016, 11),
    ("SIF-MAZT", "Mazākumtautību līdzdalības programma", 2006, 18),
    ("SIF-LATV", "Latviešu valodas apguves programma pieaugušajiem", 2005, 20),
    ("SIF-DIASP", "Diasporas un remigrācijas atbalsta programma", 2012, 12),
    ("LV-LT-2014", "Interreg Latvija–Lietuva 2014–2020", 2015, 7),
    ("EST-LAT-2014", "Interreg Igaunija–Latvija 2014–2020", 2015, 7),
    ("KULT-KAP", "Kultūrkapitāla fonds: kopienu iniciatīvas", 2005, 21),
    ("JAUN-PROG", "Jaunatnes politikas valsts programma", 2009, 17),
    ("ERASMUS-YOUTH", "Erasmus+ Jaunatne", 2014, 12),
    ("PASV-GRANTS", "Pašvaldību līdzdalības budžeta granti", 2019, 7),
]


def weighted(rng, items, weights):
    return rng.choices(items, weights=weights, k=1)[0]


def make_uuid(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def rand_date(rng, lo, hi):
    span = (hi - lo).days
    return lo + dt.timedelta(days=rng.randint(0, max(span, 0)))


def add_months(d, months):
    y = d.year + (d.month - 1 + months) // 12
    m = (d.month - 1 + months) % 12 + 1
    # clamp day
    for day in (d.day, 30, 29, 28):
        try:
            return dt.date(y, m, day)
        except ValueError:
            continue
    raise AssertionError


def rand_ts(rng, lo_date, hi_date):
    d = rand_date(rng, lo_date, hi_date)
    return "%sT%02d:%02d:%02dZ" % (d.isoformat(), rng.randint(7, 19), rng.randint(0, 59),
                                    rng.randint(0, 59))


def slugify(s):
    table = str.maketrans("āčēģīķļņšūžĀČĒĢĪĶĻŅŠŪŽ", "acegiklnsuzACEGIKLNSUZ")
    out = []
    for ch in s.translate(table).lower():
        out.append(ch if ch.isalnum() else "-")
    slug = "-".join(p for p in "".join(out).split("-") if p)
    return slug[:40]


class Writer:
    def __init__(self, path):
        self.f = open(path, "w", encoding="utf-8", newline="\n")
        self.n = 0

    def write(self, obj):
        self.f.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
        self.f.write("\n")
        self.n += 1

    def close(self):
        self.f.close()


def counts_for(scale):
    c = {}
    for k, v in BASE.items():
        c[k] = v if k == "indicators" else max(1, int(round(v * scale)))
    # partners cannot exceed (#projects * (#orgs-1)); irrelevant for sane scales
    return c


def generate(out_dir, scale, seed):
    os.makedirs(out_dir, exist_ok=True)
    counts = counts_for(scale)
    # one independent RNG per table so that changing one table's generator
    # does not reshuffle the others
    def rng_for(name):
        return random.Random("%s:%s:%s" % (seed, scale, name))

    # ---------------------------------------------------------------- organisations
    rng = rng_for("organisations")
    orgs = []  # (id, kind, country)
    used_names = set()
    w = Writer(os.path.join(out_dir, "organisations.jsonl"))
    kinds = [k for k, _, _ in ORG_KINDS]
    kind_w = [x for _, _, x in ORG_KINDS]
    prefix = {k: p for k, p, _ in ORG_KINDS}
    for i in range(counts["organisations"]):
        kind = weighted(rng, kinds, kind_w)
        country = "LV"
        town = rng.choice(TOWNS)
        if kind in ("association", "foundation", "company", "religious_organisation"):
            style = rng.random()
            if style < 0.45:
                core = "%s %s" % (rng.choice(ADJ), rng.choice(NOUN))
            elif style < 0.8:
                core = "%s %s" % (town, rng.choice(THEME))
            else:
                core = "%s %s" % (rng.choice(THEME), rng.choice(NOUN))
            name = "%s „%s”" % (prefix[kind], core)
            short = core.split(" ")[-1][:12].upper() if rng.random() < 0.5 else None
            reg = ("40008" if kind in ("association", "foundation", "religious_organisation")
                   else "40003") + "%06d" % rng.randint(0, 999999)
        elif kind == "municipality":
            name = rng.choice(MUNICIPALITY_NAMES).format(t=town)
            short = None
            reg = "90000%06d" % rng.randint(0, 999999)
        elif kind == "public_agency":
            name = rng.choice(AGENCIES)
            short = "".join(wd[0] for wd in name.split() if wd[0].isupper())[:8] or None
            reg = "90001%06d" % rng.randint(0, 999999)
        elif kind == "education":
            name = rng.choice(EDUCATION).format(t=town)
            short = None
            reg = "90009%06d" % rng.randint(0, 999999)
        else:  # international
            name, country = rng.choice(INTERNATIONAL)
            short = None
            reg = "%s%09d" % (country, rng.randint(0, 999999999))
        base_name = name
        k = 2
        while name in used_names:
            name = "%s (%d)" % (base_name, k)
            k += 1
        used_names.add(name)
        oid = make_uuid(rng)
        website = "https://www.%s.%s" % (slugify(name), "lv" if country == "LV" else country.lower()) \
            if rng.random() < 0.7 else None
        contact = "%s %s" % (rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES))
        desc = "%s dibināta %d. gadā, juridiskā adrese: %s. Kontaktpersona: %s." % (
            name, rng.randint(1991, 2020), town if country == "LV" else country, contact)
        w.write({"id": oid, "name": name, "short_name": short, "kind": kind,
                 "registration_number": reg, "country": country, "website": website,
                 "description": desc})
        orgs.append((oid, kind, country))
    w.close()
    org_ids = [o[0] for o in orgs]
    funder_pool = [o[0] for o in orgs if o[1] in ("public_agency", "international", "foundation")] \
        or org_ids

    # ---------------------------------------------------------------- programmes
    rng = rng_for("programmes")
    programmes = []  # (id, start, end)
    w = Writer(os.path.join(out_dir, "programmes.jsonl"))
    for i in range(counts["programmes"]):
        code_p, pname, y0, length = PROGRAMME_DEFS[i % len(PROGRAMME_DEFS)]
        rnd = i // len(PROGRAMME_DEFS)
        start = dt.date(min(y0 + rnd, 2024), 1, 1)
        end = min(dt.date(start.year + length - 1, 12, 31), DATE_MAX)
        code = "%s-%02d" % (code_p, rnd + 1)
        name = pname if rnd == 0 else "%s (%d. kārta)" % (pname, rnd + 1)
        pid = make_uuid(rng)
        w.write({"id": pid, "code": code, "name": name, "funder_id": rng.choice(funder_pool),
                 "period_start": start.isoformat(), "period_end": end.isoformat()})
        programmes.append((pid, start, end, code))
    w.close()

    # ---------------------------------------------------------------- indicators
    rng = rng_for("indicators")
    indicators = []  # (id, unit)
    w = Writer(os.path.join(out_dir, "indicators.jsonl"))
    for i in range(counts["indicators"]):
        code, name, unit = INDICATORS[i % len(INDICATORS)]
        iid = make_uuid(rng)
        w.write({"id": iid, "code": code, "name": name, "unit": unit})
        indicators.append((iid, unit))
    w.close()

    # ---------------------------------------------------------------- projects
    rng = rng_for("projects")
    projects = []  # (id, start, end, lead, groups, published, status)
    w = Writer(os.path.join(out_dir, "projects.jsonl"))
    ref_counter = {}
    for i in range(counts["projects"]):
        pid_prog, p_start, p_end, prog_code = rng.choice(programmes)
        start = rand_date(rng, p_start, min(p_end, dt.date(2026, 6, 30)))
        end = min(add_months(start, rng.choice([6, 9, 12, 12, 18, 24, 24, 36, 48])) -
                  dt.timedelta(days=1), DATE_MAX)
        if start > REFERENCE_DATE:
            status = "planned"
        elif end < REFERENCE_DATE:
            status = "completed"
        else:
            status = "active"
        region = weighted(rng, REGIONS, REGION_WEIGHTS)
        town = rng.choice([t for t, r in TOWN_REGION.items() if r == region])
        n_groups = weighted(rng, [1, 2, 3], [45, 40, 15])
        groups = sorted(rng.sample(TARGET_GROUPS, n_groups), key=TARGET_GROUPS.index)
        g_lv = GROUP_LV[groups[0]]
        title = "%s %s %s%s" % (rng.choice(TITLE_START), rng.choice(TITLE_MID),
                                rng.choice(TITLE_END), rng.choice(TITLE_PLACE).format(t=town))
        summary = " ".join(s.format(g=g_lv, t=town) for s in rng.sample(SUMMARY_SENT, 3))
        aim = rng.choice(AIMS).format(g=g_lv, t=town)
        key = (start.year, prog_code)
        ref_counter[key] = ref_counter.get(key, 0) + 1
        reference = "%s/%d/%04d" % (prog_code, start.year, ref_counter[key])
        lead = rng.choice(org_ids)
        published = rng.random() < 0.9
        upd_lo = max(start - dt.timedelta(days=60), DATE_MIN)
        upd_hi = min(max(end, upd_lo), REFERENCE_DATE)
        updated_at = rand_ts(rng, min(upd_lo, upd_hi), upd_hi)
        pid = make_uuid(rng)
        w.write({"id": pid, "reference": reference, "title": title, "summary": summary,
                 "aim": aim, "status": status, "start_date": start.isoformat(),
                 "end_date": end.isoformat(), "lead_organisation_id": lead,
                 "programme_id": pid_prog, "target_groups": groups, "region": region,
                 "published": published, "updated_at": updated_at})
        projects.append((pid, start, end, lead, groups, published, status, region, pid_prog))
    w.close()

    # ---------------------------------------------------------------- project_partners
    rng = rng_for("project_partners")
    w = Writer(os.path.join(out_dir, "project_partners.jsonl"))
    seen = set()
    n_target = counts["project_partners"]
    n_proj = len(projects)
    partners_of = {}
    i = 0
    while w.n < n_target:
        # first pass gives most projects at least one partner, then random
        p = projects[i % n_proj] if i < n_proj else rng.choice(projects)
        i += 1
        org = rng.choice(org_ids)
        if org == p[3] or (p[0], org) in seen:
            continue
        seen.add((p[0], org))
        role = weighted(rng, PARTNER_ROLES, PARTNER_ROLE_WEIGHTS)
        w.write({"id": make_uuid(rng), "project_id": p[0], "organisation_id": org, "role": role})
        partners_of[p[0]] = partners_of.get(p[0], 0) + 1
    w.close()

    # ---------------------------------------------------------------- activities
    rng = rng_for("activities")
    w = Writer(os.path.join(out_dir, "activities.jsonl"))
    kinds = [k for k, _ in ACTIVITY_KINDS]
    for i in range(counts["activities"]):
        p = rng.choice(projects)
        kind_i = rng.randrange(len(ACTIVITY_KINDS))
        kind, kind_lv = ACTIVITY_KINDS[kind_i]
        a_start = rand_date(rng, p[1], p[2])
        a_end = min(a_start + dt.timedelta(days=rng.choice([0, 0, 0, 1, 2, 4, 13, 30])), p[2])
        town = rng.choice([t for t, r in TOWN_REGION.items() if r == p[7]])
        title = "%s %s" % (kind_lv, rng.choice(ACTIVITY_TOPIC))
        count = None if rng.random() < 0.05 else int(rng.lognormvariate(3.0, 0.9)) + 1
        w.write({"id": make_uuid(rng), "project_id": p[0], "kind": kind, "title": title,
                 "start_date": a_start.isoformat(), "end_date": a_end.isoformat(),
                 "location": town, "participant_count": count})
    w.close()
    del kinds

    # ---------------------------------------------------------------- metric_values
    rng = rng_for("metric_values")
    w = Writer(os.path.join(out_dir, "metric_values.jsonl"))
    for i in range(counts["metric_values"]):
        p = rng.choice(projects)
        ind_id, unit = rng.choice(indicators)
        # quarterly reporting period inside the project
        q_start = rand_date(rng, p[1], p[2])
        q_start = dt.date(q_start.year, ((q_start.month - 1) // 3) * 3 + 1, 1)
        q_end = add_months(q_start, 3) - dt.timedelta(days=1)
        if unit == "EUR":
            value = round(rng.lognormvariate(8.5, 1.1), 2)
        elif unit == "percent":
            value = round(rng.uniform(40, 100), 1)
        elif unit == "hours":
            value = round(rng.lognormvariate(3.5, 1.0), 1)
        else:
            value = int(rng.lognormvariate(2.5, 1.0)) + 1
        tg = rng.choice(p[4]) if rng.random() < 0.7 else None
        upd = rand_ts(rng, min(q_end, REFERENCE_DATE), min(q_end + dt.timedelta(days=90),
                                                            REFERENCE_DATE))
        w.write({"id": make_uuid(rng), "project_id": p[0], "indicator_id": ind_id,
                 "period_start": q_start.isoformat(), "period_end": q_end.isoformat(),
                 "value": value, "target_group": tg, "updated_at": upd})
    w.close()

    # ---------------------------------------------------------------- project_funding
    # Added in generator version 2 (Kopa issue 14: money totals). Own RNG, written after
    # every other table, so the files above stay byte-identical to version 1.
    # Per project: one line through its programme (amount + share, EUR; 8 % give only a
    # share, no amount: "counted, not guessed"), and for 30 % a co-funding line from a
    # funder organisation (no programme) with an amount.
    rng = rng_for("project_funding")
    w = Writer(os.path.join(out_dir, "project_funding.jsonl"))
    prog_funder = {}
    with open(os.path.join(out_dir, "programmes.jsonl"), encoding="utf-8") as pf:
        for line in pf:
            o = json.loads(line)
            prog_funder[o["id"]] = o["funder_id"]
    n_lines = 0
    for p in projects:
        total = round(rng.lognormvariate(10.0, 0.9), 2)
        main_share = 100.0 if rng.random() < 0.7 else round(rng.uniform(60, 95), 2)
        has_amount = rng.random() >= 0.08
        w.write({"id": make_uuid(rng), "project_id": p[0], "position": 0, "programme_id": p[8],
                 "funder_id": prog_funder[p[8]],
                 "amount": round(total * main_share / 100, 2) if has_amount else None,
                 "currency": "EUR" if has_amount else None, "share_percent": main_share})
        n_lines += 1
        if main_share < 100:
            w.write({"id": make_uuid(rng), "project_id": p[0], "position": 1, "programme_id": None,
                     "funder_id": rng.choice(funder_pool),
                     "amount": round(total * (100 - main_share) / 100, 2), "currency": "EUR",
                     "share_percent": round(100 - main_share, 2)})
            n_lines += 1
    w.close()
    counts["project_funding"] = n_lines

    # ---------------------------------------------------------------- bench params
    rng = rng_for("bench_params")
    published = [p for p in projects if p[5]]
    get_ids = [p[0] for p in rng.sample(published, min(2000, len(published)))]
    combos = []
    combo_count = {}
    for p in published:
        for g in p[4]:
            k = (g, p[7], p[6])
            combo_count[k] = combo_count.get(k, 0) + 1
    # all combinations (including empty ones); sorted for determinism
    for g in TARGET_GROUPS:
        for r in REGIONS:
            for s in STATUSES:
                combos.append({"target_group": g, "region": r, "status": s,
                               "expected_matches": combo_count.get((g, r, s), 0)})
    params = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "scale": scale,
        "project_ids": get_ids,
        "filters": combos,
        "search_words": SEARCH_WORDS,
        "programme_ids": [p[0] for p in programmes],
        "indicator_ids": [i[0] for i in indicators],
        "write_project_ids": [p[0] for p in rng.sample(projects, min(5000, len(projects)))],
        "target_groups": TARGET_GROUPS,
        "regions": REGIONS,
        "statuses": STATUSES,
    }
    with open(os.path.join(out_dir, "bench_params.json"), "w", encoding="utf-8") as f:
        json.dump(params, f, ensure_ascii=False, indent=1)
        f.write("\n")
    manifest = {"generator_version": GENERATOR_VERSION, "seed": seed, "scale": scale,
                "counts": counts, "reference_date": REFERENCE_DATE.isoformat()}
    with open(os.path.join(out_dir, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=1)
        f.write("\n")
    return manifest


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=20240601)
    a = ap.parse_args(argv)
    if a.scale <= 0:
        ap.error("--scale must be > 0")
    m = generate(a.out_dir, a.scale, a.seed)
    json.dump(m["counts"], sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
