"""Upload bodies that are not multipart/form-data are refused (415) before they are parsed."""

from __future__ import annotations

import pytest

from tests.factory import WheelSpec, build_wheel
from tests.uploader.conftest import (
    UV_ACCEPT,
    Sidecar,
    assert_nothing_stored,
    assert_refused,
    assert_stored,
    basic,
    build_request,
    parse_reply,
    send_raw,
    upload_parts,
)

MESSAGE = "Uploads are multipart/form-data (as twine, uv, poetry ... send them): got "


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"a&" * 1_000_000),
        ("application/x-www-form-urlencoded", b":action=file_upload&name=x"),
        ("text/plain", b"hello"),
        ("application/json", b'{"name": "x"}'),
        (None, b"a&a&a"),
        ("multipart/mixed; boundary=x", b"--x--\r\n"),
    ],
    ids=["urlencoded-million-fields", "urlencoded-form", "text", "json", "no-content-type",
         "multipart-mixed"],
)
def test_upload_body_that_is_not_multipart_is_refused_415(
    sidecar: Sidecar, content_type: str | None, body: bytes
) -> None:
    before = sidecar.footprint()
    headers = {"Content-Type": content_type} if content_type is not None else {}
    if content_type is None:  # Sidecar.post always sends one
        request = build_request("POST", "/upload/pypi/local/", body=body, headers={
            "Accept": UV_ACCEPT, "Authorization": basic("__token__", sidecar.tokens["local"])})
        reply = parse_reply(send_raw(sidecar.port, request))
    else:
        reply = sidecar.post(body=body, headers=headers)
    assert_refused(sidecar, reply, 415, MESSAGE + repr(content_type or ""))
    assert_nothing_stored(sidecar, before)


def test_multipart_upload_still_works(sidecar: Sidecar) -> None:
    dist = build_wheel(sidecar.fresh_dir(), WheelSpec("body-type-ok", "1.0"))
    reply = sidecar.post(upload_parts(dist))
    assert reply.status == 200, reply.raw[:500]
    assert_stored(sidecar, dist, "body-type-ok")
