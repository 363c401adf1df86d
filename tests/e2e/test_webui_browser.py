"""The web UI in a real browser: Debian's Chromium driven by Playwright, against the site
served by the real nginx (configured by ``timeshelf nginx-conf --standalone``).

A second nginx in front serves the same site under ``/sub/`` (``proxy_pass`` to the
first), and the installation's ``public_url`` names that sub-path, as a deployment
behind a shared host would. Files arrive over four days (``TIMESHELF_NOW``), so the
repository has dated snapshots to pick on the calendar.

Screenshots of the home, repository, package and version pages, at a phone's 390 px
and a desktop's 1280 px, are written to ``$TIMESHELF_ARTIFACTS/webui/`` (by default
``tests/artifacts/webui/``, ignored by git) for a person to look at.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Dialog, Page, Response, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from tests.e2e.conftest import TIMESHELF, run, timeshelf_env
from tests.factory import SIGNATURE, WheelSpec, build_sdist, build_wheel, metadata_text
from tests.servers import Server, free_port, http_get, nginx_conf_for, run_nginx

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("TIMESHELF_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(
    os.environ.get("TIMESHELF_ARTIFACTS") or Path(__file__).resolve().parents[1] / "artifacts"
) / "webui"
DAYS = ("2026-03-01T09:00:00Z", "2026-03-02T09:00:00Z", "2026-03-03T09:00:00Z")
NOW = "2026-03-05T10:00:00Z"
PICKED_DAY = "2026-03-02"
README = """\
# Demo-Pkg

Demo-Pkg does **one** thing well.

```python
import demo_pkg
```

| column | value |
| ------ | ----- |
| a      | 1     |
"""
HOSTILE = """\
<script>window.pwned = 1; alert("description")</script>

<img src="../../../static/ui.css" onerror="window.pwned = 2">

[click me](javascript:window.pwned=3)

<a href="#files" onclick="window.pwned = 4">onclick</a>
"""

def _metadata(name: str, version: str, summary: str, description: str,
              content_type: str = "text/markdown") -> str:
    head = metadata_text(name, version, ">=3.9", summary=summary).rstrip("\n")
    return f"{head}\nDescription-Content-Type: {content_type}\n\n{description}"


@dataclass
class UiSite:
    """The site, served at the root by ``site`` and under ``/sub/`` by ``front``."""

    home: Path
    site: Server
    front: Server

    @property
    def root(self) -> str:
        return self.site.url("/")

    @property
    def sub(self) -> str:
        return self.front.url("/sub/")


def _front_conf(port: int, site: Server) -> str:
    return f"""daemon off;
