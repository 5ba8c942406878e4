"""Headless Chromium (Debian's) driven by Playwright, for the pages users click through.

Use the `page` fixture with pytest-django's `live_server`; on failure a screenshot is
saved under test-artifacts/ (kept by CI).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop; Django must allow sync ORM calls beside it.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _new_page(browser, request, **context_options):  # noqa: ANN001, ANN202
    context = browser.new_context(locale="zh-CN", **context_options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    return context, page


def _save_on_failure(request, page) -> None:  # noqa: ANN001
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)


@pytest.fixture
def page(browser, request) -> Iterator:  # noqa: ANN001
    """A desktop page (1366×900)."""
    context, page = _new_page(browser, request, viewport={"width": 1366, "height": 900})
    yield page
    _save_on_failure(request, page)
    context.close()


@pytest.fixture
def phone_page(browser, request) -> Iterator:  # noqa: ANN001
    """A phone page: 390×844, touch."""
    context, page = _new_page(browser, request, **PHONE)
    yield page
    _save_on_failure(request, page)
    context.close()


def browser_login(page, live_server, user, password: str) -> None:  # noqa: ANN001
    """Log in through the real login form, and through the second step (the code of the
    user's authenticator, made for them if they have none) when their role needs it."""
    from consult.two_factor import second_factor_required
    from tests.second_factor import authenticator_for, current_code

    device = authenticator_for(user) if second_factor_required(user) else None
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    if device is not None:
        page.wait_for_url(f"{live_server.url}/login/verify/")
        page.fill("input[name=otp_token]", current_code(device))
        page.click("main button.primary")
    page.wait_for_url(f"{live_server.url}/")


@pytest.fixture
def asgi_server(transactional_db, tmp_path_factory) -> Iterator:  # noqa: ANN001
    """uvicorn serving `pedslink.asgi:application` (pages *and* websockets) against the test
    database. pytest-django's live_server is WSGI only; use this where pages go live.
    Has `.url` like live_server, so `browser_login(page, asgi_server, ...)` works."""
    from types import SimpleNamespace

    from tests.processes import free_port, port_open, subprocess_env, uvicorn_server, wait_for

    port = free_port()
    env = subprocess_env(SITE_URL=f"http://127.0.0.1:{port}")  # as `make run` sets it
    server = uvicorn_server(port, env, tmp_path_factory.mktemp("asgi")).start()
    try:
        wait_for(lambda: port_open(port), 30, message="uvicorn\n" + server.output())
        yield SimpleNamespace(url=f"http://127.0.0.1:{port}", process=server)
    finally:
        server.kill()


# Every Content-Security-Policy violation of a page's documents, as the browser reports it to
# the page (`securitypolicyviolation`), kept across navigations in sessionStorage.
_CSP_WATCH = """
document.addEventListener("securitypolicyviolation", (e) => {
  const seen = JSON.parse(sessionStorage.getItem("__csp") || "[]");
  seen.push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"} in ${e.documentURI}`);
  sessionStorage.setItem("__csp", JSON.stringify(seen));
});
"""


_POLICY_MESSAGES = ("Content Security Policy", "Permissions-Policy", "permissions policy")


def watch_csp(page) -> list[str]:  # noqa: ANN001
    """Start collecting the page's Content-Security-Policy violations; returns the list the
    console's own reports are appended to ("Refused to …", also those of workers, and any
    Permissions-Policy error or violation). Read them all with `csp_violations`."""
    console: list[str] = []
    page.context.add_init_script(_CSP_WATCH)

    def on_console(message) -> None:  # noqa: ANN001
        if any(text in message.text for text in _POLICY_MESSAGES):
            console.append(message.text)

    page.on("console", on_console)
    return console


def csp_violations(page, console: list[str]) -> list[str]:  # noqa: ANN001
    events = page.evaluate("JSON.parse(sessionStorage.getItem('__csp') || '[]')")
    return [*events, *console]
