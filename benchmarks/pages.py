"""Repository overview with app modules: server time with five installed apps against none
(not a test).

    .venv/bin/python -m benchmarks.pages --rounds 200
    .venv/bin/python -m benchmarks.pages --db postgresql+psycopg://postgres@127.0.0.1:5432/test

Two repositories with the same git history (the demo's ``acme/widget`` and a copy ``plain/widget``
on a team with no apps); five apps are installed on ``acme``, each contributing an overview
panel, a repository action, a dialog action, a sidebar repoPage and a linker. The viewer is the
logged-in admin. The two pages are requested alternately in-process (Starlette's TestClient:
routing, the viewer's session, the database, git, the templates, the CSP header; no network),
after a warm-up, and the script prints one JSON line: median / p90 wall milliseconds of each,
the ratio of the medians (target: at most 1.3), and the same for CPU time (this process and the
git processes it waited for), which other work on a shared machine disturbs less.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

APPS = 5
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def app_descriptor(index: int) -> dict[str, Any]:
    key = f"io.example.bench{index}"
    return {
        "key": key,
        "name": f"Bench app {index}",
        "baseUrl": f"https://bench{index}.example.com",
        "authentication": {"type": "jwt"},
        "lifecycle": {"installed": "/installed"},
        "scopes": ["account", "repository", "pullrequest"],
        "contexts": ["account"],
        "modules": {
            "webPanels": [
                {
                    "key": "panel",
                    "name": {"value": f"Panel {index}"},
                    "location": "org.bitbucket.repository.overview.informationPanel",
                    "url": "/panel?repo={repository.full_name}&uuid={repository.uuid}"
                    "&user={user.uuid}",
                    "conditions": [
                        {"condition": "has_permission", "params": {"permission": "read"}}
                    ],
                }
            ],
            "webItems": [
                {
                    "key": "action",
                    "name": {"value": f"Action {index}"},
                    "location": "org.bitbucket.repository.actions",
                    "url": "/action?repo={repository.full_name}",
                },
                {
                    "key": "dialog",
                    "name": {"value": f"Dialog {index}"},
                    "location": "org.bitbucket.repository.actions",
                    "url": "/dialog?repo={repository.full_name}",
                    "target": {"type": "dialog"},
                },
            ],
            "repoPages": [
                {
                    "key": "page",
                    "name": {"value": f"Page {index}"},
                    "location": "org.bitbucket.repository.navigation",
                    "url": "/page?repo={repository.full_name}",
                }
            ],
            "linkers": [{"key": "ticket", "regex": r"T" + str(index) + r"-(\d+)", "url": "/t/\\1"}],
        },
    }


def setup(settings: Any) -> str:
    """Seed the demo, copy acme/widget to plain/widget, install the apps; the admin password."""
    from appdock.account.service import AccountService
    from appdock.cli.common import session_scope
    from appdock.connect.descriptor import parse_descriptor
    from appdock.connect.service import ConnectService
    from appdock.core.subject import AuthSubject
    from appdock.core.urls import Urls
    from appdock.demo import seed
    from appdock.migrate import upgrade
    from appdock.repo.service import RepoService

    upgrade(settings)
    lines = seed(settings)
    password = next(line for line in lines if "log in as admin" in line).rsplit(" ", 1)[-1]
    with session_scope(settings) as (session, s):
        accounts = AccountService(session, s.secret)
        admin = accounts.store.user_by_username("admin")
        assert admin is not None
        plain = accounts.store.workspace_by_slug("plain") or accounts.create_team(
            "plain", "Plain", admin
        )
        repos = RepoService(session, s)
        subject = AuthSubject(kind="session", user_id=admin.id, username=admin.username)
        source = repos.store.by_slug(repos.workspace("acme").id, "widget")
        assert source is not None
        copy = (
            repos.store.by_slug(plain.id, "widget")
            or repos.create(
                subject,
                plain,
                "widget",
                name="widget",
                is_private=False,
                description=source.description,
                language=source.language,
            ).repo
        )
        repos.git(copy).run("fetch", "-q", str(repos.git(source).path), "+refs/*:refs/*")
        copy.mainbranch = "main"
        repos.git(copy).set_head("main")
        connect = ConnectService(session, s.secret, Urls(s.base_url))
        acme = accounts.store.workspace_by_slug("acme")
        assert acme is not None
        for index in range(APPS):
            raw = app_descriptor(index)
            if connect.store.installation_for(raw["key"], acme.id) is None:
                plan = connect.begin_install(
                    parse_descriptor(raw),
                    raw,
                    descriptor_url=None,
                    workspace=acme,
                    user_id=admin.id,
                )
                connect.finish_install(plan)  # the app's callback is not part of the page
    return password


def measure(settings: Any, password: str, rounds: int, warmup: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from appdock.app import create_app

    app = create_app(settings)
    with TestClient(app, base_url=settings.base_url) as client:
        form = client.get("/login").text
        match = _CSRF.search(form)
        assert match
        r = client.post(
            "/login",
            data={"username": "admin", "password": password, "csrf_token": match.group(1)},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        pages = {"apps": "/acme/widget", "none": "/plain/widget"}
        times: dict[str, list[float]] = {name: [] for name in pages}
        cpu: dict[str, list[float]] = {name: [] for name in pages}
        check = client.get(pages["apps"]).text
        assert check.count('class="ap-container') == APPS, "the apps' panels are not on the page"
        assert 'class="ap-container' not in client.get(pages["none"]).text
        for round_index in range(warmup + rounds):
            order = list(pages.items())
            if round_index % 2:
                order.reverse()
            for name, path in order:
                start, cpu_start = time.perf_counter(), _cpu()
                response = client.get(path)
                elapsed, cpu_used = time.perf_counter() - start, _cpu() - cpu_start
                assert response.status_code == 200
                if round_index >= warmup:
                    times[name].append(elapsed * 1000)
                    cpu[name].append(cpu_used * 1000)
    app.state.engine.dispose()
    result: dict[str, Any] = {"rounds": rounds, "apps": APPS}
    for name, values in times.items():
        values.sort()
        result[f"{name}_median_ms"] = round(statistics.median(values), 2)
        result[f"{name}_p90_ms"] = round(values[int(len(values) * 0.9) - 1], 2)
    result["ratio"] = round(result["apps_median_ms"] / result["none_median_ms"], 3)
    for name, values in cpu.items():
        result[f"{name}_cpu_median_ms"] = round(statistics.median(values), 2)
    result["cpu_ratio"] = round(result["apps_cpu_median_ms"] / result["none_cpu_median_ms"], 3)
    return result


def _cpu() -> float:
    """CPU seconds of this process and its waited-for children (git runs as a child): less
    sensitive than wall time to other work on a shared machine."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite", help="sqlite or a PostgreSQL URL")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()

    from appdock.config import Settings

    with tempfile.TemporaryDirectory(prefix="appdock-bench-pages-") as tmp:
        data = Path(tmp)
        scratch = None
        if args.db == "sqlite":
            database = f"sqlite:///{data / 'bench.db'}"
        else:
            database, scratch = scratch_database(args.db)
        settings = Settings(
            database_url=database,
            data_dir=data,
            base_url="http://127.0.0.1:8000",
            secret_key="bench-secret-" + "x" * 24,
            webhook_worker=False,
        )
        try:
            password = setup(settings)
            result = measure(settings, password, args.rounds, args.warmup)
        finally:
            if scratch is not None:
                drop_database(args.db, scratch)
        result["db"] = "sqlite" if args.db == "sqlite" else "postgresql"
        print(json.dumps(result))


def scratch_database(url: str) -> tuple[str, str]:
    """A fresh database beside ``url``'s (dropped afterwards), so nothing else is touched."""
    import secrets

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"bench_pages_{secrets.token_hex(4)}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False), name


def drop_database(url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


if __name__ == "__main__":
    main()
