"""Upload-to-installable latency: timeshelf against pypiserver and devpi-server.

Everything runs on 127.0.0.1, in one run, with the same real wheels for every server:

- **timeshelf**: an installation pre-filled with ``--files`` fake files (``bench.dataset``,
  then one ``timeshelf generate``), its pages served by the real nginx
  (``timeshelf nginx-conf --standalone``) and uploads passed by nginx to
  ``timeshelf serve``;
- **pypiserver** (``pypi-server run -P . -a .``, no auth) and **devpi-server** (a user
  and a non-volatile index without bases), both empty, installed into their own virtual
  environment ``bench/work/venv-peers`` from the package index;
- optionally (``--pypiserver-prefill-uploads K``) a second pypiserver whose directory
  holds the same ``--files`` file names as timeshelf's catalog (empty files), measured
  on the first K wheels: what pypiserver does at the size timeshelf is measured at.

Measures:

1. **upload to installable**: ``twine upload`` of a fresh version exits, then
   ``pip download --no-deps --index-url INDEX PROJECT==VERSION`` is run until it
   succeeds; the wall time from twine's exit to the first success. Beside it the
   **floor**: the same pip command for a version that is already there (mostly pip's
   start-up). Servers are interleaved, in a rotating order, so the machine's noise
   spreads evenly.
2. **upload response to listed** (timeshelf only): a raw multipart upload sent with
   ``http.client`` through nginx, then the nginx-served project page polled until it
   lists the file; the time from the upload's response to that page.

Run from the repository root (see bench/RESULTS.md for results)::

    .venv/bin/python -m bench.upload_bench --write-results

Scratch data goes to ``bench/work/upload/`` (rebuilt every run) and the peers' venv to
``bench/work/venv-peers/`` (kept); both are ignored by git. With ``--no-peers`` the
peers' venv is neither needed nor made. ``--json PATH`` writes the figures and samples
(also in ``bench/work/upload/results.json``) to PATH as well.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import math
import os
import platform
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dataset import DEFAULT_SEED, build_dataset, iter_dataset
from bench.results import RESULTS, write_block
from tests.factory import WheelSpec, build_wheel
from tests.servers import (
    Server,
    free_port,
    http_get,
    nginx_conf_for,
    request,
    run_nginx,
    run_timeshelf,
    run_timeshelf_serve,
    stop,
    wait_until_answering,
)

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / "work" / "upload"
PEERS_VENV = REPO / "bench" / "work" / "venv-peers"
# Pinned so that reruns compare the same peers; pypiserver's "cache" extra (watchdog) is
# its documented setup for large directories.
PEER_REQUIREMENTS = ("pypiserver[cache]==2.4.2", "devpi-server==6.20.3", "devpi-client==7.3.0")
BIN = Path(sys.executable).parent
PROJECT = "tsbench-upload"
LISTING_PROJECT = "tsbench-listing"
FLOOR_VERSION = "0.0.1"
DEVPI_USER, DEVPI_PASSWORD, DEVPI_INDEX = "bench", "bench-password", "dev"
# pypiserver runs without authentication (-P . -a .); twine still sends something.
NO_AUTH = "unused"
# Targets (bench/RESULTS.md): installable no slower than either peer; listed within
# 100 ms of the upload's response at the median.
LISTING_TARGET = 0.100
# A version that is not installable this long after its upload counts as a failure.
INSTALLABLE_LIMIT = 60.0
LISTING_LIMIT = 10.0
SECTION_TITLE = "## Upload to installable (`bench/upload_bench.py`)"


class BenchError(RuntimeError):
    """A step of the benchmark failed; the message holds the command's output."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """A server under test: where twine uploads and where pip installs from."""

    name: str
    upload_url: str
    index_url: str
    username: str
    password: str


@dataclass(slots=True)
class Series:
    """The samples of one server (seconds)."""

    installable: list[float] = field(default_factory=list)
    # Which wheel each installable sample is of, to pair servers upload by upload.
    upload_index: list[int] = field(default_factory=list)
    attempts: list[int] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    twine: list[float] = field(default_factory=list)
    failures: int = 0


