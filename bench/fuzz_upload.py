"""Coverage-guided fuzzing (atheris, libFuzzer) of the upload parser and archive inspection.

Each input's first byte picks the target, the rest is the data:

- 0-2: ``generator.intake.distributions.inspect_distribution`` of the bytes as a wheel, a
  ``.tar.gz`` sdist or a ``.zip`` sdist (written to a tmpfs file); anything but
  ``InvalidDistribution`` escaping is a crash;
- 3: the legacy upload view through the Flask test client: the bytes are the multipart
  body (a fixed boundary, a valid token); any 5xx is a crash.

The seed corpus (``bench/work/fuzz/seeds``) is real wheels, sdists and a twine-shaped form,
so mutations start from valid files. Run from the repository root::

    .venv/bin/python -m bench.fuzz_upload -atheris_runs=1000000 -max_total_time=1200 \
        bench/work/fuzz/corpus bench/work/fuzz/seeds

libFuzzer's own options follow; it prints its statistics (``#N DONE`` ends a full run).
A crash leaves ``crash-<sha1>`` with the input: turn it into a regression test.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from generator.errors import InvalidDistribution
    from generator.intake.distributions import inspect_distribution

import contextlib

from generator.config.settings import load_config
from generator.installation import Installation
from tests.factory import WheelSpec, build_sdist, build_wheel
from tests.reliability.harness import make_installation, upload_form
from tests.servers import run_timeshelf
from uploader.app import create_app

WORK = Path(__file__).resolve().parent / "work" / "fuzz"
SUFFIXES = ("proj_000-1.0-py3-none-any.whl", "proj-000-1.0.tar.gz", "proj-000-1.0.zip")
BOUNDARY = b"timeshelf-faults-boundary"


def setup() -> tuple[object, str, Path]:
    WORK.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="fuzz-", dir=WORK))
    config = make_installation(home / "inst", projects=1, versions=1)
    token = run_timeshelf("--config", str(config), "create", "token", "--description", "fuzz",
                          "--sources", "local", "--expires", "never", "-q").stdout.strip()
    seeds = WORK / "seeds"
    seeds.mkdir(exist_ok=True)
    wheel = build_wheel(home, WheelSpec("proj-000", "1.0", requires_dist=("a>=1",)))
    sdist = build_sdist(home, "proj-000", "1.0")
    (seeds / "wheel").write_bytes(b"\0" + wheel.read_bytes())
    (seeds / "sdist").write_bytes(b"\1" + sdist.read_bytes())
    body, _ = upload_form(build_wheel(home, WheelSpec("proj-000", "2.0")))
    (seeds / "form").write_bytes(b"\3" + body)
    inst = Installation(load_config(config))
    app = create_app(inst, serve_site=False)
    shm = "/dev/shm"  # noqa: S108 - a tmpfs for speed; mkdtemp makes a private directory
    scratch = Path(tempfile.mkdtemp(dir=shm if os.path.isdir(shm) else None))
    return app.test_client(), token, scratch


CLIENT, TOKEN, SCRATCH = setup()
AUTH = {"Authorization": "Basic " + base64.b64encode(f"__token__:{TOKEN}".encode()).decode()}


def test_one_input(data: bytes) -> None:
    if not data:
        return
    target, body = data[0] % 4, data[1:]
    if target < 3:
        path = SCRATCH / SUFFIXES[target]
        path.write_bytes(body)
        with contextlib.suppress(InvalidDistribution):
            inspect_distribution(path)
        return
    reply = CLIENT.post(  # type: ignore[attr-defined]
        "/upload/pypi/local/", data=body, headers=AUTH,
        content_type=f"multipart/form-data; boundary={BOUNDARY.decode()}",
    )
    if reply.status_code >= 500:
        raise AssertionError(f"upload answered {reply.status_code}: "
                             f"{hashlib.sha256(body).hexdigest()} {reply.get_data()[:200]!r}")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
