"""``generator.catalog.tokens``: issuing and checking API tokens, without a server.

Every refusal is a ``TokenError`` (a ``PermissionError``) whose message names the check
that failed and never contains the token. The clock is the test's (``FakeClock``).
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

import jwt
import pytest

from generator.catalog.tokens import (
    AUDIENCE,
    DEFAULT_EXPIRY,
    ISSUER,
    PREFIX,
    AmbiguousTokenId,
    TokenError,
    create_token,
    parse_duration,
    verify_token,
)
from generator.config.settings import read_secret
from generator.errors import NotFound
from generator.installation import Installation
from generator.records import TokenRecord
from tests.conftest import CliRunner, FakeClock


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        ("1s", timedelta(seconds=1)),
        ("2w", timedelta(weeks=2)),
        (" 7d ", timedelta(days=7)),
        ("never", None),
        ("NEVER", None),
    ],
    ids=["days", "hours", "minutes", "seconds", "weeks", "spaces", "never", "never-upper"],
)
def test_parse_duration(text: str, expected: timedelta | None) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "30", "d", "0d", "-1d", "1.5h", "30 d", "1y", "12H", "99999999d", "forever"],
    ids=["empty", "no-unit", "no-number", "zero", "negative", "fraction", "inner-space",
         "years", "upper-unit", "huge", "word"],
)
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=r"invalid expiry .*use a number and a unit"):
        parse_duration(text)


def key_of(inst: Installation) -> bytes:
    return read_secret(inst.config)


def issue(inst: Installation, clock: FakeClock, *, sources: tuple[str, ...] = ("local",),
          permissions: tuple[str, ...] = ("upload",),
          expires: timedelta | None = timedelta(days=1)) -> tuple[str, str]:
    token, record = create_token(
        inst.catalog, key_of(inst), description="ci", sources=sources,
        permissions=permissions, expires=expires, now=clock.now,
    )
    return token, record.id


def check(inst: Installation, clock: FakeClock, token: str, *, source: str = "local",
          permission: str = "upload") -> str:
    return verify_token(inst.catalog, key_of(inst), token, now=clock.now, source=source,
                        permission=permission).id


def claims(token: str) -> dict[str, object]:
    payload = token.removeprefix(PREFIX).split(".")[1]
    document = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert isinstance(document, dict)
    return document


def test_created_token_shape_and_record(installation: Installation, clock: FakeClock) -> None:
    token, record = create_token(
        installation.catalog, key_of(installation), description="  release job  ",
        sources=("local",), permissions=("upload", "deploy"), expires=timedelta(hours=12),
        now=clock.now,
    )

    assert token.startswith(PREFIX)
    header = json.loads(base64.urlsafe_b64decode(token[4:].split(".")[0] + "=="))
    assert header == {"alg": "HS256", "typ": "JWT"}
    body = claims(token)
    assert body["iss"] == ISSUER
    assert body["aud"] == AUDIENCE
    assert body["jti"] == record.id
    assert body["iat"] == int(clock.now.timestamp())
    assert body["exp"] == int((clock.now + timedelta(hours=12)).timestamp())
    assert body["scopes"] == {"sources": ["local"], "permissions": ["upload", "deploy"]}
    assert record.description == "release job"
    assert record.expires_at == "2026-03-02T00:00:00.000000Z"
    assert (record.revoked_at, record.last_used_at) == (None, None)
    assert installation.catalog.get_token(record.id) == record
    assert token.encode() not in installation.config.catalog_path.read_bytes()


def test_never_expiring_token_has_no_exp(installation: Installation, clock: FakeClock) -> None:
    token, token_id = issue(installation, clock, expires=None)

    assert "exp" not in claims(token)
    clock.advance(days=3650)
    assert check(installation, clock, token) == token_id


def test_two_tokens_differ(installation: Installation, clock: FakeClock) -> None:
    first, first_id = issue(installation, clock)
    second, second_id = issue(installation, clock)

    assert first != second
    assert first_id != second_id


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"description": " "}, TokenError, "needs a --description"),
        ({"sources": ()}, TokenError, "needs --sources"),
        ({"sources": ("nowhere",)}, NotFound, "nowhere"),
        ({"permissions": ("admin",)}, TokenError, "unknown scope admin: use one or more of upload, deploy"),
        ({"permissions": ()}, TokenError, r"unknown scope \(none\)"),
    ],
    ids=["blank-description", "no-sources", "unknown-source", "unknown-scope", "no-scope"],
)
def test_create_token_refuses(installation: Installation, clock: FakeClock,
                              options: dict[str, object], error: type[Exception],
                              message: str) -> None:
    arguments: dict[str, object] = {
        "description": "ci", "sources": ("local",), "permissions": ("upload",),
        "expires": None, "now": clock.now,
    }
    arguments.update(options)

    with pytest.raises(error, match=message):
        create_token(installation.catalog, key_of(installation), **arguments)  # type: ignore[arg-type]
    assert installation.catalog.list_tokens() == []


def test_valid_token_checks(installation: Installation, clock: FakeClock) -> None:
    installation.catalog.create_source("other", "local-python", clock.now)
    token, token_id = issue(installation, clock, sources=("local", "other"))

    assert check(installation, clock, token) == token_id
    assert check(installation, clock, token, source="other") == token_id
    assert check(installation, clock, f"  {token}\n") == token_id


def test_wildcard_token_covers_every_source(installation: Installation,
                                            clock: FakeClock) -> None:
    token, token_id = issue(installation, clock, sources=("*",))

    assert check(installation, clock, token, source="anything") == token_id


def forge(token: str, key: bytes, algorithm: str = "HS256", **changes: object) -> str:
    body = claims(token)
    for name, value in changes.items():
        if value is None:
            body.pop(name)
        else:
            body[name] = value
    return PREFIX + jwt.encode(body, key, algorithm=algorithm)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda t, k: t.removeprefix(PREFIX), "timeshelf tokens start with 'tsh_'"),
        (lambda t, k: "", "timeshelf tokens start with 'tsh_'"),
        (lambda t, k: PREFIX + "x.y.z", "malformed"),
        (lambda t, k: t[:-3], "malformed|bad signature"),
        (lambda t, k: forge(t, b"another key of enough length, 32+"), "bad signature"),
        (lambda t, k: forge(t, k, "HS384"), "only HS256 tokens are accepted"),
        (lambda t, k: PREFIX + jwt.encode(claims(t), "", algorithm="none"),
         "only HS256 tokens are accepted"),
        (lambda t, k: forge(t, k, aud="other"), "wrong audience"),
        (lambda t, k: forge(t, k, aud=None), "malformed"),
        (lambda t, k: forge(t, k, iss="other"), "wrong issuer"),
        (lambda t, k: forge(t, k, jti="0" * 32), "unknown token id"),
        (lambda t, k: forge(t, k, iat=None), "malformed"),
        (lambda t, k: forge(t, k, scopes=None), "no scopes"),
        (lambda t, k: forge(t, k, scopes=["upload"]), "no scopes"),
        (lambda t, k: forge(t, k, scopes={"sources": ["*"]}), "does not have the 'upload' scope"),
        (lambda t, k: forge(t, k, exp=1), "expired"),
    ],
    ids=["no-prefix", "empty", "garbage", "truncated", "other-key", "hs384", "alg-none",
         "wrong-audience", "no-audience", "wrong-issuer", "unknown-id", "no-iat",
         "no-scopes", "scopes-not-a-mapping", "no-permissions", "exp-claim-past"],
)
def test_verify_refuses(installation: Installation, clock: FakeClock,
                        make: object, message: str) -> None:
    token, _ = issue(installation, clock)
    assert callable(make)
    bad = make(token, key_of(installation))

    with pytest.raises(TokenError, match=message) as caught:
        check(installation, clock, bad)
    if len(bad) > 8:
        assert bad not in str(caught.value)
    assert isinstance(caught.value, PermissionError)


def test_expiry_follows_the_injected_clock(installation: Installation, clock: FakeClock) -> None:
    token, token_id = issue(installation, clock, expires=timedelta(hours=1))

    clock.advance(minutes=59, seconds=59)
    assert check(installation, clock, token) == token_id
    clock.advance(seconds=1)
    with pytest.raises(TokenError, match=f"token {token_id} expired at 2026-03-01T13:00:00"):
        check(installation, clock, token)


def test_revoked_token_is_refused(installation: Installation, clock: FakeClock) -> None:
    token, token_id = issue(installation, clock)
    clock.advance(minutes=5)
    installation.catalog.revoke_token(token_id, clock.now)

    with pytest.raises(TokenError, match=f"token {token_id} was revoked at 2026-03-01T12:05"):
        check(installation, clock, token)


def test_scope_checks_name_source_and_permission(installation: Installation,
                                                 clock: FakeClock) -> None:
    token, token_id = issue(installation, clock)
    deploy, deploy_id = issue(installation, clock, permissions=("deploy",))

    with pytest.raises(TokenError, match=(
        f"token {token_id} is not allowed to upload to source 'other' \\(allowed: local\\)"
    )):
        check(installation, clock, token, source="other")
    with pytest.raises(TokenError, match=(
        f"token {deploy_id} does not have the 'upload' scope \\(it has: deploy\\)"
    )):
        check(installation, clock, deploy)


def test_cli_create_list_revoke(cli: CliRunner, installation: Installation,
                                clock: FakeClock) -> None:
    created = cli("create", "token", "--description", "ci job", "--sources", "local",
                  "--expires", "12h", "-q")
    assert created.code == 0, created.err
    token = created.out.strip()
    assert token.startswith(PREFIX)
    assert created.err == ""
    token_id = str(claims(token)["jti"])

    listed = cli("list", "tokens")
    assert listed.out.startswith(
        f"ID\tSTATE\tSOURCES\tSCOPE\tEXPIRES\tLAST USED\tDESCRIPTION\n{token_id}\t")
    assert "\tlocal\tupload\t2026-03-02T00:00:00.000000Z\tnever\tci job" in listed.out
    revoked = cli("revoke", "token", token_id)
    assert revoked.code == 0, revoked.err
    assert f"{token_id}\trevoked" in cli("list", "tokens").out
    for result in (listed, revoked):
        assert token not in result.out + result.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--expires", "soon"), "invalid expiry 'soon'"),
        (("--scope", "admin"), "unknown scope admin"),
        (("--sources", "nowhere"), "nowhere"),
    ],
    ids=["bad-expiry", "bad-scope", "unknown-source"],
)
def test_cli_create_token_refuses(cli: CliRunner, args: tuple[str, ...], message: str) -> None:
    defaults = {"--description": "d", "--sources": "local"}
    given = dict(zip(args[::2], args[1::2], strict=True))
    options = [x for k, v in {**defaults, **given}.items() for x in (k, v)]

    result = cli("create", "token", *options, "-q")

    assert result.code != 0
    assert result.out == ""
    assert message in result.err
    assert "Traceback" not in result.err


def test_cli_revoke_unknown_token(cli: CliRunner) -> None:
    result = cli("revoke", "token", "f" * 32)

    assert result.code == 1
    assert "unknown token id" in result.err


def test_the_default_expiry_is_30_days(cli: CliRunner, installation: Installation,
                                       clock: FakeClock) -> None:
    assert parse_duration(DEFAULT_EXPIRY) == timedelta(days=30)
    created = cli("create", "token", "--description", "d", "--sources", "local", "-q")
    token = created.out.strip()
    assert claims(token)["exp"] == int((clock.now + timedelta(days=30)).timestamp())
    helped = cli("create", "token", "--help")
    assert "expires 30 days after it is created" in " ".join(helped.out.split())
    assert "[default: 30d]" in helped.out
    readme = " ".join((Path(__file__).parents[2] / "README.md").read_text().split())
    assert "expiry (30 days unless `--expires` says otherwise" in readme


def add_record(inst: Installation, token_id: str, description: str) -> None:
    inst.catalog.add_token(TokenRecord(
        id=token_id, description=description, sources=("local",), scopes=("upload",),
        created_at="2026-03-01T00:00:00.000000Z", expires_at=None, last_used_at=None,
        revoked_at=None,
    ))


def revoked_at(inst: Installation, token_id: str) -> str | None:
    record = inst.catalog.get_token(token_id)
    assert record is not None
    return record.revoked_at


def test_revoke_takes_a_unique_prefix(cli: CliRunner, installation: Installation) -> None:
    add_record(installation, "855e" + "0" * 28, "first")
    add_record(installation, "855f" + "0" * 28, "second")

    revoked = cli("revoke", "token", "855E")

    assert revoked.code == 0, revoked.err
    assert revoked.err.startswith(f"revoked token 855e{'0' * 28} (first) at ")
    assert revoked_at(installation, "855e" + "0" * 28) is not None
    assert revoked_at(installation, "855f" + "0" * 28) is None
    # As the README abbreviates ids ("3f2a…"), and a full id, as before.
    assert cli("revoke", "token", "855f…").code == 0
    assert cli("revoke", "token", "855f" + "0" * 28).code == 0


def test_revoke_refuses_an_ambiguous_prefix(cli: CliRunner, installation: Installation) -> None:
    first, second = "855e1" + "0" * 27, "855e2" + "0" * 27
    add_record(installation, first, "first")
    add_record(installation, second, "second")

    refused = cli("revoke", "token", "855e")

    assert refused.code == 1
    assert refused.err_lines == [
        f"error: token id prefix '855e' matches 2 tokens: {first} (first), {second} (second); "
        "give more of the id"
    ]
    for token_id in (first, second):
        assert revoked_at(installation, token_id) is None
    with pytest.raises(AmbiguousTokenId) as caught:
        installation.catalog.revoke_token("855e", installation.now())
    assert [t.id for t in caught.value.candidates] == [first, second]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("855", "error: token id prefix '855' is too short: give at least 4 characters of the "
                "id; `timeshelf list tokens` shows the ids"),
        ("855z", "error: invalid token id '855z': ids are hex digits; `timeshelf list tokens` "
                 "shows the ids"),
        ("85_%", "error: invalid token id '85_%': ids are hex digits"),
        ("abcd", "error: unknown token id 'abcd': `timeshelf list tokens` shows the ids"),
    ],
    ids=["too-short", "not-hex", "like-wildcards", "no-match"],
)
def test_revoke_refuses_a_bad_prefix(cli: CliRunner, installation: Installation, given: str,
                                     message: str) -> None:
    add_record(installation, "855e" + "0" * 28, "first")
    refused = cli("revoke", "token", given)
    assert refused.code == 1
    assert len(refused.err_lines) == 1
    assert refused.err_lines[0].startswith(message)
    assert revoked_at(installation, "855e" + "0" * 28) is None
