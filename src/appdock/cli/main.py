"""The root Typer app: serve, db, user, team, dev-mode, demo."""

from __future__ import annotations

from typing import Annotated

import typer

from appdock.account.service import AccountService
from appdock.cli.common import cli_errors, fail, session_scope, settings
from appdock.cli.connect import app_app, marketplace_app
from appdock.cli.webhook import webhook_app
from appdock.cli.webhook import worker as worker_command
from appdock.core.errors import NotFound

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="appdock: a self-hosted code host with an Atlassian Connect app platform.",
)
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
user_app = typer.Typer(no_args_is_help=True, help="Users and their app passwords.")
app_password_app = typer.Typer(no_args_is_help=True, help="App passwords.")
team_app = typer.Typer(no_args_is_help=True, help="Teams (workspaces).")
hook_app = typer.Typer(no_args_is_help=True, help="git hooks (run by git, not by people).")
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
user_app.add_typer(app_password_app, name="app-password")
app.add_typer(team_app, name="team")
app.add_typer(hook_app, name="hook", hidden=True)
app.add_typer(webhook_app, name="webhook")
app.command("worker")(worker_command)
app.add_typer(app_app, name="app")
app.add_typer(marketplace_app, name="marketplace")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Web worker processes.")] = 1,
    worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            help="Run an embedded webhook delivery worker (off: run `appdock worker` instead).",
        ),
    ] = True,
    with_example_app: Annotated[
        bool,
        typer.Option(
            "--with-example-app",
            help="Also run examples/hello_app on a loopback port and install it on the demo "
            "team (after `appdock demo`).",
        ),
    ] = False,
    example_port: Annotated[int, typer.Option(help="Port of the example app.")] = 8001,
) -> None:
    """Serve the web pages, the REST API and git over HTTP."""
    import os

    import uvicorn

    if not worker:
        os.environ["APPDOCK_WEBHOOK_WORKER"] = "false"
    s = settings()
    example = None
    if with_example_app:
        from appdock.core.errors import AppdockError
        from appdock.demo import install_example_app, start_example_app

        try:
            example, url = start_example_app(s, port=example_port)
            for line in install_example_app(s, url):
                typer.echo(line)
        except (AppdockError, OSError, RuntimeError) as exc:
            typer.echo(f"warning: example app not available: {exc}", err=True)
        if example is not None:
            import signal

            child = example

            def stop_example(signum: int, _frame: object) -> None:
                # uvicorn re-raises the signal it stopped on after shutting down: stop the app too
                child.terminate()
                child.wait(timeout=10)
                raise SystemExit(128 + signum)

            signal.signal(signal.SIGTERM, stop_example)
            signal.signal(signal.SIGINT, stop_example)
    try:
        uvicorn.run(
            "appdock.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=s.log_level,
            proxy_headers=True,
        )
    finally:
        if example is not None and example.poll() is None:
            example.terminate()
            example.wait(timeout=10)


@db_app.command("upgrade")
@cli_errors
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply the database migrations."""
    from appdock.migrate import upgrade

    upgrade(settings(), revision)
    typer.echo("database is up to date")


@user_app.command("create")
@cli_errors
def user_create(
    username: str,
    password: Annotated[str, typer.Option(help="The account password.")],
    email: Annotated[str, typer.Option(help="Email address.")] = "",
    display_name: Annotated[str, typer.Option("--display-name")] = "",
    admin: Annotated[bool, typer.Option("--admin", help="Make a site administrator.")] = False,
) -> None:
    """Create a user (and their personal workspace)."""
    with session_scope() as (session, s):
        user = AccountService(session, s.secret).create_user(
            username, password, email=email, display_name=display_name or None, is_admin=admin
        )
        typer.echo(f"created user {user.username} {user.uuid}")


@app_password_app.command("create")
@cli_errors
def app_password_create(
    username: str,
    label: Annotated[str, typer.Option(help="A name for the app password.")],
    scopes: Annotated[str, typer.Option(help='Space-separated scopes, e.g. "account repository".')],
) -> None:
    """Create an app password; the secret is the last line of output."""
    with session_scope() as (session, s):
        svc = AccountService(session, s.secret)
        user = svc.store.user_by_username(username)
        if user is None:
            raise NotFound(f"no user named {username!r}")
        created = svc.create_app_password(user, label, scopes)
        typer.echo(f"app password {created.row.label!r} with scopes: {created.row.scopes}")
        typer.echo(created.secret)


@team_app.command("create")
@cli_errors
def team_create(
    slug: str,
    name: Annotated[str, typer.Option(help="Display name.")],
    owner: Annotated[str, typer.Option(help="Username of the owner.")],
) -> None:
    """Create a team workspace owned by a user."""
    with session_scope() as (session, s):
        svc = AccountService(session, s.secret)
        user = svc.store.user_by_username(owner)
        if user is None:
            raise NotFound(f"no user named {owner!r}")
        ws = svc.create_team(slug, name, user)
        typer.echo(f"created team {ws.slug} {ws.uuid}")


@team_app.command("add-member")
@cli_errors
def team_add_member(
    slug: str,
    username: str,
    admin: Annotated[bool, typer.Option("--admin", help="Add as an administrator.")] = False,
) -> None:
    """Add a user to a team."""
    with session_scope() as (session, s):
        svc = AccountService(session, s.secret)
        ws = svc.store.workspace_by_slug(slug)
        if ws is None:
            raise NotFound(f"no workspace named {slug!r}")
        user = svc.store.user_by_username(username)
        if user is None:
            raise NotFound(f"no user named {username!r}")
        svc.add_member(ws, user, "admin" if admin else "member")
        typer.echo(f"added {username} to {slug} as {'admin' if admin else 'member'}")


@app.command("dev-mode")
@cli_errors
def dev_mode(
    state: Annotated[str, typer.Argument(help="on or off")],
    account: Annotated[str, typer.Argument(help="A username or workspace slug.")],
) -> None:
    """Turn development mode (install apps from any URL) on or off for an account."""
    if state not in ("on", "off"):
        fail("state must be 'on' or 'off'")
    with session_scope() as (session, s):
        svc = AccountService(session, s.secret)
        ws = svc.store.workspace_by_slug(account)
        if ws is None:
            raise NotFound(f"no account named {account!r}")
        svc.set_dev_mode(ws, state == "on")
        typer.echo(f"development mode {state} for {account}")


@app.command()
@cli_errors
def demo() -> None:
    """Seed a demo (idempotent): an admin, a team `acme` with a second member, and more."""
    from appdock.demo import seed

    for line in seed(settings()):
        typer.echo(line)


@hook_app.command("post-receive")
def hook_post_receive() -> None:
    """Record the ref updates git passes on stdin as a repo:push event."""
    from appdock.repo.hook import main as hook_main
    from appdock.subscribers import register

    register()
    raise typer.Exit(hook_main())


def main() -> None:
    app()
