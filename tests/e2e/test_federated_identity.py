"""The deployed bot's app registration has no secret (deploy/app-registration.bicep): with
FTBOT_FEDERATED_CLIENT_ID it asks its managed identity for a token for api://AzureADTokenExchange
and signs in to the Bot Framework login and to Graph with it as the client assertion
(infra/identity.py). Here App Service's managed identity endpoint (IDENTITY_ENDPOINT and
IDENTITY_HEADER, which azure-identity reads) and the login both run on loopback; `ftbot doctor`
signs in as the deployed bot would."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.bot_framework_login import APP_ID, APP_PASSWORD, LoginServer
from tests.e2e.test_doctor import doctor, line, production

MANAGED_IDENTITY = "9a7c1e52-3f0b-4d6e-8a41-2b5c7d9e0f13"
IDENTITY_HEADER = "identity-header-for-tests"
ASSERTION = "managed-identity-token-for-the-exchange"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class FederatedLogin(LoginServer):
    """The loopback login, where the app's credential is the managed identity's token instead of
    its password (Entra ID's federated identity credential)."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.assertions = 0

    def _token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if "client_assertion" not in form:
            return 401, {"error": "invalid_client", "error_description": "no credential"}
        if form["client_assertion"] != ASSERTION or form.get("client_assertion_type") != JWT_BEARER:
            return 401, {"error": "invalid_client", "error_description": "assertion refused"}
        with self._lock:
            self.assertions += 1
        rest = {k: v for k, v in form.items() if not k.startswith("client_assertion")}
        return super()._token({**rest, "client_secret": APP_PASSWORD})


class IdentityEndpoint:
    """App Service's managed identity endpoint (api-version 2019-08-01), on loopback."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.asked: list[dict[str, str]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                endpoint.asked.append(query)
                ok = self.headers.get("X-IDENTITY-HEADER") == IDENTITY_HEADER
                body = json.dumps(
                    {
                        "access_token": endpoint.token,
                        "expires_on": "4102444800",
                        "resource": query.get("resource", ""),
                        "token_type": "Bearer",
                        "client_id": query.get("client_id", ""),
                    }
                    if ok
                    else {"error": "bad header"}
                ).encode()
                self.send_response(200 if ok else 401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/msi/token"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> IdentityEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *args: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def login(tmp_path: Path) -> Iterator[FederatedLogin]:
    with FederatedLogin(tmp_path) as server:
        yield server


def _federated(login: LoginServer, identity: IdentityEndpoint) -> dict[str, str]:
    env = production(
        login,
        FTBOT_FEDERATED_CLIENT_ID=MANAGED_IDENTITY,
        IDENTITY_ENDPOINT=identity.url,
        IDENTITY_HEADER=IDENTITY_HEADER,
    )
    del env["MicrosoftAppPassword"]
    return env


def test_the_bot_signs_in_with_its_managed_identity_token(
    tmp_path: Path, login: FederatedLogin
) -> None:
    with IdentityEndpoint(ASSERTION) as identity:
        status, lines = doctor(tmp_path, **_federated(login, identity))
    assert status == 0, lines
    assert line(lines, "Bot Framework token").startswith(f"✓ Bot Framework token: app {APP_ID}")
    assert line(lines, "Microsoft Graph").startswith(
        f"✓ Microsoft Graph: signed in as app {APP_ID}"
    )
    assert login.assertions == 2  # one Bot Framework token, one Graph token, no password
    assert identity.asked and all(
        q.get("resource") == "api://AzureADTokenExchange" and q.get("client_id") == MANAGED_IDENTITY
        for q in identity.asked
    )


def test_a_token_the_app_does_not_trust_is_refused(tmp_path: Path, login: FederatedLogin) -> None:
    with IdentityEndpoint("another-identity's-token") as identity:
        status, lines = doctor(tmp_path, **_federated(login, identity))
    assert status == 1
    assert "the login refused it (invalid_client)" in line(lines, "Bot Framework token")
    assert line(lines, "Microsoft Graph").startswith("✗ Microsoft Graph: could not sign in")
    assert login.assertions == 0
