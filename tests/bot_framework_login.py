"""A Bot Framework cloud on loopback, for a bot with an app id.

- The login endpoint the bot's MSAL asks for its token (client credentials), over TLS with a
  certificate made for the test (`REQUESTS_CA_BUNDLE` points requests at it): OpenID discovery and
  `oauth2/v2.0/token`, which checks the app id, password and scope and counts the tokens issued.
- The channel's OpenID metadata and signing key, which botbuilder checks incoming requests
  against; `channel_token()` signs what a channel sends.

It serves from its own thread: botbuilder fetches the signing keys with `requests` on the event
loop, so an aiohttp server on that same loop could never answer.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import RSAAlgorithm

from tests.harness import PRODUCTION, TEST_ADMIN

ADMIN = TEST_ADMIN
APP_ID = "11111111-2222-3333-4444-555555555555"
APP_PASSWORD = "app-password-for-tests"
TENANT = "botframework.com"
ISSUER = "https://api.botframework.com"
SCOPE = "https://api.botframework.com/.default"
KEY_ID = "loopback-signing-key"


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA); returns (cert, key) files."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "login-cert.pem", directory / "login-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class LoginServer:
    """The loopback Bot Framework login; `with LoginServer(tmp_path) as login: ...`."""

    def __init__(self, directory: Path) -> None:
        self.ca, key_file = _certificate(directory)
        self.tokens_issued = 0
        self.graph_tokens = 0  # tokens for Microsoft Graph (any other `.default` scope)
        self.discoveries = 0
        self._signing = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._lock = threading.Lock()
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca, key_file)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self.url = f"https://127.0.0.1:{server.server_address[1]}"
        # a short poll: shutdown() at the end of a test returns at once, not after 0.5 s
        self._thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> LoginServer:
        self._thread.start()
        return self

    def __exit__(self, *args: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def settings(self) -> dict[str, Any]:
        """Bot settings for this cloud: the app, its login endpoint, the channel's issuer."""
        return {
            "app_id": APP_ID,
            "app_password": APP_PASSWORD,
            "bot_login_url": f"{self.url}/{TENANT}",
            "validate_authority": False,
            "channel_token_issuer": ISSUER,
            "channel_openid_metadata_url": f"{self.url}/v1/.well-known/openidconfiguration",
            "authority_host": self.url,
            **PRODUCTION,
        }

    def channel_token(self, service_url: str) -> str:
        """What a channel sends the bot: a token for its app id and this service URL."""
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": APP_ID,
            "serviceurl": service_url,
            "nbf": now - 60,
            "exp": now + 3600,
        }
        return jwt.encode(claims, self._signing, algorithm="RS256", headers={"kid": KEY_ID})

    def _documents(self) -> dict[str, Any]:
        key = json.loads(RSAAlgorithm.to_jwk(self._signing.public_key()))
        key.update(kid=KEY_ID, use="sig", endorsements=["msteams"])
        base = f"{self.url}/{TENANT}"
        return {
            f"/{TENANT}/v2.0/.well-known/openid-configuration": {
                "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
            },
            "/v1/.well-known/openidconfiguration": {
                "issuer": ISSUER,
                "jwks_uri": f"{self.url}/v1/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
            },
            "/v1/keys": {"keys": [key]},
        }

    def _token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        wanted = {
            "grant_type": "client_credentials",
            "client_id": APP_ID,
            "client_secret": APP_PASSWORD,
            "scope": SCOPE,
        }
        graph = form.get("scope", "").endswith("/.default") and form.get("scope") != SCOPE
        if graph:
            wanted["scope"] = form["scope"]
        if any(form.get(name) != value for name, value in wanted.items()):
            return 401, {"error": "invalid_client", "error_description": f"refused {form}"}
        if graph:
            with self._lock:
                self.graph_tokens += 1
                number = self.graph_tokens
            return 200, {
                "token_type": "Bearer",
                "expires_in": 3600,
                "access_token": f"graph-token-{number}",
            }
        with self._lock:
            self.tokens_issued += 1
            number = self.tokens_issued
        return 200, {"token_type": "Bearer", "expires_in": 3600, "access_token": f"token-{number}"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        login = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                found = login._documents().get(self.path.partition("?")[0])
                if found is not None and "openid-configuration" in self.path:
                    with login._lock:
                        login.discoveries += 1
                self._answer(200, found) if found is not None else self._answer(404, {})

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                if self.path != f"/{TENANT}/oauth2/v2.0/token":
                    self._answer(404, {})
                    return
                self._answer(*login._token(form))

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler
