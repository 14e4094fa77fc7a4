"""Webhook delivery benchmark (not a test).

    .venv/bin/python -m benchmarks.webhooks --db sqlite --workers 1
    .venv/bin/python -m benchmarks.webhooks --db postgresql+psycopg://postgres@127.0.0.1/test \
        --workers 2

What it measures, against a fast loopback receiver (uvicorn, its own process, answers 200 at once):

1. **raw limit**: the same number of POSTs (same ~2 KB body) sent straight to the receiver at the
   same concurrency by aiohttp's client, on asyncio's loop and on uvloop (the faster counts), and
   once by httpx's (for the choice of client); no database, no signing;
2. **throughput**: ``appdock worker`` processes started and warmed up (one event delivered to
   every subscription), then M events for K subscriptions published in one transaction (K*M
   deliveries); deliveries/s from that commit until every delivery is recorded as delivered in
   the database (every attempt durably written);
3. **latency**: workers running, events published one per transaction at ``--rate`` per second;
   p50 / p99 from the event's commit to the receiver's receipt.

Steps 1 and 2 alternate for ``--rounds`` rounds (raw, workers, raw, workers, ..., raw), and each
round's ratio is taken against the mean of the raw runs just before and after it, so a machine
shared with other work loads both sides alike. Machine-wide CPU use and the CPU seconds of the
worker, receiver and publisher processes are reported per round (evidence of what is saturated).

``--profile DIR`` runs each worker under ``py-spy record`` (raw collapsed stacks) and prints where
the worker's CPU went; ``--src DIR`` runs another checkout's ``src`` (a before/after comparison in
the same conditions).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

BODY = {
    "push": {"changes": [{"new": {"name": "main"}, "commits": ["x" * 40] * 5}]},
    "pad": "p" * 1500,
}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_receiver(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "benchmarks.receiver:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
        ],
        cwd=Path(__file__).resolve().parents[1],
    )
    import httpx

    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(base + "/", timeout=1)
            return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("receiver did not start")


def received(base: str) -> list[list[Any]]:
    import httpx

    return list(httpx.get(base + "/", timeout=30).json())


def reset(base: str) -> None:
    import httpx

    httpx.delete(base + "/", timeout=10)


# ---- raw client limit ---------------------------------------------------------------------------
async def raw_aiohttp(url: str, n: int, concurrency: int, body: bytes) -> float:
    import aiohttp

    sem = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:

        async def one() -> None:
            async with (
                sem,
                s.post(url, data=body, headers={"Content-Type": "application/json"}) as r,
            ):
                await r.read()

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return n / (time.perf_counter() - t0)


async def raw_httpx(url: str, n: int, concurrency: int, body: bytes) -> float:
    import httpx

    sem = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits) as c:

        async def one() -> None:
            async with sem:
                r = await c.post(url, content=body, headers={"Content-Type": "application/json"})
                await r.aread()

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return n / (time.perf_counter() - t0)


# ---- database -----------------------------------------------------------------------------------
def make_database(db: str, tmp: Path) -> tuple[str, str | None]:
    if db == "sqlite":
        return f"sqlite:///{tmp / 'bench.db'}", None
    import psycopg

    parts = urlsplit(db)
    name = "adk_bench_" + secrets.token_hex(4)
    with psycopg.connect(parts._replace(scheme="postgresql").geturl(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return parts._replace(path="/" + name).geturl(), name


def drop_database(db: str, name: str | None) -> None:
    if name is None:
        return
    import psycopg

    with psycopg.connect(urlsplit(db)._replace(scheme="postgresql").geturl(), autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def worker_env(url: str, tmp: Path, concurrency: int) -> dict[str, str]:
    return dict(
        os.environ,
        APPDOCK_DATABASE_URL=url,
        APPDOCK_DATA_DIR=str(tmp),
        APPDOCK_SECRET_KEY="bench-secret-" + "x" * 20,
        APPDOCK_ALLOW_PRIVATE_APP_URLS="loopback",
        APPDOCK_WEBHOOK_CONCURRENCY=str(concurrency),
        APPDOCK_WEBHOOK_PER_SUBSCRIPTION_CONCURRENCY=str(concurrency),
        APPDOCK_WEBHOOK_POLL_INTERVAL="0.05",
        APPDOCK_LOG_LEVEL="warning",
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (and its waited-for children), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")


def python_pid(proc: subprocess.Popen[bytes], profiled: bool) -> int:
    """The worker's own pid: py-spy's child when profiled (py-spy's CPU is not the worker's)."""
    if not profiled:
        return proc.pid
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    for _ in range(100):
        try:
            pids = children.read_text().split()
        except OSError:
            pids = []
        if pids:
            return int(pids[0])
        time.sleep(0.05)
    raise RuntimeError("py-spy did not start the worker")


def bench_backends(db: str, name: str | None) -> list[int]:
    """The PostgreSQL backends serving the benchmark's own database (not other users')."""
    if name is None:
        return []
    import psycopg

    with psycopg.connect(urlsplit(db)._replace(scheme="postgresql").geturl()) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return [int(row[0]) for row in rows]


def db_pids() -> list[int]:
    """The local PostgreSQL server's processes (empty for SQLite, which runs in-process)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in {"postgres", "postmaster"}:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


