#!/usr/bin/env python3
"""Builds issue 14's table from one sitting's result files (bench/peer/sitting.sh OUT_DIR):
kopa-repeated-*.json, kopa-unique-*.json, kopa-pgbench-*.json, kopa-write-*.json,
directus-*.json, directus-cache-*.json and soak.json. Prints Markdown.

    python3 bench/peer/report.py OUT_DIR
"""

import glob
import json
import os
import sys

CASES = [
    ("a_list", "a. 50 newest projects"),
    ("b_get", "b. one project with partners"),
    ("c_filter", "c. three-filter list (135 combinations)"),
    ("d_search", "d. search, one common word (16 words)"),
    ("e_agg", "e. sums of every indicator, one programme (40)"),
    ("g_facets", "g. three-filter list with 3 facets"),
    ("h_region", "h. stats, one indicator by region, all projects"),
    ("i_funding", "i. funding totals by programme"),
]


def latest(out, stem):
    files = sorted(f for f in glob.glob(os.path.join(out, stem + "-2*.json")))
    return json.load(open(files[-1])) if files else None


def by_case(res):
    if not res:
        return {}
    return {c["case"]: c for c in res.get("cases", []) if not c.get("skipped")}


def rps(c):
    return c.get("req_per_s") if "req_per_s" in c else c.get("tps")


def p99_ms(c):
    return c["wrk"]["latency_us"]["p99"] / 1000 if "wrk" in c else (c["latency_us"]["p99"] or 0) / 1000


def cell(c):
    if not c:
        return "—"
    errs = sum(c["wrk"]["errors"].values()) if "wrk" in c else c.get("failed", 0)
    return "%s (%s ms)%s" % (fmt(rps(c)), fmt_ms(p99_ms(c)), " **%d errors**" % errs if errs else "")


def fmt(x):
    return "%.0f" % x if x >= 10 else "%.1f" % x


def fmt_ms(x):
    return "%.0f" % x if x >= 10 else "%.1f" % x


def main():
    out = sys.argv[1]
    rep, uni, pgb = by_case(latest(out, "kopa-repeated")), by_case(latest(out, "kopa-unique")), by_case(latest(out, "kopa-pgbench"))
    dir_, dca = by_case(latest(out, "directus")), by_case(latest(out, "directus-cache"))
    lines = ["| case | Kopa repeated req/s (p99) | Kopa unique req/s (p99) | pgbench tps (p99) | Directus req/s (p99) "
             "| Directus+cache req/s (p99) | ratio vs Directus: repeated (unique) | target | met? |",
             "|---|---:|---:|---:|---:|---:|---:|---|---|"]
    plain = rps(uni["a_list"]) if "a_list" in uni else None
    for cid, label in CASES:
        r, u, p, d, dc = rep.get(cid), uni.get(cid), pgb.get(cid), dir_.get(cid), dca.get(cid)
        ratio = "—"
        if d and r and u:
            ratio = "%.1f× (%.1f×)" % (rps(r) / rps(d), rps(u) / rps(d))
        targets, met = [], []
        # repeated: >= 50x Directus (where Directus has the case) and p99 < 25 ms
        if r:
            if d:
                ok = rps(r) >= 50 * rps(d)
                targets.append("repeated ≥ 50× Directus")
                met.append(("yes" if ok else "**no**") + " (%.1f×)" % (rps(r) / rps(d)))
            ok = p99_ms(r) < 25 and rps(r) > 0
            targets.append("repeated p99 < 25 ms")
            met.append(("yes" if ok else "**no**") + " (%s ms)" % fmt_ms(p99_ms(r)))
        if u:
            if cid in ("a_list", "b_get") and p:
                f = rps(u) / rps(p)
                targets.append("unique ≥ 70 % of pgbench")
                met.append(("yes" if f >= 0.7 else "**no**") + " (%.0f %%)" % (100 * f))
            if cid == "g_facets" and plain:
                f = rps(u) / plain
                targets.append("unique ≥ 80 % of list (a)")
                met.append(("yes" if f >= 0.8 else "**no**") + " (%.0f %%)" % (100 * f))
            if cid == "d_search" and plain:
                f = rps(u) / plain
                targets.append("unique ≥ 50 % of list (a)")
                met.append(("yes" if f >= 0.5 else "**no**") + " (%.0f %%)" % (100 * f))
            if cid in ("h_region", "i_funding") and plain:
                f = rps(u) / plain
                targets.append("unique ≥ list (a)")
                met.append(("yes" if f >= 1 else "**no**") + " (%.0f %%)" % (100 * f))
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            label, cell(r), cell(u), cell(p), cell(d), cell(dc), ratio, "; ".join(targets) or "—",
            "; ".join(met) or "—"))
    print("\n".join(lines))
    print()
    for stem in ("kopa-repeated", "kopa-unique", "kopa-pgbench", "directus", "directus-cache"):
        res = latest(out, stem)
        if not res:
            continue
        oth = ["%s %.2f" % (c["case"], c["cpu"]["other_procs_cores"]) for c in res["cases"] if c.get("cpu")]
        print("- %s (%s): other procs (cores) %s" % (stem, res["meta"]["started_at"], ", ".join(oth)))
    for stem in ("kopa-write", "directus"):
        res = latest(out, stem)
        w = res and res.get("write")
        if w and not w.get("skipped"):
            print("- %s batch write %d × %d: mean %.3f s, p50 %.3f s, max %.3f s, %.0f rows/s, errors %d"
                  % (stem, w["batches"], w["batch_size"], w["mean_s"], w["p50_s"], w["max_s"],
                     w["rows_per_s"] or 0, w["errors"]))
    s = os.path.join(out, "soak.json")
    if os.path.exists(s):
        s = json.load(open(s))
        print("- soak %.0f s: reads %d (5xx %d, 4xx %d, socket errors %d), writes %d (errors %d, max %.0f ms), "
              "values written %d, 5xx total %d, Kopa RSS first %.0f / last %.0f / max %.0f MiB, stats equal to "
              "direct SQL: %s" % (s["seconds"], s["reads"], s["read_5xx"], s["read_4xx"], s["socket_errors"],
                                  s["writes"], s["write_errors"], s["write_ms_max"] or 0, s["values_written"],
                                  s["total_5xx"], s["rss_mib_first"], s["rss_mib_last"], s["rss_mib_max"],
                                  s["stats_vs_direct"]["equal"]))


if __name__ == "__main__":
    main()
