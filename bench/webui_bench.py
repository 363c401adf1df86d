"""What the web UI adds to generation: the same full generate with the UI off and on.

A repository of ``--projects`` projects (``bench.dataset``, ten files per project; the
catalog is built once and cached in ``--work``/dataset, or copied from ``--catalog``)
is generated in-process, each run into an empty output:

- **index only**: ``Installation.generate(full=True, ui=False)``, the foundation's full
  generate (``latest/simple/``, HTML and JSON pages);
- **index + UI**: ``Installation.generate(full=True)``, the same plus the web UI
  (package pages, search shards, letter pages, repository and home pages), with the UI
  part also timed on its own (``WebUi.generate_repo`` + ``finish``);
- **incremental**: one project gets a new file, then ``generate`` (index + UI), and the
  UI part alone.

Runs alternate (off, on, off, on, ...) and the medians are reported, with the peak RSS
of the process. The dataset has no archives, so no ``.metadata`` blob exists and no
description is rendered; ``--describe N`` then writes Markdown and reStructuredText
READMEs for N projects into the store and times the UI's full run twice: first
rendering them (``readme_renderer``), then with the per-page description cache.

Then the cost of one package page is broken down (``--page-costs N`` projects): CPU to
render it, to write it as generation does (``<name>/index.html``, a new directory renamed
into place) and, for comparison, as a flat ``<name>.html``, against the index's CPU per
project: what a page per project costs at the least, whatever the rest does.

Run from the repository root (about 10 minutes for 100k projects)::

    .venv/bin/python -m bench.webui_bench --projects 100000 --describe 1000 --write-results
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dataset import DEFAULT_SEED, add_to_catalog, build_dataset, extra_file
from bench.results import RESULTS, write_block
from generator.config.settings import load_config
from generator.installation import Installation
from generator.records import ProjectState, Repo
from generator.render.markup import MARKUP_VERSION
from generator.render.ui import UiRenderer, description_file, latest_version
from generator.storage.atomic import write_new_directory
from generator.storage.store import file_key

REPO = "python"
AT = datetime(2026, 1, 1, 12, tzinfo=UTC)
TARGET_OVERHEAD = 0.30
README_MD = """\
# {name}

{name} does one thing, and does it well. It is a **benchmark** README with the usual
parts: badges, a quick start, a table and some code.

## Install

```console
$ pip install {name}
```

## Use

```python
import {module}

client = {module}.Client(timeout=10)
for item in client.items():
    print(item.name, item.size)
```

| option | default | meaning |
| ------ | ------- | ------- |
| `timeout` | `10` | seconds to wait |
| `retries` | `3` | attempts after the first |

- [x] tested on CPython 3.9 to 3.13
- [ ] a logo

