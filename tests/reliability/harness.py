"""Seeded fault trials and the site invariants they check, shared by the CI tests in
``tests/reliability/`` (a few trials) and ``bench/faults.py`` (many).

A trial builds a small real installation (``timeshelf init`` + real wheels), starts one
real process (``timeshelf serve`` taking concurrent uploads, ``timeshelf generate``,
``timeshelf sync`` against the fixture upstream of ``tests.upstream``, ``timeshelf
publish`` to moto's S3 server, an environment build with its installer), SIGKILLs it
after a delay drawn from ``random.Random(seed)``, then checks ``check_site`` (for
publish, ``check_bucket``: the same invariants over the bucket's objects; for an
environment build, that no half-built environment is live):

- the catalog passes ``Catalog.check_integrity()``;
- every project page (``index.json`` and ``index.html``, latest and dated) lists only
  files that exist, whose bytes have the advertised sha256; no link names a temporary
  (``.….tmp``) file; every project in a root index has its page (pages under a hidden
  name, such as a temporary directory being written, are not checked: nginx answers 404
  for any path with a segment starting with ``.``, and neither ``serve`` nor ``publish``
  serves or uploads one);
- every upload that got a 200 is in the catalog and listed on the latest page;

and finally that the next run (``generate``, ``sync``, a restarted ``serve``) completes
and leaves the site consistent again; after a next ``generate`` or ``sync``, no
temporary file a killed run left is still in the site (``settled``). A trial returns the
problems it found (empty when the invariants held); it raises only for a broken harness.
"""

from __future__ import annotations

import base64
import hashlib
import html.parser
import http.client
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urldefrag

from packaging.utils import canonicalize_name

