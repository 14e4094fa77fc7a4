"""The module resolver: selection, conditions, sorting, signing, kinds and descriptors."""

from __future__ import annotations

import json
from typing import Any

from appdock.connect.ui.conditions import Permission
from appdock.connect.ui.resolver import (
    FULL_PAGE_TYPES,
    modules_from_descriptor,
    resolve,
    resolve_one,
)
from appdock.core.scopes import Scope
from tests.factories.connect_ui import (
    APP_BASE,
    HOST,
    PANELS,
    evaluation,
    installed_module,
    page_context,
)


def panels(modules: list[Any], **kw: Any) -> Any:
    return resolve(modules, page=page_context(), evaluation=evaluation(), location=PANELS, **kw)


class TestResolve:
    def test_only_modules_at_the_location_are_returned(self) -> None:
        modules = [
            installed_module(module_key="a"),
            installed_module(
                module_key="b", location="org.bitbucket.pullrequest.overview.informationPanel"
            ),
        ]
        assert [m.module_key for m in panels(modules).modules] == ["a"]

    def test_sorted_by_weight_then_name(self) -> None:
        modules = [
            installed_module(module_key="c", name="Zed", weight=10),
            installed_module(module_key="b", name="beta", weight=20),
            installed_module(module_key="a", name="Alpha", weight=20),
        ]
        assert [m.module_key for m in panels(modules).modules] == ["c", "a", "b"]

    def test_failing_condition_hides_and_is_logged(self) -> None:
        hidden = installed_module(
            module_key="admins",
            conditions=({"condition": "has_permission", "params": {"permission": "admin"}},),
        )
        resolution = panels([hidden, installed_module()])
        assert [m.module_key for m in resolution.modules] == ["panel"]
        decision = next(d for d in resolution.decisions if d.module_key == "admins")
        assert decision.result is False and decision.app_key == "com.example.app"
        assert "admin is needed" in decision.reason

    def test_unknown_condition_hides(self) -> None:
        module = installed_module(conditions=({"condition": "no_such_thing"},))
        assert panels([module]).modules == []

    def test_iframe_module_is_signed_and_framable(self) -> None:
        [rendered] = panels([installed_module()]).modules
        assert rendered.kind == "iframe"
        assert rendered.url.startswith(APP_BASE + "/panel?repo=acme%2Fwidget&xdm_e=")
        assert "&jwt=" in rendered.url
        assert rendered.origin == "https://app.example.com"
        assert rendered.options["autoresize"] is True
        assert rendered.options["isFullPage"] is False
        assert "allow-same-origin" in rendered.options["sandbox"]
        assert rendered.container_id == "ap-com-example-app__panel"

    def test_full_page_types_are_marked(self) -> None:
        for module_type in sorted(FULL_PAGE_TYPES):
            [rendered] = resolve(
                [installed_module(module_type=module_type, location=None)],
                page=page_context(),
                evaluation=evaluation(),
                module_types={module_type},
            ).modules
            assert rendered.options["isFullPage"] is True, module_type

    def test_web_items_are_links_dialogs_or_pages(self) -> None:
        link = installed_module(module_type="webItems", module_key="link", location="actions")
        dialog = installed_module(
            module_type="webItems",
            module_key="dlg",
            location="actions",
            target={"type": "dialog", "options": {"width": "400px", "evil": "<x>"}},
        )
        page = installed_module(
            module_type="webItems", module_key="pg", location="actions", target={"type": "page"}
        )
        out = resolve(
            [link, dialog, page],
            location="actions",
            evaluation=evaluation(),
            page=page_context(addon_page_url=lambda a, m: f"/acme/widget/addon/{a}/{m}"),
        )
        kinds = {m.module_key: m for m in out.modules}
        assert kinds["link"].kind == "link" and "jwt=" in kinds["link"].url
        assert kinds["dlg"].kind == "dialog"
        assert kinds["dlg"].options["dialog"] == {"width": "400px"}
        assert kinds["pg"].kind == "link"
        assert kinds["pg"].url == "/acme/widget/addon/com.example.app/pg"
        assert out.frame_origins == frozenset({"https://app.example.com"})

    def test_full_pages_as_navigation_links(self) -> None:
        page = installed_module(
            module_type="repoPages", module_key="pg", location="org.bitbucket.repository.navigation"
        )
        ctx = page_context(addon_page_url=lambda a, m: f"/acme/widget/addon/{a}/{m}")
        [link] = resolve(
            [page],
            page=ctx,
            evaluation=evaluation(),
            page_links=True,
            location="org.bitbucket.repository.navigation",
        ).modules
        assert (link.kind, link.url, link.origin) == (
            "link",
            "/acme/widget/addon/com.example.app/pg",
            "",
        )
        [frame] = resolve(
            [page],
            page=ctx,
            evaluation=evaluation(),
            location="org.bitbucket.repository.navigation",
        ).modules
        assert frame.kind == "iframe" and "jwt=" in frame.url

    def test_external_link_is_unsigned_and_not_framed(self) -> None:
        item = installed_module(
            module_type="webItems",
            location="actions",
            url="https://docs.example.org/help?r={repo_path}",
        )
        [rendered] = resolve(
            [item], location="actions", page=page_context(), evaluation=evaluation()
        ).modules
        assert rendered.url == "https://docs.example.org/help?r=acme%2Fwidget"
        assert rendered.origin == ""

    def test_iframe_outside_the_app_base_is_refused(self) -> None:
        module = installed_module(url="https://elsewhere.example.com/panel")
        resolution = panels([module])
        assert resolution.modules == []
        assert "outside the app's baseUrl" in resolution.warnings[0]

    def test_app_on_the_host_origin_is_refused(self) -> None:
        module = installed_module(base_url=HOST + "/apps/x")
        resolution = panels([module])
        assert resolution.modules == []
        assert "host's own origin" in resolution.warnings[0]

    def test_dropped_parameters_become_warnings(self) -> None:
        module = installed_module(
            url="/p?pr={pullrequest.id}", scopes=frozenset({Scope.REPOSITORY})
        )
        resolution = panels([module])
        assert resolution.modules[0].url.startswith(APP_BASE + "/p?pr=&")
        assert resolution.warnings == [
            "com.example.app:panel: {pullrequest.id} was left empty: the app lacks the "
            '"pullrequest" scope for pullrequest'
        ]

    def test_app_root_is_available_to_every_module(self) -> None:
        module = installed_module(url="/p?k={app.key}", scopes=frozenset())
        assert "k=com.example.app&" in panels([module]).modules[0].url

    def test_file_views_match_extensions_and_names(self) -> None:
        view = installed_module(
            module_type="fileViews",
            location=None,
            file_matches={"extensions": ["sch"], "filenames": ["Makefile"]},
        )

        def files(path: str) -> list[Any]:
            ctx = page_context(objects={"file": {"path": path}, "repository": {"full_name": "a/b"}})
            return resolve(
                [view], page=ctx, evaluation=evaluation(), module_types={"fileViews"}
            ).modules

        assert len(files("hw/board.SCH")) == 1
        assert len(files("Makefile")) == 1
        assert files("README.md") == []

    def test_duplicate_container_ids_are_made_unique(self) -> None:
        modules = [
            installed_module(),
            installed_module(module_key="panel", app_key="com.example.app"),
        ]
        ids = [m.container_id for m in panels(modules).modules]
        assert len(set(ids)) == 2

    def test_options_json_carries_what_host_js_needs(self) -> None:
        [rendered] = panels([installed_module()]).modules
        data = json.loads(rendered.options_json)
        assert data["addonKey"] == "com.example.app"
        assert data["moduleKey"] == "panel"
        assert data["kind"] == "iframe"
        assert data["url"] == rendered.url
        assert data["options"]["timeout"] == 5000

    def test_aui_icon_must_look_like_an_icon_class(self) -> None:
        good = installed_module(params={"auiIcon": "aui-iconfont-doc"})
        bad = installed_module(module_key="b", params={"auiIcon": "adk-dialog-overlay x"})
        icons = {m.module_key: m.aui_icon for m in panels([good, bad]).modules}
        assert icons == {"panel": "aui-iconfont-doc", "b": None}

    def test_csp_lists_only_rendered_origins(self) -> None:
        hidden = installed_module(
            app_key="hidden.app",
            base_url="https://hidden.example.net",
            conditions=({"condition": "is_binary"},),
        )
        resolution = panels([installed_module(), hidden])
        assert resolution.content_security_policy() == (
            "frame-ancestors 'none'; frame-src https://app.example.com"
        )


