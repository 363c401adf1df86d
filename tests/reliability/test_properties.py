"""Hypothesis properties of every parser that takes outside input, bounded for CI
(``max_examples`` per test, no deadline; the whole file runs in well under 30 s).

Names and filenames against ``packaging``; the version sort key as a total order;
requirements processing raising only ``RequirementsError`` and never letting an index
option or a URL through; bundle manifests raising only ``BundleError``; random upload
forms against the Flask test client never answering 500. ``bench/fuzz_upload.py`` runs
the upload parser and archive inspection for a million inputs.
"""

from __future__ import annotations

import base64
import contextlib
import io
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from generator.config.settings import load_config
from generator.errors import InvalidName
from generator.installation import Installation
from generator.mirror.upstream import (
    UpstreamError,
    parse_project_html,
    parse_project_json,
    parse_root_html,
    parse_root_json,
)
from generator.naming import (
    normalize_project,
    parse_filename,
    version_sort_key,
)
from tests.reliability.harness import make_installation
from tests.servers import run_timeshelf
from uploader.app import create_app
from uploader.deploy.bundles import Manifest
from uploader.deploy.errors import BundleError, RequirementsError
from uploader.deploy.requirements import process_requirements

BOUNDED = settings(max_examples=100, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])

name_chars = st.sampled_from("abcXYZ019._-")
project_names = st.text(name_chars, min_size=1, max_size=20)
versions = st.one_of(
    st.from_regex(r"\A[0-9]{1,3}(\.[0-9]{1,3}){0,3}((a|b|rc)[0-9])?(\.post[0-9])?"
                  r"(\.dev[0-9])?(\+[a-z0-9]{1,4})?\Z"),
    st.text(st.sampled_from("0123456789.abcrdevpost+-_!"), max_size=12),
)


@BOUNDED
@given(project_names)
def test_normalize_project_round_trips_or_refuses(name: str) -> None:
    try:
        normalized = normalize_project(name)
    except InvalidName as e:
        message = str(e)
    else:
        message = ""
    if message:
        assert repr(name) in message
        return
    assert normalized == canonicalize_name(name)
    assert normalize_project(normalized) == normalized
    assert re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", normalized)


@BOUNDED
@given(st.one_of(
    st.builds(lambda n, v, t: f"{n}-{v}-{t}.whl", project_names, versions,
              st.sampled_from(["py3-none-any", "cp311-cp311-manylinux_2_17_x86_64", "x-y"])),
    st.builds(lambda n, v, s: f"{n}-{v}{s}", project_names, versions,
              st.sampled_from([".tar.gz", ".zip", ".tar.bz2", ""])),
    st.text(max_size=60),
))
@example("foo-1.0-custom-2.tar.gz")
@example("foo-1.0\n.tar.gz")
def test_parse_filename_agrees_with_packaging(filename: str) -> None:
    try:
        parsed = parse_filename(filename)
    except ValueError:
        parsed = None
    if filename.endswith(".whl"):
        try:
            name, version, _build, _tags = parse_wheel_filename(filename)
        except InvalidWheelFilename:
            assert parsed is None
        else:
            assert parsed is not None
            assert (parsed.project, parsed.version) == (name, str(version))
    elif filename.endswith((".tar.gz", ".zip")):
        try:
            name, version = parse_sdist_filename(filename)
        except InvalidSdistFilename:
            assert parsed is None
        else:
            assert parsed is not None
            assert (parsed.project, parsed.version) == (name, str(version))
    else:
        assert parsed is None


@BOUNDED
@given(st.lists(versions, min_size=1, max_size=8))
def test_version_sort_key_is_a_total_order(items: list[str]) -> None:
    # Any mix of valid and invalid versions sorts without a TypeError, the same way from
    # any starting order (keys compare: no two unequal keys tie).
    ordered = sorted(items, key=version_sort_key)
    assert [version_sort_key(v) for v in sorted(reversed(items), key=version_sort_key)] == [
        version_sort_key(v) for v in ordered]
    keys = [version_sort_key(v) for v in ordered]
    assert all(a <= b for a, b in itertools.pairwise(keys))


requirement_lines = st.one_of(
    st.sampled_from([
        "-i http://127.0.0.1/simple/", "--index-url=http://127.0.0.1/", "--extra-index-url x",
        "-f ./wheels", "--find-links=/tmp", "--trusted-host h", "-e .", "--editable=git+x",
        "-r other.txt", "-c c.txt", "--no-index", "--pre", "--prefer-binary",
        "foo @ https://127.0.0.1/foo.whl", "git+https://127.0.0.1/x.git", "./local.whl",
        "file:///tmp/x.whl", "requests==2.31.0", "numpy>=1.0; python_version>'3'",
        "Django[bcrypt]~=4.2", "pywin32==306", "x --hash=sha256:" + "0" * 64, "\\",
        "${HOME}/x", "--config-settings a=b", "  # comment", "a==1 \\",
    ]),
    st.text(st.characters(codec="utf-8"), max_size=40),
)


@BOUNDED
@given(st.lists(requirement_lines, max_size=8))
def test_requirements_raise_only_requirements_error_and_never_pass_an_index(
    lines: list[str],
) -> None:
    def read(path: str) -> str:
        if path.startswith("/") or ".." in path:
            raise ValueError(f"{path!r} is outside the bundle")
        return "included==1.0\n-i http://127.0.0.1/\n"

    try:
        processed = process_requirements("\n".join(lines), name="requirements.txt", read=read)
    except RequirementsError as e:
        problems = e.problems
    else:
        problems = ()
    if problems:
        return
    text = processed.text() + "\n".join(processed.constraints)
    for option in processed.options:
        assert not option.startswith(("-i", "--index", "--extra-index", "-f", "--find-links",
                                      "--trusted-host", "-e", "--editable", "--no-index"))
    assert "://" not in text
    assert not re.search(r"(^|\s)(-i|-f|--index-url|--extra-index-url|--find-links)\b", text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["python", "version", "package_manager", "name",
                                        "allow_uv", "package_file", "environment", "requires",
                                        "files", "checksum", "x"]), children, max_size=4),
    max_leaves=20,
)


