"""API tokens: signed (HS256 JWT), scoped to sources and permissions, expiring, revocable.

A token is ``tsh_`` + a JWT whose claims are issuer, audience, id (``jti``), issued-at,
expiry (absent for ``never``), and ``scopes`` (sources and permissions). The catalog
keeps id, description, scope, expiry, creation, last use and revocation, never the token
(the ``tokens`` table, ``Tokens``); so a token is valid only while its record exists and
is not revoked. The prefix lets secret scanners recognise a leaked token.

Checks use the injected clock (``TIMESHELF_NOW``), not PyJWT's own, so tests can play out
days; the signature, algorithm and audience are PyJWT's (constant-time HMAC compare).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from generator.catalog.database import Database
from generator.catalog.dialect import Cursor
from generator.clock import format_timestamp, parse_timestamp
from generator.errors import NotFound, TimeshelfError
from generator.records import Source, TokenRecord

PREFIX = "tsh_"
ISSUER = "timeshelf"
AUDIENCE = "timeshelf"
ALGORITHM = "HS256"
# upload: legacy upload API to the token's sources; deploy: bundles and environments.
PERMISSIONS = ("upload", "deploy")
_DURATION = re.compile(r"([1-9][0-9]{0,6})([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# The lifetime of a token created without --expires (README, `create token --help`).
DEFAULT_EXPIRY = "30d"
# Ids are 32 hex digits (uuid4); as with git's abbreviated hashes, a prefix names a token
# once it is this long and matches one id only.
MIN_ID_PREFIX = 4
_HEX = frozenset("0123456789abcdef")


class TokenError(TimeshelfError, PermissionError, status=403):
    """A token that does not authorize the request; the message never contains the token."""


class AmbiguousTokenId(TimeshelfError, LookupError):
    """A token id prefix that matches several tokens; ``candidates`` are their records."""

    def __init__(self, prefix: str, candidates: Sequence[TokenRecord]) -> None:
        listed = ", ".join(f"{t.id} ({t.description})" for t in candidates)
        super().__init__(
            f"token id prefix {prefix!r} matches {len(candidates)} tokens: {listed}; "
            "give more of the id"
        )
        self.prefix, self.candidates = prefix, tuple(candidates)


class TokenCatalog(Protocol):
    """What issuing and checking tokens needs of the catalog (``Catalog`` is one)."""

    def get_source(self, name: str) -> Source: ...

    def add_token(self, record: TokenRecord) -> None: ...

    def get_token(self, token_id: str) -> TokenRecord | None: ...


class Tokens:
    """The ``tokens`` table: the records of issued tokens."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add_token(self, record: TokenRecord) -> None:
        with self._db.write() as cur:
            cur.execute(
                "INSERT INTO tokens (id, description, sources, scopes, created_at, expires_at, "
                "last_used_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
                (
                    record.id, record.description, ",".join(record.sources),
                    ",".join(record.scopes), record.created_at, record.expires_at,
                ),
            )

    def get_token(self, token_id: str) -> TokenRecord | None:
        rows = self._db.query(
            "SELECT id, description, sources, scopes, created_at, expires_at, last_used_at, "
            "revoked_at FROM tokens WHERE id = ?",
            (token_id,),
        )
        return _token(rows[0]) if rows else None

    def list_tokens(self) -> list[TokenRecord]:
        rows = self._db.query(
            "SELECT id, description, sources, scopes, created_at, expires_at, last_used_at, "
            "revoked_at FROM tokens ORDER BY created_at, id"
        )
        return [_token(r) for r in rows]

    def revoke_token(self, token_id: str, at: datetime) -> TokenRecord:
        """Revoke the token whose id is ``token_id`` or starts with it (idempotent).

        A prefix needs ``MIN_ID_PREFIX`` hex digits (an ellipsis after it, as listings
        abbreviate ids, is ignored). Raises ``NotFound`` for an id or prefix that matches
        no token or is not one, ``AmbiguousTokenId`` for a prefix matching several.
        """
        with self._db.write() as cur:
            found = self._resolve_id(token_id, cur)
            cur.execute(
                "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (format_timestamp(at), found),
            )
        record = self.get_token(found)
        assert record is not None
        return record

    def _resolve_id(self, text: str, cur: Cursor) -> str:
        """The one id that ``text`` (an id or a prefix of one) names, read through ``cur``."""
        prefix = text.strip().removesuffix("…").removesuffix("...").lower()
        hint = "`timeshelf list tokens` shows the ids"
        if not prefix or not set(prefix) <= _HEX:
            raise NotFound(f"invalid token id {text!r}: ids are hex digits; {hint}")
        if len(prefix) < MIN_ID_PREFIX:
            raise NotFound(
                f"token id prefix {text!r} is too short: give at least {MIN_ID_PREFIX} "
                f"characters of the id; {hint}"
            )
        # Hex digits only, so no LIKE wildcard can be in the prefix.
        rows = cur.execute(
            "SELECT id, description, sources, scopes, created_at, expires_at, last_used_at, "
            "revoked_at FROM tokens WHERE id LIKE ? ORDER BY created_at, id",
            (prefix + "%",),
        ).fetchall()
        if not rows:
            raise NotFound(f"unknown token id {text!r}: {hint}")
        if len(rows) > 1:
            raise AmbiguousTokenId(text, [_token(r) for r in rows])
        return str(rows[0][0])

    def touch_token(self, token_id: str, at: datetime) -> None:
        with self._db.write() as cur:
            cur.execute(
                "UPDATE tokens SET last_used_at = ? WHERE id = ?", (format_timestamp(at), token_id)
            )