@dataclass(slots=True)
class Listing:
    """Raw uploads to timeshelf: response time and response-to-listed time (seconds)."""

    response: list[float] = field(default_factory=list)
    listed: list[float] = field(default_factory=list)
    polls: list[int] = field(default_factory=list)
    failures: int = 0


@dataclass(slots=True)
class Run:
    """Everything one run measured, plus the facts needed to read it."""

    facts: dict[str, str]
    series: dict[str, Series]
    listing: Listing
    # Servers measured in the same interleaved loop as timeshelf (so pairs are fair).
    interleaved: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Clock:
    """The run's time budget: ``left()`` seconds until the deadline."""

    def __init__(self, budget: float) -> None:
        self.start = time.monotonic()
        self.deadline = self.start + budget

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start


# -- statistics -------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile, linearly interpolated between the closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def paired_difference(a: Series, b: Series) -> tuple[float, float, float, int]:
    """Median of (a - b) over the uploads both measured, its 95 % bootstrap interval
    (seeded), and the number of pairs. Pairs cancel the machine's slow phases, which
    move both servers of one round alike."""
    b_by_upload = dict(zip(b.upload_index, b.installable, strict=True))
    diffs = [
        value - b_by_upload[i]
        for i, value in zip(a.upload_index, a.installable, strict=True)
        if i in b_by_upload
    ]
    if not diffs:
        return float("nan"), float("nan"), float("nan"), 0
    rng = random.Random(0)  # noqa: S311 - resampling, not secrets
    medians = sorted(statistics.median(rng.choices(diffs, k=len(diffs))) for _ in range(2000))
    return statistics.median(diffs), medians[49], medians[1950], len(diffs)


def verdict(difference: float, low: float) -> str:
    """The target "no slower than the peer", judged on the paired median difference."""
    if math.isnan(difference):
        return "?"
    if difference <= 0:
        return "met"
    return "missed" if low > 0 else "not distinguishable (interval holds 0)"


# -- processes --------------------------------------------------------------------------


def client_env(home: Path) -> dict[str, str]:
    """An environment for pip and twine that no configuration of this machine reaches
    (the global pip configuration adds indexes, find-links and constraints)."""
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "TWINE_", "TIMESHELF_"))
        and not k.lower().endswith("_proxy")
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        NO_PROXY="127.0.0.1",
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_CACHE_DIR="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        PIP_PROGRESS_BAR="off",
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
    )
    return env


def run_command(
    args: Sequence[str | Path], *, env: Mapping[str, str] | None = None, timeout: float = 120,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a command; with ``check`` a non-zero exit raises ``BenchError`` with its output."""
    done = subprocess.run(
        [str(a) for a in args], env=dict(env) if env is not None else None,
        capture_output=True, text=True, timeout=timeout, check=False,
    )
    if check and done.returncode != 0:
        raise BenchError(
            f"{shlex.join(str(a) for a in args)} exited {done.returncode}\n"
            f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        )
    return done


@contextlib.contextmanager
def running(
    name: str, argv: Sequence[str | Path], port: int, *, startup: float = 60.0,
    cwd: Path | None = None,
) -> Iterator[Server]:
    """Start a server process listening on ``port``; stopped (SIGTERM, SIGKILL) on exit."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [str(a) for a in argv], stdout=log, stderr=subprocess.STDOUT, cwd=cwd,
        )
        server = Server(name=name, port=port, process=process, log=log)
        try:
            wait_until_answering(server, timeout=startup)
            yield server
        finally:
            stop(server)


