"""What app authentication costs on the REST API: in one run, against one server (`appdock
serve`, a real uvicorn process), the throughput of ``GET /api/2.0/repositories/{ws}/{slug}``

* called anonymously on a public repository, and
* called with a fresh app JWT for every request (``iss`` app key, ``sub`` clientKey, qsh over the
  request), as atlassian-connect-express sends them;

then their ratio (target >= 0.9). The JWTs are all minted before the clock starts, so the client's
signing is not counted; each is used exactly once. Short rounds alternate anonymous/JWT so both
see the same background load; the median of the per-round ratios is reported beside the total.
On PostgreSQL a fresh database is made for the run and dropped after it.

    .venv/bin/python -m benchmarks.api_auth [--db sqlite|URL] [--seconds 2] [--rounds 10]
                                            [--concurrency 8]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import jwt

from benchmarks.webhooks import drop_database, make_database

APP_KEY = "com.example.bench"
PATH = "/2.0/repositories/acme/widget"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(url: str, tmp: Path, port: int) -> dict[str, str]:
    return dict(
        os.environ,
        APPDOCK_DATABASE_URL=url,
        APPDOCK_DATA_DIR=str(tmp),
        APPDOCK_SECRET_KEY="bench-secret-" + "x" * 20,
        APPDOCK_BASE_URL=f"http://127.0.0.1:{port}",
        APPDOCK_LOG_LEVEL="warning",
    )


def seed(env: dict[str, str]) -> tuple[str, str]:
    """acme (a team) with a public repository and an installation with the repository scope;
    returns its clientKey and shared secret."""
    os.environ.update(env)
    from appdock.account.service import AccountService
    from appdock.config import Settings
    from appdock.connect.service import client_key_for
    from appdock.core import crypto
    from appdock.core.db import make_engine, make_session_factory, unit_of_work
    from appdock.core.subject import AuthSubject
    from appdock.migrate import upgrade
    from appdock.models import AppClientKey, Installation
    from appdock.repo.service import RepoService

    settings = Settings()
    upgrade(settings, "head")
    engine = make_engine(settings.database_url_resolved)
    try:
        with unit_of_work(make_session_factory(engine)) as db:
            accounts = AccountService(db, settings.secret)
            alice = accounts.create_user("alice", "correct horse battery", email="a@example.test")
            acme = accounts.create_team("acme", "Acme", alice)
            subject = AuthSubject(kind="session", user_id=alice.id, username="alice")
            RepoService(db, settings).create(subject, acme, "widget", is_private=False)
            secret = secrets.token_urlsafe(48)
            client_key = client_key_for(acme, APP_KEY)
            encrypted = crypto.encrypt(settings.secret, secret)
            db.add(
                Installation(
                    app_key=APP_KEY,
                    client_key=client_key,
                    shared_secret=encrypted,
                    workspace_id=acme.id,
                    installed_by_user_id=alice.id,
                    name="Bench",
                    descriptor={
                        "key": APP_KEY,
                        "name": "Bench",
                        "baseUrl": "https://b.example",
                        "authentication": {"type": "jwt"},
                        "scopes": ["repository"],
                    },
                    base_url="https://b.example",
                    scopes="repository",
                )
            )
            db.add(
                AppClientKey(
                    app_key=APP_KEY,
                    workspace_id=acme.id,
                    client_key=client_key,
                    last_secret=encrypted,
                )
            )
    finally:
        engine.dispose()
    return client_key, secret


def tokens(client_key: str, secret: str, n: int) -> list[str]:
    from atlassian_jwt.url_utils import hash_url

    qsh = hash_url("GET", PATH)
    now = int(time.time())
    return [
        jwt.encode(
            {
                "iss": APP_KEY,
                "sub": client_key,
                "iat": now,
                "exp": now + 600,
                "qsh": qsh,
                "jti": str(i),
            },
            secret,
            algorithm="HS256",
        )
        for i in range(n)
    ]


def hammer(url: str, seconds: float, concurrency: int, pool: list[str] | None) -> float:
    """Requests per second over ``seconds`` from ``concurrency`` threads (keep-alive clients)."""
    stop = time.monotonic() + seconds
    counts = [0] * concurrency
    errors: list[str] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        with httpx.Client(timeout=30) as client:
            while time.monotonic() < stop:
                headers = {}
                if pool is not None:
                    with lock:
                        token = pool.pop()
                    headers["Authorization"] = f"JWT {token}"
                r = client.get(url, headers=headers)
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:200]}")
                    return
                counts[i] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"request failed: {errors[0]}")
    return sum(counts) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as raw_tmp:
        tmp = Path(raw_tmp)
        # a database of its own (on PostgreSQL a fresh one, dropped afterwards)
        url, pg_name = make_database(args.db, tmp)
        port = free_port()
        env = env_for(url, tmp, port)
        client_key, secret = seed(env)
        server = subprocess.Popen(
            [sys.executable, "-m", "appdock", "serve", "--port", str(port), "--no-worker"],
            env=env,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)
            target = base + "/api" + PATH
            hammer(target, 1.0, args.concurrency, None)  # warm up
            anonymous: list[float] = []
            with_jwt: list[float] = []
            for _ in range(args.rounds):
                anonymous.append(hammer(target, args.seconds, args.concurrency, None))
                budget = int(anonymous[-1] * args.seconds * 2) + 1000
                pool = tokens(client_key, secret, budget)
                with_jwt.append(hammer(target, args.seconds, args.concurrency, pool))
        finally:
            server.terminate()
            server.wait(15)
            drop_database(args.db, pg_name)
    result: dict[str, Any] = {
        "db": "sqlite" if args.db == "sqlite" else "postgresql",
        "concurrency": args.concurrency,
        "seconds_per_round": args.seconds,
        "anonymous_rps": [round(x, 1) for x in anonymous],
        "jwt_rps": [round(x, 1) for x in with_jwt],
        "anonymous_rps_mean": round(sum(anonymous) / len(anonymous), 1),
        "jwt_rps_mean": round(sum(with_jwt) / len(with_jwt), 1),
        "ratio": round(sum(with_jwt) / sum(anonymous), 3),
        # each round's JWT phase right after its anonymous one: the median of their ratios is
        # the figure least moved by other load on the machine
        "median_round_ratio": round(
            statistics.median(j / a for a, j in zip(anonymous, with_jwt, strict=True)), 3
        ),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
