"""Names, versions and filenames (``generator.naming``)."""

from __future__ import annotations

import pytest

from generator.errors import InvalidName
from generator.naming import (
    ParsedFilename,
    check_slug,
    check_version,
    check_wheel_tags,
    distribution_identity,
    is_distribution_filename,
    is_same_version,
    normalize_project,
    normalize_version,
    parse_filename,
    version_sort_key,
)


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("source", "local"),
        ("source", "a"),
        ("source", "pypi-mirror-2"),
        ("source", "a" * 64),
        ("repository", "python"),
        ("repository", "files-2"),
    ],
    ids=["word", "one-char", "dashes-digits", "64-chars", "repo", "reserved-prefix-ok"],
)
def test_check_slug_accepts(kind: str, name: str) -> None:
    assert check_slug(kind, name) == name


@pytest.mark.parametrize(
    ("kind", "name", "message"),
    [
        ("source", "", "invalid source name '': use 1-64 lowercase letters"),
        ("source", "Local", "invalid source name 'Local': use 1-64 lowercase"),
        ("source", "-local", "invalid source name '-local'"),
        ("source", "local-", "invalid source name 'local-'"),
        ("source", "my_source", "invalid source name 'my_source'"),
        ("source", "a" * 65, "use 1-64 lowercase letters, digits and '-'"),
        ("source", "a/b", "invalid source name 'a/b'"),
        ("repository", "..", "invalid repository name '..'"),
        ("repository", "files", "invalid repository name 'files': it is reserved for the site"),
        ("repository", "__api__", "invalid repository name '__api__'"),
        ("repository", "upload", "reserved for the site (_, __api__, files, simple, static,"),
    ],
    ids=["empty", "uppercase", "leading-dash", "trailing-dash", "underscore", "65-chars",
         "slash", "dots", "reserved-files", "reserved-api", "reserved-upload"],
)
def test_check_slug_refuses(kind: str, name: str, message: str) -> None:
    with pytest.raises(InvalidName) as excinfo:
        check_slug(kind, name)
    assert message in str(excinfo.value)


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        ("foo", "foo"),
        ("Foo.Bar_baz", "foo-bar-baz"),
        ("A", "a"),
        ("foo__-.bar", "foo-bar"),
        ("zope.interface", "zope-interface"),
        ("9lives", "9lives"),
    ],
    ids=["plain", "mixed", "one-char", "runs-of-separators", "dotted", "leading-digit"],
)
def test_normalize_project(name: str, normalized: str) -> None:
    assert normalize_project(name) == normalized


@pytest.mark.parametrize(
    "name",
    ["", "-foo", "foo-", ".foo", "foo bar", "föo", "foo\n", "foo/bar", "<script>"],
    ids=["empty", "leading-dash", "trailing-dash", "leading-dot", "space", "non-ascii",
         "trailing-newline", "slash", "markup"],
)
def test_normalize_project_refuses(name: str) -> None:
    with pytest.raises(InvalidName) as excinfo:
        normalize_project(name)
    assert str(excinfo.value) == (
        f"invalid project name {name!r}: a name starts and ends with a letter or digit "
        "and contains only ASCII letters, digits, '.', '_' and '-'"
    )


@pytest.mark.parametrize(
    ("filename", "hint", "expected"),
    [
        ("foo-1.0-py3-none-any.whl", None, ("foo", "1.0", "bdist_wheel")),
        ("Foo_Bar-2.0.post1-1-cp311-cp311-manylinux_2_17_x86_64.whl", None,
         ("foo-bar", "2.0.post1", "bdist_wheel")),
        ("foo-1.0+cpu-py3-none-any.whl", None, ("foo", "1.0+cpu", "bdist_wheel")),
        ("foo-1.0.tar.gz", None, ("foo", "1.0", "sdist")),
        ("foo_bar-1.0rc1.zip", None, ("foo-bar", "1.0rc1", "sdist")),
        ("foo-bar-1.0.tar.gz", "Foo.Bar", ("foo-bar", "1.0", "sdist")),
        ("foo-r1234.tar.gz", "Foo", ("foo", "r1234", "sdist")),
        ("my-pkg-2004d.zip", "My_Pkg", ("my-pkg", "2004d", "sdist")),
        # The tail "2" parses as a version, so packaging splits at the wrong '-'.
        ("foo-1.0-custom-2.tar.gz", "foo", ("foo", "1.0-custom-2", "sdist")),
        ("foo-bar-1.0-x.tar.gz", "foo-bar", ("foo-bar", "1.0-x", "sdist")),
    ],
    ids=["wheel", "wheel-build-tag", "wheel-local-version", "sdist", "sdist-zip",
         "sdist-dashed-name", "legacy-version", "legacy-zip", "legacy-dashed-version",
         "legacy-dashed-name-and-version"],
)
def test_parse_filename(filename: str, hint: str | None, expected: tuple[str, str, str]) -> None:
    project, version, packagetype = expected
    assert parse_filename(filename, project_hint=hint) == ParsedFilename(
        project=project, version=version, packagetype=packagetype  # type: ignore[arg-type]
    )


