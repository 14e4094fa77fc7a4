"""Transaction-bound actions: on_commit / on_rollback, including savepoints."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from appdock.core.db import on_commit, on_rollback


def _session() -> Session:
    session = Session(create_engine("sqlite://"))
    session.execute(text("select 1"))
    return session


class TestTransactionActions:
    def test_commit_runs_commit_actions_only(self) -> None:
        session, log = _session(), []
        on_commit(session, lambda: log.append("commit"))
        on_rollback(session, lambda: log.append("rollback"))
        session.commit()
        assert log == ["commit"]

    def test_rollback_runs_rollback_actions_only(self) -> None:
        session, log = _session(), []
        on_commit(session, lambda: log.append("commit"))
        on_rollback(session, lambda: log.append("rollback"))
        session.rollback()
        assert log == ["rollback"]

    def test_savepoint_rollback_runs_only_its_own_actions(self) -> None:
        session, log = _session(), []
        on_rollback(session, lambda: log.append("outer"))
        try:
            with session.begin_nested():
                on_rollback(session, lambda: log.append("inner"))
                on_commit(session, lambda: log.append("inner-commit"))
                raise ValueError
        except ValueError:
            pass
        assert log == ["inner"]
        session.commit()
        assert log == ["inner"]  # the inner commit action died with its savepoint

    def test_released_savepoint_waits_for_the_outer_commit(self) -> None:
        session, log = _session(), []
        with session.begin_nested():
            on_commit(session, lambda: log.append("c"))
        assert log == []
        session.commit()
        assert log == ["c"]

    def test_released_savepoint_actions_roll_back_with_the_outer_transaction(self) -> None:
        session, log = _session(), []
        with session.begin_nested():
            on_rollback(session, lambda: log.append("r"))
        session.rollback()
        assert log == ["r"]

    def test_failing_action_does_not_stop_the_others(self) -> None:
        session, log = _session(), []
        on_commit(session, lambda: 1 / 0)  # type: ignore[func-returns-value]
        on_commit(session, lambda: log.append("second"))
        session.commit()
        assert log == ["second"]
