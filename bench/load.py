"""Load: project pages under wrk while 10 clients upload and ``generate`` runs.

Everything runs on 127.0.0.1, bounded in time:

- **the site**: a copy of the cached benchmark installation (``bench.generate_bench``'s
  ``dataset``: ten files per project, 100k projects by default, hashes only, no archives),
  rendered once with ``timeshelf generate --full`` into an empty output, served by the
  real nginx (``timeshelf nginx-conf --standalone``) with uploads passed to
  ``timeshelf serve``;
- **page load**: ``wrk`` for ``--duration`` seconds over project pages, a Lua script
  picking a random project per request (a tenth of them from the projects being uploaded
  to, so pages are read while they are replaced) and, at random, HTML (``Accept:
  text/html``) or PEP 691 JSON (pip's ``Accept`` header);
- **uploads**: ``--clients`` threads, each sending twine's multipart POST of a small
  real wheel (``tests.factory``), one after another, through nginx to the sidecar with a
  token from ``timeshelf create token``; each upload is a new version of a project of the
  catalog (the sidecar regenerates its pages before it answers);
- **generate**: ``timeshelf generate`` run ``--generates`` times during the load;
- **torn-page check**: one thread reading the uploaded-to projects' pages through nginx
  and parsing every answer (a JSON page must parse, an HTML page must be complete).

Reported: wrk's requests/s, its errors (non-2xx/3xx answers and socket errors: connect,
read, write, timeout), its latency distribution (wrk measures from the send, so a stalled
server shows less than an open-loop client would see); the uploads' statuses and latency
(p50, p99, max); nginx's access log by status. Afterwards every acknowledged upload (HTTP
200) is checked over HTTP (its JSON page lists it with the sha256 we computed, and the file
nginx serves has that sha256), and installed with ``pip download --no-deps --index-url
<nginx>/python/latest/simple/ NAME==VERSION`` in an environment no pip configuration of
this machine reaches: all of them, or a seeded sample of ``--pip-sample`` when there are
more.

Every timeshelf process runs with the clock fixed inside the day the dataset was created
(as in ``bench/generate_bench.py``), so no dated snapshot falls due during the run.

Run from the repository root (a heavy run, so under the benchmark lock)::

    flock /tmp/timeshelf-bench.lock .venv/bin/python -m bench.load --write-results

``--projects 10000`` (or 1000) uses a smaller cached dataset for a quick run. Scratch
data goes to ``bench/work/load/`` (rebuilt every run, ignored by git).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import http.client
import json
import os
import platform
import random
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from packaging.utils import canonicalize_name

from bench.dataset import DEFAULT_SEED, FILES_PER_PROJECT
from bench.generate_bench import RUN_NOW, dataset, point_output
from bench.upload_bench import client_env, multipart_body, percentile
from generator.clock import ENV_NOW
from tests.factory import WheelSpec, build_wheel
from tests.servers import (
    Server,
    free_port,
    nginx_conf_for,
    request,
    run_nginx,
    run_timeshelf,
    run_timeshelf_serve,
)

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / "work" / "load"
RESULTS = REPO / "RELIABILITY.md"
WRK = os.environ.get("TIMESHELF_BENCH_WRK") or shutil.which("wrk") or "/usr/bin/wrk"
MARK_BEGIN = "<!-- load:begin -->"
MARK_END = "<!-- load:end -->"
SECTION_TITLE = "### Load (`bench/load.py`)"
SOURCE = "local"
INDEX_PATH = "/python/latest/simple/"
HTML_ACCEPT = "text/html"
# What pip sends (PEP 691): JSON preferred, HTML as a fallback.
PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
# A tenth of wrk's requests go to the projects being uploaded to.
HOT_SHARE = 0.1
UPLOAD_TIMEOUT = 120.0

LUA_SCRIPT = """\
-- timeshelf bench/load.py: random project pages, HTML or PEP 691 JSON.
local next_id = 1
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

