"""git smart HTTP: ``{BASE_URL}/{workspace}/{repo_slug}.git/info/refs``, ``/git-upload-pack`` and
``/git-receive-pack`` (also without ``.git``).

Invariants:
- Raw ASGI endpoints, so request and response stream concurrently through
  ``git upload-pack|receive-pack --stateless-rpc`` (asyncio subprocesses, argument lists): a pack
  is never held whole in memory. gzip request bodies are inflated on the fly.
- Authentication and the permission check run in a short database session that is closed before
  git starts, so the ``post-receive`` hook (another process) can write the push's event without
  waiting on this one.
- Missing or bad credentials where they are needed → 401 with ``WWW-Authenticate: Basic`` (git
  prompts); a repository the caller cannot see → 404; a push without write access → 403 with a
  text/plain message, which git shows as ``remote: ...``.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from appdock.auth.authenticator import authenticate_git
from appdock.config import Settings
from appdock.core.errors import Unauthorized
from appdock.git import git_env
from appdock.repo.push import drain_spool, hook_env, install_hooks, repo_path
from appdock.repo.service import LEVEL_SCOPE, Permission, RepoService

log = logging.getLogger("appdock.githttp")

CHUNK = 64 * 1024
SERVICES = ("git-upload-pack", "git-receive-pack")


@dataclass(frozen=True)
class GitAccess:
    path: str
    repository_id: int
    actor_user_id: int | None
    actor_workspace_id: int | None


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str
    challenge: bool = False


def _pkt_line(text: str) -> bytes:
    data = text.encode()
    return f"{len(data) + 4:04x}".encode() + data


async def _send_text(send: Send, status: int, message: str, challenge: bool = False) -> None:
    body = (message.rstrip() + "\n").encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-cache"),
    ]
    if challenge:
        headers.append((b"www-authenticate", b'Basic realm="appdock"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def check_access(
    app_state: Any, request: Request, workspace: str, repo_slug: str, write: bool
) -> GitAccess | Refusal:
    """Who is asking, and may they read (clone/fetch) or write (push) this repository?"""
    settings: Settings = app_state.settings
    name = f"{workspace}/{repo_slug}"
    session = app_state.read_session_factory()
    try:
        try:
            subject = authenticate_git(request, session, settings)
        except Unauthorized as exc:
            return Refusal(401, exc.message, challenge=True)
        svc = RepoService(session, settings)
        ws = svc.store.workspace(workspace)
        repo = svc.store.by_slug(ws.id, repo_slug) if ws else None
        perm = svc.permission_of(subject, repo) if repo else Permission.NONE
        level = Permission.WRITE if write else Permission.READ
        if repo is None or perm is Permission.NONE:
            if subject.is_anonymous:
                return Refusal(401, f"authentication required for {name}", challenge=True)
            return Refusal(404, f"Repository {name} not found")
        scope = LEVEL_SCOPE[level]
        if not subject.has_scope(scope):
            return Refusal(
                403,
                f"Your credential lacks the {scope.value!r} scope needed to "
                f"{'push to' if write else 'read'} {name}.",
            )
        if perm < level:
            if subject.is_anonymous:
                return Refusal(401, f"authentication required to push to {name}", challenge=True)
            return Refusal(
                403, f"You have {perm.label} access to {name}; pushing needs write access."
            )
        path = repo_path(settings, repo)
        if not (path / "HEAD").exists():
            log.error("repository %s (%s) is missing on disk at %s", name, repo.uuid, path)
            return Refusal(404, f"Repository {name} not found")
        if write and not (path / "hooks" / "post-receive").exists():
            install_hooks(svc.git(repo))
        access = GitAccess(
            path=str(path),
            repository_id=repo.id,
            actor_user_id=subject.user_id,
            actor_workspace_id=subject.workspace_id if subject.user_id is None else None,
        )
        try:
            session.commit()  # bookkeeping (app password last use); may be dropped under load
        except OperationalError:
            session.rollback()
        return access
    finally:
        session.close()


class GitEndpoint:
    """One of the three smart HTTP endpoints, as a raw ASGI app."""

    def __init__(self, action: str) -> None:
        self.action = action  # "info/refs" | "git-upload-pack" | "git-receive-pack"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app_state = scope["app"].state
        settings: Settings = app_state.settings
        request = Request(scope, receive)
        params = scope["path_params"]
        if self.action == "info/refs":
            service = request.query_params.get("service", "")
            if service not in SERVICES:
                await _send_text(
                    send,
                    403,
                    "Only the smart HTTP protocol is supported; use a git client newer than 1.6.6.",
                )
                return
        else:
            service = self.action
            expected = f"application/x-{service}-request"
            if request.headers.get("content-type", "") != expected:
                await _send_text(send, 415, f"Expected Content-Type: {expected}")
                return
        write = service == "git-receive-pack"
        result = await run_in_threadpool(
            check_access, app_state, request, params["workspace"], params["repo_slug"], write
        )
        if isinstance(result, Refusal):
            await _send_text(send, result.status, result.message, result.challenge)
            return
        extra: dict[str, str] = {}
        if write:
            extra = hook_env(
                settings,
                result.repository_id,
                actor_user_id=result.actor_user_id,
                actor_workspace_id=result.actor_workspace_id,
            )
        command = service.removeprefix("git-")
        if self.action == "info/refs":
            args = ["git", command, "--stateless-rpc", "--advertise-refs", result.path]
            await self._run(
                send,
                receive,
                args,
                extra,
                f"application/x-{service}-advertisement",
                prefix=_pkt_line(f"# service={service}\n") + b"0000",
                feed=False,
            )
        else:
            gzip = request.headers.get("content-encoding", "").lower() in ("gzip", "x-gzip")
            args = ["git", command, "--stateless-rpc", result.path]
            await self._run(
                send, receive, args, extra, f"application/x-{service}-result", feed=True, gzip=gzip
            )
        if write and self.action != "info/refs":
            await run_in_threadpool(self._drain, app_state)

    @staticmethod
    def _drain(app_state: Any) -> None:
        try:
            drain_spool(app_state.session_factory, app_state.settings)
        except Exception:
            log.exception("draining the push spool failed")

    async def _run(
        self,
        send: Send,
        receive: Receive,
        args: list[str],
        extra_env: dict[str, str],
        content_type: str,
        *,
        prefix: bytes = b"",
        feed: bool,
        gzip: bool = False,
    ) -> None:
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.PIPE if feed else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=git_env(extra_env),
        )
        assert proc.stdout is not None and proc.stderr is not None
        errors = bytearray()

        async def drain_stderr() -> None:
            assert proc.stderr is not None
            while chunk := await proc.stderr.read(CHUNK):
                if len(errors) < CHUNK:
                    errors.extend(chunk[: CHUNK - len(errors)])

        async def feed_stdin() -> None:
            assert proc.stdin is not None
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
            try:
                more = True
                while more:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        break
                    body = message.get("body", b"")
                    more = message.get("more_body", False)
                    if inflater is not None:
                        data = inflater.decompress(body, CHUNK)
                        while data:
                            proc.stdin.write(data)
                            await proc.stdin.drain()
                            data = inflater.decompress(inflater.unconsumed_tail, CHUNK)
                    elif body:
                        proc.stdin.write(body)
                        await proc.stdin.drain()
                if inflater is not None:
                    tail = inflater.flush()
                    if tail:
                        proc.stdin.write(tail)
                        await proc.stdin.drain()
            except (BrokenPipeError, ConnectionResetError, zlib.error) as exc:
                log.info("git request body stopped early: %s", exc)
            finally:
                proc.stdin.close()

        helpers = [asyncio.create_task(drain_stderr())]
        if feed:
            helpers.append(asyncio.create_task(feed_stdin()))
        started = False
        try:
            chunk = await proc.stdout.read(CHUNK)
            if not chunk:
                code = await proc.wait()
                if code != 0:
                    await asyncio.gather(*helpers, return_exceptions=True)
                    log.error("%s failed (%s): %s", args[1], code, errors.decode(errors="replace"))
                    await _send_text(send, 500, "git failed on the server")
                    started = True
                    return
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", content_type.encode()),
                        (b"cache-control", b"no-cache, max-age=0, must-revalidate"),
                        (b"expires", b"Fri, 01 Jan 1980 00:00:00 GMT"),
                        (b"pragma", b"no-cache"),
                    ],
                }
            )
            started = True
            if prefix:
                await send({"type": "http.response.body", "body": prefix, "more_body": True})
            while chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                chunk = await proc.stdout.read(CHUNK)
            await send({"type": "http.response.body", "body": b""})
        except OSError as exc:  # the client went away: let git finish on its own
            log.info("git client disconnected: %s", exc)
            while await proc.stdout.read(CHUNK):
                pass
        finally:
            if proc.returncode is None:
                try:
                    code = await asyncio.wait_for(proc.wait(), timeout=600)
                except TimeoutError:
                    proc.kill()
                    code = await proc.wait()
            else:
                code = proc.returncode
            await asyncio.gather(*helpers, return_exceptions=True)
            if code != 0:
                log.warning("%s exited %s: %s", args[1], code, errors.decode(errors="replace"))
            if not started:
                await _send_text(send, 500, "git failed on the server")


def git_routes() -> list[Route]:
    """The smart HTTP routes, to be added before the catch-all page routes."""
    routes = []
    for suffix in (".git", ""):
        base = "/{workspace}/{repo_slug}" + suffix
        routes += [
            Route(base + "/info/refs", GitEndpoint("info/refs"), methods=["GET"]),
            Route(base + "/git-upload-pack", GitEndpoint("git-upload-pack"), methods=["POST"]),
            Route(base + "/git-receive-pack", GitEndpoint("git-receive-pack"), methods=["POST"]),
        ]
    return routes