WHEEL_HELP = "a wheel is named <name>-<version>(-<build>)?-<python>-<abi>-<platform>.whl"
SDIST_HELP = "an sdist is named <name>-<version>.tar.gz (or .zip)"


@pytest.mark.parametrize(
    ("filename", "hint", "message"),
    [
        ("foo.txt", None,
         "'foo.txt' is not a distribution: use a wheel (.whl) or an sdist (.tar.gz or .zip)"),
        ("foo-1.0.tar.bz2", None, "'foo-1.0.tar.bz2' is not a distribution"),
        ("foo-1.0.egg", None, "'foo-1.0.egg' is not a distribution"),
        ("foo-1.0.whl", None,
         f"Invalid wheel filename (wrong number of parts): 'foo-1.0'; {WHEEL_HELP}"),
        ("foo-1.0-py3-none-any-x-y.whl", None, "(wrong number of parts)"),
        ("foo-1.0-x-py3-none-any.whl", None,
         f"Invalid build number: x in 'foo-1.0-x-py3-none-any'; {WHEEL_HELP}"),
        ("foo__bar-1.0-py3-none-any.whl", None, "Invalid project name: 'foo__bar-1.0-py3"),
        ("foo-r1234.tar.gz", None,
         f"Invalid sdist filename (invalid version): 'foo-r1234.tar.gz'; {SDIST_HELP}"),
        ("foo-r1234.tar.gz", "bar", "Invalid sdist filename (invalid version)"),
        ("foo.tar.gz", "foo", f"Invalid sdist filename: 'foo.tar.gz'; {SDIST_HELP}"),
    ],
    ids=["txt", "tar-bz2", "egg", "wheel-too-few-parts", "wheel-too-many-parts",
         "wheel-bad-build", "wheel-bad-name", "sdist-bad-version", "legacy-wrong-hint",
         "sdist-no-version"],
)
def test_parse_filename_refuses(filename: str, hint: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=r".") as excinfo:
        parse_filename(filename, project_hint=hint)
    assert message in str(excinfo.value)


@pytest.mark.parametrize(
    ("filename", "expected"),
    [("a-1.whl", True), ("a-1.tar.gz", True), ("a-1.ZIP", True), ("a-1.tar.bz2", False),
     ("a-1.egg", False), ("a.whl.asc", False)],
    ids=["wheel", "tar-gz", "zip-any-case", "tar-bz2", "egg", "signature"],
)
def test_is_distribution_filename(filename: str, expected: bool) -> None:
    assert is_distribution_filename(filename) is expected


def test_version_sort_key_orders_pep440_after_legacy_deterministically() -> None:
    versions = ["1.0", "r1", "1.0-custom-2", "1.0a1", "0.9", "1.0.post1", "1!0.1", "10.0"]
    expected = ["1.0-custom-2", "r1", "0.9", "1.0a1", "1.0", "1.0.post1", "10.0", "1!0.1"]
    assert sorted(versions, key=version_sort_key) == expected
    assert sorted(reversed(versions), key=version_sort_key) == expected


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [("1.0", "1.0.0", True), ("1.0", "1.0.post0", False), ("1.0-beta-2", "1.0b2", True),
     ("1.0", "1.1", False), ("r1234", "r1234", True), ("r1234", "R1234", False),
     ("1.0+cpu", "1.0", False)],
    ids=["zero-padding", "post0", "spelled-pre", "different", "legacy-equal",
         "legacy-case", "local-label"],
)
def test_is_same_version(a: str, b: str, same: bool) -> None:
    assert is_same_version(a, b) is same


@pytest.mark.parametrize(
    ("version", "normal"),
    [("1.0.0", "1.0.0"), ("1.0-beta-2", "1.0b2"), ("v1.0", "1.0"), ("1.0-custom-2", "1.0-custom-2"),
     ("1.0+CPU", "1.0+cpu")],
    ids=["unchanged", "pre-release", "v-prefix", "legacy-kept", "local-lowercased"],
)
def test_normalize_version(version: str, normal: str) -> None:
    assert normalize_version(version) == normal


@pytest.mark.parametrize(
    ("version", "normal"),
    [("1.0", "1.0"), ("2.0.1", "2.0.1"), ("1.0rc1", "1.0rc1"), ("1.0-beta-2", "1.0b2"),
     ("1!2.0.post1.dev3+cpu.1", "1!2.0.post1.dev3+cpu.1")],
    ids=["release", "three-parts", "pre-release", "spelled-pre", "every-part"],
)
def test_check_version(version: str, normal: str) -> None:
    assert str(check_version(version)) == normal


LONG = "1." + "x" * 200


