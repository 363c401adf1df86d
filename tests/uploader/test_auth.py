"""Authentication of uploads against the real sidecar: every wrong credential is refused.

Each refused attempt carries a good wheel, so only the credentials can be the reason;
it must get 401 (nothing presented, with a Basic challenge) or 403 (something wrong,
saying what), leave nothing stored, and never echo a token. Forged tokens are built
with PyJWT from the real token's claims (and, where the attack needs it, the
installation's own signing key). The server's output is searched for tokens last.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import jwt
import pytest

from tests.factory import WheelSpec, build_wheel
from tests.uploader.conftest import (
    NOW,
    Sidecar,
    assert_no_token,
    assert_nothing_stored,
    assert_refused,
    assert_stored,
    basic,
    create_token,
    start_installation,
    timeshelf,
    token_id,
    upload_parts,
)

Header = Callable[[Sidecar], str | None]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, object]:
    payload = token.removeprefix("tsh_").split(".")[1]
    document = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert isinstance(document, dict)
    return document


def signing_key(sidecar: Sidecar) -> bytes:
    return (sidecar.home / "secret.key").read_text(encoding="utf-8").strip().encode()


def forged(sidecar: Sidecar, *, key: bytes | None = None, algorithm: str = "HS256",
           **changes: object) -> str:
    """The ``local`` token's claims with ``changes`` (``None`` removes a claim), re-signed."""
    claims = claims_of(sidecar.tokens["local"])
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return "tsh_" + jwt.encode(claims, key if key is not None else signing_key(sidecar),
                               algorithm=algorithm)


def as_token(token: str) -> str:
    return basic("__token__", token)


@dataclass(frozen=True, slots=True)
class AuthCase:
    id: str
    header: Header
    status: int
    message: str


AUTH_REFUSED = [
    AuthCase("no_authorization", lambda s: None, 401, "Authentication required"),
    AuthCase("blank_authorization", lambda s: "   ", 401, "Authentication required"),
    AuthCase("basic_other_username", lambda s: basic("alice", s.tokens["local"]), 403,
             "Username/password authentication is not supported"),
    AuthCase("basic_username_and_password", lambda s: basic("alice", "secret"), 403,
             "Username/password authentication is not supported"),
    AuthCase("basic_garbage_base64", lambda s: "Basic !!not*base64%%", 403,
             "Malformed Basic credentials"),
    AuthCase("basic_base64_not_utf8",
             lambda s: "Basic " + base64.b64encode(b"__token__:\xff\xfe\xfd").decode(), 403,
             "Malformed Basic credentials"),
    AuthCase("basic_token_username_empty_password", lambda s: basic("__token__", ""), 403,
             "timeshelf tokens start with 'tsh_'"),
    AuthCase("unsupported_scheme", lambda s: "Digest username=\"__token__\"", 403,
             "Unsupported Authorization scheme"),
    AuthCase("token_without_prefix",
             lambda s: as_token(s.tokens["local"].removeprefix("tsh_")), 403,
             "timeshelf tokens start with 'tsh_'"),
    AuthCase("pypi_token", lambda s: as_token("pypi-AgEIcHlwaS5vcmcCJGZha2U"), 403,
             "timeshelf tokens start with 'tsh_'"),
    AuthCase("token_garbage", lambda s: as_token("tsh_garbage"), 403,
             "invalid token: malformed"),
    AuthCase("token_truncated", lambda s: as_token(s.tokens["local"][:-10]), 403,
             "invalid token: malformed"),
    AuthCase("alg_none",
             lambda s: as_token("tsh_" + b64url(b'{"alg":"none","typ":"JWT"}') + "."
                                + b64url(json.dumps(claims_of(s.tokens["local"])).encode())
                                + "."), 403,
             "only HS256 tokens are accepted"),
    AuthCase("alg_hs512_with_the_real_key", lambda s: as_token(forged(s, algorithm="HS512")),
             403, "only HS256 tokens are accepted"),
    AuthCase("signed_with_another_key",
             lambda s: as_token(forged(s, key=b"k" * 64)), 403, "bad signature"),
    AuthCase("tampered_claims",
             lambda s: as_token(_tampered(s.tokens["other"], sources=["local"])), 403,
             "bad signature"),
    AuthCase("tampered_permissions",
             lambda s: as_token(_tampered(s.tokens["deploy"], permissions=["upload"])), 403,
             "bad signature"),
    AuthCase("wrong_audience", lambda s: as_token(forged(s, aud="packagemanager")), 403,
             "wrong audience"),
    AuthCase("wrong_issuer", lambda s: as_token(forged(s, iss="elsewhere")), 403,
             "wrong issuer"),
    AuthCase("unknown_token_id", lambda s: as_token(forged(s, jti=uuid.uuid4().hex)), 403,
             "unknown token id"),
    AuthCase("no_token_id", lambda s: as_token(forged(s, jti=None)), 403,
             "invalid token: malformed"),
    AuthCase("no_scopes", lambda s: as_token(forged(s, scopes=None)), 403, "no scopes"),
    AuthCase("expired", lambda s: as_token(s.tokens["expired"]), 403, "expired at"),
    AuthCase("expired_by_its_claim",
             lambda s: as_token(forged(s, exp=int((NOW - timedelta(seconds=1)).timestamp()))),
             403, "expired at"),
    AuthCase("scoped_to_another_source", lambda s: as_token(s.tokens["other"]), 403,
             "is not allowed to upload to source 'local' (allowed: other)"),
    AuthCase("without_upload_scope", lambda s: as_token(s.tokens["deploy"]), 403,
             "does not have the 'upload' scope (it has: deploy)"),
    AuthCase("bearer_garbage", lambda s: "Bearer not-a-token", 403,
             "timeshelf tokens start with 'tsh_'"),
    AuthCase("bearer_empty", lambda s: "Bearer", 403, "timeshelf tokens start with 'tsh_'"),
]


