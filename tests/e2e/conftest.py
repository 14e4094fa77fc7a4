"""A real appdock server on a free loopback port (uvicorn in a thread) and a git client to drive it.

The server has the test's settings (database backend, DATA_DIR) with BASE_URL pointing at itself,
so links in responses are followable and the post-receive hook writes to the same database.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from appdock.config import Settings
from appdock.core.db import make_session_factory


@dataclass
class LiveServer:
    base: str
    port: int
    settings: Settings
    app: FastAPI
    server: uvicorn.Server
    thread: threading.Thread

    def url(self, path: str, user: str | None = None, password: str | None = None) -> str:
        creds = f"{quote(user, safe='')}:{quote(password or '', safe='')}@" if user else ""
        return f"http://{creds}127.0.0.1:{self.port}{path}"

    @property
    def sessions(self) -> sessionmaker[Session]:
        return make_session_factory(self.app.state.engine, deferred=True)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "server did not stop"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_live(settings: Settings) -> LiveServer:
    """appdock with ``settings`` (BASE_URL pointing at itself) served by uvicorn in a thread."""
    from appdock.app import create_app

    port = _free_port()
    live_settings = settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"})
    app = create_app(live_settings)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws="none",
        lifespan="on",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    return LiveServer(f"http://127.0.0.1:{port}", port, live_settings, app, server, thread)


def stop_live(handle: LiveServer) -> None:
    if handle.thread.is_alive():
        handle.stop()
    handle.app.state.engine.dispose()


@pytest.fixture
def live(settings: Settings) -> Iterator[LiveServer]:
    handle = start_live(settings)
    yield handle
    stop_live(handle)


class Git:
    """The real git CLI with an isolated HOME, no prompts and a fixed identity."""

    def __init__(self, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": "Alice Author",
            "GIT_AUTHOR_EMAIL": "alice@example.test",
            "GIT_COMMITTER_NAME": "Alice Author",
            "GIT_COMMITTER_EMAIL": "alice@example.test",
        }

    def __call__(
        self, *args: str, cwd: Path | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["git", "-c", "init.defaultBranch=main", *args],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed:\n{proc.stderr}")
        return proc

    def commit(self, work: Path, files: dict[str, str], message: str) -> str:
        for name, content in files.items():
            path = work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        self("add", "-A", cwd=work)
        self("commit", "-q", "-m", message, cwd=work)
        return self("rev-parse", "HEAD", cwd=work).stdout.strip()


@pytest.fixture
def git(tmp_path: Path) -> Git:
    return Git(tmp_path / "home")