from generator.config.settings import load_config
from generator.installation import Installation
from tests.factory import WheelSpec, build_wheel
from tests.servers import (
    LOOPBACK,
    ServerFailed,
    free_port,
    run_timeshelf,
    timeshelf_command,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from uploader.deploy.builder import Builder

NOW = "2026-03-01T12:00:00Z"
ENV = {"TIMESHELF_NOW": NOW}
TRIAL_TIMEOUT = 60.0


@dataclass(slots=True, kw_only=True)
class TrialResult:
    """What one trial did and what it found wrong (``problems`` empty: invariants held)."""

    kind: str
    seed: int
    kill_after: float
    acknowledged: int = 0
    refused: int = 0
    # Whether the kill came while the process still ran (not after it had finished), and
    # how long it ran (until killed, or until it finished by itself).
    interrupted: bool = True
    ran_for: float = 0.0
    problems: list[str] = field(default_factory=list)


# -- the installation ----------------------------------------------------------------------


def make_installation(directory: Path, projects: int, versions: int = 2) -> Path:
    """``timeshelf init`` in ``directory`` with ``projects`` times ``versions`` wheels added and
    generated; the config path."""
    run_timeshelf("init", str(directory), env=ENV)
    config = directory / "timeshelf.toml"
    wheels = directory / "wheels"
    wheels.mkdir()
    paths = [
        build_wheel(wheels, WheelSpec(f"proj-{p:03d}", f"1.{v}"))
        for p in range(projects) for v in range(versions)
    ]
    for start in range(0, len(paths), 200):
        run_timeshelf("--config", str(config), "add", "--source", "local",
                      *(str(p) for p in paths[start:start + 200]), env=ENV)
    run_timeshelf("--config", str(config), "generate", env=ENV)
    return config


def create_token(config: Path) -> str:
    done = run_timeshelf("--config", str(config), "create", "token", "--description", "faults",
                         "--sources", "local", "--expires", "30d", "-q", env=ENV)
    return done.stdout.strip()


# -- invariants ----------------------------------------------------------------------------


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [v for k, v in attrs if k == "href" and v is not None]


def _is_temporary(name: str) -> bool:
    return name.startswith(".") and name.endswith(".tmp")


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def temporary_leftovers(output: Path) -> list[str]:
    """The temporary (``.….tmp``) files and directories anywhere in the site ``output``."""
    found = []
    for directory, dirs, files in os.walk(output):
        for name in [*dirs, *files]:
            if _is_temporary(name):
                found.append(str((Path(directory) / name).relative_to(output)))
    return sorted(found)


def check_site(config: Path, acknowledged: Iterable[str] = (), *,
               lazy: bool = False, settled: bool = False) -> list[str]:
    """Every invariant problem of the installation at ``config`` (empty when sound).

    ``acknowledged`` are filenames whose upload got a 200: each must be in the catalog and
    listed on the latest page of its project. With ``lazy`` (a mirror that fetches files
    on first request) a listed file may be absent, but only at the content-addressed path
    of its advertised sha256. With ``settled`` (a run has completed since the kill) no
    temporary file may be left anywhere in the site.
    """
    problems: list[str] = []
    inst = Installation(load_config(config))
    try:
        problems += [f"catalog: {p}" for p in inst.catalog.check_integrity()]
        output = inst.config.output_path
    finally:
        inst.close()
    hashed: dict[Path, str] = {}

    def digest(path: Path) -> str:
        if path not in hashed:
            hashed[path] = hashlib.sha256(path.read_bytes()).hexdigest()
        return hashed[path]

    listed: set[str] = set()
    for simple in output.glob("*/*/simple"):
        latest = simple.parent.name == "latest"
        for page in simple.glob("*/index.json"):
            if _hidden(page, output):
                continue
            where = page.relative_to(output)
            try:
                document = json.loads(page.read_bytes())
            except ValueError as e:
                problems.append(f"{where}: not JSON ({e})")
                continue
            for entry in document.get("files", []):
                target = (page.parent / unquote(entry["url"])).resolve()
                if _is_temporary(target.name) or _is_temporary(entry["filename"]):
                    problems.append(f"{where}: links a temporary file {entry['url']}")
                if not target.is_file():
                    if not (lazy and target.parent.name == entry["hashes"]["sha256"]):
                        problems.append(f"{where}: {entry['filename']} missing at {entry['url']}")
                elif digest(target) != entry["hashes"]["sha256"]:
                    problems.append(f"{where}: {entry['filename']} has another sha256")
                elif latest:
                    listed.add(entry["filename"])
        for page in [simple / "index.html", *simple.glob("*/index.html")]:
            if not page.exists() or _hidden(page, output):
                continue
            parser = _Links()
            parser.feed(page.read_text(encoding="utf-8"))
            for href in parser.hrefs:
                url, fragment = urldefrag(href)
                target = (page.parent / unquote(url)).resolve()
                if target.is_dir():
                    target = target / "index.html"
                if _is_temporary(target.name):
                    problems.append(f"{page.relative_to(output)}: links a temporary file {href}")
                if not target.is_file():
                    if not (lazy and target.parent.name == fragment[7:]):
                        problems.append(f"{page.relative_to(output)}: dead link {href}")
                elif fragment.startswith("sha256=") and digest(target) != fragment[7:]:
                    problems.append(f"{page.relative_to(output)}: {href} has another sha256")
    if settled:
        problems += [f"{name}: a temporary file left after the next run"
                     for name in temporary_leftovers(output)]
    wanted = set(acknowledged)
    if wanted:
        with sqlite3.connect(inst.config.catalog_path) as db:
            stored = {row[0] for row in db.execute("SELECT filename FROM files")}
        db.close()
        for name in sorted(wanted - stored):
            problems.append(f"acknowledged upload {name} is not in the catalog")
        for name in sorted((wanted & stored) - listed):
            problems.append(f"acknowledged upload {name} is not listed on its latest page")
    return problems


# -- uploads -------------------------------------------------------------------------------


def upload_form(path: Path, data: bytes | None = None) -> tuple[bytes, str]:
    """The multipart body twine sends for the wheel at ``path``, and its content type."""
    body = path.read_bytes() if data is None else data
    name, version = path.name.split("-")[:2]
    fields = {
        ":action": "file_upload", "protocol_version": "1", "metadata_version": "2.1",
        "name": name, "version": version, "filetype": "bdist_wheel", "pyversion": "py3",
        "sha256_digest": hashlib.sha256(body).hexdigest(),
    }
    boundary = "timeshelf-faults-boundary"
    chunks = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    chunks.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
        f'filename="{path.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        + body + b"\r\n"
    )
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def upload(port: int, token: str, path: Path, *, timeout: float = 30.0) -> tuple[int, str]:
    """POST the wheel at ``path`` to ``/upload/pypi/local/`` on ``127.0.0.1:port``.

    The status and body; status 0 when the connection failed or was cut (not acknowledged).
    """
    body, content_type = upload_form(path)
    auth = base64.b64encode(f"__token__:{token}".encode()).decode()
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        connection.request("POST", "/upload/pypi/local/", body=body, headers={
            "Content-Type": content_type, "Authorization": f"Basic {auth}",
        })
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    except (OSError, http.client.HTTPException) as e:
        return 0, str(e)
    finally:
        connection.close()