def _tampered(token: str, **scopes: object) -> str:
    """``token`` with its payload re-encoded (other scopes) but its own signature kept."""
    header, payload, signature = token.removeprefix("tsh_").split(".")
    claims = claims_of(token)
    assert isinstance(claims["scopes"], dict)
    claims["scopes"] = {**claims["scopes"], **scopes}
    assert b64url(json.dumps(claims).encode()) != payload
    return f"tsh_{header}.{b64url(json.dumps(claims).encode())}.{signature}"


@pytest.mark.parametrize("case", AUTH_REFUSED, ids=[c.id for c in AUTH_REFUSED])
def test_refused_credentials(sidecar: Sidecar, case: AuthCase) -> None:
    dist = build_wheel(sidecar.fresh_dir(), WheelSpec("auth-" + case.id.replace("_", "-"), "1.0"))
    header = case.header(sidecar)
    before = sidecar.footprint()

    reply = sidecar.post(upload_parts(dist), authorization=header, holder=None)

    assert_refused(sidecar, reply, case.status, case.message)
    challenge = reply.header("WWW-Authenticate")
    if case.status == 401:
        assert challenge is not None
        assert challenge.startswith('Basic realm="'), challenge
    else:
        assert challenge is None
    if header is not None:
        secret = header.split()[-1] if header.split() else ""
        assert len(secret) < 8 or secret.encode() not in reply.raw
    assert_nothing_stored(sidecar, before)


ACCEPTED_HEADERS: list[tuple[str, Header]] = [
    ("basic_token", lambda s: as_token(s.tokens["local"])),
    ("basic_token_trailing_newline", lambda s: basic("__token__", s.tokens["local"] + "\n")),
    ("basic_token_surrounding_spaces",
     lambda s: basic("__token__", f"  {s.tokens['local']} \r\n")),
    ("basic_lowercase_scheme", lambda s: "basic " + as_token(s.tokens["local"]).split()[1]),
    ("bearer", lambda s: f"Bearer {s.tokens['local']}"),
    ("bearer_lowercase", lambda s: f"bearer {s.tokens['local']}"),
    ("token_scheme", lambda s: f"token {s.tokens['local']}"),
    ("token_as_username_empty_password", lambda s: basic(s.tokens["local"], "")),
    ("wildcard_sources", lambda s: as_token(s.tokens["all"])),
]