master_process off;
worker_processes 1;
pid nginx.pid;
error_log stderr;
events {{ worker_connections 64; }}
http {{
    access_log access.log;
    client_body_temp_path client_body_temp;
    proxy_temp_path proxy_temp;
    fastcgi_temp_path fastcgi_temp;
    uwsgi_temp_path uwsgi_temp;
    scgi_temp_path scgi_temp;
    server {{
        listen 127.0.0.1:{port};
        location /sub/ {{
            proxy_pass http://{site.address}/;
            proxy_set_header Host $http_host;
        }}
        location / {{
            return 404;
        }}
    }}
}}
"""


@pytest.fixture(scope="module")
def ui_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiSite]:
    home = tmp_path_factory.mktemp("webui")
    dists = tmp_path_factory.mktemp("webui-dists")
    site_port, front_port = free_port(), free_port()

    def timeshelf(*args: str | Path, at: str) -> None:
        run([TIMESHELF, "--config", home / "timeshelf.toml", *args],
            env=timeshelf_env({"TIMESHELF_NOW": at}))

    run([TIMESHELF, "init", home], env=timeshelf_env({"TIMESHELF_NOW": DAYS[0]}))
    config = home / "timeshelf.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace('public_url = ""', f'public_url = "http://127.0.0.1:{front_port}/sub/"'),
        encoding="utf-8",
    )
    first = dists / "day1"
    first.mkdir()
    demo = _metadata("Demo-Pkg", "1.0", "A demonstration package", README)
    build_wheel(first, WheelSpec("Demo-Pkg", "1.0", metadata=demo))
    sdist = build_sdist(first, "Demo-Pkg", "1.0", pkg_info=demo)
    sdist.with_name(sdist.name + ".asc").write_bytes(SIGNATURE)
    timeshelf("add", "--source", "local", *sorted(first.iterdir()), at=DAYS[0])
    second = dists / "day2"
    second.mkdir()
    demo2 = _metadata("Demo-Pkg", "2.0", "A demonstration package", README)
    build_wheel(second, WheelSpec("Demo-Pkg", "2.0", metadata=demo2))
    build_wheel(second, WheelSpec("zeta-tools", "0.1"))
    hostile = _metadata("Evil-Pkg", "0.1", "<script>window.pwned = 5</script> summary",
                        HOSTILE)
    build_wheel(second, WheelSpec("Evil-Pkg", "0.1", metadata=hostile))
    timeshelf("add", "--source", "local", *sorted(second.iterdir()), at=DAYS[1])
    timeshelf("yank", "Demo-Pkg", "1.0", "--reason", "broken <b>build</b>", at=DAYS[2])
    # The newest file in Recent activity, with the name the issue saw broken letter by
    # letter on a phone; and a second repository with the same projects, for search.
    third = dists / "day3"
    third.mkdir()
    build_sdist(third, "ncdemo", "0.6.0")
    timeshelf("add", "--source", "local", *sorted(third.iterdir()), at=DAYS[2])
    timeshelf("create", "repo", "--name", "second", at=DAYS[2])
    timeshelf("subscribe", "--repo", "second", "--source", "local", "--no-generate", at=DAYS[2])
    timeshelf("generate", at=NOW)

    conf = nginx_conf_for(config, listen=f"127.0.0.1:{site_port}")
    with run_nginx(conf, tmp_path_factory.mktemp("nginx-site")) as site, run_nginx(
        _front_conf(front_port, site), tmp_path_factory.mktemp("nginx-front")
    ) as front:
        yield UiSite(home=home, site=site, front=front)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium ({CHROMIUM}) is not installed: `make test` installs it as root")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    """A fresh tab that fails the test on any dialog (an injected ``alert``), script
    error, or failed response (a broken relative link)."""
    page = browser.new_page()
    problems: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    def on_error(error: PlaywrightError) -> None:
        problems.append(f"script error: {error}")

    def on_response(response: Response) -> None:
        if response.status >= 400 and not response.url.endswith("favicon.ico"):
            problems.append(f"{response.status} {response.url}")

    page.on("dialog", on_dialog)
    page.on("pageerror", on_error)
    page.on("response", on_response)
    yield page
    page.close()
    assert problems == []


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def section_shot(page: Page, selector: str, name: str) -> None:
    """A screenshot of one part of a page (a long phone page is too tall to look at)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator(selector).screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_search_finds_a_project_across_repositories(ui_site: UiSite, page: Page) -> None:
    page.goto(ui_site.root)
    expect(page.get_by_role("heading", name="Python package repositories")).to_be_visible()
    page.get_by_label("Search packages in every repository").fill("demo_p")
    result = page.locator("#results a", has_text="Demo-Pkg").first
    expect(result).to_be_visible()
    # One project in two repositories: one project, two results.
    expect(page.locator("#results li")).to_have_count(2)
    expect(page.locator("#results-count")).to_have_text(
        "1 project found, 2 results in all repositories.")
    result.click()
    expect(page).to_have_url(ui_site.root + "python/project/demo-pkg/")
    page.goto(ui_site.root)
    page.get_by_label("Search packages in every repository").fill("nothing-like-this")
    expect(page.locator("#results")).to_contain_text("No project name starts with")


def test_package_page_shows_signed_and_the_signature_downloads(
    ui_site: UiSite, page: Page
) -> None:
    page.goto(ui_site.root + "python/project/demo-pkg/")
    expect(page.locator("main h1")).to_have_text("Demo-Pkg 2.0")
    expect(page.locator(".description table")).to_be_visible()
    # The package page shows the latest version's files; 1.0's are on its own page.
    expect(page.locator("table.files tbody tr")).to_have_count(1)
    expect(page.locator("table.files")).to_contain_text("demo_pkg-2.0-py3-none-any.whl")
    expect(page.locator("a.signed")).to_have_count(0)
    page.locator("ul.version-list a", has_text="1.0").click()
    expect(page).to_have_url(ui_site.root + "python/project/demo-pkg/1.0/")
    expect(page.locator("main h1")).to_contain_text("Demo-Pkg 1.0")
    signed = page.locator("a.signed")
    expect(signed).to_have_count(1)
    expect(signed).to_have_text("SIGNED")
    expect(page.locator("table.files tr", has=signed)).to_contain_text("demo_pkg-1.0.tar.gz")
    assert signed.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(26, 127, 55)"
    href = signed.get_attribute("href")
    assert href is not None
    assert href.endswith("/demo_pkg-1.0.tar.gz.asc")
    reply = page.request.get(signed.evaluate("e => e.href"))
    assert reply.status == 200
    assert reply.body() == SIGNATURE
    assert reply.headers["content-type"] == "application/pgp-signature"
    yanked = page.locator("table.files tr", has_text="demo_pkg-1.0-py3-none-any.whl")
    expect(yanked).to_contain_text("broken <b>build</b>")
    expect(yanked.locator(".tag-yanked")).to_have_text("yanked")
    # Hashes on demand.
    digest = yanked.locator("code.hash")
    expect(digest).to_be_hidden()
    yanked.locator("summary", has_text="SHA256").click()
    expect(digest).to_be_visible()
    expect(digest).to_have_text(re.compile(r"^[0-9a-f]{64}$"))


