"""Iframe sandboxing and the Content-Security-Policy of pages that show app modules.

**Sandbox.** The bridge (atlassian-connect-js on simple-xdm) needs, from the app's iframe:

* ``allow-scripts``: all.js and the app's code run;
* ``allow-same-origin``: the iframe keeps *the app's own* origin. Without it the origin is
  opaque (``"null"``) and the host drops every postMessage, because simple-xdm checks
  ``event.origin`` against the module URL's origin. This token is harmless only because the app
  is on another origin than the host; :func:`frameable` refuses app URLs on the host's origin,
  where scripts + same-origin would let the frame lift its own sandbox.

Apps also commonly need ``allow-forms`` (settings pages post forms), ``allow-popups`` +
``allow-popups-to-escape-sandbox`` (links opened in a new tab, OAuth windows) and
``allow-top-navigation-by-user-activation`` (a link the user clicks may open a host page, as
``<base target="_parent">`` does). Deliberately left out: ``allow-top-navigation`` (no silent
redirects of the host page: apps use ``AP.navigator``), ``allow-modals`` (no ``alert()`` dialogs
spoofing the host), ``allow-downloads`` (downloads go through a popup), ``allow-pointer-lock``,
``allow-presentation``, ``allow-storage-access-by-user-activation``.

**CSP.** Host pages refuse to be framed (``frame-ancestors 'none'``, plus ``X-Frame-Options:
DENY`` from ``SecurityHeaders``). A page that renders modules adds ``frame-src`` listing only the
origins of the apps rendered on that page (their dialogs share those origins).
"""

from __future__ import annotations

from collections.abc import Iterable

from appdock.connect.ui.signing import origin_of

SANDBOX_TOKENS: tuple[str, ...] = (
    "allow-scripts",
    "allow-same-origin",
    "allow-forms",
    "allow-popups",
    "allow-popups-to-escape-sandbox",
    "allow-top-navigation-by-user-activation",
)
SANDBOX = " ".join(SANDBOX_TOKENS)


def frameable(app_url: str, host_base_url: str) -> bool:
    """An app URL may be framed only from another origin than the host's (see module doc)."""
    origin = origin_of(app_url)
    return bool(origin) and origin != origin_of(host_base_url)


def frame_src(origins: Iterable[str]) -> str:
    """``frame-src`` for these app origins; ``'none'`` when there are none."""
    unique = sorted({o for o in origins if o and _safe_origin(o)})
    return "frame-src " + (" ".join(unique) if unique else "'none'")


def _safe_origin(origin: str) -> bool:
    # An origin goes verbatim into a header: no spaces, quotes, semicolons or commas.
    return origin.startswith(("https://", "http://")) and not any(
        c in origin for c in " ;,'\"\r\n\t"
    )


def content_security_policy(app_origins: Iterable[str]) -> str:
    """The CSP header value for a page that renders modules from ``app_origins``.

    Keeps the host's ``frame-ancestors 'none'`` (the page itself is never framed).
    """
    return f"frame-ancestors 'none'; {frame_src(app_origins)}"