@pytest.mark.parametrize("header", [h for _, h in ACCEPTED_HEADERS],
                         ids=[i for i, _ in ACCEPTED_HEADERS])
def test_accepted_credentials(sidecar: Sidecar, header: Header,
                              request: pytest.FixtureRequest) -> None:
    name = "ok-" + request.node.callspec.id.replace("_", "-")
    dist = build_wheel(sidecar.fresh_dir(), WheelSpec(name, "1.0"))

    reply = sidecar.post(upload_parts(dist), authorization=header(sidecar), holder=None)

    assert reply.status == 200, reply.raw[:600]
    assert_no_token(sidecar, reply)
    assert_stored(sidecar, dist, name)


def test_revoked_token_stops_working_at_once(sidecar: Sidecar) -> None:
    token = create_token(sidecar.config, description="to revoke")
    sidecar.tokens["revoked"] = token
    first = build_wheel(sidecar.fresh_dir(), WheelSpec("revocation", "1.0"))
    second = build_wheel(sidecar.fresh_dir(), WheelSpec("revocation", "2.0"))
    assert sidecar.post(upload_parts(first), holder="revoked").status == 200

    timeshelf(sidecar.config, "revoke", "token", token_id(token))
    before = sidecar.footprint()
    reply = sidecar.post(upload_parts(second), holder="revoked")

    assert_refused(sidecar, reply, 403, f"token {token_id(token)} was revoked at")
    assert_nothing_stored(sidecar, before)
    listing = timeshelf(sidecar.config, "list", "tokens")
    assert f"{token_id(token)}\trevoked" in listing
    assert token not in listing


def test_token_expiring_exactly_now_is_refused(sidecar: Sidecar) -> None:
    """Expiry is the server's clock (``TIMESHELF_NOW``): valid before, refused at the instant."""
    ending = create_token(sidecar.config, now=NOW - timedelta(seconds=1), expires="1s")
    lasting = create_token(sidecar.config, now=NOW - timedelta(seconds=1), expires="2s")
    sidecar.tokens.update(ending=ending, lasting=lasting)
    dist = build_wheel(sidecar.fresh_dir(), WheelSpec("expiry-edge", "1.0"))

    refused = sidecar.post(upload_parts(dist), holder="ending")
    accepted = sidecar.post(upload_parts(dist), holder="lasting")

    assert_refused(sidecar, refused, 403, "expired at 2026-03-01T12:00:00")
    assert accepted.status == 200, accepted.raw[:500]


def test_token_from_another_installation_is_refused(
    sidecar: Sidecar, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Same shape, same source name, another server's key: a bad signature."""
    config = start_installation(tmp_path_factory.mktemp("elsewhere") / "inst")
    foreign = create_token(config, sources="local")
    sidecar.tokens["foreign"] = foreign
    dist = build_wheel(sidecar.fresh_dir(), WheelSpec("foreign-token", "1.0"))
    before = sidecar.footprint()

    reply = sidecar.post(upload_parts(dist), holder="foreign")

    assert_refused(sidecar, reply, 403, "bad signature")
    assert_nothing_stored(sidecar, before)


def test_use_is_recorded_but_not_the_token(sidecar: Sidecar) -> None:
    listing = timeshelf(sidecar.config, "list", "tokens")
    local = token_id(sidecar.tokens["local"])
    line = next(li for li in listing.splitlines() if li.startswith(local))

    assert line.split("\t")[5].startswith("2026-03-01T12:00:00")
    catalog = (sidecar.home / "catalog.sqlite3").read_bytes()
    for token in sidecar.tokens.values():
        assert token not in listing
        assert token.encode() not in catalog
        assert token.split(".")[2].encode() not in catalog


def test_tokens_never_reach_the_server_output(sidecar: Sidecar) -> None:
    """Runs last: every token used above, accepted or refused, is absent from the log."""
    log = sidecar.log()

    assert "Traceback" not in log
    for name, token in sidecar.tokens.items():
        assert token not in log, name
        assert token.removeprefix("tsh_").split(".")[2] not in log, name