class TestResolveOne:
    def test_visible_page(self) -> None:
        page = installed_module(
            module_type="repoPages",
            module_key="page",
            location="org.bitbucket.repository.navigation",
        )
        out = resolve_one(
            [page, installed_module()],
            app_key="com.example.app",
            module_key="page",
            page=page_context(),
            evaluation=evaluation(),
        )
        assert [m.module_key for m in out.modules] == ["page"]

    def test_hidden_or_unknown_page_is_empty(self) -> None:
        page = installed_module(
            module_type="repoPages",
            module_key="page",
            conditions=({"condition": "has_permission", "params": {"permission": "admin"}},),
        )
        ctx = evaluation(repo_permission=Permission.READ)
        assert (
            resolve_one(
                [page],
                app_key="com.example.app",
                module_key="page",
                page=page_context(),
                evaluation=ctx,
            ).modules
            == []
        )
        assert (
            resolve_one(
                [page],
                app_key="com.example.app",
                module_key="nope",
                page=page_context(),
                evaluation=ctx,
            ).modules
            == []
        )


class TestModulesFromDescriptor:
    def test_ui_modules_become_installed_modules(self) -> None:
        descriptor = {
            "key": "com.example.app",
            "name": "Example",
            "baseUrl": APP_BASE,
            "authentication": {"type": "jwt"},
            "modules": {
                "webPanels": [
                    {
                        "key": "p",
                        "name": {"value": "Panel"},
                        "url": "/p",
                        "location": PANELS,
                        "weight": "5",
                        "tooltip": {"value": "Tip"},
                        "conditions": [{"condition": "user_is_logged_in"}],
                    }
                ],
                "configurePage": {"key": "cfg", "name": {"value": "Configure"}, "url": "/cfg"},
                "adminPages": [
                    {
                        "key": "adm",
                        "name": {"value": "Admin"},
                        "url": "/adm",
                        "location": "org.bitbucket.repository.admin",
                        "icon": {"url": "/i.png"},
                        "params": {"auiIcon": "aui-iconfont-x"},
                    }
                ],
                "fileViews": [
                    {
                        "key": "fv",
                        "name": {"value": "Viewer"},
                        "url": "/fv",
                        "file_matches": {"extensions": ["sch"]},
                    }
                ],
                "webhooks": [{"event": "*", "url": "/hook"}],
                "linkers": [{"key": "l", "regex": "X-(\\d+)", "url": "/x/\\1"}],
                "webItems": [{"key": "broken"}],
            },
        }
        modules = {
            m.module_key: m
            for m in modules_from_descriptor(
                descriptor, client_key="ck", shared_secret="s", scopes=frozenset()
            )
        }
        assert set(modules) == {"p", "cfg", "adm", "fv"}
        assert modules["p"].weight == 5 and modules["p"].tooltip == "Tip"
        assert modules["p"].conditions == ({"condition": "user_is_logged_in"},)
        assert modules["cfg"].module_type == "configurePage" and modules["cfg"].location is None
        assert modules["adm"].icon_url == "/i.png"
        assert modules["fv"].file_matches == {"extensions": ["sch"]}
        assert all(m.app_name == "Example" and m.base_url == APP_BASE for m in modules.values())

    def test_configure_page_as_a_one_element_list(self) -> None:
        descriptor = {
            "key": "k",
            "baseUrl": APP_BASE,
            "modules": {"configurePage": [{"key": "cfg", "url": "/cfg"}]},
        }
        [module] = modules_from_descriptor(
            descriptor, client_key="c", shared_secret="s", scopes=frozenset()
        )
        assert module.module_key == "cfg" and module.name == "cfg"

    def test_authentication_none_is_kept(self) -> None:
        descriptor = {
            "key": "k",
            "baseUrl": APP_BASE,
            "authentication": {"type": "none"},
            "modules": {"webPanels": [{"key": "p", "url": "/p", "location": PANELS}]},
        }
        [module] = modules_from_descriptor(
            descriptor, client_key="c", shared_secret="s", scopes=frozenset()
        )
        assert module.authentication == "none"