IDLE_FRAMES = ("EpollSelector.select", "_worker (concurrent/futures/thread.py")


def summarize_profile(paths: list[Path], top: int = 20) -> dict[str, Any]:
    """Where the workers' samples went, from py-spy raw stacks recorded with ``--threads``:
    per thread (idle = waiting in epoll or for a job), the top functions by self samples, the
    appdock functions by inclusive samples, and the share under aiohttp and SQLAlchemy."""
    threads: dict[str, dict[str, int]] = {}
    self_count: dict[str, int] = {}
    incl: dict[str, int] = {}
    libs = {"aiohttp": 0, "sqlalchemy": 0, "json": 0, "hmac/jwt": 0}
    total = busy = 0
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = stack.split(";")
            thread = frames[0].split(" (")[0] if frames[0].startswith("thread") else "?"
            name = next((f for f in frames if "Thread.run" in f or "run_worker" in f), "")
            kind = "loop" if "run_worker" in name else "db/other"
            per = threads.setdefault(f"{kind} {thread}", {"samples": 0, "idle": 0})
            per["samples"] += count
            total += count
            leaf = frames[-1].split(":")[0] + ")" if ":" in frames[-1] else frames[-1]
            if any(leaf.startswith(idle) for idle in IDLE_FRAMES):
                per["idle"] += count
                continue
            busy += count
            self_count[leaf] = self_count.get(leaf, 0) + count
            for frame in {f.split(":")[0] + ")" for f in frames if "appdock/" in f}:
                incl[frame] = incl.get(frame, 0) + count
            joined = stack
            for lib, marker in (
                ("aiohttp", "aiohttp/"),
                ("sqlalchemy", "sqlalchemy/"),
                ("json", "json/"),
                ("hmac/jwt", "hmac.py"),
            ):
                if marker in joined or (lib == "hmac/jwt" and "jwt/" in joined):
                    libs[lib] += count

    def share(table: dict[str, int]) -> list[tuple[str, float]]:
        ranked = sorted(table.items(), key=lambda kv: -kv[1])[:top]
        return [(name, round(100.0 * n / max(1, busy), 1)) for name, n in ranked]

    return {
        "samples": total,
        "busy_samples": busy,
        "threads": threads,
        "busy_pct_under": {k: round(100.0 * v / max(1, busy), 1) for k, v in libs.items()},
        "self_pct_of_busy": share(self_count),
        "appdock_inclusive_pct_of_busy": share(incl),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--db", default="sqlite", help="sqlite, or a PostgreSQL URL")
    parser.add_argument("--subs", type=int, default=10, help="K subscriptions")
    parser.add_argument("--events", type=int, default=500, help="M events per round")
    parser.add_argument("--rounds", type=int, default=2, help="throughput rounds")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=32, help="in flight per worker")
    parser.add_argument("--rate", type=float, default=200.0, help="events/s in the latency run")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the latency run")
    parser.add_argument(
        "--latency-subs", type=int, default=1, help="subscriptions in the latency run"
    )
    parser.add_argument("--src", type=Path, default=None, help="the src/ of another checkout")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy the workers into DIR")
    parser.add_argument("--label", default="", help="a name for this run in the output")
    parser.add_argument("--out", type=Path, default=None, help="append the result line here")
    args = parser.parse_args()

    src = (args.src or Path(__file__).resolve().parents[1] / "src").resolve()
    sys.path.insert(0, str(src))
    from sqlalchemy import func, select

    from appdock import subscribers
    from appdock.config import Settings
    from appdock.core.db import make_engine, make_session_factory
    from appdock.core.subject import AuthSubject
    from appdock.event.service import publish
    from appdock.migrate import upgrade
    from appdock.models import Repository, WebhookDelivery, Workspace
    from appdock.webhook.service import HookOwner, WebhookService

    load_at_start = Path("/proc/loadavg").read_text()[:14]
    tmp = Path(tempfile.mkdtemp(prefix="adk-bench-"))
    url, dbname = make_database(args.db, tmp)
    receiver, base = start_receiver(tmp)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        settings = Settings(
            database_url=url,
            data_dir=tmp,
            secret_key="bench-secret-" + "x" * 20,
            allow_private_app_urls="loopback",
        )
        upgrade(settings, "head")
        subscribers.register()
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        per_round = args.subs * args.events
        concurrency = args.concurrency * args.workers
        body = json.dumps(BODY).encode()

        def raw() -> float:
            """aiohttp's client on asyncio's loop and on uvloop; the faster is the limit."""
            rates = []
            for loop_name in ("asyncio", "uvloop"):
                coro = raw_aiohttp(base + "/raw", per_round, concurrency, body)
                if loop_name == "uvloop":
                    import uvloop

                    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                        rates.append(runner.run(coro))
                else:
                    rates.append(asyncio.run(coro))
                reset(base)
            raw_by_loop.append([round(r) for r in rates])
            return max(rates)

        raw_by_loop: list[list[int]] = []

        def undelivered() -> bool:
            """Whether a delivery is still pending (one index probe: the poll, every 50 ms, must
            not load the machine it measures)."""
            with sessions() as s:
                probe = select(WebhookDelivery.id).where(WebhookDelivery.status == "pending")
                return s.scalar(probe.limit(1)) is not None

        def not_delivered() -> int:
            with sessions() as s:
                return int(
                    s.scalar(
                        select(func.count())
                        .select_from(WebhookDelivery)
                        .where(WebhookDelivery.status != "delivered")
                    )
                    or 0
                )

        def publish_burst(first: int, count: int) -> float:
            """``count`` events in one transaction; returns the time of the commit."""
            with sessions() as s:
                for i in range(first, first + count):
                    publish(
                        s,
                        "repo:push",
                        workspace_id=ws_id,
                        repository_id=repo_id,
                        payload={**BODY, "n": i},
                    )
                s.commit()
            return time.perf_counter()

        # the client choice (once): httpx against the same receiver
        raw_hx = asyncio.run(raw_httpx(base + "/raw", min(per_round, 2000), concurrency, body))
        reset(base)

        with sessions() as s:
            ws = Workspace(slug="bench", name="Bench", kind="team")
            s.add(ws)
            s.flush()
            repo = Repository(workspace_id=ws.id, slug="r", name="r")
            s.add(repo)
            s.flush()
            svc = WebhookService(s, settings)
            owner = HookOwner(workspace=ws, repository=repo)
            hooks = [
                svc.create(
                    owner,
                    AuthSubject(kind="session"),
                    url=f"{base}/hook/{i}",
                    events=["repo:push"],
                    secret="whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                )
                for i in range(args.subs)
            ]
            s.commit()
            ws_id, repo_id = ws.id, repo.id

        env = worker_env(url, tmp, args.concurrency)
        env["PYTHONPATH"] = str(src) + os.pathsep + env.get("PYTHONPATH", "")
        command = [sys.executable, "-m", "appdock", "worker"]
        profiles: list[Path] = []
        for n in range(args.workers):
            if args.profile is not None:
                args.profile.mkdir(parents=True, exist_ok=True)
                out = args.profile / f"worker{n}.txt"
                profiles.append(out)
                spy = Path(sys.executable).with_name("py-spy")
                argv = [str(spy), "record", "--format", "raw", "--threads", "-r", "250"]
                argv += ["-o", str(out), "--"]
                workers.append(subprocess.Popen([*argv, *command], env=env))
            else:
                workers.append(subprocess.Popen(command, env=env))
        # warm up: every worker started, connections open, one delivery per subscription
        publish_burst(-1, 1)
        while undelivered():
            time.sleep(0.05)
        reset(base)

        rounds: list[dict[str, Any]] = []
        raws = [raw()]
        worker_pids = [python_pid(w, args.profile is not None) for w in workers]
        time.sleep(0.5)  # the workers' LISTEN connections
        watched = {"workers": worker_pids, "receiver": [receiver.pid], "db": db_pids()}
        watched["publisher"] = [os.getpid()]
        for r in range(args.rounds):
            watched["db"] = db_pids()
            watched["bench_backends"] = bench_backends(args.db, dbname)
            cpu0 = {k: sum(cpu_seconds(p) for p in v) for k, v in watched.items()}
            busy0 = machine_busy()
            t0 = publish_burst(r * args.events, args.events)
            db_after_publish = sum(cpu_seconds(p) for p in watched["db"])
            while undelivered():
                time.sleep(0.05)
            elapsed = time.perf_counter() - t0
            failed = not_delivered()
            busy1 = machine_busy()
            cpu1 = {k: sum(cpu_seconds(p) for p in v) for k, v in watched.items()}
            got = received(base)
            reset(base)
            raws.append(raw())
            rate = per_round / elapsed
            raw_mean = (raws[-2] + raws[-1]) / 2
            rounds.append(
                {
                    "deliveries_per_s": round(rate),
                    "raw_aiohttp_per_s": round(raw_mean),
                    "raw_asyncio_uvloop_before_after": raw_by_loop[-2:],
                    "ratio": round(rate / raw_mean, 3),
                    "received": len(got),
                    "not_delivered": failed,
                    "duplicates": len(got) - len({g[1] for g in got}),
                    "machine_cpu_busy_pct": round(
                        100 * (busy1[0] - busy0[0]) / max(1.0, busy1[1] - busy0[1]), 1
                    ),
                    "worker_cpu_ms_per_delivery": round(
                        1000 * (cpu1["workers"] - cpu0["workers"]) / per_round, 3
                    ),
                    "receiver_cpu_ms_per_request": round(
                        1000 * (cpu1["receiver"] - cpu0["receiver"]) / per_round, 3
                    ),
                    "publisher_cpu_s": round(cpu1["publisher"] - cpu0["publisher"], 2),
                    "db_server_cpu_ms_per_delivery": round(
                        1000 * (cpu1["db"] - cpu0["db"]) / per_round, 3
                    ),
                    "of_which_this_benchmarks_backends": round(
                        1000 * (cpu1["bench_backends"] - cpu0["bench_backends"]) / per_round, 3
                    ),
                    "of_which_publishing": round(
                        1000 * (db_after_publish - cpu0["db"]) / per_round, 3
                    ),
                }
            )

        # 3. latency at a fixed event rate
        with sessions() as s:
            svc = WebhookService(s, settings)
            for h in s.scalars(select(type(hooks[0]))).all()[args.latency_subs :]:
                svc.delete(h)
            s.commit()
        commit_at: dict[int, float] = {}
        n_events = int(args.rate * args.seconds)
        interval = 1.0 / args.rate
        start = time.perf_counter()
        with sessions() as s:
            for i in range(n_events):
                target = start + i * interval
                pause = target - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                publish(
                    s,
                    "repo:push",
                    workspace_id=ws_id,
                    repository_id=repo_id,
                    payload={**BODY, "n": 1_000_000 + i},
                )
                s.commit()
                commit_at[1_000_000 + i] = time.time()
        achieved = n_events / (time.perf_counter() - start)
        deadline = time.time() + 60
        while time.time() < deadline:
            got = received(base)
            if len({g[2] for g in got}) >= n_events * args.latency_subs:
                break
            time.sleep(0.2)
        lat = [(t - commit_at[n]) * 1000 for t, _, n in got if n in commit_at]
        ratios = sorted(r["ratio"] for r in rounds)
        result: dict[str, Any] = {
            "label": args.label,
            "loadavg_at_start_and_end": [load_at_start, Path("/proc/loadavg").read_text()[:14]],
            "db": "sqlite" if args.db == "sqlite" else "postgresql",
            "workers": args.workers,
            "concurrency_per_worker": args.concurrency,
            "subscriptions": args.subs,
            "deliveries_per_round": per_round,
            "raw_httpx_per_s": round(raw_hx),
            "rounds": rounds,
            "ratio_median": round(statistics.median(ratios), 3) if ratios else None,
            "latency_rate_events_per_s": round(achieved),
            "latency_p50_ms": round(statistics.median(lat), 1) if lat else None,
            "latency_p99_ms": round(percentile(lat, 0.99), 1) if lat else None,
            "latency_received": len(lat),
            "latency_expected": n_events * args.latency_subs,
        }
        print(json.dumps(result))
        if args.out is not None:
            with args.out.open("a") as out_file:
                out_file.write(json.dumps(result) + "\n")
        engine.dispose()
    finally:
        for w in workers:
            # a profiled worker is py-spy's child: stop the worker, py-spy then writes its file
            pid = python_pid(w, args.profile is not None) if w.poll() is None else w.pid
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for w in workers:
            try:
                w.wait(30)
            except subprocess.TimeoutExpired:
                w.kill()
        receiver.terminate()
        receiver.wait(10)
        drop_database(args.db, dbname)
    if args.profile is not None:
        summary = summarize_profile(profiles)
        (args.profile / "summary.json").write_text(json.dumps(summary, indent=1))
        print(f"profile summary: {args.profile / 'summary.json'}")


if __name__ == "__main__":
    main()