See the [changelog](https://example.invalid/changelog) for what changed.
"""
README_RST = """\
{name}
{underline}

{name} does one thing, and does it well. It is a **benchmark** README.

Install
-------

.. code-block:: console

   $ pip install {name}

Use
---

.. code-block:: python

   import {module}
   client = {module}.Client(timeout=10)

=========  =======  ===============
option     default  meaning
=========  =======  ===============
timeout    10       seconds to wait
retries    3        attempts
=========  =======  ===============
"""


def prepare(work: Path, projects: int, catalog: Path | None) -> Path:
    """An installation with the dataset (cached); returns its configuration path."""
    dataset = work / f"dataset-{projects}"
    config = dataset / "install" / "timeshelf.toml"
    if not config.exists():
        shutil.rmtree(dataset, ignore_errors=True)
        if catalog is not None:
            dataset.mkdir(parents=True)
            from bench.dataset import init_installation

            init_installation(dataset / "install")
            shutil.copyfile(catalog, load_config(config).catalog_path)
        else:
            build_dataset(dataset, projects * 10, DEFAULT_SEED, at=AT)
    return config


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def timed_cpu(action: Callable[[], object]) -> tuple[float, float]:
    """(wall, CPU) seconds of ``action``, CPU counting finished child processes too."""
    started, cpu = time.perf_counter(), _cpu()
    action()
    return time.perf_counter() - started, _cpu() - cpu


def fresh(inst: Installation) -> None:
    """Empty the output but for the store (``files/``, where ``init`` puts it)."""
    output = inst.config.output_path
    for entry in output.iterdir() if output.exists() else ():
        if entry.name == "files":
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    inst.__dict__.pop("webui", None)


def write_descriptions(inst: Installation, count: int) -> int:
    """Store a README-bearing ``.metadata`` for the described file of ``count`` projects."""
    repo = inst.catalog.get_repo(REPO)
    written = 0
    for project in inst.catalog.iter_projects(repo):
        if written >= count:
            break
        chosen = description_file(project.files, latest_version(project.files))
        if chosen is None:
            continue
        module = project.name.replace("-", "_")
        if written % 2:
            body = README_RST.format(name=project.display_name, module=module,
                                     underline="=" * len(project.display_name))
            kind = "text/x-rst"
        else:
            body = README_MD.format(name=project.display_name, module=module)
            kind = "text/markdown"
        metadata = (
            f"Metadata-Version: 2.1\nName: {project.display_name}\nVersion: {chosen.version}\n"
            f"Summary: A benchmark project\nDescription-Content-Type: {kind}\n\n{body}"
        ).encode()
        suffix = ".metadata" if chosen.metadata_sha256 else ".pkg-info"
        inst.store.put_bytes(file_key(chosen.sha256, chosen.filename) + suffix, metadata)
        written += 1
    return written


def _cpu_self() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def page_costs(
    inst: Installation, repo: Repo, count: int, rounds: int
) -> dict[str, float]:
    """Microseconds of CPU per package page for each part of its cost, over the first
    ``count`` projects, medians of ``rounds``: rendering it (no I/O), writing one rendered
    page as ``<name>/index.html`` the way generation does (a new directory renamed into
    place), and, for comparison, as a flat ``<name>.html`` (a temporary file renamed)."""
    projects: list[ProjectState] = []
    for project in inst.catalog.iter_projects(repo):
        projects.append(project)
        if len(projects) >= count:
            break
    renderer = UiRenderer()
    base_url = "http://127.0.0.1:8080/"
    page = renderer.package_html(repo=repo, project=projects[0], summary="",
                                 description="", base_url=base_url)
    scratch = inst.config.output_path / ".page-costs"

    def render() -> None:
        for p in projects:
            renderer.package_html(repo=repo, project=p, summary="", description="",
                                  base_url=base_url)

    def in_directory() -> None:
        for p in projects:
            write_new_directory(scratch / p.name, {"index.html": page})

    def flat() -> None:
        for p in projects:
            temp, final = f"{scratch}/.{p.name}.tmp", f"{scratch}/{p.name}.html"
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(fd, page)
            finally:
                os.close(fd)
            os.rename(temp, final)

    samples: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name, action in (("render", render), ("write_directory", in_directory),
                             ("write_flat", flat)):
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir(parents=True)
            os.sync()
            started = _cpu_self()
            action()
            samples.setdefault(name, []).append((_cpu_self() - started) / len(projects) * 1e6)
    shutil.rmtree(scratch, ignore_errors=True)
    costs = {f"{name}_us": round(statistics.median(v), 1) for name, v in samples.items()}
    costs["projects"] = len(projects)
    costs["page_bytes"] = len(page)
    return costs


def run(args: argparse.Namespace) -> dict[str, Any]:
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    config = prepare(work, args.projects, args.catalog)
    inst = Installation(load_config(config), clock=lambda: AT)
    repo = inst.catalog.get_repo(REPO)
    projects = len(inst.catalog.project_names(repo))
    index_only: list[tuple[float, float]] = []
    with_ui: list[tuple[float, float]] = []
    ui_alone: list[tuple[float, float]] = []
    for _ in range(args.rounds):
        fresh(inst)
        with_ui.append(timed_cpu(lambda: inst.generate([repo], full=True, snapshots=False)))
        fresh(inst)
        index_only.append(timed_cpu(lambda: inst.generate([repo], full=True, ui=False,
                                                          snapshots=False)))
        ui_alone.append(timed_cpu(lambda: (inst.webui.generate_repo(repo, full=True),
                                           inst.webui.finish())))
    output = inst.config.output_path
    ui_files = sum(1 for _ in (output / REPO / "project").iterdir())
    shard_sizes = sorted((p.stat().st_size for p in (output / REPO / "search").iterdir()),
                         reverse=True)
    # Incremental: one project changes.
    incremental: list[float] = []
    incremental_ui: list[float] = []
    for serial in range(1, args.rounds + 1):
        item = extra_file(args.projects * 10, DEFAULT_SEED, serial)
        add_to_catalog(config, [item], AT)
        incremental.append(timed(lambda: inst.generate([repo], snapshots=False, ui=False)))
        incremental_ui.append(timed(lambda: inst.webui.generate_repo(repo)))
    described: dict[str, Any] = {}
    if args.describe:
        count = write_descriptions(inst, args.describe)
        inst.__dict__.pop("webui", None)
        first = timed(lambda: inst.webui.generate_repo(repo, full=True))
        again = timed(lambda: inst.webui.generate_repo(repo, full=True))
        described = {
            "projects_with_readme": count,
            "ui_full_rendering_s": round(first, 2),
            "ui_full_cached_s": round(again, 2),
            "ms_per_readme": round((first - again) / count * 1000, 2),
        }
    costs = page_costs(inst, repo, min(args.page_costs, projects), args.rounds)
    inst.close()
    index_median = statistics.median(w for w, _ in index_only)
    ui_median = statistics.median(w for w, _ in ui_alone)
    with_median = statistics.median(w for w, _ in with_ui)
    index_cpu = statistics.median(c for _, c in index_only)
    ui_cpu = statistics.median(c for _, c in ui_alone)
    return {
        "projects": projects,
        "files": projects * 10,
        "rounds": args.rounds,
        "index_only_s": round(index_median, 2),
        "index_and_ui_s": round(with_median, 2),
        "ui_alone_s": round(ui_median, 2),
        "index_only_cpu_s": round(index_cpu, 2),
        "index_and_ui_cpu_s": round(statistics.median(c for _, c in with_ui), 2),
        "ui_alone_cpu_s": round(ui_cpu, 2),
        "ui_overhead": round(with_median / index_median - 1, 3),
        "ui_sequential_overhead": round(ui_median / index_median, 3),
        "ui_cpu_overhead": round(ui_cpu / index_cpu, 3),
        "incremental_index_ms": round(statistics.median(incremental) * 1000, 1),
        "incremental_ui_ms": round(statistics.median(incremental_ui) * 1000, 1),
        "package_pages": ui_files,
        "largest_search_shard_kb": round(shard_sizes[0] / 1000, 1),
        "median_search_shard_kb": round(statistics.median(shard_sizes) / 1000, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "descriptions": described,
        "page_costs": costs,
        "index_cpu_us_per_project": round(index_cpu / projects * 1e6, 1),
        "ui_cpu_us_per_project": round(ui_cpu / projects * 1e6, 1),
        "markup": MARKUP_VERSION,
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "load_average_after": round(os.getloadavg()[0], 1),
        "cpus": os.cpu_count(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def markdown(r: dict[str, Any]) -> str:
    met = "met" if r["ui_overhead"] < TARGET_OVERHEAD else "not met"
    lines = [
        "## Web UI generation (`bench/webui_bench.py`)",
        "",
        f"Run {r['date']} ({r['machine']}, {r['cpus']} CPUs): one repository of "
        f"{r['projects']:,} projects ({r['files']:,} files, `bench.dataset`), full generation "
        f"in-process into an empty output, medians of {r['rounds']} round(s). CPU is user + "
        "system time of the process and its children.",
        "",
        f"Command: `{r['command']}`",
        "",
        "| run | wall | CPU |",
        "| --- | ---: | ---: |",
        f"| full generate, index only (`ui=False`) | {r['index_only_s']} s | "
        f"{r['index_only_cpu_s']} s |",
        f"| full generate, index + web UI (package pages written in the index's pass) | "
        f"{r['index_and_ui_s']} s | {r['index_and_ui_cpu_s']} s |",
        f"| the web UI alone, in-process ({r['package_pages']:,} package pages, search "
        f"shards, list pages, repository and home pages) | {r['ui_alone_s']} s | "
        f"{r['ui_alone_cpu_s']} s |",
        f"| one project changed: index | {r['incremental_index_ms']} ms | |",
        f"| one project changed: web UI | {r['incremental_ui_ms']} ms | |",
        "",
        f"What the UI adds to a full generate: **{r['ui_overhead']:.0%}** of wall time "
        f"(target under {TARGET_OVERHEAD:.0%}: {met}); rendered alone after the index in "
        f"the same process it would add {r['ui_sequential_overhead']:.0%}, and its CPU time is "
        f"{r['ui_cpu_overhead']:.0%} of the index's. Peak RSS {r['peak_rss_mb']} MB. Search "
        f"shards: largest {r['largest_search_shard_kb']} kB, median "
        f"{r['median_search_shard_kb']} kB (before gzip): a search loads one per repository. "
        f"Load average at the end: {r['load_average_after']} (other work shares the machine).",
    ]
    c = r["page_costs"]
    floor = (c["render_us"] + c["write_directory_us"]) / r["index_cpu_us_per_project"]
    lines += [
        "",
        f"Where a package page's cost goes (CPU per page, first {c['projects']:,} projects, "
        f"medians of {r['rounds']}): rendering it {c['render_us']} µs; writing it "
        f"({c['page_bytes']:,} bytes) as `<name>/index.html`, a new directory renamed into "
        f"place, {c['write_directory_us']} µs (as a flat `<name>.html` it would be "
        f"{c['write_flat_us']} µs). The whole UI costs {r['ui_cpu_us_per_project']} µs of "
        f"CPU per project and the index {r['index_cpu_us_per_project']} µs (its two pages, "
        f"their directory and the catalog read). Rendering and writing one page alone are "
        f"{floor:.0%} of the index's cost per project"
        + (f": a page per project cannot add under {TARGET_OVERHEAD:.0%} on this machine, "
           "however the rest is tuned." if floor >= TARGET_OVERHEAD else "."),
    ]
    d = r["descriptions"]
    if d:
        lines += [
            "",
            f"Descriptions: the dataset has no archives, so the runs above render none. With "
            f"READMEs (half Markdown, half reStructuredText, ~1 kB) stored for "
            f"{d['projects_with_readme']:,} projects, a full UI run took "
            f"{d['ui_full_rendering_s']} s rendering them ({d['ms_per_readme']} ms each with "
            f"`readme_renderer`) and {d['ui_full_cached_s']} s the next time, from the "
            "per-page description cache: a README is rendered once per release, when it "
            "first appears.",
        ]
    return "\n".join(lines) + "\n"


def write_results(section: str, path: Path = RESULTS) -> None:
    """Put ``section`` between this benchmark's markers in RESULTS.md."""
    write_block(section, name="webui_bench", title="## Web UI", path=path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=100_000,
                        help="projects in the repository (ten files each)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--describe", type=int, default=0,
                        help="also time READMEs for this many projects")
    parser.add_argument("--page-costs", type=int, default=20_000,
                        help="projects whose page costs are broken down (default 20000)")
    parser.add_argument("--catalog", type=Path, default=None,
                        help="copy this catalog instead of building the dataset")
    parser.add_argument("--work", type=Path, default=Path("bench/work/webui"),
                        help="working directory (dataset cache and outputs)")
    parser.add_argument("--markdown", action="store_true", help="also print a RESULTS.md section")
    parser.add_argument("--write-results", action="store_true",
                        help="put the section into bench/RESULTS.md")
    args = parser.parse_args(argv)
    result = run(args)
    words = sys.argv[1:] if argv is None else list(argv)
    result["command"] = " ".join([".venv/bin/python -m bench.webui_bench", *words])
    print(json.dumps(result, indent=2))
    if args.markdown:
        print(markdown(result))
    if args.write_results:
        write_results(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
