"""Verifies a Tessera access token locally, the way a service would: keys
from the published JWKS (PyJWT's PyJWKClient), signature, exp, iss, aud.
No call to Tessera's verify endpoint.

usage: verify_with_jwks.py JWKS_URL ISSUER AUDIENCE  (the token on stdin)
Prints the verified claims as JSON and exits 0, or prints
`rejected: <ExceptionName>: <message>` on stderr and exits 1.
"""

import json
import sys

import jwt


def main() -> int:
    jwks_url, issuer, audience = sys.argv[1:4]
    token = sys.stdin.read().strip()
    client = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=10)
    try:
        key = client.get_signing_key_from_jwt(token)
        header = jwt.get_unverified_header(token)
        if header.get("typ", "").lower() not in ("at+jwt", "application/at+jwt"):
            raise jwt.InvalidTokenError("typ is not at+jwt")
        # The algorithm comes from the published key, never from the header.
        claims = jwt.decode(
            token,
            key=key.key,
            algorithms=[key.algorithm_name],
            audience=audience,
            issuer=issuer,
            options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"]},
        )
    except (jwt.PyJWTError, jwt.exceptions.PyJWKClientError) as e:
        print(f"rejected: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(json.dumps({"kid": key.key_id, "alg": key.algorithm_name, "claims": claims}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