@pytest.mark.parametrize(
    ("version", "quoted"),
    [
        ('3.0"><svg onload=alert(1)>', "'3.0\"><svg onload=alert(1)>'"),
        ("1.0-custom-2", "'1.0-custom-2'"),
        ("r1234", "'r1234'"),
        ("1.0 beta", "'1.0 beta'"),
        ("", "''"),
        (LONG, repr(LONG[:80]) + "..."),
    ],
    ids=["markup", "legacy-dashes", "legacy-letters", "space", "empty", "long-is-cut"],
)
def test_check_version_refuses(version: str, quoted: str) -> None:
    with pytest.raises(ValueError, match="invalid version") as excinfo:
        check_version(version)
    assert str(excinfo.value) == (
        f"invalid version {quoted}: use a PEP 440 version, e.g. 1.0, 2.0.1, 1.0rc1"
    )


@pytest.mark.parametrize(
    "filename",
    ["foo-1.0-py3-none-any.whl", "foo-1.0-1-py2.py3-none-any.whl",
     "foo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
     "foo-1.0-cp313-cp313t-win_amd64.whl", "foo-1.0-pp310-pypy310_pp73-macosx_11_0_arm64.whl"],
    ids=["pure", "build-and-compressed-python", "compressed-platform", "free-threaded",
         "pypy"],
)
def test_check_wheel_tags_accepts(filename: str) -> None:
    check_wheel_tags(filename)


TAGS_RULE = (
    "a tag is lowercase letters, digits and '_', with '.' between compressed tags, "
    "e.g. py3-none-any or py2.py3-none-manylinux_2_17_x86_64"
)


@pytest.mark.parametrize(
    ("filename", "bad"),
    [
        ('handpkg-2.0-py3-none-any"onmouseover="alert(1).whl',
         "platform tag 'any\"onmouseover=\"alert(1)'"),
        ("handpkg-2.1-py3-none-any?x=1#frag.whl", "platform tag 'any?x=1#frag'"),
        ("foo-1.0-PY3-none-any.whl", "python tag 'PY3'"),
        ("foo-1.0-py3-None-ANY.whl", "abi tag 'None', platform tag 'ANY'"),
        ("foo-1.0-py3-none-linux_x86_64..any.whl", "platform tag 'linux_x86_64..any'"),
        ("foo-1.0-py3-none-any+x.whl", "platform tag 'any+x'"),
        ("foo-1.0-py3-abi%22-any.whl", "abi tag 'abi%22'"),
    ],
    ids=["quotes", "query-and-fragment", "uppercase-python", "uppercase-abi-and-platform",
         "empty-compressed-tag", "plus", "percent"],
)
def test_check_wheel_tags_refuses(filename: str, bad: str) -> None:
    with pytest.raises(ValueError, match="invalid") as excinfo:
        check_wheel_tags(filename)
    assert str(excinfo.value) == f"invalid {bad}: {TAGS_RULE}"


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("keep3-1.0-py3-none-any.whl", "keep3-1.0.0-py3-none-any.whl", True),
        ("keep3-1.0-py3-none-any.whl", "Keep3-1.0-py3-none-any.whl", True),
        ("keep3-1.0-py3-none-any.whl", "keep3-1.0-PY3-none-any.whl", True),
        ("keep_3-1.0-py2.py3-none-any.whl", "keep.3-1.0-py3.py2-none-any.whl", True),
        ("keep3-1.0.tar.gz", "keep3-1.0.0.tar.gz", True),
        ("keep3-1.0.tar.gz", "keep3-1.0.zip", True),
        ("keep3-1.0-py3-none-any.whl", "keep3-1.0-py2.py3-none-any.whl", False),
        ("keep3-1.0-py3-none-any.whl", "keep3-1.0-1-py3-none-any.whl", False),
        ("keep3-1.0-1-py3-none-any.whl", "keep3-1.0-2-py3-none-any.whl", False),
        ("keep3-1.0-py3-none-any.whl", "keep3-1.0.post0-py3-none-any.whl", False),
        ("keep3-1.0-py3-none-any.whl", "keep3-1.0+cpu-py3-none-any.whl", False),
        ("keep3-1.0-py3-none-any.whl", "keep3-1.0.tar.gz", False),
        ("keep3-1.0-py3-none-any.whl", "keep3-1.0-cp311-cp311-linux_x86_64.whl", False),
    ],
    ids=["zero-padded-version", "name-case", "tag-case", "name-spelling-and-tag-order",
         "sdist-version", "sdist-tar-gz-and-zip", "other-tag-set", "build-tag",
         "other-build-tag", "post-release", "local-version", "wheel-and-sdist",
         "platform-wheel"],
)
def test_distribution_identity(first: str, second: str, same: bool) -> None:
    a, b = distribution_identity(first, "keep3"), distribution_identity(second, "keep3")
    assert a is not None
    assert b is not None
    assert (a == b) is same


@pytest.mark.parametrize(
    "filename",
    ["keep3-1.0-custom-2.tar.gz", "keep3-r1234.tar.gz", "keep3.whl", "notes.txt"],
    ids=["legacy-version", "legacy-letters", "unparsable-wheel", "not-a-distribution"],
)
def test_distribution_identity_of_a_legacy_name_is_none(filename: str) -> None:
    assert distribution_identity(filename, "keep3") is None