def ensure_peers(venv: Path) -> Path:
    """The ``bin`` directory of a venv with pypiserver and devpi (created when missing)."""
    bin_dir = venv / "bin"
    stamp = venv / "requirements.txt"
    wanted = "\n".join(PEER_REQUIREMENTS) + "\n"
    if stamp.is_file() and stamp.read_text() == wanted:
        return bin_dir
    print(f"installing {', '.join(PEER_REQUIREMENTS)} into {venv}", flush=True)
    run_command([sys.executable, "-m", "venv", venv], timeout=300)
    run_command([bin_dir / "python", "-m", "pip", "install", "-q", *PEER_REQUIREMENTS],
                timeout=540)
    stamp.write_text(wanted)
    return bin_dir


def tool_version(args: Sequence[str | Path]) -> str:
    done = run_command(args, check=False, timeout=60)
    lines = (done.stdout.strip() or done.stderr.strip()).splitlines()
    return lines[0] if lines else "?"


# -- clients ----------------------------------------------------------------------------


def twine_upload(target: Target, wheel: Path, env: Mapping[str, str]) -> float:
    """Upload ``wheel`` with twine; return how long twine ran. ``BenchError`` if it fails."""
    start = time.monotonic()
    run_command(
        [BIN / "twine", "upload", "--non-interactive", "--disable-progress-bar",
         "--repository-url", target.upload_url, "-u", target.username, "-p", target.password,
         wheel],
        env=env,
    )
    return time.monotonic() - start


def pip_download(index_url: str, requirement: str, env: Mapping[str, str], scratch: Path) -> bool:
    """One ``pip download --no-deps`` into a fresh directory; True when it succeeded."""
    dest = Path(tempfile.mkdtemp(dir=scratch))
    try:
        done = run_command(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--dest", dest,
             "--index-url", index_url, requirement],
            env=env, check=False,
        )
        return done.returncode == 0 and any(dest.iterdir())
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def measure_installable(
    target: Target, index: int, wheel: Path, version: str, env: Mapping[str, str],
    scratch: Path, series: Series,
) -> None:
    """Upload ``wheel`` and time twine's exit → first successful pip download."""
    series.twine.append(twine_upload(target, wheel, env))
    start = time.monotonic()
    attempts = 0
    while True:
        attempts += 1
        if pip_download(target.index_url, f"{PROJECT}=={version}", env, scratch):
            series.installable.append(time.monotonic() - start)
            series.upload_index.append(index)
            series.attempts.append(attempts)
            return
        if time.monotonic() - start > INSTALLABLE_LIMIT:
            series.failures += 1
            return


def measure_floor(target: Target, env: Mapping[str, str], scratch: Path, series: Series) -> None:
    """Time pip downloading a version that is already there."""
    start = time.monotonic()
    if not pip_download(target.index_url, f"{PROJECT}=={FLOOR_VERSION}", env, scratch):
        raise BenchError(f"{target.name}: pip cannot download {PROJECT}=={FLOOR_VERSION}")
    series.floor.append(time.monotonic() - start)


def multipart_body(fields: Sequence[tuple[str, str]], wheel: Path) -> tuple[bytes, str]:
    """A multipart/form-data body as twine sends it: the fields, then ``content``."""
    boundary = "tsbench" + hashlib.sha256(wheel.name.encode()).hexdigest()[:24]
    parts: list[bytes] = []
    for name, value in fields:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
        f'filename="{wheel.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        + wheel.read_bytes() + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def measure_listing(
    upload_url: str, page_url: str, token: str, wheel: Path, version: str, listing: Listing
) -> None:
    """Raw upload, then poll the project page until it lists the file."""
    data = wheel.read_bytes()
    body, content_type = multipart_body(
        (
            (":action", "file_upload"), ("protocol_version", "1"),
            ("name", LISTING_PROJECT), ("version", version), ("filetype", "bdist_wheel"),
            ("pyversion", "py3"), ("metadata_version", "2.1"),
            ("sha256_digest", hashlib.sha256(data).hexdigest()),
        ),
        wheel,
    )
    credentials = base64.b64encode(f"__token__:{token}".encode()).decode()
    start = time.monotonic()
    reply = request(upload_url, method="POST", body=body, headers={
        "Content-Type": content_type, "Authorization": f"Basic {credentials}",
    })
    answered = time.monotonic()
    if reply.status != 200:
        raise BenchError(f"raw upload of {wheel.name}: {reply.status} {reply.body[:300]!r}")
    polls = 0
    while True:
        polls += 1
        page = http_get(page_url, accept="application/vnd.pypi.simple.v1+json")
        if page.status == 200 and wheel.name.encode() in page.body:
            listing.response.append(answered - start)
            listing.listed.append(time.monotonic() - answered)
            listing.polls.append(polls)
            return
        if time.monotonic() - answered > LISTING_LIMIT:
            listing.failures += 1
            return


