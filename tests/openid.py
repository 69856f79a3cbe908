"""A loopback OpenID provider for the Bot Framework's inbound tokens: metadata documents and a JWKS
with one RSA key, and tokens signed with it (or forged in every usual way).

botbuilder fetches the metadata with blocking `requests` calls from inside the event loop, so
this server runs on a thread of its own: served from the bot's loop it could never answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://issuer.channel.test"
EMULATOR_ISSUER = "https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/"
KEY_ID = "test-key-1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_key() -> rsa.RSAPrivateKey:
    """A fresh RSA signing key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class OpenIdProvider:
    """Serves `/channel` and `/emulator` OpenID metadata and `/keys` on 127.0.0.1."""

    key: rsa.RSAPrivateKey
    url: str = ""

    @property
    def channel_metadata(self) -> str:
        """The channel's metadata URL (TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL)."""
        return f"{self.url}/channel/.well-known/openidconfiguration"

    @property
    def emulator_metadata(self) -> str:
        """The Emulator's metadata URL (TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL)."""
        return f"{self.url}/emulator/.well-known/openid-configuration"

    def documents(self) -> dict[str, Any]:
        """Path -> JSON document served."""
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid=KEY_ID, use="sig", endorsements=["msteams", "emulator", "webchat"])
        metadata = {
            "jwks_uri": f"{self.url}/keys",
            "id_token_signing_alg_values_supported": ["RS256"],
        }
        return {
            "/channel/.well-known/openidconfiguration": {**metadata, "issuer": ISSUER},
            "/emulator/.well-known/openid-configuration": {**metadata, "issuer": EMULATOR_ISSUER},
            "/keys": {"keys": [jwk]},
        }


@contextmanager
def openid_provider() -> Iterator[OpenIdProvider]:
    """Run an OpenIdProvider on a thread until the block ends."""
    provider = OpenIdProvider(new_key())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            document = provider.documents().get(self.path)
            body = json.dumps(document).encode()
            self.send_response(200 if document is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    provider.url = f"http://127.0.0.1:{server.server_address[1]}"
    # a short poll: shutdown() at the end of a test returns at once, not after 0.5 s
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def claims(app_id: str, service_url: str, **changes: Any) -> dict[str, Any]:
    """What the channel's token says: for `app_id`, from `service_url`, valid for an hour."""
    now = int(time.time())
    found = {
        "iss": ISSUER,
        "aud": app_id,
        "serviceurl": service_url,
        "nbf": now - 60,
        "iat": now - 60,
        "exp": now + 3600,
    }
    found.update(changes)
    return found


def signed(key: rsa.RSAPrivateKey, payload: dict[str, Any], kid: str = KEY_ID) -> str:
    """An RS256 token signed with `key`."""
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


def unsigned(payload: dict[str, Any]) -> str:
    """A token with `alg: none` and no signature."""
    header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": KEY_ID}).encode())
    return f"{header}.{_b64(json.dumps(payload).encode())}."


def hs256_with_public_key(key: rsa.RSAPrivateKey, payload: dict[str, Any]) -> str:
    """The classic confusion: HS256, with the provider's public key as the shared secret."""
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KEY_ID}).encode())
    body = _b64(json.dumps(payload).encode())
    signature = hmac.new(public, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(signature)}"