def test_picking_a_date_sets_the_snapshot_url_and_copy_puts_it_on_the_clipboard(
    ui_site: UiSite, browser: BrowserContext, page: Page
) -> None:
    browser.grant_permissions(["clipboard-read", "clipboard-write"], origin=ui_site.front.base_url)
    page.goto(ui_site.sub + "python/")
    latest = ui_site.sub + "python/latest/simple/"
    expect(page.locator("#index-url")).to_have_text(latest)
    page.get_by_label("a date I choose").check()
    day = page.locator(f'#calendar button[data-date="{PICKED_DAY}"]')
    expect(day).to_have_class(re.compile(r"\bsnap\b"))
    day.click()
    dated = ui_site.sub + f"python/{PICKED_DAY}/simple/"
    expect(page.locator("#index-url")).to_have_text(dated)
    expect(page.locator("#pip-once")).to_have_text(
        f"pip install --index-url {dated} --trusted-host 127.0.0.1 PACKAGE"
    )
    for snippet in ("#pip-config", "#requirements", "#uv-project", "#uv-env", "#poetry", "#pdm"):
        expect(page.locator(snippet)).to_contain_text(dated)
        expect(page.locator(snippet)).not_to_contain_text(latest)
    # The keyboard moves through the days and picks one, as the calendar's help says.
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    expect(page.locator("#index-url")).to_have_text(ui_site.sub + "python/2026-03-03/simple/")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Enter")
    expect(page.locator("#index-url")).to_have_text(dated)
    page.locator(".url-box button.copy").click()
    expect(page.locator(".url-box button.copy")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == dated
    # The URL is a real, frozen snapshot: zeta-tools arrived on the 2nd, so the 2nd lists
    # it and the 1st does not.
    listing = http_get(dated, accept="text/html")
    assert listing.status == 200
    assert b"zeta-tools" in listing.body
    assert b"zeta-tools" not in http_get(
        ui_site.sub + "python/2026-03-01/simple/", accept="text/html"
    ).body
    page.get_by_label("latest").check()
    expect(page.locator("#index-url")).to_have_text(latest)


def test_the_site_works_under_a_sub_path(ui_site: UiSite, page: Page) -> None:
    page.goto(ui_site.sub)
    assert page.locator("header.top").evaluate(
        "e => getComputedStyle(e).backgroundColor"
    ) == "rgb(10, 48, 105)"
    page.get_by_role("link", name="python", exact=True).click()
    expect(page).to_have_url(ui_site.sub + "python/")
    page.get_by_label("Find a package in python").fill("zeta")
    page.locator("#results a", has_text="zeta-tools").click()
    expect(page).to_have_url(ui_site.sub + "python/project/zeta-tools/")
    download = page.locator("table.files a.file-name").first.evaluate("e => e.href")
    assert download.startswith(ui_site.sub + "files/")
    assert page.request.get(download).status == 200
    page.get_by_role("link", name="python").click()
    page.locator("ul.letters a", has_text="Z").click()
    expect(page).to_have_url(ui_site.sub + "python/packages/z/")
    expect(page.locator("table.packages")).to_contain_text("zeta-tools")


def test_hostile_metadata_is_shown_as_text_and_never_runs(ui_site: UiSite, page: Page) -> None:
    page.goto(ui_site.root + "python/project/evil-pkg/")
    expect(page.locator("p.lead")).to_have_text("<script>window.pwned = 5</script> summary")
    expect(page.locator(".description")).to_contain_text('<script>window.pwned = 1;')
    page.locator(".description a", has_text="click me").click(no_wait_after=True)
    page.locator(".description a", has_text="onclick").click(no_wait_after=True)
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert page.locator(".description script, .description [onerror], [onclick]").count() == 0
    page.goto(ui_site.root + "python/")
    expect(page.locator("table.packages")).to_contain_text("<script>window.pwned = 5</script>")
    assert page.evaluate("typeof window.pwned") == "undefined"


PAGES = (("", "home"), ("python/", "repository"), ("python/project/demo-pkg/", "package"),
         ("python/project/demo-pkg/1.0/", "version"))
# Where in an element's text the lines break: the characters after which a new line
# begins (text nodes only, so a <wbr> is a place, not a character).
LINE_BREAKS = """e => {
  const walker = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
  const breaks = [];
  let top = null, last = "";
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.length; i++) {
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const rect = range.getClientRects()[0];
      if (!rect) { continue; }
      if (top !== null && rect.top > top + 2) { breaks.push(last); }
      top = rect.top;
      last = node.data[i];
    }
  }
  return breaks;
}"""


@pytest.mark.parametrize("width", [390, 1280])
def test_pages_at_a_phone_and_a_desktop_width(
    ui_site: UiSite, browser: BrowserContext, width: int
) -> None:
    tab = browser.new_page()
    tab.set_viewport_size({"width": width, "height": 844 if width < 600 else 900})
    try:
        for path, name in PAGES:
            tab.goto(ui_site.root + path)
            assert tab.evaluate(
                "document.documentElement.scrollWidth <= window.innerWidth"
            ), (path, width)
            # The header's text starts where the content does.
            brand = tab.locator("header.top .crumbs a").first.bounding_box()
            heading = tab.locator("main h1").bounding_box()
            assert brand is not None
            assert heading is not None
            assert abs(brand["x"] - heading["x"]) <= 1, (path, width, brand, heading)
            if name == "repository":
                tab.get_by_label("a date I choose").check()
                expect(tab.locator("#calendar button.snap").first).to_be_visible()
            screenshot(tab, f"{name}-{width}")
    finally:
        tab.close()


def test_the_repository_page_on_a_phone(ui_site: UiSite, browser: BrowserContext) -> None:
    phone = browser.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    try:
        phone.goto(ui_site.root + "python/")
        # Recent activity: the newest file's name wraps, if at all, between its parts.
        newest = phone.locator("table.activity td.filename").first
        expect(newest).to_have_text("ncdemo-0.6.0.tar.gz")
        for cell in phone.locator("table.activity td.filename").all():
            breaks = cell.evaluate(LINE_BREAKS)
            assert all(c in "-_.+" for c in breaks), (cell.text_content(), breaks)
        assert newest.evaluate(LINE_BREAKS) == []
        section_shot(phone, "#activity", "repository-390-activity")
        section_shot(phone, "#upload", "repository-390-upload")
        # Each option of the token command stays on one line.
        for option in phone.locator("#upload code .nobr").all():
            assert option.evaluate(LINE_BREAKS) == [], option.text_content()
        # One date picker: the calendar, no native date input beside it.
        phone.get_by_label("a date I choose").check()
        expect(phone.locator("#calendar")).to_be_visible()
        assert phone.locator("input[type=date]").count() == 0
        # A day without a snapshot is shown lighter, not struck through.
        missing = phone.locator('#calendar button[aria-disabled="true"]').first
        expect(missing).to_have_attribute("aria-label", re.compile(", no snapshot$"))
        assert missing.evaluate("e => getComputedStyle(e).textDecorationLine") == "none"
        section_shot(phone, "#setup", "repository-390-setup")
        assert phone.evaluate(
            "document.documentElement.scrollWidth <= window.innerWidth")
        # Keyboard: the skip link is the first stop and leads to the content.
        phone.goto(ui_site.root + "python/project/demo-pkg/")
        phone.keyboard.press("Tab")
        assert phone.evaluate("document.activeElement.className") == "skip"
        phone.keyboard.press("Enter")
        assert phone.evaluate("document.activeElement.id") == "main"
    finally:
        phone.close()


def test_search_normalizes_the_query_as_names_are(ui_site: UiSite, page: Page) -> None:
    page.goto(ui_site.root + "python/")
    box = page.get_by_label("Find a package in python")
    expect(page.locator("#q-help")).to_contain_text("'-', '_' and '.'")
    for query, found in (("NC-d", "ncdemo"), ("ZETA_t", "zeta-tools"), ("zetat", "zeta-tools"),
                         ("Demo.PKG", "Demo-Pkg"), ("demo--", "Demo-Pkg")):
        box.fill(query)
        expect(page.locator("#results a")).to_have_text([found])
        expect(page.locator("#results-count")).to_have_text("1 project found.")
    box.fill("nc-x")
    expect(page.locator("#results")).to_contain_text("No project name starts with")


def test_the_home_page_shows_each_repositorys_facts(ui_site: UiSite, page: Page) -> None:
    page.goto(ui_site.root)
    card = page.locator("li.card", has=page.get_by_role("link", name="python", exact=True))
    facts = card.locator("dl.home-facts")
    expect(facts).to_contain_text("Projects")
    expect(facts.locator("dd").nth(0)).to_have_text("4")
    expect(facts.locator("dd").nth(1)).to_contain_text("ncdemo 0.6.0")
    expect(facts.locator("dd").nth(2)).to_have_text("2026-03-04")
    expect(facts.locator("dd").nth(3)).to_contain_text("local")
    facts.get_by_role("link", name="2026-03-04").click()
    expect(page).to_have_url(ui_site.root + "python/2026-03-04/simple/")
