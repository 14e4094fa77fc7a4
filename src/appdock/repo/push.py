"""Recording ref updates as ``repo:push`` events, durably.

A push that git accepted must produce its event even if the web process dies right after. So the
record is made from inside git: every bare repository carries a ``post-receive`` hook that runs
``<python> -m appdock hook post-receive`` (see :mod:`appdock.repo.hook`) with the repository id,
the pusher and the settings in its environment. The hook

1. writes a spool file ``DATA_DIR/spool/pushes/<uuid>.json`` (fsynced) with the raw ref updates,
2. computes the payload and commits the event in its own transaction,
3. deletes the spool file.

If step 2 fails (database down, process killed), the spool file stays and :func:`drain_spool` —
run at start-up and after later requests — publishes it. The event's uuid is the spool record's,
so a record processed twice still yields one event.

Ref changes the host makes itself (branches and tags created through the API, merges) go through
:func:`journal_ref_updates` + :func:`record_push` in the caller's transaction, with the same spool
safety net.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from appdock.config import Settings
from appdock.core.db import on_commit, unit_of_work
from appdock.core.time import utc_now
from appdock.core.urls import Urls
from appdock.event.service import EventKey, exists, publish
from appdock.git import ZERO, GitRepo, RefUpdate
from appdock.models import Event, Repository, User
from appdock.models.base import new_uuid
from appdock.repo import payloads
from appdock.repo.context import RepoContext, load_context
from appdock.repo.schemas import RepoUrls, commits_link
from appdock.repo.store import RepoStore

log = logging.getLogger("appdock.push")

MAX_PUSH_COMMITS = 5
HOOK_SCRIPT = """#!/bin/sh
# Installed by appdock: records every accepted push as a repo:push event.
# Outside appdock's own git endpoints (no APPDOCK_HOOK_PYTHON) it does nothing.
test -n "$APPDOCK_HOOK_PYTHON" || exit 0
exec "$APPDOCK_HOOK_PYTHON" -m appdock hook post-receive
"""


@dataclass
class PushRecord:
    """What a push changed, as the hook saw it; the spool file's content."""

    repository_id: int
    updates: list[RefUpdate]
    actor_user_id: int | None = None
    actor_workspace_id: int | None = None
    uuid: str = field(default_factory=new_uuid)
    pushed_at: str = field(default_factory=lambda: utc_now().isoformat())

    def to_json(self) -> str:
        data = asdict(self)
        data["updates"] = [[u.old, u.new, u.ref] for u in self.updates]
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> PushRecord:
        data = json.loads(text)
        data["updates"] = [RefUpdate(*u) for u in data["updates"]]
        return cls(**data)


def repo_path(settings: Settings, repo: Repository) -> Path:
    return settings.repos_dir / repo.disk_name


def git_for(settings: Settings, repo: Repository) -> GitRepo:
    return GitRepo(repo_path(settings, repo))


# ---- the spool -----------------------------------------------------------------------------------
def spool_dir(settings: Settings) -> Path:
    return settings.data_dir / "spool" / "pushes"


def write_spool(settings: Settings, record: PushRecord) -> Path:
    """Write the record durably (file and directory fsynced) and return its path."""
    directory = spool_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    name = record.uuid.strip("{}")
    final = directory / f"{name}.json"
    tmp = directory / f".{name}.tmp"
    with open(tmp, "w") as fh:
        fh.write(record.to_json())
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(final)
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return final


def pending_spool(settings: Settings) -> list[Path]:
    directory = spool_dir(settings)
    if not directory.is_dir():
        return []
    return sorted(directory.glob("*.json"))


