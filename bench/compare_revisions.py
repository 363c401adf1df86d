"""Before and after: generate_bench and upload_bench at two revisions, alternately.

Issue #19 asks, after the restructure of ``generator/`` and ``uploader/``, that no figure
of ``bench/generate_bench.py`` (1M files) and ``bench/upload_bench.py`` be more than 5%
worse than the same run's figure at the commit before it. This runs both revisions in
one run, one after the other, round by round, so that the machine's slow phases land on
both alike:

1. each revision gets a git worktree ``bench/work/revs/<short-sha>`` (``git worktree add
   --detach``) with its own venv (``.venv``, ``pip install -e '.[dev]'``; the second one
   constrained to the first one's versions so both run on the same third-party code);
   both are kept and reused by later runs;
2. the 1M-file dataset is built once, by the base revision's ``generate_bench
   --dataset-only``, into a directory both revisions read (``--dataset-dir``; the
   catalog schema is the same on both sides, and its version is part of the name);
3. ``--generate-rounds`` times, base then head: that revision's own
   ``bench.generate_bench --tools timeshelf --runs 1 --no-verify`` (full generation,
   index only and index + web UI, each into an empty file system, then
   ``--incremental-runs`` one-project incremental generations, a half-second process
   each, whose median is the round's figure), as a subprocess in its worktree with its
   venv;
4. ``--upload-rounds`` times, base then head: that revision's own ``bench.upload_bench
   --no-peers`` (timeshelf only; 30 twine uploads instead of its 50, the raw uploads
   as many as its default, they are cheap).

Every revision runs its own copy of the benchmark code, so import paths may differ
between them; both need the flags the comparison passes (added before the restructure).
A figure is the median over the rounds of each round's figure; the verdict is head
against base with the threshold (``--threshold``, default 5%). The table is printed and,
with ``--write-results``, written into ``bench/RESULTS.md`` between
``<!-- compare_revisions:begin -->`` and ``<!-- compare_revisions:end -->``.

Run from the repository root, as root (loop mounts, as generate_bench), on a machine
nothing else is loading: a 5% threshold is far below what other work does to these
figures (a null comparison of one commit with itself moved 20-50% on this shared 2-core
machine). ``--quiet PERCENT`` waits before each step until the CPU pressure
(``/proc/pressure/cpu``, avg10) is below PERCENT; each step's pressure is in the report::

    .venv/bin/python -m bench.compare_revisions --base REV --head REV --quiet 10 --write-results

Each step's output, the JSON of every round and of the whole comparison go to
``bench/work/compare/<base>-<head>-<time>/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.results import RESULTS, write_block

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / "work"
REVS = WORK / "revs"
COMPARE = WORK / "compare"
DATASETS = WORK / "datasets"
NAME = "compare_revisions"
SECTION_TITLE = "## Before and after the restructure (issue #19)"
VENV_STAMP = ".compare-revisions-stamp"
# What a revision's benchmarks must accept (git show REV:PATH is searched for them).
REQUIRED_FLAGS = {
    "bench/generate_bench.py": ("--tools", "--dataset-dir", "--dataset-only", "--no-verify",
                                "--incremental-runs", "--json"),
    "bench/upload_bench.py": ("--no-peers", "--json"),
}
GENERATE_TOOL = "timeshelf"


class CompareError(RuntimeError):
    """A step failed; the message says which and holds the end of its output."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_stall_us() -> int | None:
    """The kernel's count of microseconds in which some runnable task waited for a CPU
    (``/proc/pressure/cpu``, "some"); None where pressure stall information is off."""
    try:
        with open("/proc/pressure/cpu", encoding="ascii") as pressure:
            for line in pressure:
                if line.startswith("some "):
                    return int(line.rsplit("total=", 1)[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def cpu_pressure_avg10() -> float | None:
    """The share of the last 10 s in which some runnable task waited for a CPU (0-1)."""
    try:
        with open("/proc/pressure/cpu", encoding="ascii") as pressure:
            for line in pressure:
                if line.startswith("some "):
                    return float(line.split("avg10=", 1)[1].split()[0]) / 100
    except (OSError, ValueError, IndexError):
        return None
    return None


@dataclass(frozen=True, slots=True)
class Quiet:
    """Before each step, wait until the CPU pressure (avg10) is below ``below`` (0-1;
    0 disables), for at most ``wait`` seconds."""

    below: float = 0.0
    wait: float = 600.0

    def settle(self, name: str) -> str | None:
        """Wait; a note when the machine did not get quiet in time."""
        if self.below <= 0:
            return None
        deadline = time.monotonic() + self.wait
        while True:
            pressure = cpu_pressure_avg10()
            if pressure is None or pressure < self.below:
                return None
            if time.monotonic() > deadline:
                return (f"{name} started at CPU pressure {pressure:.0%} after waiting "
                        f"{self.wait:.0f} s for it to drop below {self.below:.0%}")
            time.sleep(5)


def git(*args: str, cwd: Path = REPO) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CompareError(f"git {shlex.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


# -- revisions, worktrees, venvs --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Revision:
    role: str  # "base" or "head"
    given: str  # as on the command line
    sha: str
    short: str
    subject: str

    @property
    def path(self) -> Path:
        return REVS / self.short

    @property
    def python(self) -> Path:
        return self.path / ".venv" / "bin" / "python"

    def label(self) -> str:
        return f"`{self.short}` ({self.given}: {self.subject})"


def resolve(role: str, given: str) -> Revision:
    sha = git("rev-parse", "--verify", f"{given}^{{commit}}")
    return Revision(role=role, given=given, sha=sha, short=git("rev-parse", "--short", sha),
                    subject=git("log", "-1", "--format=%s", sha))


def check_flags(revision: Revision) -> None:
    """Fail early when a revision's benchmarks lack a flag this comparison passes."""
    for path, flags in REQUIRED_FLAGS.items():
        text = git("show", f"{revision.sha}:{path}")
        missing = [flag for flag in flags if f'"{flag}"' not in text]
        if missing:
            raise CompareError(
                f"{revision.role} {revision.short}: {path} has no {', '.join(missing)}; "
                "both revisions must include the commits that added these flags"
            )


def ensure_worktree(revision: Revision) -> None:
    """A detached worktree of the revision at ``revision.path`` (reused when there)."""
    path = revision.path
    if path.exists():
        at = git("rev-parse", "HEAD", cwd=path)
        if at != revision.sha:
            raise CompareError(f"{path} is at {at}, not {revision.sha}: remove it with "
                               f"`git worktree remove --force {path}`")
        return
    log(f"{revision.role}: git worktree add --detach {path.relative_to(REPO)} {revision.short}")
    path.parent.mkdir(parents=True, exist_ok=True)
    git("worktree", "prune")  # a worktree deleted by hand is still registered otherwise
    git("worktree", "add", "--detach", str(path), revision.sha)


def venv_env(revision: Revision) -> dict[str, str]:
    """The environment of a revision's processes: its venv first, no foreign imports."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    bin_dir = str(revision.python.parent)
    env.update(VIRTUAL_ENV=str(revision.python.parents[1]),
               PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}")
    return env


def ensure_venv(revision: Revision, constraints: Path | None) -> Path:
    """``.venv`` in the worktree with the project installed (once); its ``pip freeze``.

    ``constraints`` (the other revision's freeze) pins the third-party versions, so the
    two revisions differ by their own code only.
    """
    venv = revision.path / ".venv"
    stamp = venv / VENV_STAMP
    freeze = venv / "freeze.txt"
    if stamp.exists() and freeze.exists():
        return freeze
    log(f"{revision.role}: creating {venv.relative_to(REPO)} (pip install -e '.[dev]')")
    started = time.monotonic()
    shutil.rmtree(venv, ignore_errors=True)
    run_quiet(["python3", "-m", "venv", str(venv)], cwd=revision.path)
    pin = ["-c", str(constraints)] if constraints is not None else []
    run_quiet([str(revision.python), "-m", "pip", "install", "-q", "--upgrade", "pip", *pin],
              cwd=revision.path)
    run_quiet([str(revision.python), "-m", "pip", "install", "-q", "-e", ".[dev]", *pin],
              cwd=revision.path)
    frozen = run_quiet([str(revision.python), "-m", "pip", "freeze", "--all",
                        "--exclude-editable"], cwd=revision.path)
    freeze.write_text(frozen, encoding="utf-8")
    stamp.write_text(f"{revision.sha}\n", encoding="ascii")
    log(f"{revision.role}: venv ready in {time.monotonic() - started:.0f} s")
    return freeze


def run_quiet(args: Sequence[str], *, cwd: Path, timeout: float = 1200) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          check=False)
    if done.returncode != 0:
        raise CompareError(f"{shlex.join(args)} exited {done.returncode}:\n"
                           f"{(done.stdout + done.stderr)[-3000:]}")
    return done.stdout


def freeze_differences(a: Path, b: Path) -> list[str]:
    """Packages whose pinned versions differ between two ``pip freeze`` outputs."""

    def parse(path: Path) -> dict[str, str]:
        pins: dict[str, str] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            name, sep, version = line.partition("==")
            if sep:
                pins[name.lower()] = version
        return pins

    left, right = parse(a), parse(b)
    return sorted(f"{name} {left.get(name, '-')} / {right.get(name, '-')}"
                  for name in left.keys() | right.keys() if left.get(name) != right.get(name))


# -- running one step -------------------------------------------------------------------


@dataclass(slots=True)
class Step:
    """One subprocess of the comparison: what ran, for how long, under what load."""

    role: str
    kind: str
    round: int
    seconds: float
    load_before: str
    # Share of the step's wall time in which some task waited for a CPU (its own
    # processes included): how contended the machine was while it ran.
    cpu_pressure: float | None
    json: str


def run_step(
    revision: Revision, kind: str, number: int, args: Sequence[str], out: Path, timeout: float,
    quiet: Quiet, notes: list[str],
) -> tuple[Step, dict[str, Any]]:
    """Run the revision's own benchmark module in its worktree; its JSON output."""
    name = f"{kind}-{revision.role}-{number}"
    result = out / f"{name}.json"
    command = [str(revision.python), "-m", *args, "--json", str(result)]
    subprocess.run(["sync"], check=True)  # the previous step's writeback is not ours
    note = quiet.settle(name)
    if note:
        log(note)
        notes.append(note)
    load = load_average()
    log(f"{name} ({revision.short}, load {load}): {shlex.join(args)}")
    stall = cpu_stall_us()
    started = time.monotonic()
    with (out / f"{name}.log").open("w", encoding="utf-8") as output:
        try:
            done = subprocess.run(command, cwd=revision.path, env=venv_env(revision),
                                  stdout=output, stderr=subprocess.STDOUT, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired as e:
            raise CompareError(f"{name} took over {timeout:.0f} s; see {out / name}.log") from e
    seconds = time.monotonic() - started
    stall_after = cpu_stall_us()
    pressure = (None if stall is None or stall_after is None
                else (stall_after - stall) / (seconds * 1e6))
    if done.returncode != 0 or not result.exists():
        tail = (out / f"{name}.log").read_text(encoding="utf-8", errors="replace")[-3000:]
        raise CompareError(f"{name} exited {done.returncode}:\n{tail}")
    shown = "?" if pressure is None else f"{pressure:.0%}"
    log(f"{name}: done in {seconds:.0f} s (CPU pressure {shown})")
    data: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
    return Step(role=revision.role, kind=kind, round=number, seconds=seconds,
                load_before=load, cpu_pressure=pressure, json=str(result)), data


# -- figures ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figure:
    """One compared figure: a label, a unit ("s", "ms" shown from seconds, "MB") and how
    to read it from one round's JSON (lower is better for all of them)."""

    label: str
    unit: str
    read: Callable[[dict[str, Any]], float]


def _generate_value(tool: str, mode: str, key: str) -> Callable[[dict[str, Any]], float]:
    def read(data: dict[str, Any]) -> float:
        for series in data["series"]:
            if series["tool"] == tool and series["mode"] == mode:
                return statistics.median(float(s[key]) for s in series["samples"])
        raise KeyError(f"no {tool} {mode} series")

    return read


def _upload_value(group: str, key: str) -> Callable[[dict[str, Any]], float]:
    def read(data: dict[str, Any]) -> float:
        return float(data["summary"][group][key])

    return read


def generate_figures(files: int) -> list[Figure]:
    figures = []
    for tool, mode, what in (
        ("timeshelf", "full", "full generate, index + web UI (`generate --full`)"),
        ("timeshelf (index only)", "full", "full generate, index only (`ui=False`)"),
        ("timeshelf", "incremental", "incremental generate, one project changed"),
    ):
        for key, name, unit in (("seconds", "wall", "s"), ("cpu_seconds", "CPU", "s"),
                                ("rss_mb", "peak RSS", "MB")):
            figures.append(Figure(f"{what} at {files:,} files: {name}", unit,
                                  _generate_value(tool, mode, key)))
    return figures


UPLOAD_FIGURES = (
    Figure("upload → installable (twine exit → pip download succeeds), median", "ms",
           _upload_value("timeshelf", "installable_median")),
    Figure("floor: pip download of a present version, median", "ms",
           _upload_value("timeshelf", "floor_median")),
    Figure("twine upload (whole command), median", "ms",
           _upload_value("timeshelf", "twine_median")),
    Figure("raw upload through nginx: request → response, median", "ms",
           _upload_value("listing", "response_median")),
    Figure("raw upload: response → project page lists the file, median", "ms",
           _upload_value("listing", "listed_median")),
)


def show(value: float, unit: str) -> str:
    if unit == "ms":
        milliseconds = value * 1000
        return f"{milliseconds:.1f} ms" if milliseconds < 10 else f"{milliseconds:.0f} ms"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:.3f} s" if value < 10 else f"{value:.2f} s"


@dataclass(slots=True)
class Comparison:
    """Per figure, each revision's per-round values; and everything the report states."""

    values: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    facts: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, figures: Sequence[Figure], role: str, data: dict[str, Any]) -> None:
        for figure in figures:
            self.units[figure.label] = figure.unit
            per_role = self.values.setdefault(figure.label, {"base": [], "head": []})
            per_role[role].append(figure.read(data))


def verdict(base: list[float], head: list[float], threshold: float) -> tuple[float, str]:
    """head/base of the medians, and the verdict against the threshold (a fraction)."""
    ratio = statistics.median(head) / statistics.median(base)
    if ratio <= 1 + threshold:
        within = f"within {threshold * 100:.0f}%"
        if ratio < 1 - threshold:
            within += f" (better by {(1 - ratio) * 100:.0f}%)"
        return ratio, within
    judged = f"worse by {(ratio - 1) * 100:.0f}%"
    if statistics.median(head) <= max(base):
        judged += " (inside base's own range)"
    return ratio, judged


def render(comparison: Comparison, threshold: float) -> str:
    lines = [
        *(f"- {k}: {v}" for k, v in comparison.facts.items()),
        "",
        "Each round runs the base revision's benchmark, then the head revision's, each its own",
        "code in its own worktree and venv; a figure is the median of the rounds' figures",
        "(upload figures are each round's median over its uploads). Lower is better for all;",
        "\"base range\" is the lowest and highest base round, the run-to-run noise of the same",
        "code.",
        "",
        "| figure | base median | head median | head / base | runs (base / head) "
        "| base range | verdict |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    worse: list[str] = []
    for label, per_role in comparison.values.items():
        unit = comparison.units[label]
        base, head = per_role["base"], per_role["head"]
        if not base or not head:
            continue
        ratio, judged = verdict(base, head, threshold)
        if not judged.startswith("within"):
            worse.append(label)
        lines.append(
            f"| {label} | {show(statistics.median(base), unit)} | "
            f"{show(statistics.median(head), unit)} | {ratio:.3f} | {len(base)} / {len(head)} | "
            f"{show(min(base), unit)} – {show(max(base), unit)} | {judged} |"
        )
    total = sum(1 for v in comparison.values.values() if v["base"] and v["head"])
    lines.append("")
    if not total:
        lines.append("**No figure was measured.**")
    elif worse:
        lines.append(f"**{len(worse)} of {total} figures more than {threshold * 100:.0f}% worse "
                     f"than the base:** {'; '.join(worse)}.")
    else:
        lines.append(f"**All {total} figures within {threshold * 100:.0f}% of the base.**")
    rounds = ["", "\"CPU pressure\" below is the share of a step's wall time in which some task "
              "(its own included) waited for a CPU (`/proc/pressure/cpu`): steps far above "
              "their peers ran beside other work.", "",
              "| step | revision | round | seconds | load average before | CPU pressure |",
              "| --- | --- | ---: | ---: | --- | ---: |"]
    rounds += [f"| {s.kind} | {s.role} | {s.round} | {s.seconds:.0f} | {s.load_before} | "
               + ("?" if s.cpu_pressure is None else f"{s.cpu_pressure:.0%}") + " |"
               for s in comparison.steps]
    lines += rounds
    if comparison.notes:
        lines += ["", *(f"- {note}" for note in comparison.notes)]
    return "\n".join(lines) + "\n"


# -- the run ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--base", required=True, help="the revision before the change")
    parser.add_argument("--head", required=True, help="the revision after the change")
    parser.add_argument("--files", type=int, default=1_000_000,
                        help="files of the generate dataset (default 1000000)")
    parser.add_argument("--generate-rounds", type=int, default=3,
                        help="generate runs per revision (default 3)")
    parser.add_argument("--incremental-runs", type=int, default=5,
                        help="incremental generations per generate round (default 5)")
    parser.add_argument("--upload-rounds", type=int, default=3,
                        help="upload_bench runs per revision (default 3; 0 skips uploads)")
    parser.add_argument("--uploads", type=int, default=30,
                        help="twine uploads per upload round (default 30)")
    parser.add_argument("--listing-uploads", type=int, default=50,
                        help="raw uploads per upload round (default 50)")
    parser.add_argument("--upload-files", type=int, default=100_000,
                        help="files pre-filled for upload_bench (default 100000, its own)")
    parser.add_argument("--dataset-dir", type=Path, default=DATASETS,
                        help=f"the shared dataset cache (default {DATASETS.relative_to(REPO)})")
    parser.add_argument("--threshold", type=float, default=5.0,
                        help="percent worse that fails a figure (default 5)")
    parser.add_argument("--timeout", type=float, default=3600.0,
                        help="seconds one benchmark process may take (default 3600)")
    parser.add_argument("--quiet", type=float, default=0.0, metavar="PERCENT",
                        help="before each step, wait until the CPU pressure (avg10, "
                        "/proc/pressure/cpu) is below PERCENT (default 0: do not wait)")
    parser.add_argument("--quiet-wait", type=float, default=600.0,
                        help="seconds to wait for --quiet at most per step (default 600)")
    parser.add_argument("--write-results", action="store_true",
                        help=f"write the table into {RESULTS.relative_to(REPO)}")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)
    started = time.monotonic()
    command = shlex.join([".venv/bin/python", "-m", "bench.compare_revisions", *raw])
    threshold = args.threshold / 100
    comparison = Comparison()
    out: Path | None = None
    try:
        base, head = resolve("base", args.base), resolve("head", args.head)
        for revision in (base, head):
            check_flags(revision)
        if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists() \
                and args.upload_rounds:
            raise CompareError("nginx is missing (upload_bench serves through it): "
                               "`make system-deps` installs it")
        out = COMPARE / f"{base.short}-{head.short}-{datetime.now(UTC):%Y%m%dT%H%M%S}"
        out.mkdir(parents=True)
        comparison.facts.update({
            "command": f"`{command}`",
            "date (UTC)": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
            "nproc": str(os.cpu_count()),
            "python": platform.python_version(),
            "load average at start": load_average(),
            "base": base.label(),
            "head": head.label(),
        })
        changed = git("diff", "--shortstat", base.sha, head.sha)
        product = git("diff", "--shortstat", base.sha, head.sha, "--", ".", ":(exclude)bench",
                      ":(exclude)*.md")
        comparison.facts["base → head"] = (
            f"{changed or 'no change'}; outside bench/ and *.md: {product or 'no change'}"
        )
        if base.sha == head.sha:
            comparison.notes.append("base and head are the same commit: a null comparison "
                                    "(ratios show the noise of this machine).")
        if os.geteuid() != 0:
            comparison.notes.append("not root: generate outputs went to plain directories, "
                                    "not fresh loop-mounted ext4 file systems.")
        log(f"comparing {base.short} (base) with {head.short} (head); output in {out}")
        ensure_worktree(base)
        ensure_worktree(head)
        base_freeze = ensure_venv(base, None)
        head_freeze = ensure_venv(head, base_freeze)
        differences = freeze_differences(base_freeze, head_freeze)
        if differences:
            comparison.notes.append("third-party versions differ (base / head): "
                                    + ", ".join(differences))
        run_rounds(args, base, head, out, comparison)
    except CompareError as e:
        log(f"stopped: {e}")
        comparison.notes.append(f"The run stopped early: {str(e).splitlines()[0]}")
    comparison.facts["load average at end"] = load_average()
    comparison.facts["whole run"] = f"{time.monotonic() - started:.0f} s"
    report = render(comparison, threshold)
    print(report)
    if out is not None:
        (out / "compare.json").write_text(json.dumps({
            "facts": comparison.facts, "notes": comparison.notes, "values": comparison.values,
            "units": comparison.units, "steps": [asdict(s) for s in comparison.steps],
        }, indent=2) + "\n", encoding="utf-8")
        (out / "report.md").write_text(report, encoding="utf-8")
    if args.write_results:
        write_block(report, name=NAME, title=SECTION_TITLE)
        print(f"wrote {RESULTS.relative_to(REPO)}")
    return 0 if not any("stopped early" in n for n in comparison.notes) else 1


def run_rounds(
    args: argparse.Namespace, base: Revision, head: Revision, out: Path, comparison: Comparison
) -> None:
    datasets = args.dataset_dir.resolve()
    size = str(args.files)
    quiet = Quiet(below=args.quiet / 100, wait=args.quiet_wait)
    if args.generate_rounds:
        # The dataset, built once by the base revision's code, read by both.
        step, data = run_step(
            base, "dataset", 1,
            ["bench.generate_bench", "--sizes", size, "--dataset-only",
             "--dataset-dir", str(datasets)],
            out, args.timeout, Quiet(), comparison.notes,  # not measured: no need to wait
        )
        info = data["datasets"][size]
        shared = info["path"]
        comparison.facts["dataset"] = (
            f"{args.files:,} files in `{shared}`, "
            + (f"built in {info['build_seconds']:.0f} s by this run"
               if info["built_now"] else
               f"cached (building it took {info['build_seconds']:.0f} s)")
        )
        figures = generate_figures(args.files)
        for number in range(1, args.generate_rounds + 1):
            for revision in (base, head):
                step, data = run_step(
                    revision, "generate", number,
                    ["bench.generate_bench", "--sizes", size, "--runs", "1",
                     "--incremental-runs", str(args.incremental_runs), "--tools", GENERATE_TOOL, "--no-verify", "--dataset-dir", str(datasets)],
                    out, args.timeout, quiet, comparison.notes,
                )
                comparison.steps.append(step)
                used = data["datasets"][size]
                if used["path"] != shared or used["built_now"]:
                    comparison.notes.append(
                        f"{revision.role} round {number} used the dataset {used['path']} "
                        f"(built now: {used['built_now']}), not the shared {shared}"
                    )
                comparison.add(figures, revision.role, data)
    for number in range(1, args.upload_rounds + 1):
        for revision in (base, head):
            step, data = run_step(
                revision, "upload", number,
                ["bench.upload_bench", "--no-peers", "--uploads", str(args.uploads),
                 "--listing-uploads", str(args.listing_uploads),
                 "--files", str(args.upload_files)],
                out, args.timeout, quiet, comparison.notes,
            )
            comparison.steps.append(step)
            timeshelf = data["summary"]["timeshelf"]
            failed = int(timeshelf["failures"]) + int(data["summary"]["listing"]["failures"])
            if failed or data.get("notes"):
                comparison.notes.append(
                    f"{revision.role} upload round {number}: {failed} failure(s); "
                    + "; ".join(data.get("notes", []))
                )
            comparison.add(UPLOAD_FIGURES, revision.role, data)
    for kind in ("generate", "upload"):
        for role in ("base", "head"):
            seconds = [s.seconds for s in comparison.steps if s.kind == kind and s.role == role]
            if seconds:
                comparison.facts[f"{kind} round, {role} (median)"] = \
                    f"{statistics.median(seconds):.0f} s"


if __name__ == "__main__":
    sys.exit(main())
