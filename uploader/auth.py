"""Authentication of sidecar requests with timeshelf API tokens.

Credentials come as HTTP Basic with username ``__token__`` and the token as password
(what twine, uv, poetry, pdm, flit and hatch send), as ``Authorization: Bearer <token>``,
or as a Basic username with an empty password (pip's single-part token form).
Missing credentials → 401 with a Basic challenge; anything wrong with them → 403 saying
what, never echoing the token.
"""

from __future__ import annotations

import base64
import binascii
import logging

from flask import Request

from generator.catalog.tokens import TokenError, verify_token
from generator.installation import Installation
from generator.records import TokenRecord
from uploader.errors import (
    AuthenticationRequired,
    MalformedCredentials,
    PasswordNotSupported,
    UnsupportedAuthScheme,
)

log = logging.getLogger(__name__)


def presented_token(request: Request) -> str:
    """The token in the request's Authorization header.

    Raises ``AuthenticationRequired`` (401) without one, a ``CredentialsRefused`` (403)
    for one that cannot carry a token.
    """
    header = request.headers.get("Authorization", "").strip()
    if not header:
        raise AuthenticationRequired
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme in ("bearer", "token"):
        return value.strip()
    if scheme != "basic":
        raise UnsupportedAuthScheme(scheme)
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as e:
        raise MalformedCredentials from e
    username, _, password = decoded.partition(":")
    if username == "__token__" and password.strip():
        return password.strip()
    if username.strip() and not password:
        return username.strip()
    raise PasswordNotSupported


def authorize(
    inst: Installation, request: Request, *, source: str | None, permission: str
) -> TokenRecord:
    """The token record allowing ``permission`` on ``source`` (``None``: the token is
    valid and has ``permission``, whichever its sources; the caller checks them).

    Raises what ``presented_token`` raises, and ``TokenError`` (403) for a token that
    does not allow it.
    """
    token = presented_token(request)
    from generator.config.settings import read_secret

    try:
        record = verify_token(
            inst.catalog,
            read_secret(inst.config),
            token,
            now=inst.now(),
            source=source,
            permission=permission,
        )
    except TokenError as e:
        log.info("refused credentials for %s on %s: %s", permission, source or "any source", e)
        raise
    inst.catalog.touch_token(record.id, inst.now())
    return record
