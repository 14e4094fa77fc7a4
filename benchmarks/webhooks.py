"""Webhook delivery benchmark (not a test).

    .venv/bin/python -m benchmarks.webhooks --db sqlite --workers 1
    .venv/bin/python -m benchmarks.webhooks --db postgresql+psycopg://postgres@127.0.0.1/test \
        --workers 2

What it measures, against a fast loopback receiver (uvicorn, its own process, answers 200 at once):

1. **raw limit**: the same number of POSTs (same ~2 KB body) sent straight to the receiver at the
   same concurrency by aiohttp's and httpx's async clients (no database, no signing);
2. **throughput**: K subscriptions, M events published up front (K*M deliveries), then
   ``appdock worker`` processes started; deliveries/s until every delivery is recorded as
   delivered (every attempt durably written);
3. **latency**: workers running, events published at ``--rate`` per second; p50 / p99 from the
   event's commit to the receiver's receipt.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
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
    parser.add_argument("--events", type=int, default=500, help="M events (throughput run)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=32, help="in flight per worker")
    parser.add_argument("--rate", type=float, default=200.0, help="events/s in the latency run")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the latency run")
    parser.add_argument(
        "--latency-subs", type=int, default=1, help="subscriptions in the latency run"
    )
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from sqlalchemy import func, select

    from appdock import subscribers
    from appdock.config import Settings
    from appdock.core.db import make_engine, make_session_factory
    from appdock.core.subject import AuthSubject
    from appdock.event.service import publish
    from appdock.migrate import upgrade
    from appdock.models import Repository, WebhookDelivery, Workspace
    from appdock.webhook.service import HookOwner, WebhookService

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
        total = args.subs * args.events
        body = json.dumps(BODY).encode()

        # 1. raw limit
        raw_aio = asyncio.run(
            raw_aiohttp(base + "/raw", total, args.concurrency * args.workers, body)
        )
        reset(base)
        raw_hx = asyncio.run(raw_httpx(base + "/raw", total, args.concurrency * args.workers, body))
        reset(base)

        # 2. throughput
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
        with sessions() as s:
            for i in range(args.events):
                publish(
                    s,
                    "repo:push",
                    workspace_id=ws_id,
                    repository_id=repo_id,
                    payload={**BODY, "n": i},
                )
                if i % 200 == 199:
                    s.commit()
            s.commit()
        env = worker_env(url, tmp, args.concurrency)
        t0 = time.perf_counter()
        workers = [
            subprocess.Popen([sys.executable, "-m", "appdock", "worker"], env=env)
            for _ in range(args.workers)
        ]
        while True:
            with sessions() as s:
                left = s.scalar(
                    select(func.count())
                    .select_from(WebhookDelivery)
                    .where(WebhookDelivery.status != "delivered")
                )
            if not left:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - t0
        throughput = total / elapsed
        got = received(base)
        dup = len(got) - len({g[1] for g in got})
        reset(base)

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
        deadline = time.time() + 60
        while time.time() < deadline:
            got = received(base)
            if (
                len({g[2] for g in got}) >= n_events * args.latency_subs
                or len(got) >= n_events * args.latency_subs
            ):
                break
            time.sleep(0.2)
        lat = [(t - commit_at[n]) * 1000 for t, _, n in got if n in commit_at]
        achieved = n_events / (time.perf_counter() - start)
        result = {
            "db": "sqlite" if args.db == "sqlite" else "postgresql",
            "workers": args.workers,
            "concurrency_per_worker": args.concurrency,
            "subscriptions": args.subs,
            "events": args.events,
            "deliveries": total,
            "raw_aiohttp_per_s": round(raw_aio),
            "raw_httpx_per_s": round(raw_hx),
            "deliveries_per_s": round(throughput),
            "ratio_to_raw_aiohttp": round(throughput / raw_aio, 3),
            "duplicates": dup,
            "latency_rate_events_per_s": round(achieved),
            "latency_subscriptions": args.latency_subs,
            "latency_p50_ms": round(statistics.median(lat), 1) if lat else None,
            "latency_p99_ms": round(percentile(lat, 0.99), 1) if lat else None,
            "latency_received": len(lat),
        }
        print(json.dumps(result))
        engine.dispose()
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            try:
                w.wait(20)
            except subprocess.TimeoutExpired:
                w.kill()
        receiver.terminate()
        receiver.wait(10)
        drop_database(args.db, dbname)


if __name__ == "__main__":
    main()