local paths, hot = {}, {}
local accepts = { "%(html)s", "%(json)s" }
local hot_share = %(hot_share)s

function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  for line in io.lines(args[2]) do hot[#hot + 1] = line end
  math.randomseed(tonumber(args[3]) * 1000 + id)
end

function request()
  local list = paths
  if #hot > 0 and math.random() < hot_share then list = hot end
  local path = list[math.random(#list)]
  return wrk.format("GET", path, { ["Accept"] = accepts[math.random(2)] })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "LOADJSON {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"bytes\\": %%d, " ..
    "\\"connect\\": %%d, \\"read\\": %%d, \\"write\\": %%d, \\"status\\": %%d, " ..
    "\\"timeout\\": %%d, \\"p50_us\\": %%d, \\"p90_us\\": %%d, \\"p99_us\\": %%d, " ..
    "\\"p999_us\\": %%d, \\"max_us\\": %%d, \\"mean_us\\": %%.1f}\\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end
"""


class BenchError(RuntimeError):
    """A step of the benchmark failed; the message says which and why."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- records --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Upload:
    """One upload attempt: what was sent and what came back (status 0: a socket error)."""

    project: str
    version: str
    filename: str
    sha256: str
    status: int
    seconds: float
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerateRun:
    """One explicit ``timeshelf generate`` during the load."""

    seconds: float
    returncode: int
    report: str


@dataclass(slots=True)
class Torn:
    """The torn-page check: pages read and the ones that were not whole."""

    reads: int = 0
    bad: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Run:
    """Everything one run measured, plus the facts needed to read it."""

    facts: dict[str, str] = field(default_factory=dict)
    wrk: dict[str, float] = field(default_factory=dict)
    uploads: list[Upload] = field(default_factory=list)
    generates: list[GenerateRun] = field(default_factory=list)
    torn: Torn = field(default_factory=Torn)
    access: Counter[tuple[str, str]] = field(default_factory=Counter)
    listed_ok: int = 0
    listed_bad: list[str] = field(default_factory=list)
    pip_checked: int = 0
    pip_bad: list[str] = field(default_factory=list)
    sidecar_errors: list[str] = field(default_factory=list)
    # nginx's process state, sampled during the load ("D <wchan>" when blocked).
    nginx_states: Counter[str] = field(default_factory=Counter)
    # CPU seconds of each part during the load phase.
    cpu: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def acknowledged(self) -> list[Upload]:
        return [u for u in self.uploads if u.status == 200]


# -- the site -------------------------------------------------------------------------------


def timeshelf_env() -> dict[str, str]:
    return {ENV_NOW: RUN_NOW}


def prepare_installation(projects: int, seed: int, facts: dict[str, str]) -> Path:
    """A copy of the cached dataset's installation with an empty output; its config."""
    data = dataset(projects * FILES_PER_PROJECT, seed)
    install = WORK / "install"
    started = time.monotonic()
    shutil.copytree(data / "install", install, ignore=shutil.ignore_patterns("site"))
    config = install / "timeshelf.toml"
    point_output(config, WORK / "site")
    facts["copying the installation"] = f"{time.monotonic() - started:.1f} s"
    return config


def full_generate(config: Path, facts: dict[str, str]) -> None:
    log("timeshelf generate --full (the initial site)")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "uploader.cli", "--config", str(config), "generate", "--full"],
        env={**os.environ, **timeshelf_env()}, capture_output=True, text=True, check=False,
        timeout=1800,
    )
    if done.returncode != 0:
        raise BenchError(f"timeshelf generate --full exited {done.returncode}:\n{done.stderr}")
    facts["initial `generate --full`"] = f"{time.monotonic() - started:.0f} s"
    log(f"generated in {time.monotonic() - started:.0f} s: {done.stderr.strip()[-200:]}")
    # Written pages still on their way to disk would throttle nginx's access log writes
    # (dirty-page balancing) during the load: flush them first, as generate_bench does.
    started = time.monotonic()
    subprocess.run(["sync"], check=True)
    facts["`sync` after it"] = f"{time.monotonic() - started:.0f} s"


def project_names(site: Path) -> list[str]:
    """The display names of the root PEP 691 page, in its order."""
    root = json.loads((site / "python" / "latest" / "simple" / "index.json").read_bytes())
    return [p["name"] for p in root["projects"]]


@contextlib.contextmanager
def serving(config: Path, prefix: Path) -> Iterator[tuple[Server, Server]]:
    """``timeshelf serve`` and nginx in front of it: (sidecar, nginx)."""
    with run_timeshelf_serve(config, env=timeshelf_env()) as sidecar:
        conf = nginx_conf_for(config, listen=f"127.0.0.1:{free_port()}",
                              sidecar=sidecar.address)
        with run_nginx(conf, prefix) as nginx:
            yield sidecar, nginx


# -- the load -------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (all its threads)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU time of this process (the upload clients and the torn-page check)."""
    times = os.times()
    return times.user + times.system


def children_cpu_seconds() -> float:
    """CPU time of the waited-for children so far (wrk, the explicit generates, pip)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(
    base_url: str, paths: Path, hot: Path, *, seconds: int, threads: int, connections: int,
    seed: int,
) -> dict[str, float]:
    """wrk over the pages for ``seconds``; its summary (``done`` of the Lua script)."""
    script = WORK / "pages.lua"
    script.write_text(
        LUA_SCRIPT % {"html": HTML_ACCEPT, "json": PIP_ACCEPT, "hot_share": HOT_SHARE},
        encoding="utf-8",
    )
    argv = ["/usr/bin/time", "-f", "CPUSECONDS %U %S", WRK, "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
            "--timeout", "5s", "-s", str(script), base_url + "/", "--",
            str(paths), str(hot), str(seed)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False,
                          timeout=seconds + 120)
    (WORK / "wrk.out").write_text(done.stdout + done.stderr, encoding="utf-8")
    cpu = [line.split()[1:] for line in done.stderr.splitlines()
           if line.startswith("CPUSECONDS ")]
    for line in done.stdout.splitlines():
        if line.startswith("LOADJSON "):
            summary: dict[str, float] = json.loads(line.removeprefix("LOADJSON "))
            summary["cpu_s"] = sum(float(x) for x in cpu[0]) if cpu else float("nan")
            return summary
    raise BenchError(f"wrk exited {done.returncode} without a summary:\n"
                     f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def upload_once(
    upload_url: str, token: str, wheel: Path, project: str, version: str
) -> Upload:
    """One twine-style multipart POST; its status (0 for a socket error) and latency."""
    data = wheel.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    body, content_type = multipart_body(
        (
            (":action", "file_upload"), ("protocol_version", "1"), ("name", project),
            ("version", version), ("filetype", "bdist_wheel"), ("pyversion", "py3"),
            ("metadata_version", "2.1"), ("sha256_digest", sha256),
        ),
        wheel,
    )
    credentials = base64.b64encode(f"__token__:{token}".encode()).decode()
    started = time.monotonic()
    try:
        reply = request(upload_url, method="POST", body=body, timeout=UPLOAD_TIMEOUT, headers={
            "Content-Type": content_type, "Authorization": f"Basic {credentials}",
        })
    except (OSError, http.client.HTTPException) as e:
        return Upload(project=project, version=version, filename=wheel.name, sha256=sha256,
                      status=0, seconds=time.monotonic() - started, detail=repr(e))
    return Upload(
        project=project, version=version, filename=wheel.name, sha256=sha256,
        status=reply.status, seconds=time.monotonic() - started,
        detail=reply.body[:300].decode(errors="replace").strip(),
    )


def upload_client(
    client: int, upload_url: str, token: str, hot: Sequence[str], seed: int,
    stop: threading.Event, out: list[Upload], lock: threading.Lock,
) -> None:
    """Upload new versions of random hot projects until ``stop`` is set."""
    rng = random.Random(f"{seed}:client:{client}")  # noqa: S311 - reproducible choice
    wheels = WORK / "wheels" / f"client-{client}"
    serial = 0
    while not stop.is_set():
        serial += 1
        project = rng.choice(hot)
        # Far above the dataset's versions (which stay below 100), so never a clash.
        version = f"9000.{client}.{serial}"
        wheel = build_wheel(wheels, WheelSpec(name=project, version=version))
        result = upload_once(upload_url, token, wheel, project, version)
        wheel.unlink()
        with lock:
            out.append(result)


def explicit_generates(
    config: Path, count: int, seconds: int, stop: threading.Event, out: list[GenerateRun],
) -> None:
    """``timeshelf generate`` at even intervals of the load (1/(count+1), 2/(count+1), …)."""
    started = time.monotonic()
    for i in range(1, count + 1):
        if stop.wait(max(0.0, started + seconds * i / (count + 1) - time.monotonic())):
            return
        began = time.monotonic()
        done = run_timeshelf("--config", str(config), "generate", env=timeshelf_env(),
                             check=False)
        out.append(GenerateRun(
            seconds=time.monotonic() - began, returncode=done.returncode,
            report=(done.stderr.strip().splitlines() or [""])[-1][:200],
        ))
        log(f"explicit generate #{i}: {out[-1].seconds:.1f} s, exit {done.returncode}: "
            f"{out[-1].report}")


def is_whole(body: bytes, accept: str) -> str:
    """'' when ``body`` is a complete page of the kind asked for, else why not."""
    if accept == PIP_ACCEPT:
        try:
            page = json.loads(body)
        except ValueError as e:
            return f"JSON does not parse: {e}"
        return "" if isinstance(page, dict) and "files" in page else "JSON without files"
    text = body.rstrip()
    return "" if text.endswith(b"</html>") else "HTML does not end with </html>"


def torn_page_check(
    base_url: str, hot: Sequence[str], stop: threading.Event, torn: Torn
) -> None:
    """Read the uploaded-to projects' pages in turn until ``stop``; record any torn one."""
    i = 0
    while not stop.is_set():
        name = hot[i % len(hot)]
        accept = PIP_ACCEPT if i % 2 else HTML_ACCEPT
        i += 1
        path = f"{INDEX_PATH}{canonicalize_name(name)}/"
        try:
            reply = request(base_url + path, headers={"Accept": accept}, timeout=30)
        except (OSError, http.client.HTTPException) as e:
            torn.bad.append(f"{path}: {e!r}")
            continue
        torn.reads += 1
        why = f"status {reply.status}" if reply.status != 200 else is_whole(reply.body, accept)
        if why:
            torn.bad.append(f"{path} ({accept.split(',')[0]}): {why}")


def sample_blocking(pid: int, stop: threading.Event, states: Counter[str]) -> None:
    """Every 10 ms until ``stop``: the process state of ``pid`` (nginx's one worker), and
    for a blocked one (``D``) where in the kernel it waits (``wchan``)."""
    while not stop.wait(0.01):
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                state = stat.read().rsplit(")", 1)[1].split()[0]
            if state == "D":
                with open(f"/proc/{pid}/wchan", encoding="ascii") as wchan:
                    state = f"D {wchan.read().strip() or '?'}"
        except OSError:
            return
        states[state] += 1


ACCESS_LINE = re.compile(r'"([A-Z]+) (\S+) HTTP/[0-9.]+" ([0-9]{3}) ')


def read_access_log(path: Path) -> Counter[tuple[str, str]]:
    """nginx's access log as counts of (kind of request, status)."""
    counts: Counter[tuple[str, str]] = Counter()
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            match = ACCESS_LINE.search(line)
            if match is None:
                counts[("unparsed", "-")] += 1
                continue
            method, target, status = match.groups()
            if method == "POST" and target.startswith("/upload/"):
                kind = "upload POST"
            elif target.startswith(INDEX_PATH):
                kind = "page GET"
            else:
                kind = f"other {method}"
            counts[(kind, status)] += 1
    return counts


# -- afterwards -----------------------------------------------------------------------------


def verify_listed(base_url: str, uploads: Sequence[Upload], run: Run) -> None:
    """Each acknowledged upload: listed on its JSON page with its sha256, and served whole."""
    by_project: dict[str, list[Upload]] = {}
    for upload in uploads:
        by_project.setdefault(upload.project, []).append(upload)
    for project, mine in sorted(by_project.items()):
        page_url = f"{base_url}{INDEX_PATH}{canonicalize_name(project)}/"
        reply = request(page_url, headers={"Accept": JSON_TYPE})
        files = {f["filename"]: f for f in json.loads(reply.body)["files"]} \
            if reply.status == 200 else {}
        for upload in mine:
            entry = files.get(upload.filename)
            if entry is None:
                run.listed_bad.append(f"{upload.filename}: not on {page_url}")
                continue
            if entry["hashes"].get("sha256") != upload.sha256:
                run.listed_bad.append(f"{upload.filename}: listed with another sha256")
                continue
            file_url = urljoin(page_url, entry["url"])
            served = request(file_url.split("#")[0])
            if served.status != 200 or hashlib.sha256(served.body).hexdigest() != upload.sha256:
                run.listed_bad.append(
                    f"{upload.filename}: {file_url} answered {served.status} "
                    "or other bytes"
                )
                continue
            run.listed_ok += 1


def pip_download(index_url: str, upload: Upload, env: Mapping[str, str]) -> str:
    """``pip download --no-deps`` of the upload; '' when the wheel arrived, else why not."""
    with tempfile.TemporaryDirectory(dir=WORK / "scratch") as dest:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--dest", dest,
             "--index-url", index_url, f"{upload.project}=={upload.version}"],
            env=dict(env), capture_output=True, text=True, check=False, timeout=300,
        )
        got = [p.name for p in Path(dest).iterdir()]
    if done.returncode != 0:
        return f"pip exited {done.returncode}: {done.stderr.strip()[-300:]}"
    if got != [upload.filename]:
        return f"pip downloaded {got}, not {upload.filename}"
    return ""


