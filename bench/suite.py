#!/usr/bin/env python3
"""The whole benchmark suite, in one command, against a fresh Kopa and its raw PostgreSQL.

    python3 bench/suite.py [--scale 1] [--duration 20] [--soak 0] [--json bench/results/latest.json]

1. Builds the release binary (unless `--binary` is given) and checks the pinned load generator
   (wrk 4.1.0 from Debian; installed with apt-get when missing and running as root).
2. Starts `kopa serve` on a fresh embedded PostgreSQL in /tmp, creates an admin key, and loads
   the generated dataset (`bench/dataset.py`) through the API.
3. Read cases with wrk, 16 connections, 2 threads, `--duration` seconds each, anonymous: the
   50 newest projects; one project with partners, activities and metrics embedded (random
   ids); a three-filter list; a search (random words); an indicator stat by region. Each runs
   its equivalent SQL (the statements Kopa issues for it) through pgbench with the same
   connections, and the table shows Kopa's rate as a fraction of pgbench's.
4. Single-shot cases: a 10,000-item metrics batch (median of 3), a full CSV export of the
   projects and a change-feed catch-up from zero (pages of 1,000).
5. Peak RSS of the Kopa process (VmHWM); with `--soak S`, S seconds of mixed read load
   with RSS sampled every 10 s, reported as first / last / max.

Standard library only (Python 3.11), plus wrk and pgbench.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import batch_push  # noqa: E402
import dataset  # noqa: E402
from batch_push import REPO, BenchError, Server  # noqa: E402

WRK_VERSION = "4.1.0"
CONNECTIONS = 16
THREADS = 2
SEARCH_WORDS = ["integracija", "ilukstes", "valodas", "seniori", "jauniesu", "kopiena",
                "dialogs", "daugavpils", "lidzdaliba", "kultura"]

RANDOM_PATH_LUA = """
local paths = {}
init = function(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
end
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
"""

# The statements Kopa runs for each read case (see src/projects/list.rs, src/stats.rs), with
# the ids and words the wrk runs pick at random picked by pgbench instead.
PGBENCH = {
    "list": """
SELECT p.*, NULL::text AS sort_key FROM projects p WHERE p.status <> 'draft' ORDER BY p.id DESC LIMIT 51;
SELECT f.* FROM project_funding f WHERE f.project_id IN (SELECT id FROM projects WHERE status <> 'draft' ORDER BY id DESC LIMIT 51) ORDER BY f.project_id, f.position;
""",
    "get+include": """
\\set n random(1, :nids)
SELECT id AS pid FROM bench.ids WHERE n = :n \\gset
SELECT * FROM projects WHERE id = :pid;
SELECT * FROM project_funding WHERE project_id = :pid ORDER BY position;
SELECT pp.*, o.* FROM project_partners pp JOIN organisations o ON o.id = pp.organisation_id WHERE pp.project_id = :pid ORDER BY pp.project_id, pp.id;
SELECT * FROM activities WHERE project_id = :pid ORDER BY project_id, id;
SELECT m.*, i.code FROM metric_values m JOIN indicators i ON i.id = m.indicator_id WHERE m.project_id = :pid ORDER BY m.project_id, m.id;
""",
    "filter": """
SELECT EXISTS (SELECT 1 FROM target_groups WHERE code = 'seniors');
SELECT EXISTS (SELECT 1 FROM regions WHERE code = 'latgale');
SELECT p.*, NULL::text AS sort_key FROM projects p WHERE p.status <> 'draft' AND p.status = 'active' AND p.target_groups @> '{seniors}' AND p.regions @> '{latgale}' ORDER BY p.id LIMIT 51;
SELECT f.* FROM project_funding f WHERE f.project_id IN (SELECT p.id FROM projects p WHERE p.status = 'active' AND p.target_groups @> '{seniors}' AND p.regions @> '{latgale}' ORDER BY p.id LIMIT 51) ORDER BY f.project_id, f.position;
""",
    "search": """
\\set w random(0, 9)
SELECT (ARRAY['integracij:*','ilukst:*','valod:*','senior:*','jauniesu:*','kopien:*','dialog:*','daugavpil:*','lidzdalib:*','kultur:*'])[:w + 1] AS words, (ARRAY['integracija','ilukstes','valodas','seniori','jauniesu','kopiena','dialogs','daugavpils','lidzdaliba','kultura'])[:w + 1] AS word \\gset
SELECT p.id, (-(ts_rank(p.search_vector, to_tsquery('simple'::regconfig, kopa_fold(:words)))::float8))::text AS sort_key FROM projects p WHERE p.status <> 'draft' AND (p.search_vector @@ to_tsquery('simple'::regconfig, kopa_fold(:words)) OR kopa_fold(:word) <% p.search_text) ORDER BY (-(ts_rank(p.search_vector, to_tsquery('simple'::regconfig, kopa_fold(:words)))::float8)), p.id LIMIT 21;
SELECT f.* FROM project_funding f WHERE f.project_id IN (SELECT id FROM projects ORDER BY id LIMIT 20) ORDER BY f.project_id, f.position;
""",
    "stats": """
SELECT * FROM indicators WHERE code = 'participants';
SELECT key, sum(value)::float8, count(*), sum(n)::bigint FROM (SELECT r.code AS key, m.project_id, sum(m.value) AS value, count(*) AS n FROM metric_values m JOIN projects p ON p.id = m.project_id LEFT JOIN LATERAL unnest(p.regions) AS r(code) ON true WHERE p.status <> 'draft' AND m.indicator_id = (SELECT id FROM indicators WHERE code = 'participants') AND m.kind = 'actual' GROUP BY 1, 2) per_project GROUP BY key ORDER BY key NULLS LAST;
SELECT key, sum(value)::float8, count(*), sum(n)::bigint FROM (SELECT NULL::text AS key, m.project_id, sum(m.value) AS value, count(*) AS n FROM metric_values m JOIN projects p ON p.id = m.project_id WHERE p.status <> 'draft' AND m.indicator_id = (SELECT id FROM indicators WHERE code = 'participants') AND m.kind = 'actual' GROUP BY 1, 2) per_project GROUP BY key ORDER BY key NULLS LAST;
SELECT code, label_en, label_lv, position FROM regions ORDER BY position, code;
""",
}


def ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchError("wrk is not installed (Debian: apt-get install wrk)")
    version = subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout
    if WRK_VERSION not in version:
        print(f"warning: expected wrk {WRK_VERSION}, found: {version.strip()}", file=sys.stderr)
    return wrk


def to_ms(text: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(wrk: str, url: str, duration: int, paths: list[str], work: Path) -> dict:
    script = work / "random_path.lua"
    script.write_text(RANDOM_PATH_LUA)
    path_file = work / "paths.txt"
    path_file.write_text("\n".join(paths) + "\n")
    out = subprocess.run(
        [wrk, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{duration}s", "--latency", "-s", str(script),
         url, "--", str(path_file)],
        capture_output=True, text=True, check=True,
    ).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)$", out, re.M))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, socket.groups())) if socket else 0)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": to_ms(latency["50"]),
        "p99_ms": to_ms(latency["99"]),
        "errors": errors,
    }


def run_pgbench(db: dict, name: str, duration: int, work: Path, nids: int) -> float:
    script = work / f"{name.replace('+', '_')}.sql"
    script.write_text(PGBENCH[name])
    out = subprocess.run(
        ["pgbench", "-n", "-M", "extended", "-c", str(CONNECTIONS), "-j", str(THREADS),
         "-T", str(duration), "-D", f"nids={nids}", "-f", str(script),
         "-h", "127.0.0.1", "-p", str(db["port"]), "-U", "kopa", "kopa"],
        capture_output=True, text=True, env={**os.environ, "PGPASSWORD": db["password"]},
    )
    match = re.search(r"tps = ([\d.]+)", out.stdout)
    if out.returncode != 0 or match is None:
        raise BenchError(f"pgbench {name} failed: {out.stderr.strip()[-600:]}")
    return float(match.group(1))


def psql(db: dict, sql: str) -> str:
    return subprocess.run(
        ["psql", "-qAtX", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(db["port"]),
         "-U", "kopa", "-d", "kopa", "-c", sql],
        capture_output=True, text=True, check=True, env={**os.environ, "PGPASSWORD": db["password"]},
    ).stdout


def time_batch(server: Server, key: str, projects: list[str]) -> list[float]:
    times = []
    for round_no in range(3):
        items = [{"project": projects[i % len(projects)], "indicator": "hours_taught",
                  "period_start": f"{1950 + round_no}-01-01", "period_end": f"{1950 + round_no}-12-31",
                  "target_group": "youth" if i // len(projects) else None,
                  "value": (i + int(time.time())) % 97}
                 for i in range(10_000)]
        items = [{k: v for k, v in item.items() if v is not None} for item in items]
        body = json.dumps({"items": items}).encode()
        started = time.perf_counter()
        status, payload = server.request("POST", "/v1/metrics/batch", body=body, key=key)
        times.append(time.perf_counter() - started)
        if status != 200:
            raise BenchError(f"batch answered {status}: {batch_push.excerpt(payload)}")
    return times


def time_csv(server: Server) -> tuple[float, int]:
    started = time.perf_counter()
    conn = __import__("http.client").client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    conn.request("GET", "/v1/exports/projects.csv")
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise BenchError(f"CSV export answered {response.status}")
    return elapsed, body.count(b"\n") - 1


def time_feed(server: Server) -> tuple[float, int, int]:
    started = time.perf_counter()
    cursor, changes, pages = None, 0, 0
    while True:
        path = "/v1/changes?limit=1000" + (f"&since={cursor}" if cursor else "")
        page = server.get_json(path)
        pages += 1
        changes += len(page["data"])
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return time.perf_counter() - started, changes, pages


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--duration", type=int, default=20, help="seconds per wrk and pgbench run")
    parser.add_argument("--soak", type=int, default=0, help="seconds of mixed load for the memory soak")
    parser.add_argument("--binary", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--data-dir", type=Path,
                        help="keep the loaded registry here and reuse it on the next run (skips loading)")
    args = parser.parse_args()

    if args.binary is None:
        subprocess.run(["cargo", "build", "--release", "--locked", "-q"], cwd=REPO, check=True)
        binary = REPO / "target" / "release" / "kopa"
    else:
        binary = args.binary
    wrk = ensure_wrk()
    keep = args.data_dir is not None
    data_dir = args.data_dir.resolve() if keep else Path(tempfile.mkdtemp(prefix="kopa-suite-", dir="/tmp"))
    reuse = keep and (data_dir / "loaded.json").exists()
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o755)
    work = data_dir / "work"
    work.mkdir(exist_ok=True)
    server = None
    results: dict = {"machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores",
                     "scale": args.scale, "duration_s": args.duration, "cases": {}}
    try:
        server = Server.start(binary, data_dir)
        server.wait_ready(300)
        key = server.create_admin_key()
        url = f"http://127.0.0.1:{server.port}"
        if reuse:
            results["dataset"] = json.loads((data_dir / "loaded.json").read_text())
            print(f"kopa on {url}; reusing the registry in {data_dir}", flush=True)
        else:
            print(f"kopa on {url}; loading scale {args.scale}", flush=True)
            started = time.monotonic()
            loaded = dataset.generate(url, key, args.scale, seed=7)
            results["dataset"] = {k: v for k, v in loaded.items() if k != "project_ids"}
            results["dataset"]["total_load_seconds"] = round(time.monotonic() - started, 1)
            (data_dir / "loaded.json").write_text(json.dumps(results["dataset"]))
        db = {"port": int((data_dir / "pgdata" / "postmaster.pid").read_text().splitlines()[3]),
              "password": (data_dir / "pgpass").read_text().strip()}
        psql(db, "DROP SCHEMA IF EXISTS bench CASCADE; CREATE SCHEMA bench; "
                 "CREATE TABLE bench.ids AS SELECT row_number() OVER (ORDER BY id) AS n, id FROM projects "
                 "WHERE status <> 'draft'; ALTER TABLE bench.ids ADD PRIMARY KEY (n)")
        # Settle the visibility map and statistics, as autovacuum would after a bulk load.
        psql(db, "VACUUM ANALYZE")
        published = psql(db, "SELECT id FROM bench.ids ORDER BY n").split()
        rng = random.Random(11)
        cases = {
            "list": ["/v1/projects?sort=-id&limit=50"],
            "get+include": [f"/v1/projects/{rng.choice(published)}?include=partners,activities,metrics"
                            for _ in range(2000)],
            "filter": ["/v1/projects?status=active&region=latgale&target_group=seniors&limit=50"],
            "search": [f"/v1/projects?q={w}&limit=20" for w in SEARCH_WORDS],
            "stats": ["/v1/stats/indicators/participants?group_by=region"],
        }
        for name, paths in cases.items():
            print(f"case {name}: wrk", flush=True)
            kopa = run_wrk(wrk, url, args.duration, paths, work)
            print(f"case {name}: pgbench", flush=True)
            raw = run_pgbench(db, name, args.duration, work, len(published))
            kopa["pgbench_tps"] = raw
            kopa["fraction"] = kopa["rps"] / raw if raw else None
            results["cases"][name] = kopa
            print(f"  {kopa}", flush=True)
        print("case batch", flush=True)
        batch = time_batch(server, key, published)
        results["cases"]["batch 10k"] = {"median_s": statistics.median(batch), "max_s": max(batch)}
        print("case csv", flush=True)
        seconds, rows = time_csv(server)
        results["cases"]["csv export"] = {"seconds": seconds, "rows": rows}
        print("case change feed", flush=True)
        seconds, changes, pages = time_feed(server)
        results["cases"]["feed catch-up"] = {"seconds": seconds, "changes": changes, "pages": pages}
        if args.soak:
            samples = []
            soak_paths = cases["list"] + cases["get+include"][:500] + cases["filter"] + cases["search"]
            for _ in range(max(1, args.soak // 10)):
                run_wrk(wrk, url, 10, soak_paths, work)
                samples.append(rss_kib(server.process.pid, "VmRSS:"))
            results["soak"] = {"seconds": args.soak, "rss_first_kib": samples[0],
                               "rss_last_kib": samples[-1], "rss_max_kib": max(samples)}
        results["peak_rss_kib"] = rss_kib(server.process.pid, "VmHWM:")
    except (BenchError, OSError, subprocess.CalledProcessError, RuntimeError) as error:
        print(f"\nsuite FAILED: {error}", file=sys.stderr)
        if server is not None:
            print(server.log_tail(), file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()
        if not keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    print_table(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def print_table(results: dict) -> None:
    print(f"\nmachine: {results['machine']}; scale {results['scale']}: {results['dataset']}")
    print(f"\n| case | req/s | p50 ms | p99 ms | errors | pgbench tps | Kopa / pgbench |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, c in results["cases"].items():
        if "rps" in c:
            print(f"| {name} | {c['rps']:.0f} | {c['p50_ms']:.2f} | {c['p99_ms']:.2f} | {c['errors']} "
                  f"| {c['pgbench_tps']:.0f} | {c['fraction']:.0%} |")
    b = results["cases"]["batch 10k"]
    print(f"| metrics batch, 10,000 items | — | {b['median_s'] * 1000:.0f} (median of 3) | {b['max_s'] * 1000:.0f} (max) | 0 | — | — |")
    c = results["cases"]["csv export"]
    print(f"| CSV export, {c['rows']} projects | — | {c['seconds'] * 1000:.0f} (one run) | — | 0 | — | — |")
    f = results["cases"]["feed catch-up"]
    print(f"| change feed from zero, {f['changes']} changes in {f['pages']} pages | — | {f['seconds'] * 1000:.0f} (one run) | — | 0 | — | — |")
    print(f"\npeak RSS of kopa: {results['peak_rss_kib'] / 1024:.0f} MiB")
    if "soak" in results:
        s = results["soak"]
        print(f"soak {s['seconds']} s: RSS first {s['rss_first_kib'] / 1024:.0f} MiB, last "
              f"{s['rss_last_kib'] / 1024:.0f} MiB, max {s['rss_max_kib'] / 1024:.0f} MiB")


if __name__ == "__main__":
    sys.exit(main())
