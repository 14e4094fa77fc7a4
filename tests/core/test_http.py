"""Outbound HTTP: the private-address guard (with the attacks), redirects, caps, timeouts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from appdock.core.http import (
    BadResponse,
    BadUrl,
    BlockedAddress,
    ConnectFailed,
    GuardedTransport,
    OutboundClient,
    OutboundTimeout,
    ResponseTooLarge,
    TooManyRedirects,
    address_refusal,
)

Route = Callable[[BaseHTTPRequestHandler], None]


class Server:
    """A loopback server whose paths map to small handler functions; records Host headers."""

    def __init__(self) -> None:
        self.hosts: list[str] = []
        self.routes: dict[str, Route] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.hosts.append(self.headers.get("Host", ""))
                server.routes[self.path.split("?")[0]](self)

            do_POST = do_GET

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.httpd.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def send(
    status: int,
    body: bytes = b"",
    ctype: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Route:
    def handler(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    return handler


def slow(h: BaseHTTPRequestHandler) -> None:
    time.sleep(1.5)
    send(200, b"{}")(h)


def drip(h: BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", "100")
    h.end_headers()
    for _ in range(10):
        h.wfile.write(b" ")
        h.wfile.flush()
        time.sleep(0.3)


def hang_up(h: BaseHTTPRequestHandler) -> None:
    h.close_connection = True
    h.connection.shutdown(2)


@pytest.fixture(autouse=True)
def _close_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every OutboundClient a test makes is closed at its end (no leaked sockets)."""
    made: list[OutboundClient] = []
    original = OutboundClient.__init__

    def tracking(self: OutboundClient, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        made.append(self)

    monkeypatch.setattr(OutboundClient, "__init__", tracking)
    yield
    for client in made:
        client.close()


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.close()


def routes(srv: Server, **paths: Route) -> None:
    """``name_with_underscores=handler`` serves ``/name-with-underscores``."""
    srv.routes.update({"/" + k.replace("_", "-"): v for k, v in paths.items()})


class TestAddressPolicy:
    @pytest.mark.parametrize(
        ("address", "policy", "refused"),
        [
            ("93.184.216.34", "off", None),
            ("2606:4700::1111", "off", None),
            ("127.0.0.1", "off", "a loopback address"),
            ("127.8.9.10", "loopback", None),
            ("::1", "loopback", None),
            ("::1", "off", "a loopback address"),
            ("10.0.0.1", "loopback", "a private address"),
            ("192.168.1.5", "off", "a private address"),
            ("172.16.0.1", "off", "a private address"),
            ("169.254.169.254", "loopback", "a link-local address"),
            ("fe80::1", "off", "a link-local address"),
            ("224.0.0.1", "off", "a multicast address"),
            ("0.0.0.0", "off", "an unspecified address"),
            ("100.64.0.1", "off", "a reserved address"),
            ("240.0.0.1", "off", "a private address"),
            ("::ffff:10.0.0.1", "loopback", "a private address"),
            ("::ffff:127.0.0.1", "loopback", None),
            ("2002:a00:1::", "off", "a private address"),
            ("fc00::1", "off", "a private address"),
            ("10.0.0.1", "all", None),
            ("169.254.169.254", "all", None),
        ],
    )
    def test_policy(self, address: str, policy: str, refused: str | None) -> None:
        assert address_refusal(address, policy) == refused  # type: ignore[arg-type]


class TestGuardedTransport:
    def test_private_address_message_names_purpose_url_and_address(self) -> None:
        client = OutboundClient("off")
        with pytest.raises(BlockedAddress) as caught:
            client.get("http://10.0.0.1/x", purpose="descriptor URL")
        assert caught.value.message == (
            "descriptor URL http://10.0.0.1/x resolves to a private address 10.0.0.1; "
            "the operator has not allowed private app URLs"
        )

    def test_a_name_resolving_to_any_private_address_is_refused(self) -> None:
        transport = GuardedTransport(
            "off", resolver=lambda host, port: ["93.184.216.34", "192.168.0.10"]
        )
        with pytest.raises(BlockedAddress, match=r"192\.168\.0\.10"):
            transport.check(httpx.URL("http://rebind.example/x"))

    def test_connects_to_the_checked_address_not_a_fresh_lookup(self, server: Server) -> None:
        routes(server, ok=send(200, b"{}"))
        seen: list[str] = []

        def resolver(host: str, port: int) -> list[str]:
            seen.append(host)
            return ["127.0.0.1"]

        with OutboundClient("loopback", resolver=resolver) as client:
            r = client.get(f"http://app.invalid:{server.port}/ok")
        assert r.status == 200
        assert seen == ["app.invalid"]  # resolved once, by the guard
        assert server.hosts == [f"app.invalid:{server.port}"]  # Host header kept

    def test_unresolvable_host(self) -> None:
        def resolver(host: str, port: int) -> list[str]:
            raise OSError("Name or service not known")

        with pytest.raises(ConnectFailed, match=r"cannot resolve host 'nowhere\.invalid'"):
            OutboundClient("all", resolver=resolver).get("http://nowhere.invalid/")

    def test_non_http_scheme(self) -> None:
        with pytest.raises(BadUrl, match="must use http or https"):
            OutboundClient("all").get("file:///etc/passwd")


class TestRedirects:
    def test_redirect_to_a_private_address_is_refused(self, server: Server) -> None:
        routes(server, hop=send(302, headers={"Location": "http://10.0.0.1/x"}))
        with pytest.raises(BlockedAddress, match=r"http://10.0.0.1/x resolves to a private"):
            OutboundClient("loopback").get(server.base + "/hop", purpose="descriptor URL")

    def test_redirects_are_followed_a_limited_number_of_times(self, server: Server) -> None:
        routes(
            server,
            loop=send(302, headers={"Location": "/loop"}),
            start=send(301, headers={"Location": "/end"}),
            end=send(200, b"{}"),
        )
        with OutboundClient("loopback") as client:
            assert client.get(server.base + "/start").status == 200
            with pytest.raises(TooManyRedirects, match=r"more than 3 times"):
                client.get(server.base + "/loop")

    def test_posts_do_not_follow_redirects(self, server: Server) -> None:
        routes(server, hook=send(307, headers={"Location": "http://10.0.0.1/"}))
        r = OutboundClient("loopback").post_json(server.base + "/hook", {"a": 1})
        assert r.status == 307
        assert not r.ok


class TestLimits:
    def test_body_over_the_cap_is_refused(self, server: Server) -> None:
        routes(server, big=send(200, b"x" * 5000))
        with pytest.raises(ResponseTooLarge, match="more than 1000 bytes"):
            OutboundClient("loopback", max_bytes=1000).get(server.base + "/big")

    def test_slow_answer_times_out(self, server: Server) -> None:
        routes(server, slow=slow)
        with pytest.raises(OutboundTimeout, match=r"did not answer within 0\.5 s"):
            OutboundClient("loopback", timeout=0.5).get(server.base + "/slow")

    def test_dripping_answer_hits_the_overall_deadline(self, server: Server) -> None:
        routes(server, drip=drip)
        with pytest.raises(OutboundTimeout, match="did not finish answering within 1 s"):
            OutboundClient("loopback", timeout=1.0).get(server.base + "/drip")

    def test_closed_connection(self, server: Server) -> None:
        routes(server, gone=hang_up)
        with pytest.raises(ConnectFailed, match="the connection failed or was closed"):
            OutboundClient("loopback").post_json(server.base + "/gone", {})

    def test_nothing_listening(self) -> None:
        with pytest.raises(ConnectFailed):
            OutboundClient("loopback").get("http://127.0.0.1:9/")


class TestFetchJson:
    def test_json_document(self, server: Server) -> None:
        routes(
            server,
            d=send(200, json.dumps({"key": "x"}).encode(), "application/json; charset=utf-8"),
        )
        url, data = OutboundClient("loopback").fetch_json(server.base + "/d")
        assert data == {"key": "x"}
        assert url == server.base + "/d"

    def test_html_is_refused(self, server: Server) -> None:
        routes(server, d=send(200, b"<html></html>", "text/html; charset=utf-8"))
        with pytest.raises(BadResponse, match="Content-Type text/html, not JSON"):
            OutboundClient("loopback").fetch_json(server.base + "/d")

    def test_status_is_reported_with_the_start_of_the_body(self, server: Server) -> None:
        routes(server, d=send(404, b"no such descriptor", "text/plain"))
        with pytest.raises(BadResponse, match="answered HTTP 404: no such descriptor"):
            OutboundClient("loopback").fetch_json(server.base + "/d")

    def test_malformed_json(self, server: Server) -> None:
        routes(server, d=send(200, b"{nope", "application/json"))
        with pytest.raises(BadResponse, match="is not valid JSON"):
            OutboundClient("loopback").fetch_json(server.base + "/d")
