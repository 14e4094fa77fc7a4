"""What a host page hands host.js: the installation behind each module (its clientKey, named on
AP.request / proxyRequest) and the viewer's consent per app."""

from __future__ import annotations

import json

from appdock.connect.ui.page import bridge_config
from appdock.connect.ui.resolver import resolve
from tests.factories.connect_ui import PANELS, evaluation, installed_module, page_context


class TestBridgeConfig:
    def test_each_module_names_its_installation(self) -> None:
        found = resolve(
            [installed_module(client_key="ck-7")],
            page=page_context(),
            evaluation=evaluation(),
            location=PANELS,
        )
        [module] = found.modules
        assert json.loads(module.options_json)["options"]["clientKey"] == "ck-7"

    def test_consent_is_passed_through_per_app(self) -> None:
        consent = {
            "com.example.app": {
                "clientKey": "ck-7",
                "appName": "Example <app>",
                "needsConsent": True,
                "eager": False,
                "grantUrl": "/site/connect/grant?client_key=ck-7",
            }
        }
        config = bridge_config(csrf_token="t", consent=consent)
        assert config["consent"] == consent

    def test_no_consent_data_is_an_empty_map(self) -> None:
        assert bridge_config(csrf_token="t")["consent"] == {}
