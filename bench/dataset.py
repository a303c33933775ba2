#!/usr/bin/env python3
"""A deterministic registry of realistic size, loaded through Kopa's own API.

Scale 1 is 2,000 organisations, 40 programmes, 20,000 projects, 60,000 partner links, 100,000
activities, 20 indicators (the 15 seeded ones and 5 more) and 400,000 metric values, with
Latvian names full of diacritics. The same `--seed` and `--scale` always give the same records
(ids are the server's). Records go in through the public write endpoints (16 keep-alive
connections in parallel) and metric values through `POST /v1/metrics/batch`, 10,000 at a time,
so loading also exercises the write paths.

    python3 bench/dataset.py --url http://127.0.0.1:8080 --key kopa_... [--scale 1] [--seed 7]

Standard library only (Python 3.11).
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

PLACES = [
    "Rīgas", "Daugavpils", "Liepājas", "Jelgavas", "Jūrmalas", "Ventspils", "Rēzeknes", "Valmieras",
    "Jēkabpils", "Ogres", "Tukuma", "Cēsu", "Salaspils", "Kuldīgas", "Olaines", "Saldus", "Talsu",
    "Dobeles", "Krāslavas", "Bauskas", "Ludzas", "Siguldas", "Līvānu", "Gulbenes", "Madonas",
    "Limbažu", "Aizkraukles", "Preiļu", "Balvu", "Alūksnes", "Ilūkstes", "Smiltenes", "Viļānu",
    "Kārsavas", "Dagdas", "Zilupes", "Aknīstes", "Viesītes", "Līgatnes", "Mērsraga",
]
ORG_FORMS = [
    ("ngo", "biedrība"), ("foundation", "nodibinājums"), ("municipality", "novada pašvaldība"),
    ("ngo", "jauniešu centrs"), ("ngo", "senioru klubs"), ("state_institution", "sociālais dienests"),
]
ORG_NAMES = [
    "Saules stars", "Mēs kopā", "Dzīvesprieks", "Ģimeņu atbalsts", "Zaļā josla", "Kopienas balss",
    "Tiltu būvētāji", "Līdzās", "Žēlsirdība", "Ūdensroze", "Čaklās rokas", "Draudzīgā sēta",
]
TOPICS = [
    "sabiedrības integrācija", "latviešu valodas apguve", "pilsoniskā līdzdalība",
    "mazākumtautību kultūra", "senioru iesaiste", "jauniešu brīvprātīgais darbs",
    "starppaaudžu dialogs", "trešo valstu pilsoņu atbalsts", "kopienas attīstība",
    "sociālās atstumtības mazināšana", "ģimeņu dzīves kvalitāte", "nevalstisko organizāciju sadarbība",
]
ACTION_WORDS = ["Kopā", "Mūsu", "Drošā", "Atvērtā", "Zināšanu", "Dialoga", "Līdzdalības", "Cerību"]
ACTIVITY_KINDS = ["course", "training", "lecture", "event", "meeting", "workshop", "conference", "sport"]
ACTIVITY_TITLES = {
    "course": "Latviešu valodas kursi", "training": "Pilsoniskās līdzdalības apmācības",
    "lecture": "Lekcija par vēsturi un kultūru", "event": "Starppaaudžu pasākums",
    "meeting": "Dialoga platformas tikšanās", "workshop": "Radošā darbnīca",
    "conference": "Reģionālā konference", "sport": "Sporta sacensības",
}
REGIONS = ["riga", "pieriga", "vidzeme", "kurzeme", "zemgale", "latgale"]
TARGET_GROUPS = [
    "children", "youth", "seniors", "young_parents", "low_income", "ethnic_minorities",
    "non_citizens", "immigrants", "ngos", "general_public",
]
STATUSES = ["draft"] * 5 + ["planned"] * 10 + ["active"] * 35 + ["completed"] * 45 + ["cancelled"] * 5
ROLES = ["partner", "co_implementer", "co_financier"]
EXTRA_INDICATORS = ["courses_held", "meetings_held", "hours_taught", "materials_published", "members"]


class Client:
    """One keep-alive connection per thread to the Kopa under test."""

    def __init__(self, url: str, key: str) -> None:
        parsed = urllib.parse.urlparse(url)
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 80
        self.key = key
        self.local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
            self.local.conn = conn
        return conn

    def post(self, path: str, body: object, expect: int = 201) -> dict:
        data = json.dumps(body).encode()
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": f"Bearer {self.key}",
        }
        for attempt in range(3):
            conn = self._conn()
            try:
                conn.request("POST", path, body=data, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise
                continue
            if response.status != expect:
                raise RuntimeError(f"POST {path} answered {response.status}: {payload[:400]!r}")
            return json.loads(payload)
        raise AssertionError("unreachable")


def parallel(pool: ThreadPoolExecutor, label: str, work: list, fn) -> list:
    """Runs `fn` over `work` on the pool, printing progress; results in input order."""
    started = time.monotonic()
    results = []
    step = max(1, len(work) // 10)
    for i, result in enumerate(pool.map(fn, work)):
        results.append(result)
        if (i + 1) % step == 0 or i + 1 == len(work):
            rate = (i + 1) / max(time.monotonic() - started, 1e-9)
            print(f"  {label}: {i + 1}/{len(work)} ({rate:.0f}/s)", file=sys.stderr, flush=True)
    return results


def generate(url: str, key: str, scale: float, seed: int, threads: int = 16) -> dict:
    """Loads the dataset; returns counts and the ids the benchmark needs."""
    rng = random.Random(seed)
    client = Client(url, key)
    n_orgs = int(2000 * scale)
    n_programmes = max(1, int(40 * scale))
    n_projects = int(20000 * scale)
    timings: dict[str, float] = {}

    with ThreadPoolExecutor(threads) as pool:
        started = time.monotonic()
        org_bodies = []
        for i in range(n_orgs):
            kind, form = ORG_FORMS[i % len(ORG_FORMS)]
            name = f"{PLACES[i % len(PLACES)]} {form} \u201c{ORG_NAMES[(i // len(PLACES)) % len(ORG_NAMES)]}\u201d {i + 1}"
            org_bodies.append({"name": name, "kind": kind, "country": "LV",
                               "registration_number": f"{40000000000 + i}"})
        orgs = [o["id"] for o in parallel(pool, "organisations", org_bodies,
                                          lambda b: client.post("/v1/organisations", b))]
        programme_bodies = [
            {"name": f"{TOPICS[i % len(TOPICS)].capitalize()} programma {2005 + i % 20}.–{2008 + i % 20}. {i + 1}",
             "funder_id": orgs[i % len(orgs)], "start_date": f"{2005 + i % 20}-01-01",
             "end_date": f"{2008 + i % 20}-12-31"}
            for i in range(n_programmes)
        ]
        programmes = [p["id"] for p in parallel(pool, "programmes", programme_bodies,
                                                lambda b: client.post("/v1/programmes", b))]
        for code in EXTRA_INDICATORS:
            try:
                client.post("/v1/indicators", {"code": code, "name": code.replace("_", " "),
                                               "unit": "event" if code.endswith("held") else "person",
                                               "aggregation": "latest" if code == "members" else "sum"})
            except RuntimeError as error:
                if "409" not in str(error):
                    raise
        timings["organisations and programmes"] = time.monotonic() - started

        started = time.monotonic()
        project_bodies = []
        for i in range(n_projects):
            year = 2005 + rng.randrange(20)
            length = rng.randrange(6, 37)
            start_month = rng.randrange(1, 13)
            end_year = year + (start_month + length - 1) // 12
            end_month = (start_month + length - 1) % 12 + 1
            topic = rng.choice(TOPICS)
            place = rng.choice(PLACES)
            project_bodies.append({
                "reference": f"{year}/KOPA/{i + 1:06d}",
                "title": f"{rng.choice(ACTION_WORDS)} {topic} {place} novadā",
                "summary": f"Projekts {place} novadā par tēmu: {topic}.",
                "aim": f"veicināt {topic} un stiprināt kopienu {place} pusē",
                "status": rng.choice(STATUSES),
                "lead_organisation_id": orgs[rng.randrange(len(orgs))],
                "programme_id": programmes[rng.randrange(len(programmes))],
                "start_date": f"{year}-{start_month:02d}-01",
                "end_date": f"{end_year}-{end_month:02d}-28",
                "regions": sorted(rng.sample(REGIONS, rng.choice([1, 1, 2]))),
                "target_groups": sorted(rng.sample(TARGET_GROUPS, rng.randrange(1, 4))),
                "places": [f"{place} novads"],
            })
        projects = [p["id"] for p in parallel(pool, "projects", project_bodies,
                                              lambda b: client.post("/v1/projects", b))]
        timings["projects"] = time.monotonic() - started

        started = time.monotonic()
        partner_work = []
        for i, project in enumerate(projects):
            chosen = rng.sample(range(len(orgs)), 3)
            for j, org in enumerate(chosen):
                partner_work.append((project, {"organisation_id": orgs[org], "role": ROLES[j]}))
        parallel(pool, "partners", partner_work,
                 lambda w: client.post(f"/v1/projects/{w[0]}/partners", w[1]))
        timings["partners"] = time.monotonic() - started

        started = time.monotonic()
        activity_work = []
        for i, project in enumerate(projects):
            body = project_bodies[i]
            year = int(body["start_date"][:4])
            for j in range(5):
                kind = ACTIVITY_KINDS[(i + j) % len(ACTIVITY_KINDS)]
                day = f"{year}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
                activity_work.append((i, {
                    "title": f"{ACTIVITY_TITLES[kind]} {rng.choice(PLACES)}",
                    "kind": kind, "start_date": day, "end_date": day,
                    "place": f"{rng.choice(PLACES)} kultūras nams",
                    "region": rng.choice(body["regions"]),
                    "participants": rng.randrange(5, 300),
                    "target_groups": body["target_groups"][:1],
                }))
        activity_ids = parallel(pool, "activities", activity_work,
                                lambda w: client.post(f"/v1/projects/{projects[w[0]]}/activities", w[1])["id"])
        activities_of: dict[int, list[str]] = {}
        for (i, _), activity in zip(activity_work, activity_ids):
            activities_of.setdefault(i, []).append(activity)
        timings["activities"] = time.monotonic() - started

        started = time.monotonic()
        indicator_codes = ["participants", "people_trained", "volunteers", "events_held",
                           "seniors_involved", *EXTRA_INDICATORS]
        items = []
        for i, project in enumerate(projects):
            year = int(project_bodies[i]["start_date"][:4])
            for j in range(20):
                code = indicator_codes[j % len(indicator_codes)]
                activity = activities_of[i][j % 5] if j % 2 == 0 else None
                period_year = year + j // len(indicator_codes)
                items.append({
                    "project": project, "indicator": code,
                    **({"activity_id": activity} if activity else {}),
                    "period_start": f"{period_year}-01-01", "period_end": f"{period_year}-12-31",
                    "kind": "actual" if j % 4 else "target",
                    **({"target_group": project_bodies[i]["target_groups"][0]} if j % 3 == 0 else {}),
                    "value": rng.randrange(1, 500),
                })
        batches = [items[k:k + 10000] for k in range(0, len(items), 10000)]
        parallel(pool, "metric batches", batches,
                 lambda b: client.post("/v1/metrics/batch", {"items": b}, expect=200))
        timings["metric values"] = time.monotonic() - started

    return {
        "organisations": len(orgs), "programmes": len(programmes), "projects": len(projects),
        "partners": len(partner_work), "activities": len(activity_ids), "metric_values": len(items),
        "project_ids": projects, "load_seconds": timings,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True, help="an admin API key")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    result = generate(args.url, args.key, args.scale, args.seed)
    result.pop("project_ids")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