# -- servers ----------------------------------------------------------------------------


@contextlib.contextmanager
def timeshelf_site(
    directory: Path, files: int, seed: int, facts: dict[str, str]
) -> Iterator[tuple[Target, Server, str]]:
    """A pre-filled installation behind nginx + ``timeshelf serve``: target, nginx, token."""
    start = time.monotonic()
    config = build_dataset(directory, files, seed)
    facts["timeshelf pre-fill (dataset + catalog)"] = f"{time.monotonic() - start:.1f} s"
    start = time.monotonic()
    run_timeshelf("--config", str(config), "generate")
    facts["timeshelf first generate"] = f"{time.monotonic() - start:.1f} s"
    token = run_timeshelf(
        "--config", str(config), "create", "token", "--description", "upload bench",
        "--sources", "local", "-q",
    ).stdout.strip()
    with run_timeshelf_serve(config) as sidecar:
        conf = nginx_conf_for(
            config, listen=f"127.0.0.1:{free_port()}", sidecar=sidecar.address
        )
        with run_nginx(conf, directory / "nginx") as nginx:
            target = Target(
                name="timeshelf", upload_url=nginx.url("/upload/pypi/local/"),
                index_url=nginx.url("/python/latest/simple/"),
                username="__token__", password=token,
            )
            yield target, nginx, token


def prefill_directory(directory: Path, files: int, seed: int) -> int:
    """Empty files named as the dataset's files (pypiserver lists names only)."""
    directory.mkdir(parents=True, exist_ok=True)
    count = 0
    for item in iter_dataset(files, seed):
        (directory / item.record.filename).touch()
        count += 1
    return count


@contextlib.contextmanager
def pypiserver(bin_dir: Path, packages: Path, name: str) -> Iterator[Target]:
    """pypiserver without authentication over ``packages``."""
    packages.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv: list[str | Path] = [bin_dir / "pypi-server", "run", "-i", "127.0.0.1", "-p", str(port),
            "-P", ".", "-a", ".", packages]
    with running(name, argv, port) as server:
        yield Target(
            name=name, upload_url=server.url("/"), index_url=server.url("/simple/"),
            username="bench", password=NO_AUTH,
        )


@contextlib.contextmanager
def devpi(bin_dir: Path, directory: Path, env: Mapping[str, str]) -> Iterator[Target]:
    """devpi-server with user ``bench`` and a non-volatile index without bases (no mirror)."""
    server_dir = directory / "server"
    run_command([bin_dir / "devpi-init", "--serverdir", server_dir, "--no-root-pypi",
                 "--root-passwd", "bench-root"], timeout=120)
    port = free_port()
    argv: list[str | Path] = [bin_dir / "devpi-server", "--serverdir", server_dir, "--host", "127.0.0.1",
            "--port", str(port)]
    with running("devpi-server", argv, port, startup=120.0) as server:
        client = {**env, "DEVPI_CLIENTDIR": str(directory / "client")}
        devpi_cli = bin_dir / "devpi"
        run_command([devpi_cli, "use", server.base_url], env=client)
        run_command([devpi_cli, "user", "-c", DEVPI_USER, f"password={DEVPI_PASSWORD}"],
                    env=client)
        run_command([devpi_cli, "login", DEVPI_USER, "--password", DEVPI_PASSWORD], env=client)
        run_command([devpi_cli, "index", "-c", DEVPI_INDEX, "bases=", "volatile=False"],
                    env=client)
        base = server.url(f"/{DEVPI_USER}/{DEVPI_INDEX}/")
        yield Target(
            name="devpi-server", upload_url=base, index_url=base + "+simple/",
            username=DEVPI_USER, password=DEVPI_PASSWORD,
        )


