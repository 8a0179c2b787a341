"""Airflow standalone with the local stand-in (as `make airflow` runs it) and headless Debian chromium.

Playwright's own browser download is blocked on these machines: the test drives the chromium that
`make browser-deps` installs from Debian, through the `playwright` package from PyPI.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest

from tests.browser.chromium import CHROMIUM, CHROMIUM_FLAGS, MISSING

# Long enough for the whole form and the run page without scrolling.
VIEWPORT = {"width": 1400, "height": 1100}
# The scripted reviewer waits this long before answering, so that the review sensor really defers
# and the triggerer runs ReviewsTrigger (with no wait the sensor's first check finds all answered).
REVIEW_DELAY_SECONDS = 15


@pytest.fixture(scope="session")
def artifacts(project_root: Path) -> Path:
    """test-artifacts/browser/ (git-ignored): screenshots to look at after the run."""
    folder = project_root / "test-artifacts" / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


@pytest.fixture(scope="module")
def airflow(artifacts):
    """`airflow standalone` and the stand-in, as `make airflow` starts them; both stopped by pid.

    Their logs are copied to test-artifacts/browser/ at the end.
    """
    from scripts.airflow_local import local_airflow

    home = Path(tempfile.mkdtemp(prefix="airflow-ui-"))
    try:
        with local_airflow(
            home, stack_args=("--auto-review", "--review-delay", str(REVIEW_DELAY_SECONDS))
        ) as running:
            print(f"airflow standalone ready in {running.startup_seconds:.0f} s at {running.url}")
            yield running
            stopping = time.monotonic()
        print(f"airflow standalone and the stand-in stopped in {time.monotonic() - stopping:.0f} s")
    finally:
        for log in ("standalone.log", "local-aws.log"):
            if (home / log).exists():
                shutil.copy(home / log, artifacts / log)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    """A headless chromium with a new, empty profile; closed at the end."""
    if not CHROMIUM.exists():
        pytest.fail(MISSING)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport=VIEWPORT,
        )
        context.set_default_timeout(30_000)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_context, artifacts, request):
    """A browser tab; on failure its last state is kept as test-artifacts/browser/failure-<test>.png."""
    tab = browser_context.new_page()
    yield tab
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        tab.screenshot(path=str(artifacts / f"failure-{request.node.name}.png"), full_page=True)
    tab.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