def start_serve(config: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """``timeshelf serve`` on ``127.0.0.1:port``; returns once it answers."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            timeshelf_command("--config", str(config), "serve", "--listen", f"{LOOPBACK}:{port}"),
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **ENV},
        )
    deadline = time.monotonic() + 20
    while True:
        if process.poll() is not None:
            raise ServerFailed(f"serve exited {process.returncode}: {log.read_text()[-2000:]}")
        try:
            connection = http.client.HTTPConnection(LOOPBACK, port, timeout=2)
            connection.request("HEAD", "/")
            connection.getresponse().read()
            connection.close()
            return process
        except (OSError, http.client.HTTPException):
            if time.monotonic() > deadline:
                process.kill()
                raise ServerFailed(f"serve did not answer: {log.read_text()[-2000:]}") from None
            time.sleep(0.05)


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


# -- trials --------------------------------------------------------------------------------


def trial_serve(workdir: Path, seed: int, *, clients: int = 4, projects: int = 5,
                max_delay: float = 1.5) -> TrialResult:
    """``clients`` threads upload fresh wheels to ``timeshelf serve`` until it is SIGKILLed
    after a seeded delay; the acknowledged ones must survive; a restarted serve takes more."""
    rng = random.Random(seed)  # noqa: S311 - seeded fault timing, not secrets
    result = TrialResult(kind="serve", seed=seed, kill_after=rng.uniform(0.05, max_delay))
    config = make_installation(workdir / "inst", projects, versions=1)
    token = create_token(config)
    fresh = workdir / "fresh"
    fresh.mkdir()
    port = free_port()
    log = workdir / "serve.log"
    process = start_serve(config, port, log)
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(number: int) -> None:
        count = 0
        while not stop.is_set():
            count += 1
            wheel = build_wheel(fresh, WheelSpec(f"proj-{rng_pick(number, count, projects):03d}",
                                                 f"2.{number}.{count}"))
            status, _text = upload(port, token, wheel, timeout=10)
            with lock:
                if status == 200:
                    acknowledged.append(wheel.name)
                elif status == 0:
                    stop.wait(0.01)
                else:
                    result.refused += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(result.kill_after)
        _kill(process)
        result.ran_for = result.kill_after  # a server never ends by itself
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        _kill(process)
    result.acknowledged = len(acknowledged)
    result.problems += check_site(config, acknowledged)
    # The next run: a restarted serve takes an upload and regenerates a consistent site.
    process = start_serve(config, port, log)
    try:
        wheel = build_wheel(fresh, WheelSpec("proj-000", "9.9"))
        status, text = upload(port, token, wheel)
        if status != 200:
            result.problems.append(f"after restart, upload answered {status}: {text[:200]}")
        else:
            acknowledged.append(wheel.name)
    finally:
        process.terminate()
        process.wait(timeout=30)
    result.problems += check_site(config, acknowledged)
    if result.refused:
        result.problems.append(f"{result.refused} uploads refused with a status other than 200")
    return result


def rng_pick(number: int, count: int, projects: int) -> int:
    """Which project a client's upload goes to (spread, reproducible)."""
    return (number * 7 + count) % projects


def _run_and_kill(
    argv: list[str], delay: float, *, env: dict[str, str] | None = None, group: bool = False,
    result: TrialResult | None = None,
) -> tuple[int | None, bytes]:
    """Run ``argv``; SIGKILL it after ``delay`` seconds unless it ended (with ``group``,
    its whole process group: an installer it started dies with it, as in a lost machine).
    Its exit code (negative: killed) and stderr; ``result`` gets ``interrupted`` and
    ``ran_for``."""
    started = time.monotonic()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env={**os.environ, **ENV, **(env or {})},
                               start_new_session=group)
    try:
        process.wait(timeout=delay)
        if result is not None:
            result.interrupted, result.ran_for = False, time.monotonic() - started
    except subprocess.TimeoutExpired:
        if result is not None:
            result.interrupted, result.ran_for = True, time.monotonic() - started
        if group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.send_signal(signal.SIGKILL)
    _out, err = process.communicate(timeout=TRIAL_TIMEOUT)
    return process.returncode, err


