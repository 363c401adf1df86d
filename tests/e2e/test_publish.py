"""Publishing end to end with the real clients (protocol list T-30..T-36).

One installation for the module: ``timeshelf serve`` (the sidecar) behind the real nginx
configured by ``timeshelf nginx-conf --standalone``. Every client uploads through nginx
to ``/upload/pypi/local/`` with a token from ``timeshelf create token``, and what it
uploaded is checked where installers see it: the project page nginx serves, the files
(and ``.asc`` signatures) behind its links, and ``pip install`` from the index.

twine and uv come with the test environment; poetry, pdm, flit and hatch are installed
once into a cached tool venv (``publishers.install_publish_tools``). Every client runs in
``publishers.client_env``: no configuration, cache, keyring or proxy of this machine,
nothing but 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import html
import re
import shutil
import subprocess
import tarfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import pytest

from tests.e2e.conftest import installed
from tests.e2e.publishers import (
    PYTHON,
    GnuPG,
    Tools,
    client_env,
    install_publish_tools,
    run,
    throwaway_gnupg,
)
from tests.factory import TarEntry, WheelSpec, build_sdist, build_wheel, metadata_text, write_tar_gz
from tests.servers import (
    Server,
    free_port,
    http_get,
    make_installation,
    nginx_conf_for,
    run_nginx,
    run_timeshelf,
    run_timeshelf_serve,
)
from tests.uploader.conftest import BOUNDARY, basic, multipart, upload_parts

pytestmark = pytest.mark.e2e

TWINE = PYTHON.with_name("twine")
UV = PYTHON.with_name("uv")
ANCHOR = re.compile(r'<a href="(?P<href>[^"]+)"(?P<attrs>[^>]*)>(?P<name>[^<]+)</a>')


@dataclass
class Stack:
    """The installation, its sidecar, nginx in front, an upload token and the clients' env."""

    home: Path
    sidecar: Server
    nginx: Server
    token: str
    env: dict[str, str]
    work: Path

    @property
    def upload_url(self) -> str:
        return self.nginx.url("/upload/pypi/local/")

    @property
    def index_url(self) -> str:
        return self.nginx.url("/python/latest/simple/")

    def links(self, project: str) -> dict[str, tuple[str, str]]:
        """``{filename: (absolute URL, attributes)}`` of the project page nginx serves."""
        page_url = f"{self.index_url}{project}/"
        reply = http_get(page_url, accept="text/html")
        assert reply.status == 200, (page_url, reply.status)
        text = reply.body.decode()
        return {
            html.unescape(m["name"]): (urljoin(page_url, html.unescape(m["href"])), m["attrs"])
            for m in ANCHOR.finditer(text)
        }

    def assert_served(self, project: str, *dists: Path, signed: bool = False) -> None:
        """Each file is listed with its sha256 and downloads through nginx byte for byte."""
        links = self.links(project)
        for dist in dists:
            assert dist.name in links, (dist.name, sorted(links))
            url, attrs = links[dist.name]
            digest = hashlib.sha256(dist.read_bytes()).hexdigest()
            assert url.endswith(f"/{dist.name}#sha256={digest}"), url
            download = http_get(url.partition("#")[0])
            assert download.status == 200
            assert download.body == dist.read_bytes()
            assert f'data-gpg-sig="{"true" if signed else "false"}"' in attrs

    def signature_of(self, project: str, dist: Path) -> bytes:
        url, _ = self.links(project)[dist.name]
        reply = http_get(url.partition("#")[0] + ".asc")
        assert reply.status == 200, reply.status
        assert reply.header("Content-Type") == "application/pgp-signature"
        return reply.body

    def run(self, args: Sequence[str | Path], env: dict[str, str] | None = None, *,
            cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a client in the isolated environment (plus ``env``); the token is masked."""
        return run(args, {**self.env, **(env or {})}, cwd=cwd, check=check,
                   secrets=(self.token,))

    def pip_install(self, requirement: str) -> dict[str, str]:
        """``pip install --index-url <index> REQUIREMENT`` into a fresh target; what it got."""
        target = Path(self.work) / f"target-{re.sub(r'[^a-z0-9]+', '-', requirement.lower())}"
        run([PYTHON, "-m", "pip", "install", "--no-deps", "--target", target, "--index-url",
             self.index_url, requirement], self.env)
        return installed(target)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("publish") / "inst"
    config = make_installation(home)
    token = run_timeshelf("--config", str(config), "create", "token", "--description",
                          "e2e publishers", "--sources", "local", "-q").stdout.strip()
    work = tmp_path_factory.mktemp("publish-work")
    with run_timeshelf_serve(config) as sidecar:
        conf = nginx_conf_for(config, listen=f"127.0.0.1:{free_port()}",
                              sidecar=sidecar.address)
        with run_nginx(conf, tmp_path_factory.mktemp("publish-nginx")) as nginx:
            yield Stack(home=home, sidecar=sidecar, nginx=nginx, token=token,
                        env=client_env(work / "home"), work=work)
            nginx_output = nginx.output()
            access_log = (nginx.extra["access_log"]).read_text(errors="replace")
        sidecar_output = sidecar.output()
    for output in (nginx_output, access_log, sidecar_output):
        assert token not in output
        assert token.split(".")[-1] not in output


@pytest.fixture(scope="module")
def tools() -> Tools:
    return install_publish_tools()


@pytest.fixture(scope="module")
def gnupg() -> Iterator[GnuPG]:
    with throwaway_gnupg() as home:
        yield home


def project(stack: Stack, name: str, version: str = "1.0", *, backend: str = "flit_core",
            sdist: bool = True, body: str = "") -> tuple[Path, list[Path]]:
    """A project directory with ``pyproject.toml`` and real dists in ``dist/``."""
    root = stack.work / f"{name}-{version}-{len(list(stack.work.iterdir()))}"
    module = name.replace("-", "_")
    backends = {
        "flit_core": ("flit_core>=3.4", "flit_core.buildapi"),
        "hatchling": ("hatchling", "hatchling.build"),
        "poetry-core": ("poetry-core>=2", "poetry.core.masonry.api"),
        "pdm-backend": ("pdm-backend", "pdm.backend"),
    }
    requires, build_backend = backends[backend]
    (root / module).mkdir(parents=True)
    (root / module / "__init__.py").write_text(f'"""{name} for tests."""\n__version__ = "{version}"\n')
    (root / "pyproject.toml").write_text(
        f'[build-system]\nrequires = ["{requires}"]\nbuild-backend = "{build_backend}"\n\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\n'
        f'description = "{name} for tests"\nrequires-python = ">=3.8"\n'
    )
    dist = root / "dist"
    files = [build_wheel(dist, WheelSpec(name, version, module_body=body))]
    if sdist:
        files.append(build_sdist(dist, name, version))
    return root, files


def output_of(done: subprocess.CompletedProcess[str]) -> str:
    return f"{done.stdout}\n{done.stderr}"


# -- twine (T-30, T-31) -------------------------------------------------------------------------


def twine(stack: Stack, *args: str | Path, check: bool = True,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return stack.run([TWINE, "upload", "--non-interactive", "--disable-progress-bar",
                "--repository-url", stack.upload_url, "-u", "__token__", "-p", stack.token,
                *args], env, check=check)


def test_twine_uploads_wheel_and_sdist_and_pip_installs_them(stack: Stack) -> None:
    _, files = project(stack, "twine-pub", "1.1")

    twine(stack, *files)

    stack.assert_served("twine-pub", *files)
    assert stack.pip_install("twine-pub") == {"twine-pub": "1.1"}
    # T-30: re-running with the identical files succeeds (the server answers 200).
    again = twine(stack, *files)
    assert "already exists" not in output_of(again).lower()
    stack.assert_served("twine-pub", *files)


def test_twine_picks_up_a_pre_signed_asc(stack: Stack, gnupg: GnuPG) -> None:
    root, files = project(stack, "twine-presigned", sdist=False)
    wheel = files[0]
    signature = gnupg.sign(wheel)

    done = twine(stack, *sorted((root / "dist").iterdir()))

    assert signature.name not in stack.links("twine-presigned")
    stack.assert_served("twine-presigned", wheel, signed=True)
    served = stack.signature_of("twine-presigned", wheel)
    assert served == signature.read_bytes()
    assert "Signed with" in output_of(done) or "signature" in output_of(done).lower()


def test_twine_sign_with_a_throwaway_key(stack: Stack, gnupg: GnuPG) -> None:
    _, files = project(stack, "twine-signed", "2.0")

    twine(stack, "--sign", "--identity", gnupg.fingerprint, *files, env=gnupg.env())

    stack.assert_served("twine-signed", *files, signed=True)
    for dist in files:
        served = stack.work / f"{dist.name}.served.asc"
        served.write_bytes(stack.signature_of("twine-signed", dist))
        assert served.read_bytes().startswith(b"-----BEGIN PGP SIGNATURE-----")
        assert gnupg.verify(served, dist)


def test_twine_skip_existing_is_refused_by_twine_itself(stack: Stack) -> None:
    """T-31: twine >= 6.2 refuses --skip-existing for any index but PyPI, before sending."""
    _, files = project(stack, "twine-skip", sdist=False)

    done = twine(stack, "--skip-existing", *files, check=False)

    assert done.returncode != 0
    assert "skip-existing" in output_of(done)
    assert http_get(f"{stack.index_url}twine-skip/", accept="text/html").status == 404


def test_twine_reports_a_changed_file_as_already_existing(stack: Stack) -> None:
    _, files = project(stack, "twine-changed", sdist=False)
    twine(stack, *files)
    _, changed = project(stack, "twine-changed", sdist=False, body="changed = True\n")

    done = twine(stack, *changed, check=False)

    assert done.returncode != 0
    assert "File already exists" in output_of(done)
    assert "409" in output_of(done)
    stack.assert_served("twine-changed", *files)


def test_twine_to_a_mistyped_source_hears_which_sources_the_token_may_use(
    stack: Stack,
) -> None:
    _, files = project(stack, "twine-typo", sdist=False)

    done = stack.run([TWINE, "upload", "--non-interactive", "--disable-progress-bar",
                      "--repository-url", stack.nginx.url("/upload/pypi/loacl/"),
                      "-u", "__token__", "-p", stack.token, *files], check=False)

    assert done.returncode != 0
    said = " ".join(output_of(done).split())  # twine wraps the server's message
    assert "404" in said
    assert ("Unknown source 'loacl': no source has that name; this token may upload to local "
            "(/upload/pypi/<source>/)") in said, said
    assert http_get(f"{stack.index_url}twine-typo/", accept="text/html").status == 404


@pytest.mark.parametrize(
    ("name", "member", "problem"),
    [
        ("twine-symlink", TarEntry(tarfile.SYMTYPE, "/etc/passwd"),
         "is a symbolic link (to '/etc/passwd')"),
        ("twine-escaping", TarEntry(tarfile.SYMTYPE, "../../../etc/shadow"),
         "is a symbolic link (to '../../../etc/shadow')"),
        ("twine-hard-link", TarEntry(tarfile.LNKTYPE, "/etc/passwd"),
         "is a hard link (to '/etc/passwd')"),
        ("twine-fifo", TarEntry(tarfile.FIFOTYPE), "is a FIFO"),
    ],
    ids=["symlink-absolute", "symlink-escaping", "hard-link", "fifo"],
)
def test_twine_upload_of_an_sdist_with_a_link_is_refused(
    stack: Stack, name: str, member: TarEntry, problem: str
) -> None:
    top = f"{name.replace('-', '_')}-1.0"
    dist = write_tar_gz(stack.work / f"d-{name}" / f"{top}.tar.gz", {
        f"{top}/PKG-INFO": metadata_text(name, "1.0").encode(), f"{top}/evil": member})

    done = twine(stack, dist, check=False)

    assert done.returncode != 0
    said = " ".join(output_of(done).split())  # twine wraps the server's message
    assert f"sdist member '{top}/evil' {problem}: an sdist holds only regular files" in said
    assert "400" in said
    assert http_get(f"{stack.index_url}{name}/", accept="text/html").status == 404
    assert not list(stack.home.rglob(f"{top}.tar.gz*"))


# -- uv publish (T-32) ----------------------------------------------------------------------------


def uv_publish(stack: Stack, *args: str | Path,
               check: bool = True) -> subprocess.CompletedProcess[str]:
    return stack.run([UV, "publish", "--publish-url", stack.upload_url, "--token", stack.token,
                      *args], check=check)


def test_uv_publish_then_check_url_skips_and_catches_a_changed_file(stack: Stack) -> None:
    _, files = project(stack, "uv-pub", "0.3")

    uv_publish(stack, *files)

    stack.assert_served("uv-pub", *files)
    again = uv_publish(stack, "--check-url", stack.index_url, *files)
    text = output_of(again)
    for dist in files:
        assert re.search(rf"{re.escape(dist.name)}.*already exists, skipping", text), text

    _, changed = project(stack, "uv-pub", "0.3", sdist=False, body="changed = 1\n")
    mismatch = uv_publish(stack, "--check-url", stack.index_url, *changed, check=False)
    assert mismatch.returncode != 0
    assert "Local file and index file do not match" in output_of(mismatch)
    assert hashlib.sha256(changed[0].read_bytes()).hexdigest() in output_of(mismatch)
    conflict = uv_publish(stack, *changed, check=False)
    assert conflict.returncode != 0
    assert "File already exists" in output_of(conflict)
    stack.assert_served("uv-pub", *files)
    assert stack.pip_install("uv-pub==0.3") == {"uv-pub": "0.3"}


def test_uv_publish_to_the_index_url_gets_a_405(stack: Stack) -> None:
    _, files = project(stack, "uv-wrong-url", sdist=False)

    done = stack.run([UV, "publish", "--publish-url", stack.index_url, "--token", stack.token,
                      *files], check=False)

    assert done.returncode != 0
    assert "405" in output_of(done)
    assert http_get(f"{stack.index_url}uv-wrong-url/", accept="text/html").status == 404


# -- poetry, pdm, flit, hatch (T-33..T-36) ----------------------------------------------------------


def test_poetry_publish_and_skip_existing(stack: Stack, tools: Tools) -> None:
    root, files = project(stack, "poetry-pub", "1.2", backend="poetry-core")
    env = {**stack.env, "POETRY_REPOSITORIES_TIMESHELF_URL": stack.upload_url,
           "POETRY_HTTP_BASIC_TIMESHELF_USERNAME": "__token__",
           "POETRY_HTTP_BASIC_TIMESHELF_PASSWORD": stack.token}
    poetry: list[str | Path] = [tools["poetry"], "publish", "-n", "--no-ansi", "-r", "timeshelf"]

    stack.run(poetry, env, cwd=root)

    stack.assert_served("poetry-pub", *files)
    stack.run(poetry, env, cwd=root)
    # The same names with other bytes: refused, and skipped with --skip-existing.
    changed_root, changed = project(stack, "poetry-pub", "1.2", backend="poetry-core",
                                    body="changed = 1\n")
    refused = stack.run(poetry, env, cwd=changed_root, check=False)
    assert refused.returncode != 0
    assert "File already exists" in output_of(refused)
    skipped = stack.run([*poetry, "--skip-existing"], env, cwd=changed_root)
    assert "already exists" in output_of(skipped).lower() or "skip" in output_of(skipped).lower()
    stack.assert_served("poetry-pub", *files)
    assert changed[0].read_bytes() != files[0].read_bytes()


def test_pdm_publish_and_skip_existing(stack: Stack, tools: Tools) -> None:
    root, files = project(stack, "pdm-pub", "3.0", backend="pdm-backend")
    pdm: list[str | Path] = [tools["pdm"], "publish", "--no-build", "-r", stack.upload_url, "-u", "__token__",
           "-P", stack.token]

    stack.run(pdm, cwd=root)

    stack.assert_served("pdm-pub", *files)
    stack.run([*pdm, "--skip-existing"], cwd=root)
    changed_root, changed = project(stack, "pdm-pub", "3.0", backend="pdm-backend",
                                    body="changed = 1\n")
    refused = stack.run(pdm, cwd=changed_root, check=False)
    assert refused.returncode != 0
    # pdm prints the standard reason ("409 Conflict"), not the server's message.
    assert "409" in output_of(refused)
    skipped = stack.run([*pdm, "--skip-existing"], cwd=changed_root)
    assert "skip" in output_of(skipped).lower()
    stack.assert_served("pdm-pub", *files)
    assert changed[0].read_bytes() != files[0].read_bytes()


def test_flit_publish_builds_and_uploads(stack: Stack, tools: Tools) -> None:
    """flit sends md5 + sha256 (no blake2) and no Content-Type on the file part."""
    root, _ = project(stack, "flit-pub", "0.9")
    shutil.rmtree(root / "dist")
    env = {**stack.env, "FLIT_INDEX_URL": stack.upload_url, "FLIT_USERNAME": "__token__",
           "FLIT_PASSWORD": stack.token}

    stack.run([tools["flit"], "publish"], env, cwd=root)

    built = sorted((root / "dist").iterdir())
    assert {p.name for p in built} == {"flit_pub-0.9-py3-none-any.whl", "flit_pub-0.9.tar.gz"}
    stack.assert_served("flit-pub", *built)
    assert stack.pip_install("flit-pub") == {"flit-pub": "0.9"}


def test_hatch_publish_and_rerun(stack: Stack, tools: Tools) -> None:
    root, files = project(stack, "hatch-pub", "4.0", backend="hatchling")
    hatch: list[str | Path] = [tools["hatch"], "publish", "-n", "-r", stack.upload_url, "-u", "__token__",
             "-a", stack.token, *files]

    stack.run(hatch, cwd=root)

    stack.assert_served("hatch-pub", *files)
    again = stack.run(hatch, cwd=root)
    assert "error" not in output_of(again).lower()
    changed_root, changed = project(stack, "hatch-pub", "4.0", backend="hatchling",
                                    sdist=False, body="changed = 1\n")
    refused = stack.run([*hatch[:-2], *changed], cwd=changed_root, check=False)
    assert refused.returncode != 0
    assert "already exists" in output_of(refused).lower()
    stack.assert_served("hatch-pub", *files)


# -- nginx in front ---------------------------------------------------------------------------------


def test_post_to_the_simple_index_through_nginx_is_405(stack: Stack) -> None:
    from tests.servers import request

    for path in ("/python/latest/simple/", "/python/latest/simple/twine-pub/"):
        reply = request(stack.nginx.url(path), method="POST", body=b"x=1",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})

        assert reply.status == 405, (path, reply.status)


def test_trusted_publishing_probe_through_nginx_is_a_404(stack: Stack) -> None:
    assert http_get(stack.nginx.url("/_/oidc/audience")).status == 404


# -- a page rewritten twice in one second (hostile-testing find 7) ---------------------------


def _post(stack: Stack, dist: Path) -> None:
    """Upload ``dist`` through nginx as twine would, as fast as one request goes."""
    request = urllib.request.Request(  # noqa: S310 (a loopback http URL)
        stack.upload_url, data=multipart(upload_parts(dist)), method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                 "Authorization": basic("__token__", stack.token)},
    )
    with urllib.request.urlopen(request, timeout=60) as reply:  # noqa: S310
        assert reply.status == 200


def _uv_resolves(stack: Stack, cache: Path, requirement: str) -> str:
    """The version ``uv pip compile`` picks from the index, with a persistent cache and
    ``--refresh`` (so uv revalidates every page it has: the case that went stale)."""
    wanted = cache.with_name(f"{cache.name}-{requirement}.in")
    wanted.write_text(f"{requirement}\n", encoding="utf-8")
    done = stack.run([UV, "pip", "compile", wanted, "--no-header", "--index-url",
                      stack.index_url, "--refresh", "--cache-dir", cache, "--python", PYTHON,
                      "--quiet"])
    pins = [line for line in done.stdout.splitlines() if line and not line.startswith(" ")]
    assert len(pins) == 1, done.stdout
    return pins[0]


def test_uv_sees_a_page_rewritten_twice_in_one_second(stack: Stack) -> None:
    """nginx compresses pages on the fly, which makes its ETags weak; uv 0.13 then
    revalidates with If-Modified-Since alone, so a page rewritten within the second uv
    read it in answered 304 for the old copy. A rewrite now moves the page's time to a
    later second. The steps must fit in one wall-clock second to show it: a few tries."""
    cache = stack.work / "uv-cache-same-second"
    fitted = 0
    for attempt in range(6):
        name = f"same-second-{attempt}"
        first = build_wheel(stack.work, WheelSpec(name, "1.0"))
        second = build_wheel(stack.work, WheelSpec(name, "2.0"))
        page = stack.home / "site" / "python" / "latest" / "simple" / name / "index.json"
        time.sleep(1 - time.time() % 1)
        started = int(time.time())
        _post(stack, first)
        before = page.stat().st_mtime
        assert _uv_resolves(stack, cache, name) == f"{name}==1.0"
        _post(stack, second)
        if int(time.time()) == started:
            fitted += 1
        assert _uv_resolves(stack, cache, name) == f"{name}==2.0"
        # The validators moved even within the second.
        assert int(page.stat().st_mtime) > int(before)
        if fitted >= 2:
            break
    assert fitted, "no try fitted two uploads and a uv resolution in one second"
