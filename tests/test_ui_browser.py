"""The chat app in a real browser: Debian's Chromium driven by Playwright against the real index and small model.

Screenshots land in test-artifacts/. With UPDATE_SCREENSHOT=1 the answered-question screenshot is also
written to docs/screenshot.png (the README picture).
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
ANSWER_TIMEOUT = 600_000  # ms; the CPU may be shared, and the first answer loads the model
STEP_TIMEOUT = 120_000

MALICIOUS_REPORT = """Testshire County Council: LGA Corporate Peer Challenge feedback report

Feedback Report

1. Executive Summary

Testshire County Council has strong waste collection services. Peers noted <script>window.injected = 1;
alert('xss')</script> that the recycling rate rose to 61% in 2020.

<img src=x onerror="window.injected = 2"> The council's waste strategy is well understood by residents and
partners, and the peers recommend that it keeps investing in recycling {{value}} ${value}.
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def serve(settings):
    """The app as `assistant chat` serves it, on a free local port, in this process."""
    from assistant.ui import launch

    app = launch(settings, host="127.0.0.1", port=free_port(), block=False)
    return app, app.local_url.rstrip("/")


@pytest.fixture(scope="module")
def app_url(settings):
    app, url = serve(settings.replace(model="qwen2.5-0.5b", max_answer_tokens=160))
    yield url
    app.close()


@pytest.fixture
def writable_app_url(home, tmp_path):
    """An app over a copy of the test home, so adding a report leaves the shared index alone."""
    from assistant.config import Settings

    shutil.copytree(home / "corpus", tmp_path / "corpus")
    shutil.copytree(home / "index", tmp_path / "index")
    app, url = serve(Settings(home=tmp_path, model="qwen2.5-0.5b", max_answer_tokens=160))
    yield url
    app.close()


class Watcher:
    """Console errors, uncaught exceptions, dialogs and requests that leave this machine."""

    def __init__(self, page, base_url: str):
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.external: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("dialog", self.on_dialog)
        page.on("request", lambda r: None if r.url.startswith((base_url, "data:", "blob:")) else
                self.external.append(r.url))

    def on_dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def check(self) -> None:
        assert self.errors == [], f"console errors: {self.errors}"
        assert self.dialogs == [], f"dialogs opened: {self.dialogs}"
        assert self.external == [], f"requests to the internet: {self.external}"


def open_app(browser, url: str, width: int = 1400, height: int = 900):
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    page = context.new_page()
    watcher = Watcher(page, url)
    page.goto(url)
    page.wait_for_selector("#ca-question textarea")
    page.wait_for_selector("#ca-councils")
    return context, page, watcher


def ask(page, question: str) -> None:
    page.fill("#ca-question textarea", question)
    page.click("#ca-ask")


def choose(page, dropdown: str, option: str) -> None:
    page.click(f"{dropdown} input")
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")


def last_bot_message(page):
    return page.locator('#ca-chat [data-testid="bot"]').last


OVERLAYS = """() => [...document.querySelectorAll('[data-testid=status-tracker]')]
  .filter(e => !e.classList.contains('hide') && e.offsetParent !== null)
  .map(e => (e.closest('[id]') || {}).id + ': ' + e.className + ' «' + e.innerText.trim().slice(0, 80) + '»')"""


UNCOVERED = """link => { link.scrollIntoView({block: 'center'}); const r = link.getBoundingClientRect();
  const top = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2); return link.contains(top); }"""