def trial_generate(workdir: Path, seed: int, *, projects: int = 60,
                   max_delay: float = 2.0) -> TrialResult:
    """``timeshelf generate --full`` over a site whose pages all change (new files in every
    project) is SIGKILLed after a seeded delay; the site stays consistent; the next run
    completes."""
    rng = random.Random(seed)  # noqa: S311 - seeded fault timing, not secrets
    result = TrialResult(kind="generate", seed=seed, kill_after=rng.uniform(0.0, max_delay))
    config = make_installation(workdir / "inst", projects, versions=1)
    extra = workdir / "extra"
    extra.mkdir()
    added = [str(build_wheel(extra, WheelSpec(f"proj-{p:03d}", "3.0"))) for p in range(projects)]
    run_timeshelf("--config", str(config), "add", "--source", "local", *added, env=ENV)
    argv = timeshelf_command("--config", str(config), "generate", "--full")
    _code, err = _run_and_kill(argv, result.kill_after, result=result)
    if b"Traceback" in err:
        result.problems.append(f"generate wrote a traceback: {err.decode()[-300:]}")
    result.problems += check_site(config)
    done = run_timeshelf("--config", str(config), "generate", env=ENV, check=False)
    if done.returncode != 0:
        result.problems.append(f"the next generate exited {done.returncode}: {done.stderr[-300:]}")
    acknowledged = [Path(p).name for p in added]
    result.problems += check_site(config, acknowledged, settled=True)
    return result


def trial_sync(workdir: Path, seed: int, *, projects: int = 40,
               max_delay: float = 2.0) -> TrialResult:
    """``timeshelf sync`` from the fixture upstream (``tests.upstream``) is SIGKILLed after a
    seeded delay; the site stays consistent; the next sync completes and lists every
    upstream file."""
    from tests.upstream import FakeUpstream, serve_upstream

    rng = random.Random(seed)  # noqa: S311 - seeded fault timing, not secrets
    result = TrialResult(kind="sync", seed=seed, kill_after=rng.uniform(0.0, max_delay))
    run_timeshelf("init", str(workdir / "inst"), env=ENV)
    config = workdir / "inst" / "timeshelf.toml"
    wheels = workdir / "upstream"
    wheels.mkdir()
    with serve_upstream(FakeUpstream()) as upstream:
        names = []
        for p in range(projects):
            wheel = build_wheel(wheels, WheelSpec(f"mirrored-{p:03d}", "1.0"))
            upstream.add(wheel)
            names.append(wheel.name)
        for args in (
            ("create", "source", "--name", "pypi", "--type", "pypi", "--upstream",
             upstream.index_url),
            ("subscribe", "--repo", "python", "--source", "pypi"),
        ):
            run_timeshelf("--config", str(config), *args, env=ENV)
        argv = timeshelf_command("--config", str(config), "sync")
        _code, err = _run_and_kill(argv, result.kill_after, result=result)
        if b"Traceback" in err:
            result.problems.append(f"sync wrote a traceback: {err.decode()[-300:]}")
        result.problems += check_site(config, lazy=True)
        done = run_timeshelf("--config", str(config), "sync", env=ENV, check=False)
        if done.returncode != 0:
            result.problems.append(f"the next sync exited {done.returncode}: {done.stderr[-300:]}")
        result.problems += _check_mirror_listing(config, names)
    result.problems += check_site(config, lazy=True, settled=True)
    return result


def _check_mirror_listing(config: Path, names: list[str]) -> list[str]:
    output = load_config(config).output_path / "python" / "latest" / "simple"
    problems = []
    for name in names:
        project = canonicalize_name(name.split("-1.0-")[0])
        page = output / project / "index.json"
        if not page.exists():
            problems.append(f"after the next sync, {project} has no page")
            continue
        listed = {f["filename"] for f in json.loads(page.read_bytes())["files"]}
        if name not in listed:
            problems.append(f"after the next sync, {name} is not listed")
    return problems


# -- publish -------------------------------------------------------------------------------


