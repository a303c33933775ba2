#!/usr/bin/env python3
"""Benchmark of the batch push endpoint, POST /v1/metrics/batch.

Starts a private Kopa (with its own embedded PostgreSQL in a temporary directory), creates an
admin key, and times full batches of metric values for one seeded project and indicator:

  dry run    ?dry_run=true of a fresh batch (every item would be created)
  create     the same fresh batch, pushed (every item created)
  update     the same natural keys with changed values (every item updated)
  unchanged  the updated batch pushed again, identical (every item unchanged)

Each round uses its own range of single-day periods, so every round creates new values. Each
response must be 200 with exactly the expected summary counts, or the benchmark fails.
Standard library only (Python 3.11).

    cargo build --release && python3 bench/batch_push.py [--rounds 5] [--json results.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_BINARY = REPO / "target" / "release" / "kopa"
INDICATOR = "people_trained"
MAX_BATCH = 10_000
EPOCH = dt.date(1900, 1, 1)
CASES = ("dry run", "create", "update", "unchanged")


class BenchError(Exception):
    """A step of the benchmark failed; the message says which and why."""


# --- the Kopa server under test ---------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kopa_env(data_dir: Path, port: int) -> dict[str, str]:
    """The environment for Kopa: the caller's, minus anything that could point it elsewhere."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KOPA_") and k != "DATABASE_URL"
    }
    env.update(
        KOPA_DATA_DIR=str(data_dir),
        KOPA_BIND=f"127.0.0.1:{port}",
        KOPA_LOG="warn",
        KOPA_SEEDS_DIR=str(REPO / "seeds"),
        KOPA_RATE_LIMIT_KEY="0",
        KOPA_RATE_LIMIT_ANONYMOUS="0",
    )
    return env


