"""Service-to-service with stock libraries: Authlib's OAuth2Session fetches
tokens from Tessera's discovered token endpoint (client_credentials with
client_secret_basic and client_secret_post, then an RFC 8693 token
exchange), and joserfc verifies every result with the keys from the
discovered jwks_uri. No Tessera code, no hand-built requests.

usage: oauth_interop.py BASE_URL ISSUER
  BASE_URL: where the server listens; ISSUER: its configured issuer (the
  discovered URLs start with it; they are rewritten onto BASE_URL, as a
  DNS entry would). Client ids and secrets in the environment:
  CC_CLIENT, EXCHANGE_CLIENT, CLIENT_SECRET; SUBJECT_TOKEN on stdin.
Prints one JSON object with what each step saw; exits 1 on any failure.
"""

import json
import os
import sys

import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"


def main() -> int:
    base, issuer = sys.argv[1:3]
    subject_token = sys.stdin.read().strip()
    secret = os.environ["CLIENT_SECRET"]
    on_base = lambda url: base + url[len(issuer):] if url.startswith(issuer) else url

    meta = requests.get(base + "/.well-known/openid-configuration", timeout=10).json()
    assert meta["issuer"] == issuer, meta
    token_endpoint = on_base(meta["token_endpoint"])
    keys = KeySet.import_key_set(requests.get(on_base(meta["jwks_uri"]), timeout=10).json())
    # joserfc accepts only its "recommended" algorithms unless told: EdDSA
    # must be named (and RS256/ES256 are named for symmetry).
    algorithms = meta["access_token_signing_alg_values_supported"]

    def verify(token: str, audience: str) -> dict:
        decoded = jwt.decode(token, keys, algorithms=algorithms)
        if decoded.header.get("typ") != "at+jwt":
            raise ValueError(f"typ is {decoded.header.get('typ')}")
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            sub={"essential": True},
            exp={"essential": True},
        ).validate(decoded.claims)
        return {"alg": decoded.header["alg"], "kid": decoded.header["kid"], "claims": decoded.claims}

    out = {"token_endpoint": meta["token_endpoint"]}
    cc = os.environ["CC_CLIENT"]
    for method in ("client_secret_basic", "client_secret_post"):
        session = OAuth2Session(cc, secret, token_endpoint_auth_method=method, scope="read")
        token = session.fetch_token(token_endpoint, grant_type="client_credentials")
        out[method] = {"response": dict(token), **verify(token["access_token"], "billing-api")}
    # A wrong audience and a tampered signature must be refused.
    cc_token = out["client_secret_basic"]["response"]["access_token"]
    for name, token, aud in (("wrong_audience", cc_token, "photo-api"),
                             ("tampered", cc_token[:-4] + ("AAAA" if cc_token[-4:] != "AAAA" else "BBBB"), "billing-api")):
        try:
            verify(token, aud)
            out[name] = "accepted"
        except (JoseError, ValueError) as e:
            out[name] = type(e).__name__

    gateway = OAuth2Session(os.environ["EXCHANGE_CLIENT"], secret, token_endpoint_auth_method="client_secret_basic")
    exchanged = gateway.fetch_token(
        token_endpoint, grant_type=EXCHANGE, subject_token=subject_token,
        subject_token_type=ACCESS, audience="photo-api", scope="read")
    out["exchange"] = {"response": dict(exchanged), **verify(exchanged["access_token"], "photo-api")}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