def _point_at_s3(config: Path, endpoint: str) -> None:
    """Make the installation's ``[s3]`` table reach the test server (path-style)."""
    text = config.read_text(encoding="utf-8")
    for key, value in (("endpoint_url", endpoint), ("region", "us-east-1"),
                       ("addressing_style", "path")):
        start = text.index("[s3]\n")
        at = text.index(f"\n{key} = ", start) + 1
        text = text[:at] + f'{key} = "{value}"' + text[text.index("\n", at):]
    config.write_text(text, encoding="utf-8")


def _resolve(directory: str, href: str) -> str:
    """The key a relative ``href`` names from a page of the directory key ``directory``."""
    parts = directory.split("/")
    for segment in unquote(href).split("/"):
        if segment == "..":
            if parts:
                parts.pop()
        elif segment not in ("", "."):
            parts.append(segment)
    return "/".join(parts) + ("/" if href.endswith("/") else "")


def check_bucket(client: S3Client, bucket: str, prefix: str) -> list[str]:
    """``check_site`` for a published site: every page object under ``prefix/`` (PEP 691
    JSON, HTML and the ``<dir>/`` twins) links only objects that are in the bucket, files
    with the advertised sha256; no temporary key is there."""
    keys: set[str] = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                 Prefix=f"{prefix}/"):
        keys.update(o["Key"] for o in page.get("Contents", []))
    hashed: dict[str, str] = {}

    def body(key: str) -> bytes:
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()

    def digest(key: str) -> str:
        if key not in hashed:
            hashed[key] = hashlib.sha256(body(key)).hexdigest()
        return hashed[key]

    def check_link(page: str, target: str, sha256: str) -> None:
        if _is_temporary(target.rstrip("/").rsplit("/", 1)[-1]):
            problems.append(f"{page}: links a temporary object {target}")
        if target not in keys:
            problems.append(f"{page}: dead link to {target}")
        elif sha256 and digest(target) != sha256:
            problems.append(f"{page}: {target} has another sha256")

    problems: list[str] = []
    for key in sorted(keys):
        if _is_temporary(key.rstrip("/").rsplit("/", 1)[-1]):
            problems.append(f"temporary object {key} is in the bucket")
        directory = key[:-1] if key.endswith("/") else key.rsplit("/", 1)[0]
        if key.endswith("/index.json") and "/simple/" in key:
            try:
                document = json.loads(body(key))
            except ValueError as e:
                problems.append(f"{key}: not JSON ({e})")
                continue
            for entry in document.get("files", []):
                check_link(key, _resolve(directory, entry["url"]), entry["hashes"]["sha256"])
        elif key.endswith(("/index.html", "/")):
            parser = _Links()
            parser.feed(body(key).decode("utf-8", errors="replace"))
            for href in parser.hrefs:
                url, fragment = urldefrag(href)
                if not url or url.startswith(("http:", "https:", "/", "mailto:")):
                    continue
                sha256 = fragment[7:] if fragment.startswith("sha256=") else ""
                check_link(key, _resolve(directory, url), sha256)
    return problems


def trial_publish(workdir: Path, seed: int, *, projects: int = 20,
                  max_delay: float = 3.0) -> TrialResult:
    """``timeshelf publish`` to a bucket of moto's S3 server (holding the previous site) of
    a site whose every project changed is SIGKILLed after a seeded delay; the bucket stays
    consistent (``check_bucket``); the next publish completes and leaves the bucket equal
    to the local site."""
    from generator.output.publish import scan_site
    from tests.s3server import CREDENTIALS, run_moto

    for name, value in CREDENTIALS.items():  # dummies: never a real account
        os.environ.setdefault(name, value)
    rng = random.Random(seed)  # noqa: S311 - seeded fault timing, not secrets
    result = TrialResult(kind="publish", seed=seed, kill_after=rng.uniform(0.0, max_delay))
    config = make_installation(workdir / "inst", projects, versions=1)
    env = {**ENV, **CREDENTIALS}
    with run_moto() as s3:
        bucket = s3.new_bucket()
        _point_at_s3(config, s3.endpoint)
        target = f"s3://{bucket}/site"
        publish = ("--config", str(config), "publish", "--to", target)
        run_timeshelf(*publish, env=env)
        extra = workdir / "extra"
        extra.mkdir()
        added = [str(build_wheel(extra, WheelSpec(f"proj-{p:03d}", "4.0")))
                 for p in range(projects)]
        run_timeshelf("--config", str(config), "add", "--source", "local", *added, env=env)
        run_timeshelf("--config", str(config), "generate", env=env)
        _code, err = _run_and_kill(timeshelf_command(*publish), result.kill_after, env=env,
                                   result=result)
        if b"Traceback" in err:
            result.problems.append(f"publish wrote a traceback: {err.decode()[-300:]}")
        client = s3.client()
        result.problems += check_bucket(client, bucket, "site")
        done = run_timeshelf(*publish, env=env, check=False)
        if done.returncode != 0:
            result.problems.append(f"the next publish exited {done.returncode}: "
                                   f"{done.stderr[-300:]}")
        result.problems += check_bucket(client, bucket, "site")
        published: set[str] = set()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                     Prefix="site/"):
            published.update(o["Key"] for o in page.get("Contents", []))
        local = {f"site/{o.key}" for o in scan_site(load_config(config).output_path)}
        for key in sorted(local - published)[:5]:
            result.problems.append(f"after the next publish, {key} is not in the bucket")
        for key in sorted(published - local)[:5]:
            result.problems.append(f"after the next publish, {key} is still in the bucket")
    return result


