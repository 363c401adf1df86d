"""The sidecar's log never carries a token, even when one reaches a message by accident."""

from __future__ import annotations

import logging

import pytest

from uploader.logs import RedactSecrets, redact

TOKEN = "tsh_eyJhbGciOiJIUzI1NiJ9.eyJqdGkiOiJ4In0.c2lnbmF0dXJl"  # noqa: S105 - a fake token


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"refused {TOKEN} for local", "refused tsh_[redacted] for local"),
        ("Authorization: Basic X190b2tlbl9fOnNlY3JldA==", "Authorization: Basic [redacted]"),
        ("authorization: bearer abc.def", "authorization: bearer [redacted]"),
        ("nothing secret here", "nothing secret here"),
    ],
    ids=["token", "basic-header", "bearer-header", "plain"],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_filter_rewrites_formatted_records(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("timeshelf.test")
    logger.addFilter(RedactSecrets())
    with caplog.at_level(logging.INFO, logger="timeshelf.test"):
        logger.info("upload with %s failed", TOKEN)
    assert TOKEN not in caplog.text
    assert "tsh_[redacted]" in caplog.text
