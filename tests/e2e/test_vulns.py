"""Vulnerability data end to end: a loopback OSV feed (the real schema, as a zip), the
real ``timeshelf vulns sync`` and ``list vulns`` processes, and the pages the real
``timeshelf serve`` and nginx then serve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.factory import WheelSpec, build_wheel
from tests.osv import OsvFeed, export_zip, ghsa, pysec, serve_osv
from tests.servers import (
    free_port,
    http_get,
    make_installation,
    nginx_conf_for,
    run_nginx,
    run_timeshelf,
    run_timeshelf_serve,
)

pytestmark = pytest.mark.e2e


def test_advisories_reach_the_served_pages_and_ci_fails(tmp_path: Path) -> None:
    wheels = [build_wheel(tmp_path, WheelSpec("demo-lib", v)) for v in ("1.0", "2.0")]
    config = make_installation(tmp_path / "inst", *wheels)
    documents = [
        pysec(1, "demo-lib", fixed="2.0", aliases=["CVE-2026-0001"]),
        ghsa("abcd-efgh-ijkl", "demo-lib", introduced="2.0", fixed="2.1"),
    ]
    with serve_osv(OsvFeed(body=export_zip(documents))) as feed:
        text = config.read_text()
        config.write_text(re.sub(r'(\[vulnerabilities\][^\[]*?)url = ""',
                                 rf'\1url = "{feed.url}"', text))
        done = run_timeshelf("--config", str(config), "vulns", "sync")
        assert "2 advisories read, 2 added" in done.stderr
        assert "1 affected project(s)" in done.stderr
        again = run_timeshelf("--config", str(config), "vulns", "sync")
        assert "unchanged since the last sync" in again.stderr
        assert feed.log == [("/PyPI/all.zip", 200), ("/PyPI/all.zip", 304)]
    report = run_timeshelf("--config", str(config), "list", "vulns", "--repo", "python",
                           check=False)
    assert report.returncode == 1
    assert report.stdout.splitlines()[1].startswith("demo-lib\t2.0\tlatest\tGHSA-abcd-efgh-ijkl")
    with run_timeshelf_serve(config) as sidecar:
        conf = nginx_conf_for(config, listen=f"127.0.0.1:{free_port()}", sidecar=sidecar.address)
        with run_nginx(conf, tmp_path / "nginx") as nginx:
            for server in (sidecar, nginx):
                page = http_get(server.url("/python/project/demo-lib/"), accept="text/html")
                assert page.status == 200
                body = page.body.decode()
                assert "GHSA-abcd-efgh-ijkl" in body
                assert "CVE-2026-0001" in body
                assert "The latest version, 2.0, is affected by 1 of them" in body
                version = http_get(server.url("/python/project/demo-lib/1.0/"))
                assert b"PYSEC-2026-1" in version.body
                assert b"GHSA-abcd" not in version.body
                repo = http_get(server.url("/python/")).body.decode()
                assert "1 project with a known vulnerability in its latest version" in repo
                simple = http_get(server.url("/python/latest/simple/demo-lib/"),
                                  accept="text/html")
                assert b"GHSA" not in simple.body
                assert b"demo_lib-2.0-py3-none-any.whl" in simple.body


def test_the_vulnerability_section_in_a_browser(tmp_path: Path) -> None:
    """Chromium, at a phone's and a desktop's width: the section shows, fits the width,
    and its links (the table of contents, the repository page's count) lead to it."""
    from playwright.sync_api import Response, expect, sync_playwright

    from tests.e2e.test_webui_browser import CHROMIUM, CHROMIUM_ARGS, screenshot

    wheels = [build_wheel(tmp_path, WheelSpec("demo-lib", v)) for v in ("1.0", "2.0")]
    config = make_installation(tmp_path / "inst", *wheels)
    long_summary = "Unbounded-recursion-in-the-parser-of-" * 6 + "demo-lib"
    zip_path = tmp_path / "all.zip"
    zip_path.write_bytes(export_zip([
        pysec(1, "demo-lib", fixed="2.0", aliases=["CVE-2026-0001"], summary=long_summary),
        ghsa("abcd-efgh-ijkl", "demo-lib", introduced="2.0", fixed="2.1"),
    ]))
    run_timeshelf("--config", str(config), "vulns", "sync", "--from", str(zip_path))
    conf = nginx_conf_for(config, listen=f"127.0.0.1:{free_port()}")
    with run_nginx(conf, tmp_path / "nginx") as nginx, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS,
            headless=True,
        )
        try:
            for width in (390, 1280):
                tab = context.new_page()
                failed: list[str] = []

                def on_response(response: Response, failed: list[str] = failed) -> None:
                    if response.status >= 400 and not response.url.endswith("favicon.ico"):
                        failed.append(response.url)

                tab.on("response", on_response)
                tab.set_viewport_size({"width": width, "height": 900})
                tab.goto(nginx.url("/python/"))
                tab.locator("#vulnerable a", has_text="demo-lib").click()
                section = tab.locator("#vulnerabilities")
                expect(section).to_be_visible()
                expect(section.locator("td", has_text="GHSA-abcd-efgh-ijkl")).to_be_visible()
                expect(tab.locator(".version-list .tag-vulnerable")).to_have_count(2)
                assert tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
                screenshot(tab, f"vulnerabilities-{width}")
                tab.goto(nginx.url("/python/project/demo-lib/1.0/"))
                expect(tab.locator("#vulnerabilities td", has_text="PYSEC-2026-1")).to_be_visible()
                assert tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
                assert failed == []
                tab.close()
        finally:
            context.close()
