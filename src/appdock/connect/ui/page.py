"""What a host page passes to ``templates/connect/scripts.html`` and sets as its CSP.

resolutions = [resolve(...panels...), resolve(...items...)]
config = bridge_config(csrf_token=token, resolutions=resolutions, page_context={...})
response.headers["Content-Security-Policy"] = page_csp(resolutions)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from appdock.connect.ui.resolver import RenderedModule, Resolution
from appdock.connect.ui.security import SANDBOX, content_security_policy

API_BASE = "/api"
PROXY_BASE = "/site/connect/proxy"


def _dialog_targets(modules: Iterable[RenderedModule]) -> dict[str, dict[str, dict[str, Any]]]:
    """app key → module key → {url, dialog options} for AP.dialog.create({key})."""
    targets: dict[str, dict[str, dict[str, Any]]] = {}
    for module in modules:
        if module.kind != "link":
            entry = {"url": module.url, "dialog": dict(module.options.get("dialog") or {})}
            targets.setdefault(module.app_key, {})[module.module_key] = entry
    return targets


def bridge_config(
    *,
    csrf_token: str,
    resolutions: Iterable[Resolution] = (),
    dialogs: Iterable[RenderedModule] = (),
    api_base: str = API_BASE,
    proxy_base: str = PROXY_BASE,
    resolve_url: str | None = None,
    addon_page_url: str | None = None,
    navigator_targets: Mapping[str, str] | None = None,
    page_target: str | None = None,
    page_context: Mapping[str, str | int] | None = None,
    timeout_ms: int = 5000,
    consent: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The JSON host.js reads.

    ``dialogs``: modules apps may open with ``AP.dialog.create({key})`` on this page, already
    signed (resolve them with ``module_types=IFRAME_TYPES`` for the apps on the page); iframe and
    dialog modules of ``resolutions`` are added. ``resolve_url``: a POST endpoint that signs a
    fresh URL (``{addonKey, moduleKey, url, context}`` → ``{url}``) for expired or unknown dialog
    targets. ``addon_page_url``: template with ``{app_key}`` and ``{module_key}`` for
    ``AP.navigator.go('addonmodule', {moduleKey})``. ``navigator_targets``: other navigator
    targets → URL templates whose ``{names}`` come from the app's context argument.
    ``page_context``: small identifiers of the page (``{"repository": "acme/widget"}``), echoed to
    ``resolve_url`` and ``proxyRequest`` and returned by ``AP.navigator.getLocation``.
    ``consent``: per app key, ``{clientKey, appName, needsConsent, eager, grantUrl}``
    (``connect.ui.grants.GrantService.consent_config``): host.js shows a "Grant access" prompt
    for apps that declare an oauthConsumer and have no grant from the viewer yet.
    """
    modules: list[RenderedModule] = []
    for resolution in resolutions:
        modules.extend(resolution.modules)
    modules.extend(dialogs)
    return {
        "apiBase": api_base,
        "proxyBase": proxy_base,
        "resolveUrl": resolve_url,
        "addonPageUrl": addon_page_url,
        "navigatorTargets": dict(navigator_targets or {}),
        "csrfToken": csrf_token,
        "dialogs": _dialog_targets(modules),
        "page": {"target": page_target, "context": dict(page_context or {})},
        "sandbox": SANDBOX,
        "timeout": timeout_ms,
        "consent": {k: dict(v) for k, v in (consent or {}).items()},
    }


def page_csp(resolutions: Iterable[Resolution], dialogs: Iterable[RenderedModule] = ()) -> str:
    """``Content-Security-Policy`` for a page: never framed, frames only these apps."""
    origins: set[str] = set()
    for resolution in resolutions:
        origins |= resolution.frame_origins
    origins |= {m.origin for m in dialogs if m.kind != "link" and m.origin}
    return content_security_policy(origins)
