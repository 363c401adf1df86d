"""Requirements processing: what is kept, changed (and logged) or refused, and why."""

from __future__ import annotations

import pytest
from packaging.utils import canonicalize_name

from uploader.deploy.errors import RequirementsError
from uploader.deploy.requirements import Policy, process_requirements

FILES = {
    "dev.txt": "pytest>=8\n-r nested.txt\n",
    "nested.txt": "attrs==23.1\n",
    "constraints.txt": "urllib3<3\n",
    "loop.txt": "-r loop.txt\nsix\n",
}


def read(path: str) -> str:
    if path.startswith(("/", "..")) or "/../" in path:
        raise ValueError(f"{path!r} is outside the bundle")
    try:
        return FILES[path]
    except KeyError:
        raise ValueError(f"no file {path!r} in the bundle") from None


def run(text: str, policy: Policy | None = None) -> tuple[str, tuple[str, ...]]:
    processed = process_requirements(text, name="requirements.txt", read=read, policy=policy)
    return processed.text(), processed.log


@pytest.mark.parametrize(
    ("text", "expected", "logged"),
    [
        ("requests==2.31.0\n", "requests==2.31.0\n", ""),
        ("Flask>=3 # web\n\n# comment\n", "flask>=3\n".replace("flask", "Flask"), ""),
        ("numpy==1.26.4; python_version >= '3.9'\n", 'numpy==1.26.4; python_version >= "3.9"\n', ""),
        ("requests[socks]==2.31\n", "requests[socks]==2.31\n", ""),
        ("pkg==1.0 \\\n    --hash=sha256:ABCDEF0123\n", "pkg==1.0 --hash=sha256:abcdef0123\n", ""),
        ("rsconnect-python==1.20\nflask\n", "flask\n", "dropped 'rsconnect-python==1.20'"),
        ("pywin32==306\nflask\n", "flask\n", "removed prohibited package 'pywin32==306'"),
        ("appnope; sys_platform == 'darwin'\n", "", "removed prohibited package"),
        ("-r dev.txt\n", "pytest>=8\nattrs==23.1\n", "included requirements dev.txt"),
        ("-c constraints.txt\nurllib3\n", "urllib3\n", "included constraints constraints.txt"),
        ("--prefer-binary\nsix\n", "--prefer-binary\nsix\n", ""),
        ("-r loop.txt\n", "six\n", "already included"),
    ],
    ids=[
        "pinned", "comments-blank", "marker", "extras", "hash-continued", "publishing-client",
        "prohibited", "prohibited-with-marker", "nested-include", "constraints",
        "pass-through-option", "include-loop",
    ],
)
def test_accepted_requirements(text: str, expected: str, logged: str) -> None:
    out, log = run(text)
    assert out == expected
    if logged:
        assert any(logged in line for line in log), log


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-i http://127.0.0.1:9/simple\nflask\n", "-i is not allowed"),
        ("--index-url=http://127.0.0.1:9/simple\n", "--index-url is not allowed"),
        ("--extra-index-url http://127.0.0.1:9/simple\n", "--extra-index-url is not allowed"),
        ("-f /tmp/wheels\n", "-f is not allowed"),
        ("--find-links=/tmp/wheels\n", "--find-links is not allowed"),
        ("--trusted-host 127.0.0.1\n", "--trusted-host is not allowed"),
        ("--no-index\n", "--no-index is not allowed"),
        ("-e ./src\n", "editable installs (-e) are not allowed"),
        ("--editable=git+https://127.0.0.1/x.git\n", "editable installs (-e) are not allowed"),
        ("pkg @ https://127.0.0.1/pkg-1.0.tar.gz\n", "direct URL references are not allowed"),
        ("git+https://127.0.0.1/repo.git#egg=pkg\n", "direct URL or path references are not allowed"),
        ("./local/pkg\n", "direct URL or path references are not allowed"),
        ("/abs/pkg-1.0-py3-none-any.whl\n", "direct URL or path references are not allowed"),
        ("-r ../../etc/passwd\n", "outside the bundle"),
        ("-r /etc/passwd\n", "outside the bundle"),
        ("-r https://127.0.0.1/reqs.txt\n", "is a URL"),
        ("-c missing.txt\n", "no file 'missing.txt'"),
        ("pkg==${SECRET_TOKEN}\n", "environment variable references"),
        ("pkg --config-settings=x=y\n", "per-requirement build options are not allowed"),
        ("pkg --global-option=--evil\n", "per-requirement build options are not allowed"),
        ("--use-feature=truststore\n", "unsupported option '--use-feature'"),
        ("pkg>=>1\n", "invalid requirement"),
        ("not a requirement !!\n", "invalid requirement"),
        ("-r\n", "-r/-c needs a file name"),
        ("pkg --foo\n", "unsupported option(s)"),
        ("pkg 'unterminated\n", "invalid requirement"),
    ],
    ids=[
        "index-short", "index-url", "extra-index", "find-links-short", "find-links", "trusted-host",
        "no-index", "editable", "editable-vcs", "direct-url", "vcs-url", "relative-path",
        "absolute-wheel", "include-traversal", "include-absolute", "include-url",
        "include-missing", "env-variable", "config-settings", "global-option", "unknown-option",
        "bad-specifier", "garbage", "include-without-file", "unknown-requirement-option",
        "unbalanced-quote",
    ],
)
def test_refused_requirements(text: str, message: str) -> None:
    with pytest.raises(RequirementsError) as info:
        run(text)
    assert message in str(info.value)
    assert all(p.startswith("requirements.txt:") or ":" in p for p in info.value.problems)
    assert all("\n" not in p for p in info.value.problems), "a problem of several lines"


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(RequirementsError) as info:
        run("-i http://127.0.0.1/\n-e .\nok==1\npkg @ https://127.0.0.1/x.whl\n")
    assert len(info.value.problems) == 3
    assert [p.split(":")[1] for p in info.value.problems] == ["1", "2", "4"]
    # One line per problem, even though a problem's own text holds "; ".
    assert str(info.value).splitlines() == [
        "requirements refused, 3 problems:",
        "  requirements.txt:1: -i is not allowed: environments install only from this "
        "server's repository; remove the option",
        "  requirements.txt:2: editable installs (-e) are not allowed: list a released "
        "version instead",
        "  requirements.txt:4: direct URL references are not allowed: "
        "'pkg @ https://127.0.0.1/x.whl'; upload the package and require it by name",
    ]