# -- the run ----------------------------------------------------------------------------


def build_wheels(directory: Path, project: str, versions: Sequence[str]) -> list[Path]:
    return [build_wheel(directory, WheelSpec(name=project, version=v)) for v in versions]


def machine_facts(bin_dir: Path | None) -> dict[str, str]:
    """The machine and the clients; the peers' versions unless ``bin_dir`` is None."""
    nginx = run_command(["nginx", "-v"], check=False).stderr.strip()
    facts = {
        "date (UTC)": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "nproc": str(os.cpu_count()),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "nginx": nginx.removeprefix("nginx version: "),
        "pip": tool_version([sys.executable, "-m", "pip", "--version"]).split(" from ")[0],
        "twine": tool_version([BIN / "twine", "--version"]).split(" (")[0],
    }
    if bin_dir is not None:
        facts["pypiserver"] = tool_version([bin_dir / "pypi-server", "--version"])
        facts["devpi-server"] = tool_version([bin_dir / "devpi-server", "--version"])
    return facts


def measure(args: argparse.Namespace, clock: Clock) -> Run:
    # Only the peers need their venv: --no-peers runs without it (nothing to install).
    peers_bin = None if args.no_peers else ensure_peers(PEERS_VENV)
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    home, scratch = WORK / "home", WORK / "scratch"
    home.mkdir()
    scratch.mkdir()
    env = client_env(home)
    facts = machine_facts(peers_bin)
    versions = [f"1.0.{i}" for i in range(1, args.uploads + 1)]
    floor_wheel = build_wheels(WORK / "wheels", PROJECT, [FLOOR_VERSION])[0]
    wheels = build_wheels(WORK / "wheels", PROJECT, versions)
    listing_versions = [f"1.0.{i}" for i in range(1, args.listing_uploads + 1)]
    listing_wheels = build_wheels(WORK / "wheels", LISTING_PROJECT, listing_versions)
    run = Run(facts=facts, series={}, listing=Listing())

    with contextlib.ExitStack() as stack:
        ts, nginx, token = stack.enter_context(
            timeshelf_site(WORK / "timeshelf", args.files, args.seed, facts)
        )
        targets = [ts]
        if peers_bin is not None:
            targets.append(stack.enter_context(
                pypiserver(peers_bin, WORK / "pypiserver", "pypiserver")
            ))
            targets.append(stack.enter_context(devpi(peers_bin, WORK / "devpi", env)))
        for target in targets:
            twine_upload(target, floor_wheel, env)
            run.series[target.name] = Series()
            run.interleaved.append(target.name)
        print(f"[{clock.elapsed():5.0f} s] servers up: {', '.join(t.name for t in targets)}",
              flush=True)

        for i, (wheel, version) in enumerate(zip(wheels, versions, strict=True)):
            if clock.left() < args.reserve:
                run.notes.append(f"time budget reached: {i} of {args.uploads} uploads measured")
                break
            # A rotating order, so no server always runs right after another.
            for target in targets[i % len(targets):] + targets[: i % len(targets)]:
                series = run.series[target.name]
                measure_installable(target, i, wheel, version, env, scratch, series)
                measure_floor(target, env, scratch, series)
            if (i + 1) % 10 == 0:
                print(f"[{clock.elapsed():5.0f} s] {i + 1} uploads per server", flush=True)

        upload_url = nginx.url("/upload/pypi/local/")
        page_url = nginx.url(f"/python/latest/simple/{LISTING_PROJECT}/")
        for i, (wheel, version) in enumerate(
            zip(listing_wheels, listing_versions, strict=True)
        ):
            if clock.left() < args.reserve:
                run.notes.append(
                    f"time budget reached: {i} of {args.listing_uploads} raw uploads measured"
                )
                break
            measure_listing(upload_url, page_url, token, wheel, version, run.listing)
        print(f"[{clock.elapsed():5.0f} s] raw uploads done", flush=True)

    if args.pypiserver_prefill_uploads and peers_bin is not None:
        measure_prefilled_pypiserver(args, clock, peers_bin, env, scratch, floor_wheel,
                                     wheels, versions, run)
    facts["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    facts["wall time of the run"] = f"{clock.elapsed():.0f} s"
    return run


def measure_prefilled_pypiserver(
    args: argparse.Namespace, clock: Clock, bin_dir: Path, env: Mapping[str, str],
    scratch: Path, floor_wheel: Path, wheels: Sequence[Path], versions: Sequence[str],
    run: Run,
) -> None:
    """pypiserver over as many (empty) files as timeshelf's catalog, on the first wheels."""
    name = f"pypiserver ({args.files // 1000}k files)"
    packages = WORK / "pypiserver-prefilled"
    count = prefill_directory(packages, args.files, args.seed)
    run.notes.append(f"{name}: directory pre-filled with {count} empty files named as the "
                     "dataset's files")
    series = run.series[name] = Series()
    with pypiserver(bin_dir, packages, name) as target:
        twine_upload(target, floor_wheel, env)
        for i in range(min(args.pypiserver_prefill_uploads, len(wheels))):
            if clock.left() < args.reserve:
                run.notes.append(f"time budget reached: {name} measured on {i} uploads")
                break
            measure_installable(target, i, wheels[i], versions[i], env, scratch, series)
            measure_floor(target, env, scratch, series)
    print(f"[{clock.elapsed():5.0f} s] {name} done", flush=True)


# -- report -----------------------------------------------------------------------------


def summary(run: Run) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name, s in run.series.items():
        out[name] = {
            "n": len(s.installable),
            "installable_median": median(s.installable),
            "installable_p95": percentile(s.installable, 95),
            "floor_median": median(s.floor),
            "floor_p95": percentile(s.floor, 95),
            "above_floor_median": median(s.installable) - median(s.floor),
            "twine_median": median(s.twine),
            "first_try": sum(1 for a in s.attempts if a == 1),
            "failures": s.failures,
        }
    li = run.listing
    out["listing"] = {
        "n": len(li.listed),
        "response_median": median(li.response),
        "response_p95": percentile(li.response, 95),
        "listed_median": median(li.listed),
        "listed_p95": percentile(li.listed, 95),
        "first_poll": sum(1 for p in li.polls if p == 1),
        "failures": li.failures,
    }
    return out


def render_report(run: Run, command: str) -> str:
    """The figures as Markdown (what goes between the markers in RESULTS.md)."""
    stats = summary(run)
    names = list(run.series)
    ts = stats.get("timeshelf")
    lines = [f"Command (from the repository root): `{command}`", ""]
    lines += ["| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]

    def row(label: str, key: str, fmt: str = "ms") -> None:
        cells = []
        for n in names:
            value = stats[n][key]
            cells.append(ms(value) if fmt == "ms" else f"{value:.0f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("uploads measured", "n", "n")
    row("**upload → installable, median**", "installable_median")
    row("upload → installable, p95", "installable_p95")
    row("floor: pip download of a present version, median", "floor_median")
    row("floor, p95", "floor_p95")
    row("installable median − floor median", "above_floor_median")
    row("twine upload (whole command), median", "twine_median")
    row("installable at the first pip run", "first_try", "n")
    row("not installable within 60 s", "failures", "n")
    lines.append("")
    if ts is not None:
        lines += [
            "| timeshelf vs peer, upload → installable | ratio of medians | ratio of p95s "
            "| paired median difference [95 % interval] | target: no slower |",
            "|---|---:|---:|---:|---|",
        ]
        for n in names:
            if n == "timeshelf":
                continue
            r_med = ts["installable_median"] / stats[n]["installable_median"]
            r_p95 = ts["installable_p95"] / stats[n]["installable_p95"]
            if n in run.interleaved:
                diff, low, high, pairs = paired_difference(
                    run.series["timeshelf"], run.series[n]
                )
                paired = f"{diff * 1000:+.0f} ms [{low * 1000:+.0f}, {high * 1000:+.0f}], {pairs} pairs"
                judged = verdict(diff, low)
            else:
                paired = "(not interleaved)"
                judged = "met" if r_med <= 1.0 else "missed"
            lines.append(f"| {n} | {r_med:.2f} | {r_p95:.2f} | {paired} | {judged} |")
        lines.append("")
    li = stats["listing"]
    listed = "met" if li["listed_median"] <= LISTING_TARGET else "missed"
    lines += [
        "| timeshelf, raw upload through nginx (http.client) | median | p95 |",
        "|---|---:|---:|",
        f"| upload request → response (ingest + regenerate) | {ms(li['response_median'])} "
        f"| {ms(li['response_p95'])} |",
        f"| **response → project page lists the file** (target ≤ 100 ms median: {listed}) "
        f"| {ms(li['listed_median'])} | {ms(li['listed_p95'])} |",
        "",
        f"{li['n']:.0f} raw uploads; listed at the first poll {li['first_poll']:.0f} times; "
        f"{li['failures']:.0f} not listed within {LISTING_LIMIT:.0f} s.",
        "",
        "Machine: " + "; ".join(f"{k}: {v}" for k, v in run.facts.items()) + ".",
    ]
    if run.notes:
        lines += ["", *(f"- {note}" for note in run.notes)]
    return "\n".join(lines) + "\n"


def write_results(report: str, path: Path = RESULTS) -> None:
    """Replace this benchmark's block in RESULTS.md (only between its markers)."""
    write_block(report, name="upload_bench", title=SECTION_TITLE, path=path)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--uploads", type=int, default=50,
                        help="twine uploads per server (default 50)")
    parser.add_argument("--listing-uploads", type=int, default=50,
                        help="raw uploads timed to the listing (default 50)")
    parser.add_argument("--files", type=int, default=100_000,
                        help="files pre-filled into timeshelf's catalog (default 100000)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="dataset seed")
    parser.add_argument("--pypiserver-prefill-uploads", type=int, default=5,
                        help="uploads to a pypiserver pre-filled with --files names (0: skip)")
    parser.add_argument("--no-peers", action="store_true", help="measure timeshelf only")
    parser.add_argument("--budget", type=float, default=1080.0,
                        help="seconds the whole run may take (default 1080)")
    parser.add_argument("--reserve", type=float, default=60.0,
                        help="stop measuring when fewer seconds than this are left")
    parser.add_argument("--write-results", action="store_true",
                        help=f"write the figures into {RESULTS.relative_to(REPO)}")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help=f"also write {(WORK / 'results.json').relative_to(REPO)} to PATH")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)
    clock = Clock(args.budget)
    command = shlex.join([".venv/bin/python", "-m", "bench.upload_bench", *raw])
    try:
        run = measure(args, clock)
    except (BenchError, subprocess.TimeoutExpired) as e:
        print(f"upload bench failed: {e}", file=sys.stderr)
        return 1
    report = render_report(run, command)
    payload = json.dumps(
        {"summary": summary(run), "facts": run.facts, "notes": run.notes,
         "samples": {k: asdict(v) for k, v in run.series.items()},
         "listing": asdict(run.listing)}, indent=2, sort_keys=True,
    )
    (WORK / "results.json").write_text(payload, encoding="utf-8")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(payload + "\n", encoding="utf-8")
    print(report)
    if args.write_results:
        write_results(report)
        print(f"wrote {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
