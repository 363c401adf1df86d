"""Bundles: safe extraction of hostile archives, flattening, manifests and checksums."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest

from uploader.deploy.builder import unpacked
from uploader.deploy.bundles import (
    BundleLimits,
    Manifest,
    _check_data_filter,
    extract_bundle,
    inside,
    read_manifest,
    reader,
    requirements_file,
    verify_checksums,
)
from uploader.deploy.errors import BundleError

Member = tuple[str, bytes] | tarfile.TarInfo


def make_tar(path: Path, members: list[Member]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
                continue
            name, data = member
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def special(name: str, kind: bytes, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


def link(name: str, target: str) -> tarfile.TarInfo:
    return special(name, tarfile.SYMTYPE, target)


def directory(name: str) -> tarfile.TarInfo:
    info = special(name, tarfile.DIRTYPE)
    info.mode = 0o755
    return info


def sandboxed(tmp_path: Path) -> tuple[Path, Path]:
    """(sandbox, target): the target five directories below a fresh sandbox, so that a
    write up to four levels above the target still lands where the test can see it."""
    sandbox = tmp_path / "sandbox"
    return sandbox, sandbox.joinpath("s1", "s2", "s3", "s4", "target")


def assert_confined(sandbox: Path, target: Path) -> None:
    """The sandbox holds the target and the directories above it, nothing else; every link
    in the target resolves to a regular file inside it."""
    above = {sandbox, *(p for p in target.parents if p.is_relative_to(sandbox))}
    for path, dirs, files in os.walk(sandbox):
        for entry in (Path(path) / n for n in (*dirs, *files)):
            assert entry in above or entry == target or entry.is_relative_to(target), (
                f"{entry} was written outside the target"
            )
    real = target.resolve()
    for path, dirs, files in os.walk(target):
        for entry in (Path(path) / n for n in (*dirs, *files)):
            if entry.is_symlink():
                assert Path(os.path.realpath(entry)).is_relative_to(real), f"{entry} leads out"
                assert entry.is_file(), f"{entry} is a link to something else than a file"


def chain(levels: int, *, file_first: bool = False) -> list[Member]:
    """``d -> .``, ``d/up -> ..``, ``up/u2 -> ..``, …: each link's text stays inside but
    on disk it is one level higher; then a file beneath the last link."""
    links: list[Member] = [link("d", "."), link("d/up", "..")]
    names = ["up"]
    for level in range(2, levels + 1):
        links.append(link("/".join(names) + f"/u{level}", ".."))
        names.append(f"u{level}")
    evil: Member = ("/".join(names) + "/evil.pth", b"import os\n")
    return [evil, *links] if file_first else [*links, evil]


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def manifest(files: dict[str, bytes], **extra: object) -> bytes:
    document = {
        "version": 1,
        "metadata": {"appmode": "python-api", "entrypoint": "app"},
        "python": {"version": "3.11.7", "package_manager": {"name": "pip", "version": "24.0",
                                                           "package_file": "requirements.txt"}},
        "files": {n: {"checksum": hashlib.md5(d, usedforsecurity=False).hexdigest()}
                  for n, d in files.items()},
        **extra,
    }
    return json.dumps(document).encode()


APP = {"requirements.txt": b"flask==3.0\n", "app.py": b"app = None\n"}


def test_a_well_formed_bundle_extracts_and_verifies(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "b.tar.gz", [("manifest.json", manifest(APP)), *APP.items()])
    root = extract_bundle(archive, tmp_path / "out")
    found = read_manifest(root)
    assert found is not None
    verify_checksums(root, found)
    assert requirements_file(root, found) == ("requirements.txt", "flask==3.0\n")
    assert found.python_version == "3.11.7"


def test_single_top_level_folders_are_flattened(tmp_path: Path) -> None:
    nested = [(f"outer/inner/{n}", d) for n, d in APP.items()]
    archive = make_tar(tmp_path / "b.tar.gz", [("outer/inner/manifest.json", manifest(APP)), *nested])
    root = extract_bundle(archive, tmp_path / "out")
    assert sorted(p.name for p in root.iterdir()) == ["app.py", "manifest.json", "requirements.txt"]


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([("/etc/passwd", b"x")], "absolute path"),
        ([("../escape.txt", b"x")], "leaves the bundle"),
        ([("app/../../escape.txt", b"x")], "leaves the bundle"),
        ([("a\\b.txt", b"x")], "backslash"),
        ([special("link", tarfile.SYMTYPE, "/etc/passwd")], "link leaving the bundle"),
        ([special("link", tarfile.SYMTYPE, "../../etc/passwd")], "link leaving the bundle"),
        ([special("hard", tarfile.LNKTYPE, "app.py")], "hard link"),
        ([special("dev", tarfile.CHRTYPE)], "device, FIFO"),
        ([special("fifo", tarfile.FIFOTYPE)], "device, FIFO"),
        ([special("blk", tarfile.BLKTYPE)], "device, FIFO"),
    ],
    ids=["absolute", "dotdot", "nested-dotdot", "backslash", "symlink-absolute",
         "symlink-escape", "hardlink", "char-device", "fifo", "block-device"],
)
def test_hostile_members_are_refused(tmp_path: Path, members: list[Member], message: str) -> None:
    archive = make_tar(tmp_path / "b.tar.gz", [("app.py", b"ok"), *members])
    with pytest.raises(BundleError, match=message):
        extract_bundle(archive, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


NOT_A_FILE = "a link in a bundle may only point to a regular file inside it"


def assert_one_line_each(error: BundleError) -> None:
    """Each problem is one line: the message itself, or a line of its own under a summary."""
    assert error.problems
    assert all("\n" not in p for p in error.problems)
    lines = str(error).splitlines()
    if len(error.problems) == 1:
        assert lines == [error.problems[0]]
    else:
        assert lines == [f"the bundle cannot be extracted, {len(error.problems)} problems:",
                         *(f"  {p}" for p in error.problems)]

HOSTILE_LINKS: list[tuple[str, list[Member], str]] = [
    ("chain-1", chain(1), NOT_A_FILE),
    ("chain-2", chain(2), NOT_A_FILE),
    ("chain-3", chain(3), NOT_A_FILE),
    ("chain-4", chain(4), NOT_A_FILE),
    ("chain-4-file-first", chain(4, file_first=True), NOT_A_FILE),
    ("chain-links-reversed", [*reversed(chain(3)[:-1]), chain(3)[-1]], NOT_A_FILE),
    # b's text stays inside (c/x/../.. is '.'), but once c -> . exists it is the parent.
    ("dangling-completed-later",
     [link("b", "c/x/../.."), link("c", "."), directory("x"), ("b/evil.txt", b"x")],
     "which is not a file in the bundle \\(yet\\)"),
    ("dangling-to-file-later", [link("l", "f"), ("f", b"x")], "not a file in the bundle"),
    ("link-to-directory-inside", [directory("data"), ("data/f", b"x"), link("alias", "data")],
     "which is not a regular file"),
    ("link-to-dot", [link("here", ".")], "which is not a regular file"),
    ("link-to-dotdot", [link("up", "..")], "link leaving the bundle"),
    ("link-to-dotdot-nested", [directory("a"), link("a/up", "../..")], "link leaving the bundle"),
    ("absolute-link", [link("abs", "/etc/hostname")], "link leaving the bundle"),
    ("absolute-link-to-directory", [link("abs", "/var"), ("abs/evil.txt", b"x")],
     "link leaving the bundle"),
    ("empty-link", [link("empty", "")], "link without a valid target"),
    ("link-loop", [link("a", "b"), link("b", "a")], "not a file in the bundle"),
    ("link-through-a-file", [("f", b"x"), link("l", "f/../f")], "not a file in the bundle"),
    ("hard-link", [("f", b"x"), special("h", tarfile.LNKTYPE, "f")], "hard link"),
    ("hard-link-outside", [special("h", tarfile.LNKTYPE, "../../../../evil.txt")], "hard link"),
    ("link-to-link-leaving",
     [link("d", "."), link("d/out", ".."), link("l", "out"), ("l/evil.txt", b"x")], NOT_A_FILE),
    ("directory-over-link", [("f", b"x"), link("l", "f"), directory("l"), ("l/evil", b"x")],
     "would replace a link"),
    ("file-over-link", [("f", b"x"), link("l", "f"), ("l", b"evil")], "would replace a link"),
    ("link-over-link", [("f", b"x"), link("l", "f"), link("l", "..")], "would replace a link"),
    ("file-below-link-to-file", [("f", b"x"), link("l", "f"), ("l/evil", b"x")],
     "below the link 'l'"),
    ("file-below-file", [("f", b"x"), ("f/evil", b"x")], "below the file 'f'"),
    ("file-twice", [("f", b"x"), ("f", b"y")], "would replace an earlier member"),
    ("file-over-directory", [directory("d"), ("d", b"x")], "would replace an earlier member"),
    ("fifo", [special("p", tarfile.FIFOTYPE)], "device, FIFO"),
]


@pytest.mark.parametrize(("members", "message"), [c[1:] for c in HOSTILE_LINKS],
                         ids=[c[0] for c in HOSTILE_LINKS])
def test_hostile_links_write_nothing_outside(
    tmp_path: Path, members: list[Member], message: str
) -> None:
    sandbox, target = sandboxed(tmp_path)
    archive = make_tar(tmp_path / "b.tar.gz", [("app.py", b"ok"), *members])
    with pytest.raises(BundleError, match=message) as refused:
        extract_bundle(archive, target)
    assert_one_line_each(refused.value)
    assert str(tmp_path) not in str(refused.value), "the message shows the server's paths"
    assert_confined(sandbox, target)


def test_every_refused_member_is_reported_in_the_archive_order(tmp_path: Path) -> None:
    sandbox, target = sandboxed(tmp_path)
    archive = make_tar(tmp_path / "b.tar.gz", [
        ("app.py", b"ok"), special("h", tarfile.LNKTYPE, "app.py"), ("/etc/x", b"x"),
        ("fine.py", b""), special("p", tarfile.FIFOTYPE), ("../escape", b"x"),
        link("out", "/etc/hostname"), ("app.py", b"again"), ("last.py", b""),
    ])
    with pytest.raises(BundleError) as refused:
        extract_bundle(archive, target)
    assert refused.value.problems == (
        "bundle member 'h' is a hard link: not allowed",
        "bundle member '/etc/x' is an absolute path: use paths relative to the app",
        "bundle member 'p' is a device, FIFO or other special file",
        "bundle member '../escape' leaves the bundle ('..')",
        "bundle member 'out' is a link leaving the bundle ('/etc/hostname'): " + NOT_A_FILE,
        "bundle member 'app.py' would replace an earlier member: each path may appear once",
    )
    assert_one_line_each(refused.value)
    assert_confined(sandbox, target)


def test_a_limit_ends_the_extraction_after_the_problems_found(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "b.tar.gz", [
        special("h", tarfile.LNKTYPE, "x"), *((f"f{i}", b"0" * 600) for i in range(3)),
        special("p", tarfile.FIFOTYPE),
    ])
    with pytest.raises(BundleError) as refused:
        extract_bundle(archive, tmp_path / "out", BundleLimits(max_expanded=1000))
    assert refused.value.problems == (
        "bundle member 'h' is a hard link: not allowed",
        "the bundle expands to more than 1000 bytes",
    )


def test_every_checksum_mismatch_is_reported(tmp_path: Path) -> None:
    files, tampered = {**APP, "other.py": b"x = 1\n"}, b"tampered\n"
    archive = make_tar(tmp_path / "b.tar.gz", [
        ("manifest.json", manifest(files)), ("requirements.txt", tampered),
        ("app.py", APP["app.py"]),
    ])
    root = extract_bundle(archive, tmp_path / "out")
    found = read_manifest(root)
    assert found is not None
    with pytest.raises(BundleError) as refused:
        verify_checksums(root, found)
    assert str(refused.value).splitlines() == [
        "manifest.json checksums do not match, 2 problems:",
        "  other.py: listed in manifest.json but missing from the bundle",
        f"  requirements.txt: checksum mismatch (manifest {md5(APP['requirements.txt'])}, "
        f"file {md5(tampered)})",
    ]


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (link("l", "/etc/hostname"), "is a link leaving the bundle \\(absolute\\)"),
        (link("l", "../../x"), "is a link leaving the bundle \\(tarfile"),
        (special("p", tarfile.FIFOTYPE), "is a special file"),
        (("../x", b""), "leaves the bundle"),
    ],
    ids=["absolute-link", "link-out", "fifo", "dotdot"],
)
def test_the_data_filter_is_a_second_opinion(tmp_path: Path, member: Member, message: str) -> None:
    # Behind timeshelf's own checks it refuses nothing they let through; its errors
    # still become one-line BundleErrors.
    info = member if isinstance(member, tarfile.TarInfo) else tarfile.TarInfo(member[0])
    with pytest.raises(BundleError, match=message) as refused:
        _check_data_filter(info, tmp_path, PurePosixPath(info.name))
    assert "(tarfile.data_filter): use regular files" in str(refused.value)
    assert str(tmp_path) not in str(refused.value)


def test_a_refused_bundle_leaves_nothing_behind_unpacked(tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    workdir = sandbox.joinpath("environments", ".incoming")
    archive = make_tar(tmp_path / "b.tar.gz", [("app.py", b"ok"), *chain(4)])
    with pytest.raises(BundleError, match=NOT_A_FILE), unpacked(archive, workdir):
        pass
    assert sorted(p.relative_to(sandbox).as_posix() for p in sandbox.rglob("*")) == [
        "environments", "environments/.incoming"
    ]


INSIDE_LINKS: list[tuple[str, list[Member], str, bytes]] = [
    ("same-directory",
     [("app.py", b""), ("data/real.txt", b"x"), link("data/alias.txt", "real.txt")],
     "data/alias.txt", b"x"),
    ("other-directory", [("lib/tool.py", b"t"), link("bin/tool", "../lib/tool.py")],
     "bin/tool", b"t"),
    ("link-to-link", [("f", b"f"), link("a", "f"), link("b", "a")], "b", b"f"),
    ("through-directories", [("a/b/f", b"f"), ("c", b""), link("l", "a/./b/../b/f")], "l",
     b"f"),
    ("flattened", [("top/f", b"f"), link("top/l", "f")], "l", b"f"),
]


@pytest.mark.parametrize(("members", "name", "data"), [c[1:] for c in INSIDE_LINKS],
                         ids=[c[0] for c in INSIDE_LINKS])
def test_links_to_regular_files_inside_are_kept(
    tmp_path: Path, members: list[Member], name: str, data: bytes
) -> None:
    sandbox, target = sandboxed(tmp_path)
    root = extract_bundle(make_tar(tmp_path / "b.tar.gz", members), target)
    assert (root / name).is_symlink()
    assert (root / name).read_bytes() == data
    assert_confined(sandbox, target)
    assert inside(root, name) == (root / name).resolve()
    assert reader(root)(name) == data.decode()


@pytest.mark.parametrize(
    ("links", "name", "message"),
    [
        ({"out": "../outside.txt"}, "out", "is outside the bundle"),
        ({"d": ".."}, "d/outside.txt", "is outside the bundle"),
        ({"a": "b", "b": "a"}, "a", "cannot be resolved in the bundle"),
        ({}, "../outside.txt", "leaves the bundle"),
    ],
    ids=["link-out", "directory-link-out", "loop", "dotdot"],
)
def test_paths_in_a_directory_bundle_stay_inside(
    tmp_path: Path, links: dict[str, str], name: str, message: str
) -> None:
    # A directory bundle (`timeshelf env build DIR`) is not extracted: its links are
    # whatever the operator made, so every lookup resolves and checks them.
    (tmp_path / "outside.txt").write_text("secret\n")
    root = tmp_path / "app"
    root.mkdir()
    for link_name, link_target in links.items():
        os.symlink(link_target, root / link_name)
    with pytest.raises(BundleError, match=message):
        inside(root, name)
    with pytest.raises(BundleError, match=message):
        reader(root)(name)
    document = json.loads(manifest({}))
    document["python"]["package_manager"]["package_file"] = name
    (root / "manifest.json").write_text(json.dumps(document))
    with pytest.raises(BundleError, match=message):
        requirements_file(root, read_manifest(root))


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (BundleLimits(max_compressed=10), "the limit is 10"),
        (BundleLimits(max_expanded=1000), "expands to more than 1000 bytes"),
        (BundleLimits(max_members=3), "more than 3 files"),
    ],
    ids=["compressed", "expanded-bomb", "member-count"],
)
def test_limits(tmp_path: Path, limits: BundleLimits, message: str) -> None:
    members: list[Member] = [(f"f{i}.txt", b"0" * 600) for i in range(5)]
    archive = make_tar(tmp_path / "b.tar.gz", members)
    with pytest.raises(BundleError, match=message):
        extract_bundle(archive, tmp_path / "out", limits)


def test_a_manifest_over_its_limit_is_refused(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "b.tar.gz", [("manifest.json", manifest(APP)), *APP.items()])
    root = extract_bundle(archive, tmp_path / "out")
    with pytest.raises(BundleError, match=r"manifest\.json is larger than 100 bytes"):
        read_manifest(root, BundleLimits(max_manifest=100))


def test_not_a_tar(tmp_path: Path) -> None:
    (tmp_path / "b.tar.gz").write_bytes(b"definitely not gzip")
    with pytest.raises(BundleError, match="not a valid gzip tar archive"):
        extract_bundle(tmp_path / "b.tar.gz", tmp_path / "out")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda files: {**files, "app.py": b"tampered\n"}, "checksum mismatch"),
        (lambda files: {k: v for k, v in files.items() if k != "app.py"}, "missing from the bundle"),
    ],
    ids=["tampered", "missing"],
)
def test_checksums_are_verified(
    tmp_path: Path, mutate: Callable[[dict[str, bytes]], dict[str, bytes]], message: str
) -> None:
    archive = make_tar(tmp_path / "b.tar.gz",
                       [("manifest.json", manifest(APP)), *mutate(APP).items()])
    root = extract_bundle(archive, tmp_path / "out")
    found = read_manifest(root)
    assert found is not None
    with pytest.raises(BundleError, match=message):
        verify_checksums(root, found)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b'{"python": "3.11"}', "'python' must be a JSON object"),
        (b'{"files": {"a": {"checksum": 5}}}', "needs a string checksum"),
        (b'{"python": {"version": 3.11}}', "python.version must be a string"),
    ],
    ids=["syntax", "array", "python-string", "checksum-type", "version-type"],
)
def test_bad_manifests(data: bytes, message: str) -> None:
    with pytest.raises(BundleError, match=message):
        Manifest.from_json(data)


def test_a_bundle_without_requirements_is_refused(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "b.tar.gz", [("app.py", b"x")])
    root = extract_bundle(archive, tmp_path / "out")
    with pytest.raises(BundleError, match=r"has no requirements\.txt"):
        requirements_file(root, read_manifest(root))


def test_manifest_package_file_is_used(tmp_path: Path) -> None:
    files = {"reqs/prod.txt": b"six\n"}
    doc = json.loads(manifest(files))
    doc["python"]["package_manager"]["package_file"] = "reqs/prod.txt"
    archive = make_tar(tmp_path / "b.tar.gz", [("manifest.json", json.dumps(doc).encode()),
                                               *files.items()])
    root = extract_bundle(archive, tmp_path / "out")
    assert requirements_file(root, read_manifest(root)) == ("reqs/prod.txt", "six\n")


def test_package_file_outside_the_bundle_is_refused(tmp_path: Path) -> None:
    doc = json.loads(manifest({}))
    doc["python"]["package_manager"]["package_file"] = "../../etc/passwd"
    archive = make_tar(tmp_path / "b.tar.gz", [("manifest.json", json.dumps(doc).encode())])
    root = extract_bundle(archive, tmp_path / "out")
    with pytest.raises(BundleError, match="leaves the bundle"):
        requirements_file(root, read_manifest(root))