@dataclass
class Server:
    """A running `kopa serve` on its own data directory and port."""

    binary: Path
    data_dir: Path
    port: int
    process: subprocess.Popen
    log_path: Path

    @classmethod
    def start(cls, binary: Path, data_dir: Path) -> "Server":
        """Starts `kopa serve`; its stdout and stderr go to `kopa.log` in the data directory."""
        port = free_port()
        log_path = data_dir / "kopa.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [str(binary), "serve"],
                env=kopa_env(data_dir, port),
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return cls(binary, data_dir, port, process, log_path)

    def wait_ready(self, timeout: float) -> float:
        """Waits until GET /v1/projects answers 200; returns the seconds it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            code = self.process.poll()
            if code is not None:
                how = f"was killed by signal {-code}" if code < 0 else f"exited with {code}"
                raise BenchError(f"kopa serve {how} during start-up")
            try:
                status, _ = self.request("GET", "/v1/projects", timeout=5)
                if status == 200:
                    return time.monotonic() - started
            except OSError:
                pass
            time.sleep(0.25)
        raise BenchError(f"kopa serve did not answer GET /v1/projects within {timeout:.0f} s")

    def create_admin_key(self) -> str:
        """Creates an admin API key with the CLI (it adopts the running cluster); its secret."""
        result = subprocess.run(
            [str(self.binary), "keys", "create", "--scope", "admin", "--name", "bench"],
            env=kopa_env(self.data_dir, self.port),
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
        lines = result.stdout.strip().splitlines()
        if result.returncode != 0 or not lines:
            raise BenchError(f"kopa keys create failed ({result.returncode}): {result.stderr.strip()}")
        return lines[-1].strip()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        key: str | None = None,
        timeout: float = 600,
    ) -> tuple[int, bytes]:
        """One HTTP request on a fresh connection; the status and the whole response body."""
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def get_json(self, path: str) -> dict:
        """GET a path that must answer 200; its JSON body."""
        status, body = self.request("GET", path)
        if status != 200:
            raise BenchError(f"GET {path} answered {status}: {excerpt(body)}")
        return json.loads(body)

    def peak_rss_kib(self) -> int | None:
        """The server process's peak resident set size (VmHWM), in KiB; None if unreadable."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return None

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM, then waits: Kopa drains its requests and stops its embedded PostgreSQL.

        If it does not exit in time, it is killed and its PostgreSQL is stopped directly.
        """
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
                return
            except subprocess.TimeoutExpired:
                print(f"kopa serve ignored SIGTERM for {timeout:.0f} s; killing it", file=sys.stderr)
                self.process.kill()
                self.process.wait()
        self.stop_orphaned_postgres()

    def stop_orphaned_postgres(self) -> None:
        """Stops (fast shutdown) a PostgreSQL left running on the data directory, if any."""
        pid_file = self.data_dir / "pgdata" / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, signal.SIGINT)
        except (OSError, ValueError, IndexError):
            return
        deadline = time.monotonic() + 30
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines Kopa wrote, for error reports."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def excerpt(body: bytes, limit: int = 600) -> str:
    """The start of a response body, for error messages."""
    text = body.decode(errors="replace")
    return text if len(text) <= limit else text[:limit] + "..."


# --- batches ----------------------------------------------------------------------------------


def make_batch(project: str, first_day: int, size: int, value_offset: float) -> bytes:
    """A JSON body of `size` items with distinct single-day periods from EPOCH + first_day.

    Item i gets the value i + value_offset (keep the offset at 4 decimals or fewer).
    """
    items = []
    for i in range(size):
        day = (EPOCH + dt.timedelta(days=first_day + i)).isoformat()
        items.append(
            {
                "project": project,
                "indicator": INDICATOR,
                "period_start": day,
                "period_end": day,
                "kind": "actual",
                "value": i + value_offset,
                "note": "batch push benchmark",
            }
        )
    return json.dumps({"items": items}).encode()


@dataclass
class Case:
    """One timed case: what to send and what the summary must say."""

    name: str
    body: bytes
    dry_run: bool
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def round_cases(project: str, round_no: int, size: int) -> list[Case]:
    """The four cases of one round, in the order they must run."""
    first_day = round_no * size
    fresh = make_batch(project, first_day, size, 0.25)
    changed = make_batch(project, first_day, size, 0.5)
    return [
        Case("dry run", fresh, dry_run=True, created=size),
        Case("create", fresh, dry_run=False, created=size),
        Case("update", changed, dry_run=False, updated=size),
        Case("unchanged", changed, dry_run=False, unchanged=size),
    ]


def run_case(server: Server, key: str, case: Case) -> float:
    """Sends one batch and checks the summary; the seconds from sending to the last byte read."""
    path = "/v1/metrics/batch" + ("?dry_run=true" if case.dry_run else "")
    started = time.perf_counter()
    status, body = server.request("POST", path, body=case.body, key=key)
    seconds = time.perf_counter() - started
    if status != 200:
        raise BenchError(f"{case.name}: POST {path} answered {status}: {excerpt(body)}")
    check_summary(case, json.loads(body))
    return seconds


def check_summary(case: Case, summary: dict) -> None:
    """Fails unless the import summary says exactly what the case expects."""
    expected = {
        "dry_run": case.dry_run,
        "created": case.created,
        "updated": case.updated,
        "unchanged": case.unchanged,
        "items": case.created + case.updated + case.unchanged,
    }
    got = {k: summary.get(k) for k in expected}
    got["items"] = len(summary.get("items") or [])
    if got != expected:
        raise BenchError(f"{case.name}: summary {got}, expected {expected}")


# --- results ----------------------------------------------------------------------------------


@dataclass
class Results:
    """Timings per case (seconds per batch, one per round) and facts about the run."""

    binary: str
    batch_size: int
    rounds: int
    timings: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in CASES})
    startup_seconds: float = 0.0
    peak_rss_kib: int | None = None

    def rows(self) -> list[dict]:
        """One summary row per case."""
        rows = []
        for case, seconds in self.timings.items():
            median = statistics.median(seconds)
            rows.append(
                {
                    "case": case,
                    "median_s": median,
                    "max_s": max(seconds),
                    "values_per_s": self.batch_size / median,
                    "seconds": seconds,
                }
            )
        return rows

    def to_json(self) -> dict:
        """Everything, for --json."""
        return {
            "binary": self.binary,
            "batch_size": self.batch_size,
            "rounds": self.rounds,
            "startup_seconds": self.startup_seconds,
            "peak_rss_kib": self.peak_rss_kib,
            "machine": machine(),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "cases": self.rows(),
        }


def machine() -> dict:
    """The number of CPUs and the CPU model, as in the README."""
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "system": platform.platform()}


def print_table(results: Results) -> None:
    """The results as a Markdown table (pastes straight into bench/README.md)."""
    print(f"\n{results.binary}: {results.batch_size:,}-item batches, {results.rounds} round(s)\n")
    print("| case      | median s | max s  | values/s |")
    print("|-----------|---------:|-------:|---------:|")
    for row in results.rows():
        print(
            f"| {row['case']:<9} | {row['median_s']:8.3f} | {row['max_s']:6.3f} "
            f"| {row['values_per_s']:8,.0f} |"
        )
    rss = results.peak_rss_kib
    print(f"\nKopa peak RSS (VmHWM): {rss / 1024:.1f} MiB" if rss else "\nKopa peak RSS: unknown")


# --- main -------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", type=Path, help=f"Kopa binary (default: {DEFAULT_BINARY})")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per case (default: 5)")
    parser.add_argument(
        "--batch-size", type=int, default=MAX_BATCH, help=f"items per batch (default: {MAX_BATCH})"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results here")
    parser.add_argument(
        "--startup-timeout", type=float, default=300, help="seconds to wait for Kopa (default: 300)"
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if not 1 <= args.batch_size <= MAX_BATCH:
        parser.error(f"--batch-size must be between 1 and {MAX_BATCH}")
    return args


def find_binary(given: Path | None) -> Path:
    """The binary to benchmark; exits with 2 and the build command when it is missing."""
    binary = (given or DEFAULT_BINARY).resolve()
    if not binary.is_file():
        print(f"no Kopa binary at {binary}", file=sys.stderr)
        if given is None:
            print(f"build it first:  cd {REPO} && cargo build --release", file=sys.stderr)
        sys.exit(2)
    return binary


def make_data_dir() -> Path:
    """A fresh temporary data directory that the `postgres` user can enter (Kopa as root)."""
    data_dir = Path(tempfile.mkdtemp(prefix="kopa-bench-", dir="/tmp"))
    data_dir.chmod(0o755)
    return data_dir


def pick_project(server: Server) -> str:
    """The id of the first seeded project; also checks the benchmark's indicator exists."""
    projects = server.get_json("/v1/projects?limit=1")["data"]
    if not projects:
        raise BenchError("GET /v1/projects returned no project: were the seeds loaded?")
    server.get_json(f"/v1/indicators/{INDICATOR}")
    return projects[0]["id"]


