"""RS256 signing keys and their JWKs (Entra's token signing key, a cluster's SA issuer key)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any, cast

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class SigningKey:
    def __init__(self, kid: str | None = None) -> None:
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = self.private_key.public_key().public_numbers()
        self.n = _b64url_uint(numbers.n)
        self.e = _b64url_uint(numbers.e)
        # like Kubernetes: the kid is derived from the public key, so it is stable for the key
        der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = kid or base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()

    def jwk(self) -> dict[str, Any]:
        return {"use": "sig", "kty": "RSA", "kid": self.kid, "alg": "RS256", "n": self.n, "e": self.e}

    def sign(self, claims: dict[str, Any], typ: str | None = "JWT") -> str:
        headers: dict[str, Any] = {"kid": self.kid}
        if typ:
            headers["typ"] = typ
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers=headers)

    def verify(self, token: str, **options: Any) -> dict[str, Any]:
        """Verify the signature only; callers check the claims they care about."""
        return jwt.decode(
            token, self.private_key.public_key(), algorithms=["RS256"],
            options=cast(Any, {"verify_aud": False, "verify_exp": False, "verify_nbf": False,
                               "verify_iat": False, **options}),
        )


def jwks(*keys: SigningKey) -> dict[str, Any]:
    return {"keys": [k.jwk() for k in keys]}
