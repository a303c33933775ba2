#!/usr/bin/env python3
"""Soak for issue 14: mixed anonymous reads (wrk, 16 connections) plus metric batch writes on one
more connection, against a running Kopa loaded by load_peer_dataset.py; then the fast stats
checked against a direct aggregate over metric_values.

    python3 bench/peer/soak.py --params KOPA_BENCH_DIR/params --seconds 600 --out soak.json

Reads: the harness's path templates of bench/peer/kopa.env (cases a b c d e g h i), expanded
with the Kopa-mapped parameters, one random path per request. wrk runs in slices of
`--slice` seconds so 5xx answers are counted per slice (a Lua `response` hook). Writes: a batch
of `--batch-size` values every `--write-every` seconds (fresh values, some updates of earlier
ones), with the admin key; every write changes the data the stats rest on, so with the response
store on each one drops kept answers. Kopa's RSS (VmRSS) is sampled every 5 s.

At the end: GET /v1/stats/indicators/ind_part?group_by=region (anonymous, so through the
response store when it is on) against SUM(value) over metric_values grouped by the project's
region, straight from PostgreSQL (psql). Standard library only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import urllib.parse
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
LUA = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
local paths = {}
n5xx = 0
n4xx = 0
function init(args)
  for line in io.lines(args[1]) do if #line > 0 then paths[#paths + 1] = line end end
  math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000))
end
function request() return wrk.format("GET", paths[math.random(#paths)]) end
function response(status, headers, body)
  if status >= 500 then n5xx = n5xx + 1 elseif status >= 400 then n4xx = n4xx + 1 end
end
function done(summary, latency, requests)
  local a, b = 0, 0
  for _, t in ipairs(threads) do a = a + t:get("n5xx"); b = b + t:get("n4xx") end
  io.write(string.format('SOAK_JSON {"requests":%d,"n5xx":%d,"n4xx":%d,"p50_us":%d,"p99_us":%d,' ..
    '"socket_errors":%d}\n', summary.requests, a, b, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def lua_script() -> str:
    return LUA


def templates(env_file: str) -> dict:
    out = subprocess.run(["bash", "-c", f"set -a; . {env_file}; env"], capture_output=True,
                         text=True, check=True).stdout
    env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return env


def expand(tpl: str, rows: list[dict]) -> list[str]:
    out = []
    for r in rows:
        p = tpl
        for k, v in r.items():
            p = p.replace("{%s}" % k, urllib.parse.quote(str(v), safe=""))
        out.append(p)
    return out


def rss_kib(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", required=True, help="directory with the Kopa-mapped bench_params.json")
    ap.add_argument("--env", default=os.path.join(HERE, "kopa.env"))
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--slice", type=int, default=30)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--write-every", type=float, default=5.0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    env = templates(a.env)
    base = env["BASE_URL"]
    u = urllib.parse.urlparse(base)
    bench_dir = env["KOPA_BENCH_DIR"]
    pid = int(open(env["PEER_PIDFILE"]).read().strip())
    key = open(os.path.join(bench_dir, "admin_key")).read().strip()
    params = json.load(open(os.path.join(a.params, "bench_params.json"), encoding="utf-8"))
    filt = [{"target_group": f["target_group"], "region": f["region"], "status": f["status"]}
            for f in params["filters"]]
    paths = (expand(env["EP_LIST"], [{}]) + expand(env["EP_GET"], [{"id": x} for x in params["project_ids"][:500]])
             + expand(env["EP_FILTER"], filt) + expand(env["EP_SEARCH"], [{"word": w} for w in params["search_words"]])
             + expand(env["EP_AGG"], [{"programme_id": x} for x in params["programme_ids"]])
             + expand(env["EP_FACETS"], filt) + [env["EP_REGION"], env["EP_FUNDING"]])
    work = os.path.join(bench_dir, "soak-work")
    os.makedirs(work, exist_ok=True)
    pathfile = os.path.join(work, "paths.txt")
    open(pathfile, "w").write("\n".join(paths) + "\n")
    luafile = os.path.join(work, "soak.lua")
    open(luafile, "w").write(lua_script())

    stop = threading.Event()
    rss: list[tuple[float, int]] = []
    writes: list[dict] = []
    t_start = time.monotonic()

    def sampler():
        while not stop.is_set():
            rss.append((round(time.monotonic() - t_start, 1), rss_kib(pid)))
            stop.wait(5)

    def writer():
        rng = random.Random(1414)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
        pids, codes = params["write_project_ids"], params["indicator_ids"]
        while not stop.is_set():
            items = []
            seen = set()
            for _ in range(a.batch_size):
                y, q = rng.randint(2005, 2026), rng.choice([1, 4, 7, 10])
                item = {"project": rng.choice(pids), "indicator": rng.choice(codes),
                        "period_start": "%d-%02d-01" % (y, q),
                        "period_end": "%d-%02d-%02d" % (y, q + 2, {3: 31, 6: 30, 9: 30, 12: 31}[q + 2]),
                        "value": round(rng.uniform(1, 500), 2)}
                k = (item["project"], item["indicator"], item["period_start"])
                if k in seen:
                    continue
                seen.add(k)
                items.append(item)
            body = json.dumps({"items": items})
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/v1/metrics/batch", body=body, headers={
                    "Content-Type": "application/json", "Authorization": f"Bearer {key}"})
                r = conn.getresponse()
                data = r.read()
                st = r.status
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
                st, data = 0, str(e).encode()
            rec = {"t": round(time.monotonic() - t_start, 1), "status": st,
                   "ms": round((time.perf_counter() - t0) * 1000, 1), "items": len(items)}
            if st == 200:
                s = json.loads(data)
                rec.update(created=s.get("created"), updated=s.get("updated"))
            else:
                rec["body"] = data[:200].decode("utf-8", "replace")
            writes.append(rec)
            stop.wait(a.write_every)

    threads = [threading.Thread(target=sampler, daemon=True), threading.Thread(target=writer, daemon=True)]
    for t in threads:
        t.start()
    slices = []
    while time.monotonic() - t_start < a.seconds:
        left = a.seconds - (time.monotonic() - t_start)
        d = int(min(a.slice, max(1, left)))
        out = subprocess.run(["wrk", "-t2", f"-c{a.connections}", f"-d{d}s", "--timeout", "30s", "--latency",
                              "-s", luafile, base, "--", pathfile], capture_output=True, text=True).stdout
        m = re.search(r"SOAK_JSON (\{.*\})", out)
        rec = json.loads(m.group(1)) if m else {"error": out[-500:]}
        rec["seconds"] = d
        slices.append(rec)
        print("slice", len(slices), rec, "rss MiB", rss[-1][1] // 1024 if rss else None, flush=True)
    stop.set()
    for t in threads:
        t.join(timeout=130)
    elapsed = time.monotonic() - t_start
    rss.append((round(elapsed, 1), rss_kib(pid)))

    # the fast stats against a direct aggregate
    time.sleep(1)  # let the last write's notification arrive (the bound is measured elsewhere)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    conn.request("GET", env["EP_REGION"])
    r = conn.getresponse()
    api = json.loads(r.read())
    data_dir = os.path.join(bench_dir, "data")
    port = open(os.path.join(data_dir, "pgdata", "postmaster.pid")).read().splitlines()[3].strip()
    pw = open(os.path.join(data_dir, "pgpass")).read().strip()
    sql = ("SELECT r.code, sum(m.value) FROM metric_values m JOIN projects p ON p.id = m.project_id "
           "CROSS JOIN LATERAL unnest(p.regions) AS r(code) JOIN indicators i ON i.id = m.indicator_id "
           "WHERE i.code = 'ind_part' AND m.kind = 'actual' AND p.status <> 'draft' GROUP BY 1 ORDER BY 1")
    rows = subprocess.run(["psql", "-qAtX", "-F", "\t", "-h", "127.0.0.1", "-p", port, "-U", "kopa", "-d", "kopa",
                           "-c", sql], capture_output=True, text=True, check=True,
                          env={**os.environ, "PGPASSWORD": pw}).stdout
    direct = {k: Decimal(v) for k, v in (line.split("\t") for line in rows.splitlines() if line)}
    fast = {}
    for g in api.get("groups", []):
        fast[g.get("key")] = Decimal(str(g.get("value")))
    # the API gives a double; equal means equal to 1e-9 relative (exact for these magnitudes)
    def same(x, y):
        return x is not None and y is not None and abs(x - y) <= abs(y) * Decimal("1e-9")
    diffs = {k: [str(fast.get(k)), str(direct.get(k))] for k in sorted(set(fast) | set(direct), key=str)
             if not same(fast.get(k), direct.get(k))}
    n5xx = sum(s.get("n5xx", 0) for s in slices) + sum(1 for w in writes if w["status"] >= 500)
    result = {
        "seconds": round(elapsed, 1), "connections": a.connections, "distinct_read_paths": len(paths),
        "reads": sum(s.get("requests", 0) for s in slices),
        "read_5xx": sum(s.get("n5xx", 0) for s in slices), "read_4xx": sum(s.get("n4xx", 0) for s in slices),
        "socket_errors": sum(s.get("socket_errors", 0) for s in slices),
        "writes": len(writes), "write_errors": sum(1 for w in writes if w["status"] != 200),
        "write_5xx": sum(1 for w in writes if w["status"] >= 500),
        "write_ms_max": max((w["ms"] for w in writes), default=None),
        "values_written": sum(w["items"] for w in writes if w["status"] == 200),
        "total_5xx": n5xx,
        "rss_mib_first": round(rss[0][1] / 1024, 1), "rss_mib_last": round(rss[-1][1] / 1024, 1),
        "rss_mib_max": round(max(x[1] for x in rss) / 1024, 1),
        "stats_vs_direct": {"api": {str(k): str(v) for k, v in fast.items()},
                            "direct": {k: str(v) for k, v in direct.items()}, "differences": diffs,
                            "equal": not diffs and bool(direct)},
        "slices": slices, "writes_sample": writes[:3] + writes[-3:], "rss_samples": rss,
    }
    json.dump(result, open(a.out, "w"), indent=1)
    print(json.dumps({k: v for k, v in result.items() if k not in ("slices", "rss_samples", "writes_sample")},
                     indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
