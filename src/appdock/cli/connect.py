"""``appdock app lint`` and ``appdock marketplace add|list|remove``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from appdock.cli.common import cli_errors, session_scope, settings
from appdock.connect.descriptor import DescriptorError, lint_descriptor, load_json
from appdock.connect.flows import fetch_descriptor, outbound
from appdock.connect.marketplace import MarketplaceService
from appdock.core.http import OutboundError

app_app = typer.Typer(no_args_is_help=True, help="Connect apps: check descriptors.")
marketplace_app = typer.Typer(
    no_args_is_help=True, help="The Marketplace: apps anyone may install."
)


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


@app_app.command("lint")
def lint(
    path_or_url: Annotated[str, typer.Argument(help="A descriptor file or its URL.")],
) -> None:
    """Check a Connect app descriptor: print its errors and warnings; exit 1 on errors."""
    s = settings()
    try:
        if _is_url(path_or_url):
            with outbound(s) as client:
                _final, data = client.fetch_json(path_or_url, purpose="descriptor URL")
        else:
            data = load_json(Path(path_or_url).read_bytes())
    except DescriptorError as exc:
        for problem in exc.problems:
            typer.echo(f"error: {problem}")
        typer.echo(f"{path_or_url}: not a descriptor")
        raise typer.Exit(1) from exc
    except (OutboundError, OSError) as exc:
        typer.echo(f"error: {getattr(exc, 'message', None) or exc}")
        raise typer.Exit(1) from exc
    result = lint_descriptor(data, require_https=not s.allow_http_app_urls)
    for problem in result.errors:
        typer.echo(f"error: {problem}")
    for problem in result.warnings:
        typer.echo(f"warning: {problem}")
    name = f" ({result.descriptor.key})" if result.descriptor else ""
    typer.echo(
        f"{path_or_url}{name}: {len(result.errors)} error(s), {len(result.warnings)} warning(s)"
    )
    if result.errors:
        raise typer.Exit(1)


@marketplace_app.command("add")
@cli_errors
def marketplace_add(url: Annotated[str, typer.Argument(help="The app's descriptor URL.")]) -> None:
    """List an app (fetches and checks its descriptor; re-adding refreshes the listing)."""
    s = settings()
    fetched = fetch_descriptor(s, url)
    for problem in fetched.warnings:
        typer.echo(f"warning: {problem}")
    with session_scope(s) as (session, _):
        listing = MarketplaceService(session).add(fetched.descriptor, fetched.raw, url)
        typer.echo(f"listed {listing.app_key} ({listing.name}) from {url}")


@marketplace_app.command("list")
@cli_errors
def marketplace_list() -> None:
    """Show the listed apps."""
    with session_scope() as (session, _):
        listings = MarketplaceService(session).listings()
        if not listings:
            typer.echo("the Marketplace is empty")
        for listing in listings:
            typer.echo(f"{listing.app_key}\t{listing.name}\t{listing.descriptor_url}")


@marketplace_app.command("remove")
@cli_errors
def marketplace_remove(key: Annotated[str, typer.Argument(help="The app key.")]) -> None:
    """Remove a listing (installed copies stay installed)."""
    with session_scope() as (session, _):
        MarketplaceService(session).remove(key)
        typer.echo(f"removed {key} from the Marketplace")
