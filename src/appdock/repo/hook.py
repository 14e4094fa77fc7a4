"""The git ``post-receive`` hook: ``<python> -m appdock hook post-receive``.

git runs it after it has updated the refs of a push, with ``<old> <new> <ref>`` lines on stdin.
It spools the push, publishes ``repo:push`` in its own transaction (with every registered event
subscriber, so webhook deliveries are written too) and removes the spool file. It never fails the
push (git has already accepted it); if the database is unreachable the spool stays for
:func:`appdock.repo.push.drain_spool`.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

from appdock.config import Settings
from appdock.core.db import make_engine, make_session_factory, unit_of_work
from appdock.git import RefUpdate
from appdock.repo.push import PushRecord, record_push, write_spool

log = logging.getLogger("appdock.hook")


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def post_receive(stdin: str, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    repo_id = _int(env.get("APPDOCK_HOOK_REPOSITORY_ID"))
    if repo_id is None:
        return 0
    updates = RefUpdate.parse_lines(stdin)
    if not updates:
        return 0
    settings = Settings()
    record = PushRecord(
        repository_id=repo_id,
        updates=updates,
        actor_user_id=_int(env.get("APPDOCK_HOOK_ACTOR_USER_ID")),
        actor_workspace_id=_int(env.get("APPDOCK_HOOK_ACTOR_WORKSPACE_ID")),
    )
    path = write_spool(settings, record)
    engine = make_engine(settings.database_url_resolved, pool_size=1)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            record_push(session, settings, record)
    except Exception as exc:  # the push stands; the spool file will be published later
        log.exception("recording push %s failed", record.uuid)
        print(f"appdock: push recorded, event delayed ({type(exc).__name__})", file=sys.stderr)
        return 0
    finally:
        engine.dispose()
    path.unlink(missing_ok=True)
    return 0


def main() -> int:
    """Entry point for ``python -m appdock hook post-receive``: reads stdin, never fails the
    push. The caller registers the event subscribers first (``appdock.subscribers.register``)."""
    logging.basicConfig(level=logging.WARNING, format="appdock hook: %(message)s")
    return post_receive(sys.stdin.read())