def verify_installable(
    index_url: str, uploads: Sequence[Upload], sample: int, seed: int, run: Run
) -> None:
    """pip download every acknowledged upload, or a seeded sample of ``sample``."""
    chosen = list(uploads)
    if len(chosen) > sample:
        chosen = random.Random(seed).sample(chosen, sample)  # noqa: S311 - a sample
        run.notes.append(
            f"pip download checked a seeded random sample of {sample} of the "
            f"{len(uploads)} acknowledged uploads (all of them were checked over HTTP)."
        )
    home = WORK / "home"
    (WORK / "scratch").mkdir(exist_ok=True)
    env = client_env(home)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda u: (u, pip_download(index_url, u, env)), chosen))
    run.pip_checked = len(results)
    run.pip_bad = [f"{u.project}=={u.version}: {why}" for u, why in results if why]


# -- the run --------------------------------------------------------------------------------


def tool_version(argv: Sequence[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    lines = (done.stdout.strip() or done.stderr.strip()).splitlines()
    return lines[0] if lines else "?"


def measure(args: argparse.Namespace) -> Run:
    started = time.monotonic()
    run = Run()
    run.facts.update({
        "date (UTC)": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "nproc": str(os.cpu_count()),
        "python": platform.python_version(),
        "nginx": tool_version(["nginx", "-v"]).removeprefix("nginx version: "),
        "wrk": tool_version([WRK, "-v"]).split(" [")[0],
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    })
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    config = prepare_installation(args.projects, args.seed, run.facts)
    full_generate(config, run.facts)
    names = project_names(WORK / "site")
    run.facts["catalog"] = (f"{len(names):,} projects, "
                            f"{args.projects * FILES_PER_PROJECT:,} dataset files")
    hot = random.Random(f"{args.seed}:hot").sample(names, min(args.hot, len(names)))  # noqa: S311
    paths_file, hot_file = WORK / "paths.txt", WORK / "hot.txt"
    paths_file.write_text("".join(f"{INDEX_PATH}{canonicalize_name(n)}/\n" for n in names),
                          encoding="utf-8")
    hot_file.write_text("".join(f"{INDEX_PATH}{canonicalize_name(n)}/\n" for n in hot),
                        encoding="utf-8")
    token = run_timeshelf(
        "--config", str(config), "create", "token", "--description", "load bench",
        "--sources", SOURCE, "-q", env=timeshelf_env(),
    ).stdout.strip()

    with serving(config, WORK / "nginx") as (sidecar, nginx):
        log(f"nginx on {nginx.base_url}, sidecar on {sidecar.base_url}; "
            f"{args.duration} s of load")
        stop = threading.Event()
        lock = threading.Lock()
        workers = [
            threading.Thread(
                target=upload_client, name=f"client-{c}",
                args=(c, nginx.url(f"/upload/pypi/{SOURCE}/"), token, hot, args.seed, stop,
                      run.uploads, lock),
            )
            for c in range(args.clients)
        ]
        workers.append(threading.Thread(
            target=explicit_generates, name="generate",
            args=(config, args.generates, args.duration, stop, run.generates),
        ))
        workers.append(threading.Thread(
            target=sample_blocking, name="nginx-state",
            args=(nginx.process.pid, stop, run.nginx_states),
        ))
        workers.append(threading.Thread(
            target=torn_page_check, name="torn", args=(nginx.base_url, hot, stop, run.torn),
        ))
        load_started = time.monotonic()
        cpu_before = {
            "nginx": cpu_seconds(nginx.process.pid),
            "timeshelf serve": cpu_seconds(sidecar.process.pid),
            "this process (upload clients, torn-page check)": own_cpu_seconds(),
            "children": children_cpu_seconds(),
        }
        for worker in workers:
            worker.start()
        try:
            run.wrk = run_wrk(nginx.base_url, paths_file, hot_file, seconds=args.duration,
                              threads=args.wrk_threads, connections=args.connections,
                              seed=args.seed)
        finally:
            stop.set()
            for worker in workers:
                worker.join()
        load_seconds = time.monotonic() - load_started
        children = children_cpu_seconds() - cpu_before.pop("children")
        cpu_after = {
            "nginx": cpu_seconds(nginx.process.pid),
            "timeshelf serve": cpu_seconds(sidecar.process.pid),
            "this process (upload clients, torn-page check)": own_cpu_seconds(),
        }
        run.cpu = {name: cpu_after[name] - before for name, before in cpu_before.items()}
        run.cpu["wrk"] = run.wrk["cpu_s"]
        run.cpu["explicit generates"] = children - run.wrk["cpu_s"]
        run.cpu["wall time of the load phase"] = load_seconds
        run.facts["load phase (wrk, then the last uploads finishing)"] = f"{load_seconds:.0f} s"
        run.facts["load average at the end of the load"] = " ".join(
            f"{x:.2f}" for x in os.getloadavg()
        )
        access_log = nginx.extra["access_log"]
        run.access = read_access_log(access_log)
        acknowledged = run.acknowledged
        log(f"{len(run.uploads)} uploads, {len(acknowledged)} acknowledged; verifying")
        verify_listed(nginx.base_url, acknowledged, run)
        verify_started = time.monotonic()
        verify_installable(nginx.url(INDEX_PATH), acknowledged, args.pip_sample, args.seed, run)
        run.facts["pip verification"] = f"{time.monotonic() - verify_started:.0f} s"
        run.sidecar_errors = [
            line for line in sidecar.output().splitlines()
            if "ERROR" in line or "Traceback" in line
        ]
    run.facts["whole run"] = f"{time.monotonic() - started:.0f} s"
    return run


# -- the report -----------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def render_report(run: Run, args: argparse.Namespace, command: str) -> str:
    """The figures as Markdown (what goes between the markers in RELIABILITY.md)."""
    w = run.wrk
    seconds = w["duration_us"] / 1e6
    socket_errors = int(w["connect"] + w["read"] + w["write"] + w["timeout"])
    page_errors = int(w["status"]) + socket_errors
    ups = run.uploads
    acked = run.acknowledged
    refused = Counter(u.status for u in ups if u.status != 200)
    latency = [u.seconds for u in ups]
    warned = [u for u in acked if u.detail]
    upload_errors = len(ups) - len(acked)
    refusals = ", ".join(f"{s or 'socket error'}: {n}" for s, n in sorted(refused.items()))
    lines = [
        f"Command: `{command}`",
        "",
        "Machine: " + "; ".join(f"{k}: {v}" for k, v in run.facts.items()) + ".",
        "",
        f"Load: wrk {args.wrk_threads} thread(s), {args.connections} connections, "
        f"{args.duration} s, over every project page ({HOT_SHARE:.0%} of the requests to the "
        f"{args.hot} projects uploaded to), HTML or JSON at random; {args.clients} upload "
        f"clients; {args.generates} explicit `timeshelf generate`.",
        "",
        "| | figure |",
        "|---|---:|",
        f"| page requests (wrk) | {int(w['requests']):,} |",
        f"| **requests/s** | {w['requests'] / seconds:,.0f} |",
        f"| **page errors** (non-2xx/3xx + socket errors) | {page_errors} |",
        f"| of which non-2xx/3xx / connect / read / write / timeout | {int(w['status'])} / "
        f"{int(w['connect'])} / {int(w['read'])} / {int(w['write'])} / {int(w['timeout'])} |",
        f"| page latency p50 / p90 | {w['p50_us'] / 1000:.2f} ms / {w['p90_us'] / 1000:.2f} ms |",
        f"| **page latency p99** | {w['p99_us'] / 1000:.2f} ms |",
        f"| page latency p99.9 / max | {w['p999_us'] / 1000:.1f} ms / "
        f"{w['max_us'] / 1000:.0f} ms |",
        f"| uploads sent | {len(ups)} ({len(ups) / max(seconds, 1e-9):.1f}/s) |",
        f"| **upload errors** (not 200, or a socket error) | {upload_errors}"
        + (f" ({refusals})" if refused else "") + " |",
        f"| upload latency p50 / **p99** / max | {ms(percentile(latency, 50))} / "
        f"**{ms(percentile(latency, 99))}** / {ms(max(latency, default=float('nan')))} |",
        f"| acknowledged (200) | {len(acked)} ({len(warned)} with a warning) |",
        f"| acknowledged, listed with their sha256 and served whole (HTTP check) | "
        f"{run.listed_ok} of {len(acked)} |",
        f"| **acknowledged, installable** (`pip download --no-deps`) | "
        f"{run.pip_checked - len(run.pip_bad)} of {run.pip_checked} checked |",
        f"| torn-page check: pages of the uploaded-to projects read / not whole | "
        f"{run.torn.reads} / {len(run.torn.bad)} |",
        "| explicit `generate` during the load | "
        + ("; ".join(f"{g.seconds:.1f} s (exit {g.returncode})" for g in run.generates)
           or "none") + " |",
        f"| sidecar log lines with ERROR or a traceback | {len(run.sidecar_errors)} |",
        "",
        "CPU seconds during the load phase (2 cores: at most twice the wall time): "
        + ", ".join(f"{name} {value:.1f}" for name, value in run.cpu.items()) + ".",
        "",
        blocking_line(run.nginx_states),
        "",
        "nginx's access log during the load (wrk's and the torn-page check's requests), by "
        "request and status: "
        + ", ".join(f"{kind} {status}: {n:,}" for (kind, status), n in sorted(run.access.items()))
        + ".",
    ]
    problems = [
        *(f"upload {u.filename}: {u.status or 'socket error'} {u.detail[:160]}"
          for u in ups if u.status != 200),
        *(f"acknowledged with a warning: {u.filename}: {u.detail[:160]}" for u in warned),
        *run.listed_bad, *run.pip_bad, *run.torn.bad,
        *(f"generate exited {g.returncode}: {g.report}" for g in run.generates
          if g.returncode != 0),
        *run.sidecar_errors,
    ]
    notes = list(run.notes)
    if problems:
        notes.append(f"{len(problems)} problem(s), the first ones:")
        notes += [f"  {p}" for p in problems[:10]]
    if notes:
        lines += ["", *(f"- {n}" for n in notes)]
    return "\n".join(lines) + "\n"


def blocking_line(states: Counter[str]) -> str:
    """How often nginx's worker was blocked in the kernel, and on what."""
    total = sum(states.values())
    blocked = {k.removeprefix("D "): n for k, n in states.items() if k.startswith("D")}
    if not total:
        return "nginx's state was not sampled."
    waits = ", ".join(f"`{k}` {n}" for k, n in sorted(blocked.items(), key=lambda x: -x[1])[:3])
    return (f"nginx's worker (one process) was blocked in the kernel (state D) in "
            f"{sum(blocked.values())} of {total} samples taken every 10 ms"
            + (f", waiting in {waits}" if waits else "") + ".")


def write_results(report: str, path: Path = RESULTS) -> None:
    """Put the report between the markers of its section of RELIABILITY.md."""
    block = f"{MARK_BEGIN}\n{report}{MARK_END}\n"
    text = path.read_text(encoding="utf-8")
    begin, end = text.find(MARK_BEGIN), text.find(MARK_END)
    if begin != -1 and end != -1:
        text = text[:begin] + block + text[end + len(MARK_END):].removeprefix("\n")
    else:
        heading = text.find(SECTION_TITLE)
        if heading == -1:
            raise BenchError(f"{path.name} has no {SECTION_TITLE!r} section")
        start = heading + len(SECTION_TITLE)
        following = text.find("\n#", start)
        following = len(text) if following == -1 else following + 1
        text = text[:start] + "\n\n" + block + "\n" + text[following:]
    path.write_text(text, encoding="utf-8")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--projects", type=int, default=100_000,
                        help="projects in the catalog (ten files each; cached datasets: "
                             "1000, 10000, 100000; default 100000)")
    parser.add_argument("--duration", type=int, default=60,
                        help="seconds of load (default 60)")
    parser.add_argument("--clients", type=int, default=10,
                        help="concurrent upload clients (default 10)")
    parser.add_argument("--hot", type=int, default=200,
                        help="projects the uploads go to (default 200)")
    parser.add_argument("--generates", type=int, default=2,
                        help="explicit `timeshelf generate` runs during the load (default 2)")
    parser.add_argument("--wrk-threads", type=int, default=1,
                        help="wrk threads (default 1: nginx runs one worker)")
    parser.add_argument("--connections", type=int, default=16,
                        help="wrk connections (default 16)")
    parser.add_argument("--pip-sample", type=int, default=200,
                        help="pip download at most this many acknowledged uploads, a seeded "
                             "sample when there are more (default 200)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="dataset seed")
    parser.add_argument("--write-results", action="store_true",
                        help=f"write the figures into {RESULTS.name}")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)
    command = shlex.join([".venv/bin/python", "-m", "bench.load", *raw])
    run = measure(args)
    report = render_report(run, args, command)
    print(report)
    if args.write_results:
        write_results(report)
        print(f"wrote {RESULTS.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
