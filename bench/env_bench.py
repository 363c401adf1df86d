"""Deploy environments: server-side time of a cache hit and of cold builds, pip against uv.

Everything runs on 127.0.0.1 in one run:

- an installation holding ``--packages`` fixture wheels (default 30; every fifth one
  depends on two others, so the installers resolve a small graph), each a package of
  ``--modules`` modules; the site is served by the real nginx
  (``timeshelf nginx-conf --standalone``) and ``[server] public_url`` points at nginx,
  so builds download through nginx from the local repository;
- ``timeshelf serve`` takes the bundles (one bundle requiring all the packages).

Measures, interleaving pip and uv so the machine's noise spreads evenly:

1. **cold build** (``--runs`` times per installer): the environment is deleted
   (``DELETE /__api__/environments/<id>``) and the installer's download cache emptied,
   then the bundle is deployed; also **cold environment, warm download cache** (the
   environment deleted, the cache kept: a new dependency set of known packages).
2. **cache hit** (``--hits`` times): the same bundle again, environment present.

The time is the server's: from the request's arrival to the environment being ready
(the task's ``elapsed``); the client's round trip (upload, then polling every 10 ms) is
recorded beside it. Medians are reported.

Run from the repository root (results in bench/RESULTS.md)::

    .venv/bin/python -m bench.env_bench --write-results

Scratch data goes to ``bench/work/env/`` (rebuilt every run; ignored by git).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.deployment import auth, bundle_bytes, deploy_config, post_bundle
from tests.factory import WheelSpec, build_wheel
from tests.servers import (
    free_port,
    make_installation,
    nginx_conf_for,
    request,
    run_nginx,
    run_timeshelf,
    run_timeshelf_serve,
)

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work" / "env"
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Deploy environments (`bench/env_bench.py`)"


def package_name(i: int) -> str:
    return f"benchpkg{i:02d}"


def write_wheels(directory: Path, count: int, modules: int) -> list[Path]:
    """``count`` wheels; package i (i % 5 == 0) requires packages i+1 and i+2."""
    paths = []
    for i in range(count):
        requires = tuple(
            f"{package_name(j)}>=1" for j in (i + 1, i + 2) if i % 5 == 0 and j < count
        )
        name = package_name(i)
        extra = {
            f"{name}/mod{m:02d}.py": (f'"""Module {m} of {name}."""\n' + "X = 1\n" * 200).encode()
            for m in range(modules)
        }
        paths.append(build_wheel(directory, WheelSpec(name, "1.0", requires_dist=requires,
                                                      extra=extra)))
    return paths


@dataclass
class Sample:
    kind: str
    installer: str
    server_seconds: float
    client_seconds: float


def deploy_once(base: str, token: str, body: bytes) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    reply = post_bundle(base, token, body)
    if reply.status != 202:
        raise RuntimeError(f"deploy refused: {reply.status} {reply.body!r}")
    task_id = json.loads(reply.body)["task_id"]
    deadline = time.monotonic() + 600
    while True:
        task: dict[str, Any] = json.loads(
            request(f"{base}/__api__/tasks/{task_id}", headers=auth(token)).body
        )
        if task["finished"]:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"task {task_id} did not finish in 600 s")
        time.sleep(0.01)
    client = time.perf_counter() - started
    if task["code"] != 0:
        raise RuntimeError("build failed:\n" + "\n".join(task["output"][-30:]))
    return task, client


@contextmanager
def servers(packages: int, modules: int) -> Iterator[tuple[str, str, Path]]:
    """(sidecar URL, deploy token, environments dir) of a fresh installation."""
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    wheels = write_wheels(WORK / "dists", packages, modules)
    config = make_installation(WORK / "inst", *wheels)
    nginx_port, sidecar_port = free_port(), free_port()
    deploy_config(config, executables=[sys.executable])
    text = config.read_text().replace('public_url = ""',
                                      f'public_url = "http://127.0.0.1:{nginx_port}/"')
    config.write_text(text)
    token = run_timeshelf("--config", str(config), "create", "token", "--description", "bench",
                          "--sources", "*", "--scope", "deploy", "-q").stdout.strip()
    with ExitStack() as stack:
        sidecar = stack.enter_context(run_timeshelf_serve(config, port=sidecar_port))
        conf = nginx_conf_for(config, listen=f"127.0.0.1:{nginx_port}", sidecar=sidecar.address)
        stack.enter_context(run_nginx(conf, WORK / "nginx"))
        yield sidecar.base_url, token, config.parent / "environments"


def run(args: argparse.Namespace) -> dict[str, Any]:
    requirements = "".join(f"{package_name(i)}==1.0\n" for i in range(args.packages))
    bundles = {
        "pip": bundle_bytes(requirements, allow_uv=False),
        "uv": bundle_bytes(requirements, allow_uv=True),
    }
    samples: list[Sample] = []
    with servers(args.packages, args.modules) as (base, token, environments):
        keys: dict[str, str] = {}
        for run_index in range(args.runs):
            order = ("pip", "uv") if run_index % 2 == 0 else ("uv", "pip")
            for kind in ("cold", "warm-cache"):
                for installer in order:
                    if installer in keys:
                        request(f"{base}/__api__/environments/{keys[installer]}",
                                method="DELETE", headers=auth(token))
                    if kind == "cold":
                        shutil.rmtree(environments / ".cache" / installer, ignore_errors=True)
                    task, client = deploy_once(base, token, bundles[installer])
                    if not any(line.startswith("$ ") for line in task["output"]):
                        raise RuntimeError(f"{installer} {kind}: no installer ran")
                    keys[installer] = task["environment"]
                    samples.append(Sample(kind, installer, task["elapsed"], client))
                    print(f"{kind:10} {installer:3} server {task['elapsed']:7.3f} s  "
                          f"client {client:7.3f} s", file=sys.stderr)
        for i in range(args.hits):
            installer = ("pip", "uv")[i % 2]
            task, client = deploy_once(base, token, bundles[installer])
            if not any("is cached" in line for line in task["output"]):
                raise RuntimeError("expected a cache hit:\n" + "\n".join(task["output"]))
            samples.append(Sample("hit", installer, task["elapsed"], client))
        freeze = (environments / keys["uv"] / "freeze.txt").read_text().splitlines()
        if len(freeze) != args.packages:
            raise RuntimeError(f"the environment holds {len(freeze)} packages: {freeze}")

    def median(kind: str, installer: str | None, field: str) -> float:
        values = [getattr(s, field) for s in samples
                  if s.kind == kind and (installer is None or s.installer == installer)]
        return statistics.median(values)

    summary = {
        f"{kind}_{installer}": {
            "server_s": round(median(kind, installer, "server_seconds"), 3),
            "client_s": round(median(kind, installer, "client_seconds"), 3),
        }
        for kind in ("cold", "warm-cache") for installer in ("pip", "uv")
    }
    summary["hit"] = {
        "server_s": round(median("hit", None, "server_seconds"), 4),
        "client_s": round(median("hit", None, "client_seconds"), 4),
    }
    return {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
                   f"{platform.python_version()}, {uv_version()}",
        "packages": args.packages,
        "modules": args.modules,
        "runs": args.runs,
        "hits": args.hits,
        "summary": summary,
        "samples": [s.__dict__ for s in samples],
    }


def uv_version() -> str:
    from uploader.deploy.installers import find_uv

    uv = find_uv()
    if uv is None:
        return "no uv"
    return subprocess.run([uv, "--version"], capture_output=True, text=True, check=False,
                          timeout=30).stdout.strip()


def markdown(result: dict[str, Any]) -> str:
    s = result["summary"]
    cold = s["cold_pip"]["server_s"] / s["cold_uv"]["server_s"]
    warm = s["warm-cache_pip"]["server_s"] / s["warm-cache_uv"]["server_s"]
    hit_ms = s["hit"]["server_s"] * 1000
    spread = "; ".join(
        f"{kind} {installer} "
        + ", ".join(f"{x['server_seconds']:.2f}" for x in result["samples"]
                    if x["kind"] == kind and x["installer"] == installer)
        for kind in ("cold", "warm-cache") for installer in ("pip", "uv")
    )
    lines = [
        SECTION,
        "",
        f"Run {result['when']} on {result['machine']}: {result['packages']} packages of "
        f"{result['modules']} modules each (every fifth depends on two others), served by "
        "nginx from the local repository over loopback; `timeshelf serve` builds. Server-side "
        "time from the request's arrival to the environment being ready (the task's "
        f"`elapsed`); medians of {result['runs']} builds per case, {result['hits']} cache hits.",
        "",
        "| case | pip | uv | pip / uv |",
        "| --- | ---: | ---: | ---: |",
        f"| cold build (new environment, empty download cache) | {s['cold_pip']['server_s']:.2f} s "
        f"| {s['cold_uv']['server_s']:.2f} s | {cold:.1f}× |",
        f"| cold environment, warm download cache | {s['warm-cache_pip']['server_s']:.2f} s "
        f"| {s['warm-cache_uv']['server_s']:.2f} s | {warm:.1f}× |",
        "",
        f"Cache hit (the same bundle again): **{hit_ms:.1f} ms** server-side "
        f"({s['hit']['client_s'] * 1000:.1f} ms for the client: upload, then polling every "
        "10 ms). Targets: cache hit under 100 ms "
        f"({'met' if hit_ms < 100 else 'missed'}); uv cold build at least 5× faster than pip "
        f"({'met' if cold >= 5 else 'missed'}: {cold:.1f}×).",
        "",
        f"Every build, in seconds: {spread}. A pip build is `python -m venv` (which runs "
        "ensurepip to put pip into the environment) plus `pip install`; a uv build is "
        "`uv venv` plus `uv pip install`, which links files from its cache. Reproduce: "
        "`.venv/bin/python -m bench.env_bench --write-results` (or `--from-json "
        "bench/work/env/result.json` to rewrite this section from the last run).",
        "",
    ]
    return "\n".join(lines)


def write_results(text: str) -> None:
    current = RESULTS.read_text() if RESULTS.exists() else "# timeshelf benchmarks\n\n"
    if SECTION in current:
        start = current.index(SECTION)
        following = current.find("\n## ", start + len(SECTION))
        end = len(current) if following < 0 else following + 1
        current = current[:start] + text + current[end:]
    else:
        current = current.rstrip("\n") + "\n\n" + text
    RESULTS.write_text(current)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", type=int, default=30, help="Packages in the bundle.")
    parser.add_argument("--modules", type=int, default=20, help="Modules per package.")
    parser.add_argument("--runs", type=int, default=3, help="Builds per installer and case.")
    parser.add_argument("--hits", type=int, default=9, help="Cache-hit deploys.")
    parser.add_argument("--write-results", action="store_true",
                        help="Replace this benchmark's section of bench/RESULTS.md.")
    parser.add_argument("--from-json", type=Path, default=None,
                        help="Report a saved result.json instead of running.")
    args = parser.parse_args()
    if args.from_json is not None:
        result = json.loads(args.from_json.read_text())
    else:
        result = run(args)
        (WORK / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result)
    print(text)
    if args.write_results:
        write_results(text)


if __name__ == "__main__":
    main()
