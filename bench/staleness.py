#!/usr/bin/env python3
"""How long an anonymous reader can see a kept (stale) answer after a write was acknowledged.

Starts its own Kopa (fresh embedded PostgreSQL in a temporary directory, the seeds loaded),
with the response store on. Each round:

1. an anonymous reader asks for a published project until the answer comes from the store
   (`X-Cache: hit`): the store holds the old answer;
2. a writer with an admin key changes the project's title (`PATCH`, answered 200 after the
   commit);
3. the reader asks again, as fast as one keep-alive connection allows, until the answer
   carries the new title.

The figure is the time from the writer reading its 200 to the reader's first fresh answer:
what a site can be shown after a partner was told "saved". Commits send `NOTIFY`, each
instance drops what it keeps when it hears it; a read that is already fresh on the first try
counts as 0 (plus that one request's time). Python standard library only.

    python3 bench/staleness.py --rounds 300 [--binary target/release/kopa] [--json out.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch_push import REPO, BenchError, Server  # noqa: E402


class Client:
    """One keep-alive connection; answers are (status, headers, body)."""

    def __init__(self, port: int, key: str | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.key = key

    def send(self, method: str, path: str, body: dict | None = None):
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/merge-patch+json"
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        return response.status, response.headers, response.read()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run(server: Server, key: str, rounds: int) -> dict:
    reader = Client(server.port)
    writer = Client(server.port, key)
    status, _, body = reader.send("GET", "/v1/projects?limit=1")
    if status != 200:
        raise BenchError(f"GET /v1/projects answered {status}")
    project = json.loads(body)["data"][0]["id"]
    path = f"/v1/projects/{project}"
    delays: list[float] = []
    polls: list[int] = []
    first_fresh = 0
    for n in range(rounds):
        # 1. The store holds the current answer.
        for _ in range(50):
            status, headers, _ = reader.send("GET", path)
            if status == 200 and headers.get("X-Cache") == "hit":
                break
        else:
            raise BenchError("the anonymous answer never came from the store (X-Cache: hit)")
        # 2. The write, acknowledged after its commit.
        title = f"Staleness probe {n}"
        status, _, body = writer.send("PATCH", path, {"title": title})
        if status != 200:
            raise BenchError(f"PATCH answered {status}: {body[:300]!r}")
        acknowledged = time.perf_counter()
        # 3. Read until the new title shows.
        tries = 0
        while True:
            tries += 1
            status, _, body = reader.send("GET", path)
            if status == 200 and json.loads(body)["title"] == title:
                delays.append((time.perf_counter() - acknowledged) * 1000)
                break
            if time.perf_counter() - acknowledged > 10:
                raise BenchError(f"round {n}: still stale after 10 s")
        polls.append(tries)
        first_fresh += tries == 1
    return {
        "rounds": rounds,
        "stale_ms": {
            "p50": round(statistics.median(delays), 2),
            "p99": round(percentile(delays, 99), 2),
            "max": round(max(delays), 2),
        },
        "fresh_on_first_read": first_fresh,
        "max_reads_until_fresh": max(polls),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--binary", type=Path, default=REPO / "target" / "release" / "kopa")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not args.binary.exists():
        print(f"{args.binary} is missing: cargo build --release --locked", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="kopa-staleness-") as tmp:
        data_dir = Path(tmp)
        data_dir.chmod(0o755)
        server = Server.start(args.binary, data_dir)
        try:
            server.wait_ready(180)
            key = server.create_admin_key()
            result = run(server, key, args.rounds)
        except BenchError as error:
            print(f"error: {error}\n{server.log_tail()}", file=sys.stderr)
            return 1
        finally:
            server.stop()
    result["binary"] = str(args.binary)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
