"""A fake OpenID Connect provider (what Clerk or Entra ID speak to ``st.login``): discovery, authorization code
flow, RS256 ID tokens with the request's nonce, JWKS.

Who signs in is chosen per browser, like a person at the provider's login page: the browser first opens
``login_as_url(email)``, which sets the provider's own cookie; ``/authorize`` then answers for that person at once.
"""

from __future__ import annotations

import secrets
import time
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlencode

from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.fakes.server import FakeServer, Request, Response

CLIENT_ID = "console"
CLIENT_SECRET = "e2e-client-secret"
_WHO = "fake_oidc_user"


class FakeOIDC(FakeServer):
    """The provider; ``settings(redirect_uri)`` are the console's AUTH_* variables pointing at it."""

    def __init__(self) -> None:
        super().__init__()
        self._key = RSAKey.generate_key(2048, parameters={"kid": "e2e", "use": "sig", "alg": "RS256"})
        self._codes: dict[str, tuple[str, str]] = {}
        self.route("GET", r"/\.well-known/openid-configuration")(self._discovery)
        self.route("GET", r"/as")(self._login_as)
        self.route("GET", r"/authorize")(self._authorize)
        self.route("POST", r"/token")(self._token)
        self.route("GET", r"/jwks")(self._jwks)

    def login_as_url(self, email: str) -> str:
        """Where a browser goes first to sign in as ``email`` afterwards."""
        return f"{self.url}/as?{urlencode({'email': email})}"

    def settings(self, redirect_uri: str) -> dict[str, str]:
        """The console's sign-in variables for this provider."""
        return {"AUTH_REDIRECT_URI": redirect_uri, "AUTH_COOKIE_SECRET": "e2e-cookie-secret",
                "AUTH_CLIENT_ID": CLIENT_ID, "AUTH_CLIENT_SECRET": CLIENT_SECRET,
                "AUTH_SERVER_METADATA_URL": f"{self.url}/.well-known/openid-configuration"}

    @property
    def url(self) -> str:
        """Base URL (the issuer)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _discovery(self, request: Request) -> Response:
        return Response(200, {
            "issuer": self.url, "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token", "jwks_uri": f"{self.url}/jwks",
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"], "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"]})

    def _login_as(self, request: Request) -> Response:
        return Response(200, f"signed in at the provider as {request.query['email']}",
                        headers={"Set-Cookie": f"{_WHO}={request.query['email']}; Path=/"})

    def _authorize(self, request: Request) -> Response:
        cookie = SimpleCookie(request.headers.get("cookie", ""))
        if _WHO not in cookie or request.query.get("client_id") != CLIENT_ID:
            return Response(400, "no one signed in at the provider (open login_as_url first) or unknown client")
        code = secrets.token_urlsafe(16)
        self._codes[code] = (cookie[_WHO].value, request.query.get("nonce", ""))
        back = urlencode({"code": code, "state": request.query.get("state", "")})
        return Response(302, "", headers={"Location": f"{request.query['redirect_uri']}?{back}"})

    def _token(self, request: Request) -> Response:
        form = {k: v[-1] for k, v in parse_qs(request.body.decode()).items()}
        found = self._codes.pop(form.get("code", ""), None)
        if found is None:
            return Response(400, {"error": "invalid_grant"})
        email, nonce = found
        now = int(time.time())
        claims = {"iss": self.url, "sub": email, "aud": CLIENT_ID, "iat": now, "exp": now + 3600, "email": email,
                  "name": email.split("@")[0], **({"nonce": nonce} if nonce else {})}
        token = jwt.encode({"alg": "RS256", "kid": "e2e"}, claims, self._key)
        return Response(200, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 3600,
                              "id_token": token})

    def _jwks(self, request: Request) -> Response:
        return Response(200, {"keys": [self._key.as_dict(private=False)]})