def click_when_uncovered(page, link) -> None:
    """Click a chat link once nothing (such as a progress overlay) covers it; if something stays, say what."""
    for _ in range(STEP_TIMEOUT // 500):
        if link.evaluate(UNCOVERED):
            break
        page.wait_for_timeout(500)
    else:
        pytest.fail(f"the link stayed covered; visible progress overlays: {page.evaluate(OVERLAYS)}")
    link.click()


def test_ask_cite_filter_export(browser, app_url):
    ARTIFACTS.mkdir(exist_ok=True)
    context, page, watcher = open_app(browser, app_url)

    # Passages appear as soon as retrieval is done, then the checked answer with clickable citations.
    ask(page, "What did peers say about Derby's accounts?")
    page.wait_for_selector('#ca-evidence [data-phase="passages"] .ca-card', timeout=STEP_TIMEOUT)
    page.wait_for_selector('#ca-evidence [data-phase="answer"]', timeout=ANSWER_TIMEOUT)
    assert "council: Derby City Council" in page.inner_text("#ca-scope")
    links = last_bot_message(page).locator('a[href^="#cite-"]')
    assert links.count() >= 1

    # A citation opens its passage with the supporting quote highlighted.
    click_when_uncovered(page, links.first)
    card = page.locator("#ca-evidence .ca-card.active")
    card.wait_for()
    assert card.evaluate("c => c.open")
    assert card.get_attribute("id") == links.first.get_attribute("href")[1:]
    quote = card.locator(".ca-passage mark")
    assert quote.count() == 1 and len(quote.inner_text().split()) >= 3
    page.screenshot(path=str(ARTIFACTS / "answer.png"))
    if os.environ.get("UPDATE_SCREENSHOT"):
        shutil.copy(ARTIFACTS / "answer.png", ROOT / "docs" / "screenshot.png")

    # "Open in report" shows the whole report scrolled to the passage, the quote marked in place.
    card.locator(".ca-open").click()
    page.wait_for_selector("#ca-report .ca-report-body .ca-ln.in")
    assert page.locator("#ca-report .ca-report-body mark").first.inner_text() in quote.inner_text()
    assert page.locator("#ca-report .ca-ln").count() > 100
    assert page.locator("#ca-report .ca-report-body").evaluate("b => b.scrollTop") > 0
    panel, report = page.evaluate("() => ['#ca-evidence', '#ca-report'].map("
                                  "s => document.querySelector(s).getBoundingClientRect().toJSON())")
    assert report["x"] == panel["x"] and report["top"] >= panel["bottom"]  # stacked, not side by side
    page.screenshot(path=str(ARTIFACTS / "report.png"))

    # Export: the last answer with its evidence table, as Markdown.
    with page.expect_download() as download:
        page.click("#ca-export")
    markdown = Path(download.value.path()).read_text(encoding="utf-8")
    assert markdown.startswith("## What did peers say about Derby's accounts?")
    assert "| # | Quote | Document | Section | Lines | Council | Date |" in markdown

    # Another browser is another conversation.
    other, other_page, other_watcher = open_app(browser, app_url)
    assert other_page.locator('#ca-chat [data-testid="bot"]').count() == 0
    other.close()

    # A follow-up is read in the light of the conversation (stopped once its passages are shown).
    ask(page, "What about Derbyshire?")
    page.wait_for_selector('#ca-evidence [data-phase="passages"][data-turn="1"] .ca-card', timeout=STEP_TIMEOUT)
    assert "council: Derbyshire County Council" in page.inner_text("#ca-scope")
    assert "read as" in page.inner_text("#ca-scope")
    page.click("#ca-stop")
    page.wait_for_function("() => document.querySelector('#ca-status').innerText.includes('Stopped')")

    # A council filter limits the passages to that council.
    choose(page, "#ca-councils", "Derby City Council")
    ask(page, "What did the peers say about partnership working?")
    page.wait_for_selector('#ca-evidence [data-turn="2"] .ca-card', timeout=STEP_TIMEOUT)
    councils = page.locator("#ca-evidence .ca-card").evaluate_all("cs => cs.map(c => c.dataset.council)")
    assert councils and set(councils) == {"Derby City Council"}
    assert "Your filters: Derby City Council" in page.inner_text("#ca-scope")
    page.click("#ca-stop")
    page.wait_for_function("() => document.querySelector('#ca-status').innerText.includes('Stopped')")

    # An old answer's citation brings its evidence back (a server round trip, which can wait behind the
    # stopped answer while llama.cpp finishes reading its prompt).
    first_bot = page.locator('#ca-chat [data-testid="bot"]').first
    click_when_uncovered(page, first_bot.locator('a[href^="#cite-"]').first)
    page.wait_for_selector('#ca-evidence [data-turn="0"] .ca-card.active', timeout=STEP_TIMEOUT)

    # New chat empties the conversation.
    page.click("#ca-new")
    page.wait_for_function("() => !document.querySelector('#ca-chat [data-testid=\"bot\"]')")
    assert page.locator('#ca-evidence [data-phase="empty"]').count() == 1

    # A phone-width screen: nothing wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 391
    page.screenshot(path=str(ARTIFACTS / "phone.png"), full_page=True)

    watcher.check()
    other_watcher.check()
    context.close()


def test_report_markup_is_shown_as_text(browser, writable_app_url, tmp_path):
    context, page, watcher = open_app(browser, writable_app_url)
    upload = tmp_path / "testshire-report.txt"
    upload.write_text(MALICIOUS_REPORT, encoding="utf-8")

    # Add the report in the Documents tab; it is indexed and listed.
    page.get_by_role("tab", name="Documents").click()
    page.set_input_files("#ca-upload input[type=file]", str(upload))
    page.fill("#ca-upload-council textarea, #ca-upload-council input", "Testshire County Council")
    page.fill("#ca-upload-date textarea, #ca-upload-date input", "2020-03")
    page.click("#ca-add")
    page.wait_for_function("() => document.querySelector('#ca-ingest-log').innerText.includes('✅')",
                           timeout=STEP_TIMEOUT)
    assert "Testshire County Council" in page.inner_text("#ca-docs")

    # Its passages and the report view show the markup as text; nothing in it runs.
    page.get_by_role("tab", name="Ask").click()
    choose(page, "#ca-councils", "Testshire County Council")
    ask(page, "What did peers say about waste collection and recycling?")
    page.wait_for_selector("#ca-evidence .ca-card", timeout=STEP_TIMEOUT)
    page.click("#ca-stop")
    card = page.locator("#ca-evidence .ca-card").first
    card.locator("summary").click()
    assert "<script>" in card.locator(".ca-passage").inner_text()
    card.locator(".ca-open").click()
    page.wait_for_selector("#ca-report .ca-report-body")
    shown = page.inner_text("#ca-report .ca-report-body")
    assert "<script>window.injected = 1;" in shown
    assert '<img src=x onerror="window.injected = 2">' in shown
    assert "{{value}} ${value}" in shown
    assert page.locator("#ca-evidence script, #ca-report script, #ca-evidence img, #ca-report img").count() == 0
    assert page.evaluate("() => window.injected") is None
    page.screenshot(path=str(ARTIFACTS / "escaped-report.png"))

    watcher.check()
    context.close()