def parse_duration(text: str) -> timedelta | None:
    """``30d``, ``12h``, ``90m``, ``3600s``, ``2w`` → a timedelta; ``never`` → None."""
    if text.strip().lower() == "never":
        return None
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise ValueError(
            f"invalid expiry {text!r}: use a number and a unit (s, m, h, d, w), e.g. 30d or 12h, "
            "or 'never'"
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def create_token(
    catalog: TokenCatalog,
    key: bytes,
    *,
    description: str,
    sources: tuple[str, ...],
    permissions: tuple[str, ...] = ("upload",),
    expires: timedelta | None,
    now: datetime,
) -> tuple[str, TokenRecord]:
    """Issue a token; returns it (shown once) and its catalog record.

    ``sources`` is ``("*",)`` or names of existing sources.
    """
    if not description.strip():
        raise TokenError("a token needs a --description saying who or what uses it")
    if not sources:
        raise TokenError("a token needs --sources: source names separated by commas, or '*'")
    if sources != ("*",):
        for name in sources:
            catalog.get_source(name)
    unknown = [p for p in permissions if p not in PERMISSIONS]
    if unknown or not permissions:
        raise TokenError(
            f"unknown scope {', '.join(unknown) or '(none)'}: use one or more of "
            f"{', '.join(PERMISSIONS)}"
        )
    token_id = uuid.uuid4().hex
    issued = int(now.timestamp())
    claims: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "jti": token_id,
        "iat": issued,
        "scopes": {"sources": list(sources), "permissions": list(permissions)},
    }
    expires_at = None
    if expires is not None:
        expiry = now + expires
        claims["exp"] = int(expiry.timestamp())
        expires_at = format_timestamp(expiry)
    record = TokenRecord(
        id=token_id,
        description=description.strip(),
        sources=sources,
        scopes=permissions,
        created_at=format_timestamp(now),
        expires_at=expires_at,
        last_used_at=None,
        revoked_at=None,
    )
    catalog.add_token(record)
    import jwt  # here, not above: see verify_token

    return PREFIX + jwt.encode(claims, key, algorithm=ALGORITHM), record


def verify_token(
    catalog: TokenCatalog, key: bytes, token: str, *, now: datetime, source: str | None,
    permission: str,
) -> TokenRecord:
    """The record of a token allowed to do ``permission`` on ``source`` at ``now``
    (``source=None``: on some source, the caller then choosing among ``sources``).

    Raises ``TokenError`` saying which check failed: malformed, bad signature, wrong
    audience or issuer, unknown, revoked, expired, or outside the token's scope.
    """
    # PyJWT brings in ``cryptography`` (about 40 ms): imported by the two functions that
    # use it, not by every command that opens the catalog (which holds the token table).
    import jwt

    token = token.strip()
    if not token.startswith(PREFIX):
        raise TokenError(f"invalid token: timeshelf tokens start with {PREFIX!r}")
    try:
        claims = jwt.decode(
            token[len(PREFIX) :],
            key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={
                "require": ["iss", "aud", "jti", "iat"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidAudienceError as e:
        raise TokenError("invalid token: wrong audience (not a token for this server)") from e
    except jwt.InvalidIssuerError as e:
        raise TokenError("invalid token: wrong issuer (not a token for this server)") from e
    except jwt.InvalidSignatureError as e:
        raise TokenError(
            "invalid token: bad signature (forged, altered or from another server)"
        ) from e
    except jwt.InvalidAlgorithmError as e:
        raise TokenError(f"invalid token: only {ALGORITHM} tokens are accepted") from e
    except jwt.InvalidTokenError as e:
        raise TokenError("invalid token: malformed (copy the whole token)") from e
    record = catalog.get_token(str(claims["jti"]))
    if record is None:
        raise TokenError("invalid token: unknown token id (it was never issued here)")
    if record.revoked_at is not None:
        raise TokenError(f"token {record.id} was revoked at {record.revoked_at}")
    expiry = claims.get("exp")
    if expiry is not None and now.timestamp() >= float(expiry):
        raise TokenError(f"token {record.id} expired at {record.expires_at}")
    if record.expires_at is not None and now >= parse_timestamp(record.expires_at):
        raise TokenError(f"token {record.id} expired at {record.expires_at}")
    scopes = claims.get("scopes")
    if not isinstance(scopes, dict):
        raise TokenError("invalid token: no scopes")
    if permission not in scopes.get("permissions", ()):
        raise TokenError(
            f"token {record.id} does not have the {permission!r} scope "
            f"(it has: {', '.join(record.scopes)})"
        )
    allowed = scopes.get("sources", ())
    if source is not None and "*" not in allowed and source not in allowed:
        raise TokenError(
            f"token {record.id} is not allowed to {permission} to source {source!r} "
            f"(allowed: {', '.join(record.sources)})"
        )
    return record


def _token(row: Sequence[Any]) -> TokenRecord:
    return TokenRecord(
        id=row[0], description=row[1], sources=tuple(x for x in row[2].split(",") if x),
        scopes=tuple(x for x in row[3].split(",") if x), created_at=row[4], expires_at=row[5],
        last_used_at=row[6], revoked_at=row[7],
    )