def drain_spool(
    factory: sessionmaker[Session], settings: Settings, *, min_age: float = 30.0
) -> int:
    """Publish every spooled push older than ``min_age`` seconds (younger ones may still be in
    the hands of the process that wrote them). Returns how many records were settled."""
    settled = 0
    now = time.time()
    for path in pending_spool(settings):
        try:
            if now - path.stat().st_mtime < min_age:
                continue
            record = PushRecord.from_json(path.read_text())
        except FileNotFoundError:
            continue
        except (ValueError, TypeError, KeyError) as exc:
            log.error("unreadable push spool file %s: %s; moved aside", path, exc)
            path.replace(path.with_suffix(".bad"))
            continue
        try:
            with unit_of_work(factory) as session:
                record_push(session, settings, record)
        except IntegrityError:
            pass  # another process published the same record first
        except Exception:
            log.exception("push spool %s could not be published; will retry", path.name)
            continue
        path.unlink(missing_ok=True)
        settled += 1
    return settled


# ---- hook environment ----------------------------------------------------------------------------
def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as APPDOCK_* variables, so a child process (the git hook) sees the same
    database, data directory, base URL and secret whatever way the parent got its settings."""
    env: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, Path):
            text = str(value.resolve())
        else:
            text = str(value)
        env[f"APPDOCK_{name.upper()}"] = text
    env["APPDOCK_DATABASE_URL"] = settings.database_url_resolved
    env["APPDOCK_SECRET_KEY"] = settings.secret
    return env


def hook_env(
    settings: Settings,
    repository_id: int,
    *,
    actor_user_id: int | None = None,
    actor_workspace_id: int | None = None,
) -> dict[str, str]:
    """Environment for a git process whose accepted pushes the hook must record."""
    env = settings_env(settings)
    env.update(
        {
            "APPDOCK_HOOK_PYTHON": sys.executable,
            "APPDOCK_HOOK_REPOSITORY_ID": str(repository_id),
            "APPDOCK_HOOK_ACTOR_USER_ID": str(actor_user_id or ""),
            "APPDOCK_HOOK_ACTOR_WORKSPACE_ID": str(actor_workspace_id or ""),
        }
    )
    return env


def install_hooks(git: GitRepo) -> None:
    git.install_hook("post-receive", HOOK_SCRIPT)


# ---- building repo:push -------------------------------------------------------------------------
def _other_tips(git: GitRepo, ref: str) -> list[str]:
    out = git.text("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads", "refs/tags")
    tips = []
    for line in out.splitlines():
        name, _, oid = line.partition(" ")
        if name != ref and oid:
            tips.append(oid)
    return tips


def push_change(
    ctx: RepoContext,
    git: GitRepo,
    update: RefUpdate,
    urls: Urls,
    users_by_email: Mapping[str, User],
) -> dict[str, Any]:
    """One entry of ``push.changes``: old/new refs, created/closed/forced, up to five commits
    (newest first) and ``truncated`` when there were more."""
    kind = update.kind or "branch"
    old_ref = None if update.created else git.describe_ref(kind, update.name, update.old)
    new_ref = None if update.deleted else git.describe_ref(kind, update.name, update.new)
    old_commit = old_ref.commit.hash if old_ref and old_ref.commit else None
    new_commit = new_ref.commit.hash if new_ref and new_ref.commit else None
    forced = bool(old_commit and new_commit and not git.is_ancestor(old_commit, new_commit))
    hashes: list[str] = []
    if new_commit:
        exclude = [old_commit] if old_commit else _other_tips(git, update.ref)
        hashes = git.rev_list([new_commit], exclude, limit=MAX_PUSH_COMMITS + 1)
    commits = git.commits(hashes[:MAX_PUSH_COMMITS])
    store_users = users_by_email
    r = RepoUrls(ctx, urls)
    links: dict[str, Any] = {}
    if new_commit:
        links["commits"] = urls.link(commits_link(ctx, urls, new_commit, old_commit))
        if old_commit:
            links["diff"] = urls.link(r.api("diff", f"{new_commit}..{old_commit}"))
        links["html"] = urls.link(r.html("commits", new_commit))
    return {
        "old": payloads.ref_payload(ctx, old_ref, urls, store_users) if old_ref else None,
        "new": payloads.ref_payload(ctx, new_ref, urls, store_users) if new_ref else None,
        "created": update.created,
        "closed": update.deleted,
        "forced": forced,
        "truncated": len(hashes) > MAX_PUSH_COMMITS,
        "commits": [payloads.commit_payload(ctx, c, urls, store_users) for c in commits],
        "links": links,
    }


def _authors(git: GitRepo, updates: Sequence[RefUpdate]) -> set[str]:
    """Emails of the people a push's payload may name (authors of its newest commits, taggers)."""
    emails: set[str] = set()
    for u in updates:
        for oid in (u.old, u.new):
            if oid != ZERO:
                out = git.text(
                    "log",
                    "--format=%ae",
                    f"--max-count={MAX_PUSH_COMMITS + 2}",
                    oid,
                    "--",
                    check=False,
                )
                emails.update(e.strip() for e in out.splitlines() if e.strip())
                tag = git.run("cat-file", "-p", oid, check=False).stdout.decode(errors="replace")
                for line in tag.splitlines():
                    if line.startswith("tagger ") and "<" in line:
                        emails.add(line.split("<", 1)[1].split(">", 1)[0])
    return emails