@pytest.mark.parametrize(("count", "listed"), [(1, 1), (2, 2), (100, 100), (101, 100), (250, 100)])
def test_many_problems_list_the_first_hundred(count: int, listed: int) -> None:
    with pytest.raises(RequirementsError) as info:
        run("".join(f"-e ./p{i}\n" for i in range(count)))
    lines = str(info.value).splitlines()
    assert len(info.value.problems) == listed
    if count == 1:
        assert lines == [f"requirements refused: {info.value.problems[0]}"]
        return
    assert lines[0] == f"requirements refused, {count} problems:"
    assert lines[1:listed + 1] == [f"  {p}" for p in info.value.problems]
    assert lines[listed + 1:] == ([f"  … and {count - listed} more"] if count > listed else [])


def test_policy_can_allow_sources_editables_and_urls() -> None:
    policy = Policy(allow_index_options=True, allow_editable=True, allow_direct_references=True)
    out, log = run(
        "--extra-index-url http://127.0.0.1/simple\n-e ./src\npkg @ https://127.0.0.1/p.whl\n",
        policy,
    )
    assert "--extra-index-url http://127.0.0.1/simple" in out
    assert "pkg @ https://127.0.0.1/p.whl" in out
    assert any("allowed by configuration" in line for line in log)


def test_configured_prohibited_list_replaces_default() -> None:
    out, _ = run("pywin32\nleftpad\n", Policy(prohibited=frozenset({canonicalize_name("leftpad")})))
    assert out == "pywin32\n"


def _depth_files(levels: int) -> dict[str, str]:
    return {f"d{i}.txt": f"-r d{i + 1}.txt\n" for i in range(levels)} | {f"d{levels}.txt": "six\n"}


BIG = "#" * 1023 + "\n"  # 1 KiB of comment per line: comments count toward the size
BOUNDED = [
    ("file-too-big", BIG * 1025, {},
     "requirements.txt: 1049600 characters, more than the 1048576 a requirements file may have"),
    ("include-too-big", "-r big.txt\n", {"big.txt": BIG * 1025},
     "big.txt: 1049600 characters, more than the 1048576"),
    ("all-files-too-big", "".join(f"-r p{i}.txt\n" for i in range(5)),
     {f"p{i}.txt": BIG * 1000 for i in range(5)},
     "p4.txt: the requirements files reach 5120050 characters, more than the 4194304"),
    ("too-many-lines", "six\n" * 10_001, {}, "requirements.txt:10001: more than 10000 requirement lines"),
    ("too-many-lines-across-includes", "-r many.txt\n" + "six\n" * 5000,
     {"many.txt": "six\n" * 5000}, "requirements.txt:5001: more than 10000 requirement lines"),
    ("too-deep", "-r d0.txt\n", _depth_files(5), "d4.txt:1: includes nested more than 5 deep"),
]


@pytest.mark.parametrize(("text", "files", "message"), [c[1:] for c in BOUNDED],
                         ids=[c[0] for c in BOUNDED])
def test_requirements_are_bounded(text: str, files: dict[str, str], message: str) -> None:
    with pytest.raises(RequirementsError) as info:
        process_requirements(text, name="requirements.txt", read=files.__getitem__)
    assert message in str(info.value), info.value.problems


@pytest.mark.parametrize(
    ("text", "files"),
    [("six\n" * 10_000, {}), ("-r d0.txt\n", _depth_files(4)),
     ("-r big.txt\n", {"big.txt": BIG * 1024})],
    ids=["max-lines", "max-depth", "max-file-size"],
)
def test_requirements_at_the_bounds_are_accepted(text: str, files: dict[str, str]) -> None:
    process_requirements(text, name="requirements.txt", read=files.__getitem__)


@pytest.mark.parametrize(
    "spellings",
    [["a.txt", "./a.txt", "././a.txt"], ["a.txt", "x/../a.txt", ".//a.txt"],
     ["./a.txt"] + [f"{'./' * n}a.txt" for n in range(2, 50)]],
    ids=["dot-slash", "dot-dot-and-double-slash", "many"],
)
def test_an_include_is_read_once_however_it_is_spelled(spellings: list[str]) -> None:
    reads: list[str] = []

    def read(path: str) -> str:
        reads.append(path)
        return "six\n"

    text = "".join(f"-r {path}\n" for path in spellings)
    processed = process_requirements(text, name="requirements.txt", read=read)
    assert reads == [spellings[0]]
    assert processed.text() == "six\n"
    assert sum("already included" in line for line in processed.log) == len(spellings) - 1