def benchmark(server: Server, results: Results) -> None:
    """Runs every round against a ready server, filling `results`."""
    key = server.create_admin_key()
    project = pick_project(server)
    print(f"project {project}, indicator {INDICATOR}")
    for round_no in range(results.rounds):
        for case in round_cases(project, round_no, results.batch_size):
            seconds = run_case(server, key, case)
            results.timings[case.name].append(seconds)
            print(f"round {round_no + 1}/{results.rounds}  {case.name:<9} {seconds:7.3f} s", flush=True)
    results.peak_rss_kib = server.peak_rss_kib()


def main() -> int:
    args = parse_args()
    binary = find_binary(args.binary)
    results = Results(binary=str(binary), batch_size=args.batch_size, rounds=args.rounds)
    data_dir = make_data_dir()
    server = None
    try:
        server = Server.start(binary, data_dir)
        print(f"starting {binary} on port {server.port} (data in {data_dir})", flush=True)
        results.startup_seconds = server.wait_ready(args.startup_timeout)
        print(f"ready after {results.startup_seconds:.1f} s", flush=True)
        benchmark(server, results)
    except (BenchError, OSError, json.JSONDecodeError, subprocess.SubprocessError) as error:
        print(f"\nbenchmark FAILED: {error}", file=sys.stderr)
        if server is not None:
            print(f"--- last lines of the Kopa log ---\n{server.log_tail()}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results.to_json(), indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