def choose_mainbranch(created: Sequence[str]) -> str | None:
    for preferred in ("main", "master"):
        if preferred in created:
            return preferred
    return created[0] if created else None


def record_push(
    session: Session,
    settings: Settings,
    record: PushRecord,
    *,
    git: GitRepo | None = None,
) -> Event | None:
    """Publish ``repo:push`` for a push record in the session's transaction (idempotent by the
    record's uuid), set ``mainbranch`` on the first branch pushed to an empty repository, and
    refresh the repository's size. Returns the event, or None when there was nothing to record
    (no branch or tag changed, repository deleted, already published)."""
    if exists(session, record.uuid):
        return None
    store = RepoStore(session)
    repo = store.by_id(record.repository_id)
    if repo is None:
        log.warning("push to deleted repository %s dropped", record.repository_id)
        return None
    git = git or git_for(settings, repo)
    updates = [u for u in record.updates if u.kind is not None]
    if not updates:
        return None
    created_branches = [u.name for u in updates if u.kind == "branch" and u.created]
    if repo.mainbranch is None or git.branch(repo.mainbranch) is None:
        chosen = choose_mainbranch(created_branches)
        if chosen is not None and chosen != repo.mainbranch:
            repo.mainbranch = chosen
            git.set_head(chosen)
    repo.size = git.disk_size()
    repo.updated_at = utc_now()
    session.flush()
    ctx = load_context(store, repo)
    urls = Urls(settings.base_url)
    users = store.users_by_emails(_authors(git, updates))
    changes = [push_change(ctx, git, u, urls, users) for u in updates]
    user = store.user_by_id(record.actor_user_id) if record.actor_user_id else None
    acting_ws = (
        store.workspace_by_id(record.actor_workspace_id) if record.actor_workspace_id else None
    )
    actor = payloads.actor_payload(user, acting_ws, urls)
    return publish(
        session,
        EventKey.REPO_PUSH,
        workspace_id=repo.workspace_id,
        repository_id=repo.id,
        actor_user_id=record.actor_user_id,
        payload=payloads.push_payload(ctx, actor, changes, urls),
        uuid=record.uuid,
    )


def journal_ref_updates(session: Session, settings: Settings, record: PushRecord) -> Path:
    """Spool a ref change the host is about to make itself; the spool file is removed when the
    session's transaction commits (the event is then in the database). If the process dies
    between the git change and the commit, :func:`drain_spool` publishes it later.

    >>> record = PushRecord(repo.id, [RefUpdate(ZERO, new, "refs/heads/x")], actor_user_id=u.id)
    >>> path = journal_ref_updates(session, settings, record)
    >>> git.update_ref("refs/heads/x", new, ZERO)        # on failure: path.unlink(); raise
    >>> record_push(session, settings, record)
    """
    path = write_spool(settings, record)
    on_commit(session, lambda: path.unlink(missing_ok=True))
    return path