# -- environment builds --------------------------------------------------------------------

# One build, as the sidecar runs it for a deploy: the bundle directory's requirements,
# installed by ``installer`` from the index, into the cache at ``root``.
BUILD = (
    "import sys; from pathlib import Path; "
    "from generator.config.python import PythonSettings; from uploader.deploy.builder import Builder; "
    "b = Builder(PythonSettings(environments_dir=Path(sys.argv[1]), installer=sys.argv[3]), "
    "sys.argv[2]); e = b.complete(b.prepare(Path(sys.argv[4]), log=print), print); "
    "print('built', e.key)"
)


def trial_environment(workdir: Path, seed: int, *, installer: str = "uv",
                      max_delay: float = 3.0) -> TrialResult:
    """An environment build (``installer`` installing a bundle's requirements from a
    ``timeshelf serve`` of the fixture wheels) is SIGKILLed with its installer after a
    seeded delay; the cache then has no live environment for the key or a complete one
    (its ``meta.json`` written, its interpreter importing the requirements), never a
    half-built one; the next build of the key completes."""
    from generator.config.python import PythonSettings
    from tests.deployment import fixture_wheels
    from tests.servers import make_installation as init_with
    from tests.servers import run_timeshelf_serve
    from uploader.deploy.builder import Builder

    rng = random.Random(seed)  # noqa: S311 - seeded fault timing, not secrets
    result = TrialResult(kind="environment", seed=seed, kill_after=rng.uniform(0.0, max_delay))
    config = init_with(workdir / "inst", *fixture_wheels(workdir / "dists"))
    app = workdir / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("delta==1.0\n")
    root = workdir / "envs"
    with run_timeshelf_serve(config) as server:
        index = server.base_url + "/"
        argv = [sys.executable, "-c", BUILD, str(root), index, installer, str(app)]
        _code, err = _run_and_kill(argv, result.kill_after, group=True, result=result)
        if b"Traceback" in err:
            result.problems.append(f"the build wrote a traceback: {err.decode()[-300:]}")
        builder = Builder(PythonSettings(environments_dir=root, installer=installer), index)
        key = builder.prepare(app, log=lambda line: None).key
        result.problems += _check_environment(builder, key, root)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TRIAL_TIMEOUT * 2,
                              env={**os.environ, **ENV}, check=False)
        if done.returncode != 0:
            result.problems.append(f"the next build exited {done.returncode}: "
                                   f"{done.stderr[-300:]}")
        result.problems += _check_environment(builder, key, root)
        if builder.cache.get(key) is None:
            result.problems.append("after the next build, no environment is live")
    return result


def _check_environment(builder: Builder, key: str, root: Path) -> list[str]:
    link = root / key
    environment = builder.cache.get(key)
    if environment is None:
        if link.is_symlink() or link.exists():
            return [f"{key} is live but not complete (no meta.json)"]
        return []
    done = subprocess.run([str(environment.python_executable), "-c", "import delta"],
                          capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        return [f"the live environment {key} cannot import its requirement: "
                f"{done.stderr[-200:]}"]
    return []


TRIALS: dict[str, Callable[..., TrialResult]] = {"serve": trial_serve, "generate": trial_generate, "sync": trial_sync,
          "publish": trial_publish, "environment": trial_environment}