@BOUNDED
@given(st.one_of(json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=80)))
@example(b"[" * 100_000)  # was a RecursionError (a 500), now a BundleError
@example(b'{"python": {"package_manager": {"allow_uv": "yes"}}, "files": []}')
def test_manifest_raises_only_bundle_error(data: bytes) -> None:
    try:
        manifest = Manifest.from_json(data)
    except BundleError as e:
        message = str(e)
    else:
        assert isinstance(manifest.package_file, str)
        return
    assert message.startswith("manifest.json")


@BOUNDED
@given(st.one_of(json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=120),
                 st.builds(lambda a, b: f'<a href="{a}">{b}</a>'.encode(),
                           st.text(max_size=30), st.text(max_size=30))))
@example(b"[" * 100_000)  # was a RecursionError that stopped a whole sync
@example(b'{"meta": {"api-version": "1.0"}, "files": [{"url": "../../../etc/passwd"}]}')
def test_upstream_pages_raise_only_upstream_error(body: bytes) -> None:
    url = "http://127.0.0.1:9/simple/x/"
    project = canonicalize_name("x")
    for parse in (lambda: parse_root_json(body, url), lambda: parse_root_html(body, url),
                  lambda: parse_project_json(body, url, project),
                  lambda: parse_project_html(body, url, project)):
        with contextlib.suppress(UpstreamError):
            parse()


# -- upload forms against the Flask test client ---------------------------------------------


@pytest.fixture(scope="module")
def upload_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FlaskClient, str]]:
    config = make_installation(tmp_path_factory.mktemp("forms") / "inst", projects=1,
                               versions=1)
    token = run_timeshelf("--config", str(config), "create", "token", "--description", "f",
                          "--sources", "local", "--expires", "never", "-q").stdout.strip()
    wheel = next((config.parent / "wheels").glob("*.whl"))
    inst = Installation(load_config(config))
    try:
        app = create_app(inst, serve_site=False)
        app.config["WHEEL"] = wheel.read_bytes()
        yield app.test_client(), token
    finally:
        inst.close()


form_keys = st.sampled_from([":action", "protocol_version", "name", "version", "filetype",
                             "pyversion", "metadata_version", "sha256_digest", "md5_digest",
                             "blake2_256_digest", "summary", "description", "requires_dist",
                             "classifiers", "content", "gpg_signature", "x"])
form_values = st.one_of(
    st.sampled_from(["file_upload", "1", "proj-000", "1.0", "bdist_wheel", "sdist", "py3",
                     "source", "UNKNOWN", "2.1", "", "doc_upload", "submit"]),
    st.text(max_size=30),
)


@BOUNDED
@given(
    fields=st.lists(st.tuples(form_keys, form_values), max_size=10),
    file_name=st.one_of(st.none(), st.sampled_from([
        "proj_000-1.0-py3-none-any.whl", "proj_000-9.0-py3-none-any.whl", "../../x.whl",
        "proj-000-1.0.tar.gz", "a\r\nX-Injected: 1.whl", "x.exe",
    ]), st.text(max_size=30)),
    body=st.one_of(st.just(b"WHEEL"), st.binary(max_size=200)),
    auth=st.sampled_from(["token", "none", "garbage"]),
    method_path=st.sampled_from(["/upload/pypi/local/", "/upload/pypi/nope/",
                                 "/upload/pypi/local/?:action=file_upload"]),
)
def test_random_upload_forms_never_answer_500(
    upload_client: tuple[FlaskClient, str], fields: list[tuple[str, str]],
    file_name: str | None, body: bytes, auth: str, method_path: str,
) -> None:
    client, token = upload_client
    if body == b"WHEEL":
        body = client.application.config["WHEEL"]
    data: dict[str, object] = {}
    for key, value in fields:
        data.setdefault(key, [])
        data[key].append(value)  # type: ignore[attr-defined]
    if file_name is not None:
        data["content"] = (io.BytesIO(body), file_name)
    headers = {}
    if auth == "token":
        headers["Authorization"] = "Basic " + base64.b64encode(
            f"__token__:{token}".encode()).decode()
    elif auth == "garbage":
        headers["Authorization"] = "Basic !!!"
    reply = client.post(method_path, data=data, headers=headers,
                        content_type="multipart/form-data")
    assert reply.status_code < 500, reply.get_data(as_text=True)[:300]
    for name, value in reply.headers.items():
        assert "\r" not in value, name
        assert "\n" not in value, name


def test_fixture_wheel_is_a_real_upload(upload_client: tuple[FlaskClient, str],
                                        tmp_path: Path) -> None:
    client, token = upload_client
    auth = base64.b64encode(f"__token__:{token}".encode()).decode()
    reply = client.post("/upload/pypi/local/", data={
        ":action": "file_upload", "protocol_version": "1", "name": "proj-000", "version": "1.0",
        "filetype": "bdist_wheel", "pyversion": "py3",
        "content": (io.BytesIO(client.application.config["WHEEL"]),
                    "proj_000-1.0-py3-none-any.whl"),
        "sha256_digest": __import__("hashlib").sha256(
            client.application.config["WHEEL"]).hexdigest(),
    }, headers={"Authorization": f"Basic {auth}"}, content_type="multipart/form-data")
    # The same bytes again: an idempotent 200 or a "file exists" 400/409, never a 500.
    assert reply.status_code in (200, 400, 409), reply.get_data(as_text=True)
