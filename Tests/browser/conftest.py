"""Shared fixtures for the browser tests: the voicebridge binary, and a headless Chromium page
that fails its test on any JavaScript console error, uncaught exception or dialog."""

import os
import pathlib
import shutil
import subprocess

import pytest
from playwright.sync_api import sync_playwright

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "calls"


def _chromium():
    for candidate in (os.environ.get("CHROMIUM_BIN"), "chromium", "chromium-browser"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    pytest.fail("no Chromium found: install the chromium package or set CHROMIUM_BIN")


@pytest.fixture(scope="session")
def voicebridge_bin():
    """The binary under test: VOICEBRIDGE_BIN, or the debug build."""
    path = pathlib.Path(os.environ.get("VOICEBRIDGE_BIN") or ROOT / ".build" / "debug" / "voicebridge")
    if not path.is_file():
        pytest.fail(f"no voicebridge binary at {path}: run `swift build --product voicebridge` or set VOICEBRIDGE_BIN")
    return str(path)


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        # Always the system Chromium: nothing is downloaded.
        browser = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"], headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh page; the test fails if the page logged a console error, threw, or opened a dialog."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    problems = []
    page.on("console", lambda message: problems.append(f"console.{message.type}: {message.text}") if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))

    def dialog(d):
        problems.append(f"dialog ({d.type}): {d.message}")
        d.dismiss()

    page.on("dialog", dialog)
    yield page
    context.close()
    assert not problems, "the page reported errors:\n" + "\n".join(problems)


@pytest.fixture
def replay(voicebridge_bin, tmp_path):
    """Runs `voicebridge replay FILE --html OUT` from the repository root; returns (exit code,
    output, the page's path)."""

    def run(recording, name="timeline.html", *extra):
        out = tmp_path / name
        done = subprocess.run(
            [voicebridge_bin, "replay", str(recording), "--html", str(out), *extra],
            cwd=ROOT, capture_output=True, text=True, timeout=120)
        return done.returncode, done.stdout + done.stderr, out

    return run
