"""``POST /site/connect/resolve``: a fresh signed URL for a dialog an app opens.

host.js asks when an app calls ``AP.dialog.create({url})`` (an app-relative URL) or
``AP.dialog.create({key})`` for a module the page did not pre-sign (or whose token expired). The
body is ``{addonKey, moduleKey | url, context}`` where ``context`` is the page's identifiers
(``{"repository": "ws/repo"}`` with ``"pullrequest": number`` on a pull request page, or
``{"workspace": "ws"}``). The server rebuilds that page's
modules for the viewer exactly as the page itself does (``connect.ui.pages``: who sees what,
conditions, context parameters) and then:

* by key: the module must be an iframe or dialog module the viewer may see there;
* by URL: the app must serve the page, and the URL must stay inside its baseUrl (it is signed
  with the app's own installation, never another's).

Anything else is a 404 that says what was refused. The answer is ``{"url": signed}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from appdock.account.service import AccountService
from appdock.account.views import workspace_for_page
from appdock.config import Settings
from appdock.connect.ui.pages import PageModules, account_page, repository_page
from appdock.connect.ui.resolver import IFRAME_TYPES, PageContext, sign_app_url
from appdock.core.errors import BadRequest, NotFound
from appdock.core.urls import Urls
from appdock.pullrequest.schemas import pullrequest_read
from appdock.pullrequest.service import PullRequestService
from appdock.repo.service import RepoService
from appdock.web.deps import ViewerView, viewer_subject


@dataclass(frozen=True)
class DialogRequest:
    app_key: str
    module_key: str | None
    url: str | None
    context: Mapping[str, Any]

    @classmethod
    def parse(cls, data: Any) -> DialogRequest:
        if not isinstance(data, Mapping):
            raise BadRequest("body: expected a JSON object {addonKey, moduleKey | url, context}")
        app_key = data.get("addonKey")
        if not isinstance(app_key, str) or not app_key:
            raise BadRequest("addonKey: required", field="addonKey")
        module_key = data.get("moduleKey")
        url = data.get("url")
        if not (isinstance(module_key, str) and module_key) and not (isinstance(url, str) and url):
            raise BadRequest("moduleKey or url: one is required", field="moduleKey")
        context = data.get("context")
        return cls(
            app_key=app_key,
            module_key=module_key if isinstance(module_key, str) and module_key else None,
            url=url if isinstance(url, str) and url else None,
            context=context if isinstance(context, Mapping) else {},
        )


def _page(
    request: Request,
    session: Session,
    settings: Settings,
    viewer: ViewerView | None,
    context: Mapping[str, Any],
) -> PageModules:
    """The modules of the page ``context`` names, for this viewer (404 when hidden)."""
    full_name = context.get("repository")
    if isinstance(full_name, str) and "/" in full_name:
        ws_slug, _, repo_slug = full_name.partition("/")
        svc = RepoService(session, settings)
        subject = viewer_subject(viewer)
        ctx = svc.get(ws_slug, repo_slug, subject)
        permission = svc.permission_of(subject, ctx.repo)
        page = repository_page(
            request,
            session,
            settings,
            ctx,
            int(permission),
            viewer.id if viewer else None,
            viewer_uuid=viewer.uuid if viewer else None,
        )
        number = context.get("pullrequest")
        if isinstance(number, int | str) and str(number).isdigit():
            pr = PullRequestService(session, settings).get(ctx, int(number))
            urls = Urls(settings.base_url)
            page.add_object(
                "pullrequest", lambda: pullrequest_read(pr, urls).model_dump(mode="json")
            )
        return page
    slug = context.get("workspace")
    if isinstance(slug, str) and slug:
        accounts = AccountService(session, settings.secret)
        ws, _ = workspace_for_page(accounts, slug, viewer.id if viewer else None)
        return account_page(request, session, settings, ws, viewer, store=False)
    raise BadRequest("context: names no repository or workspace page", field="context")


def signed_dialog_url(
    request: Request,
    session: Session,
    settings: Settings,
    viewer: ViewerView | None,
    wanted: DialogRequest,
) -> str:
    page = _page(request, session, settings, viewer, wanted.context)
    app = next((a for a in page.apps if a.app_key == wanted.app_key), None)
    if app is None:
        raise NotFound(f"app {wanted.app_key!r} does not serve this page")
    if wanted.module_key is not None:
        for module in page.at(None, module_types=IFRAME_TYPES | {"webItems"}):
            if (
                module.app_key == wanted.app_key
                and module.module_key == wanted.module_key
                and module.kind != "link"
            ):
                return module.url
        raise NotFound(
            f"app {wanted.app_key!r} has no dialog or frame module {wanted.module_key!r} "
            "you can see here"
        )
    assert wanted.url is not None
    if not app.modules:
        raise NotFound(f"app {wanted.app_key!r} has no UI module to sign a dialog with")
    objects = {**page.objects(), "principal": page.setup.principal(app.workspace_id)}
    context = PageContext(
        host_base_url=settings.base_url,
        viewer_uuid=viewer.uuid if viewer else None,
        objects=objects,
    )
    signed = sign_app_url(app.modules[0], wanted.url, context)
    if signed is None:
        raise NotFound(f"{wanted.url[:120]} is outside the app's baseUrl: not signed")
    return signed
