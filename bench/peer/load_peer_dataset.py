#!/usr/bin/env python3
"""Loads the peer harness's generated registry (../shared/bench-peer, gen_dataset.py, same seed)
into a fresh Kopa through its HTTP API, so Kopa and Directus answer over the same data.

    python3 bench/peer/load_peer_dataset.py DATA_DIR --url http://127.0.0.1:8080 --key kopa_... \
        --out KOPA_DATA_DIR

DATA_DIR is the harness's dataset (organisations.jsonl ... metric_values.jsonl and, from
generator version 2 on, project_funding.jsonl). Kopa chooses its own ids, so the loader keeps a
map from the harness's ids to Kopa's and writes KOPA_DATA_DIR/bench_params.json: the harness's
bench parameters with every id, region and indicator translated, so the harness's `bench.sh
--data KOPA_DATA_DIR` expands the same path templates onto the same records. It also writes
id_map.json (harness id -> Kopa id) and load.json (counts, what was merged or dropped, timings).

How the harness's model maps onto Kopa's (Kopa's vocabularies are closed code lists):

* projects: `published = false` -> status `draft` (anonymous readers do not see drafts, like
  the Directus public permission `published = true`); otherwise the harness's status.
  Region names -> region codes (`Rīga` -> `riga`, ...), one region per project. Target groups
  are the same codes. Funding lines (project_funding.jsonl) go in the project's `funding`.
* organisation kinds, partner roles and activity kinds -> the nearest Kopa code (tables below).
* indicators: the 20 harness indicators are created as `ind_part`, `ind_part_f`, ... with
  aggregation `sum` (the harness's aggregate case sums every value, percentages included).
* metric values: Kopa keeps one value per natural key (project, indicator, activity, period,
  target group, kind) and refuses a batch that names one twice; the harness's random values
  repeat a key now and then, so values with the same key are added up into one (sums per
  indicator, programme or region stay equal to the harness's). All are `actual`.
* A 409/422 on an optional field (a registration number taken twice, a website the API's URL
  pattern refuses) is retried without that field; load.json counts how often.

Standard library only (Python 3.11).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

REGION = {"Rīga": "riga", "Vidzeme": "vidzeme", "Kurzeme": "kurzeme", "Zemgale": "zemgale",
          "Latgale": "latgale"}
ORG_KIND = {"association": "ngo", "foundation": "foundation", "municipality": "municipality",
            "public_agency": "state_institution", "company": "company",
            "religious_organisation": "other", "education": "other",
            "international": "international_organisation"}
PARTNER_ROLE = {"partner": "partner", "funder": "co_financier", "co_funder": "co_financier",
                "administrator": "co_implementer", "associate": "associated_partner"}
ACTIVITY_KIND = {"workshop": "workshop", "training": "training", "conference": "conference",
                 "camp": "event", "consultation": "meeting", "language_course": "course",
                 "cultural_event": "event", "sports_event": "sport", "volunteering": "volunteering",
                 "campaign": "publicity", "study_visit": "networking", "mentoring": "other"}
UNIT = {"persons": "person", "hours": "hour", "events": "event", "consultations": "event",
        "organisations": "organisation", "items": "document", "percent": "percent", "EUR": "eur"}


def indicator_code(harness_code: str) -> str:
    return harness_code.lower().replace("-", "_")


def read_jsonl(data_dir: str, table: str) -> list[dict]:
    path = os.path.join(data_dir, table + ".jsonl")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


class Client:
    """One keep-alive connection per thread."""

    def __init__(self, url: str, key: str) -> None:
        u = urllib.parse.urlparse(url)
        self.host, self.port, self.key = u.hostname, u.port or 80, key
        self.local = threading.local()
        self.retries: dict[str, int] = {}
        self.lock = threading.Lock()

    def note(self, what: str) -> None:
        with self.lock:
            self.retries[what] = self.retries.get(what, 0) + 1

    def request(self, method: str, path: str, body: object | None = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json", "Authorization": f"Bearer {self.key}"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(3):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
            try:
                conn.request(method, path, body=data, headers=headers)
                r = conn.getresponse()
                return r.status, r.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError

    def create(self, path: str, body: dict, optional: tuple[str, ...] = ()) -> dict:
        """POST, expecting 201; on 409/422 drops the optional fields one by one and retries."""
        body = dict(body)
        while True:
            status, payload = self.request("POST", path, body)
            if status in (200, 201):
                return json.loads(payload)
            text = payload.decode("utf-8", "replace")
            dropped = False
            if status in (409, 422):
                for field in optional:
                    if body.get(field) is not None and field in text:
                        self.note(f"{path.split('/')[2]}: dropped {field} after {status}")
                        body[field] = None
                        dropped = True
                        break
                if not dropped and status == 409 and "name" in body and "name" in text:
                    self.note(f"{path.split('/')[2]}: renamed after 409")
                    body["name"] = body["name"] + " (2)"
                    dropped = True
            if not dropped:
                raise RuntimeError(f"POST {path} answered {status}: {text[:400]} body={json.dumps(body)[:300]}")


def run(pool: ThreadPoolExecutor, label: str, work: list, fn) -> list:
    started = time.monotonic()
    out = []
    step = max(1, len(work) // 5)
    for i, r in enumerate(pool.map(fn, work)):
        out.append(r)
        if (i + 1) % step == 0 or i + 1 == len(work):
            el = time.monotonic() - started
            print(f"  {label}: {i + 1}/{len(work)} ({(i + 1) / max(el, 1e-9):.0f}/s)",
                  file=sys.stderr, flush=True)
    return out


def remap(c: Client, data_dir: str, ids: dict) -> None:
    """After an interrupted load: harness ids -> Kopa ids through the API (projects by their
    unique reference, programmes by code; indicators by the fixed code mapping)."""
    by_ref, cursor = {}, None
    while True:
        st, body = c.request("GET", "/v1/projects?limit=200" + (f"&cursor={cursor}" if cursor else ""))
        page = json.loads(body)
        for p in page["data"]:
            by_ref[p["reference"]] = p["id"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    for p in read_jsonl(data_dir, "projects"):
        ids[p["id"]] = by_ref[p["reference"]]
    st, body = c.request("GET", "/v1/programmes?limit=200")
    by_code = {p["code"]: p["id"] for p in json.loads(body)["data"]}
    for p in read_jsonl(data_dir, "programmes"):
        ids[p["id"]] = by_code[p["code"]]
    for i in read_jsonl(data_dir, "indicators"):
        ids[i["id"]] = indicator_code(i["code"])
    print(f"  remapped {len(ids)} ids through the API", file=sys.stderr, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data_dir")
    ap.add_argument("--url", required=True)
    ap.add_argument("--key", required=True, help="an admin API key")
    ap.add_argument("--out", required=True, help="where bench_params.json, id_map.json, load.json go")
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--metric-threads", type=int, default=2,
                    help="batches in flight (16 at once run into the 30 s statement timeout here)")
    ap.add_argument("--resume-metrics", action="store_true",
                    help="records are loaded already: map ids through the API (projects by "
                         "reference, programmes by code) and push only the metric values")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    c = Client(a.url, a.key)
    ids: dict[str, str] = {}
    timings: dict[str, float] = {}
    counts: dict[str, int] = {}

    def timed(name):
        class T:
            def __enter__(self):
                self.t = time.monotonic()

            def __exit__(self, *exc):
                timings[name] = round(time.monotonic() - self.t, 1)
        return T()

    if a.resume_metrics:
        remap(c, a.data_dir, ids)
        counts["records"] = "loaded by an earlier run that stopped at the metric values"
    with ThreadPoolExecutor(a.threads) as pool:
        if not a.resume_metrics:
            orgs = read_jsonl(a.data_dir, "organisations")
            with timed("organisations"):
                def org(o):
                    body = {"name": o["name"], "short_name": o["short_name"], "kind": ORG_KIND[o["kind"]],
                            "country": o["country"], "registration_number": o["registration_number"],
                            "website": o["website"], "description": o["description"]}
                    return c.create("/v1/organisations", body, ("registration_number", "website", "short_name"))["id"]
                for o, kid in zip(orgs, run(pool, "organisations", orgs, org)):
                    ids[o["id"]] = kid
            counts["organisations"] = len(orgs)

            programmes = read_jsonl(a.data_dir, "programmes")
            with timed("programmes"):
                def prog(p):
                    body = {"name": p["name"], "code": p["code"], "start_date": p["period_start"],
                            "end_date": p["period_end"],
                            "organisations": [{"organisation_id": ids[p["funder_id"]], "role": "funder"}]
                            if p.get("funder_id") else []}
                    return c.create("/v1/programmes", body)["id"]
                for p, kid in zip(programmes, run(pool, "programmes", programmes, prog)):
                    ids[p["id"]] = kid
            counts["programmes"] = len(programmes)

            indicators = read_jsonl(a.data_dir, "indicators")
            with timed("indicators"):
                for i in indicators:
                    code = indicator_code(i["code"])
                    st, body = c.request("POST", "/v1/indicators", {
                        "code": code, "name": i["name"], "name_lv": i["name"], "unit": UNIT[i["unit"]],
                        "aggregation": "sum"})
                    if st not in (200, 201, 409):
                        raise RuntimeError(f"indicator {code}: {st} {body[:300]!r}")
                    ids[i["id"]] = code
            counts["indicators"] = len(indicators)

            funding: dict[str, list] = {}
            for f in read_jsonl(a.data_dir, "project_funding"):
                funding.setdefault(f["project_id"], []).append(f)
            counts["funding_lines"] = sum(len(v) for v in funding.values())

            projects = read_jsonl(a.data_dir, "projects")
            region_of = {p["id"]: REGION[p["region"]] for p in projects}
            with timed("projects"):
                def proj(p):
                    lines = []
                    for f in sorted(funding.get(p["id"], []), key=lambda x: x["position"]):
                        lines.append({
                            "programme_id": ids[f["programme_id"]] if f.get("programme_id") else None,
                            "funder_id": ids[f["funder_id"]] if f.get("funder_id") else None,
                            "share_percent": f.get("share_percent"),
                            "amount": "%.2f" % f["amount"] if f.get("amount") is not None else None,
                            "currency": f.get("currency")})
                    body = {"reference": p["reference"], "title": p["title"], "summary": p["summary"],
                            "aim": p["aim"], "status": p["status"] if p["published"] else "draft",
                            "start_date": p["start_date"], "end_date": p["end_date"],
                            "lead_organisation_id": ids[p["lead_organisation_id"]],
                            "programme_id": ids[p["programme_id"]],
                            "regions": [region_of[p["id"]]], "target_groups": p["target_groups"],
                            "funding": lines}
                    return c.create("/v1/projects", body)["id"]
                for p, kid in zip(projects, run(pool, "projects", projects, proj)):
                    ids[p["id"]] = kid
            counts["projects"] = len(projects)
            counts["projects_draft"] = sum(1 for p in projects if not p["published"])

            partners = read_jsonl(a.data_dir, "project_partners")
            with timed("partners"):
                def partner(x):
                    return c.create(f"/v1/projects/{ids[x['project_id']]}/partners",
                                    {"organisation_id": ids[x["organisation_id"]],
                                     "role": PARTNER_ROLE[x["role"]]})["id"]
                run(pool, "partners", partners, partner)
            counts["partners"] = len(partners)

            activities = read_jsonl(a.data_dir, "activities")
            with timed("activities"):
                def activity(x):
                    return c.create(f"/v1/projects/{ids[x['project_id']]}/activities", {
                        "title": x["title"], "kind": ACTIVITY_KIND[x["kind"]],
                        "start_date": x["start_date"], "end_date": x["end_date"],
                        "place": x["location"], "region": region_of[x["project_id"]],
                        "participants": x["participant_count"]})["id"]
                run(pool, "activities", activities, activity)
            counts["activities"] = len(activities)
            del activities, partners

        with timed("metric_values"):
            merged: dict[tuple, dict] = {}
            n_values = 0
            for m in read_jsonl(a.data_dir, "metric_values"):
                n_values += 1
                k = (m["project_id"], m["indicator_id"], m["period_start"], m["period_end"], m["target_group"])
                if k in merged:
                    merged[k]["value"] = round(merged[k]["value"] + m["value"], 4)
                else:
                    merged[k] = {"project": ids[m["project_id"]], "indicator": ids[m["indicator_id"]],
                                 "period_start": m["period_start"], "period_end": m["period_end"],
                                 "kind": "actual", "value": m["value"],
                                 **({"target_group": m["target_group"]} if m["target_group"] else {})}
            items = list(merged.values())
            batches = [items[k:k + 10000] for k in range(0, len(items), 10000)]

            def push(b):
                for attempt in range(5):
                    st, body = c.request("POST", "/v1/metrics/batch", {"items": b})
                    if st == 200:
                        return json.loads(body)
                    if st != 503:
                        break
                    c.note("metric batch retried after 503")
                    time.sleep(2)
                raise RuntimeError(f"batch answered {st}: {body[:400]!r}")
            with ThreadPoolExecutor(a.metric_threads) as mpool:
                summaries = run(mpool, "metric batches", batches, push)
        counts["metric_values_in_file"] = n_values
        counts["metric_values_after_merging_same_key"] = len(items)
        counts["metric_values_created"] = sum(s.get("created", 0) for s in summaries)
        counts["metric_values_unchanged"] = sum(s.get("unchanged", 0) for s in summaries)
        counts["metric_values_updated"] = sum(s.get("updated", 0) for s in summaries)

    # bench parameters with Kopa's ids and codes
    with open(os.path.join(a.data_dir, "bench_params.json"), encoding="utf-8") as f:
        params = json.load(f)
    kp = dict(params)
    kp["project_ids"] = [ids[x] for x in params["project_ids"]]
    kp["filters"] = [dict(x, region=REGION[x["region"]]) for x in params["filters"]]
    kp["programme_ids"] = [ids[x] for x in params["programme_ids"]]
    kp["indicator_ids"] = [ids[x] for x in params["indicator_ids"]]
    kp["write_project_ids"] = [ids[x] for x in params["write_project_ids"]]
    kp["regions"] = [REGION[r] for r in params["regions"]]
    kp["mapped_for"] = "kopa (bench/peer/load_peer_dataset.py)"
    with open(os.path.join(a.out, "bench_params.json"), "w", encoding="utf-8") as f:
        json.dump(kp, f, ensure_ascii=False, indent=1)
    try:
        with open(os.path.join(a.data_dir, "manifest.json"), encoding="utf-8") as f:
            manifest = json.load(f)
    except OSError:
        manifest = {}
    with open(os.path.join(a.out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=1)
    with open(os.path.join(a.out, "id_map.json"), "w", encoding="utf-8") as f:
        json.dump(ids, f)
    report = {"counts": counts, "seconds": timings, "retries": c.retries, "source": os.path.abspath(a.data_dir),
              "manifest": manifest}
    with open(os.path.join(a.out, "load.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, ensure_ascii=False, indent=1)
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
