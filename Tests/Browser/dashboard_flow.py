"""The dashboard's main flows in a real browser: Debian's chromium driven by Playwright.

Run by Tests/IntegrationTests/DashboardBrowserTests.swift against a live manager with the
local cloud. Reads MICADO_URL, MICADO_TOKEN (from the environment, never argv),
MICADO_IMAGE and MICADO_OUTPUT (where screenshots go). Exits non-zero with the reason on
the first broken expectation.
"""

import json
import os
import re
import sys
import time
import urllib.error
import urllib.request

from playwright.sync_api import expect, sync_playwright

URL = os.environ["MICADO_URL"].rstrip("/")
TOKEN = os.environ["MICADO_TOKEN"]
IMAGE = os.environ.get("MICADO_IMAGE", "busybox:local")
OUTPUT = os.environ["MICADO_OUTPUT"]
CHROMIUM = os.environ.get("MICADO_CHROMIUM", "/usr/bin/chromium")
NAME = "container-web"


def api(method, path, body=None):
    """The API with the bearer token, as a script would use it."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(URL + path, data=data, method=method)
    request.add_header("Authorization", "Bearer " + TOKEN)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as response:
        text = response.read()
        return json.loads(text) if text else None


def step(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def shot(page, name):
    page.screenshot(path=os.path.join(OUTPUT, f"{name}.png"), full_page=True)


def main():
    os.makedirs(OUTPUT, exist_ok=True)
    problems = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}") if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("response", lambda response: problems.append(f"{response.status} from {response.url}") if response.status >= 400 else None)
        expect.set_options(timeout=30_000)

        step("the page asks for the token; a wrong one is refused")
        page.goto(URL + "/")
        expect(page.get_by_role("heading", name="Log in to micado")).to_be_visible()
        page.get_by_label("API token").fill("not-the-token")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("alert")).to_contain_text("Wrong token")
        shot(page, "01-login-refused")
        # The 401 of the refused login is expected; it is the only console error allowed.
        problems[:] = [p for p in problems if "401" not in p]

        step("keyboard: the first Tab reaches the skip link, the form is labelled")
        page.get_by_label("API token").fill(TOKEN)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        expect(page.get_by_role("navigation", name="Pages")).to_be_visible()
        expect(page.locator("#live")).to_have_text("live")
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement && document.activeElement.textContent")
        if focused != "Skip to content":
            problems.append(f"the first Tab should reach the skip link, reached {focused!r}")
        shot(page, "02-overview-empty")

        step("the page holds no token: the cookie is HttpOnly")
        if "micado_session" in page.evaluate("document.cookie"):
            problems.append("the session cookie is readable from script")

        step("a container launched elsewhere appears without a refresh")
        page.get_by_role("link", name="Containers").click()
        expect(page.get_by_role("heading", name="Containers")).to_be_visible()
        api("POST", "/v1/containers", {
            "image": IMAGE, "client": "web", "name": NAME, "memoryMiB": 100, "detach": True, "environment": [],
            "arguments": ["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done"],
        })
        link = page.get_by_role("link", name=NAME)
        expect(link).to_be_visible(timeout=20_000)
        row = page.get_by_role("row").filter(has=link)
        step("the scaler starts an instance; the container runs on it")
        expect(row).to_contain_text("running", timeout=240_000)
        shot(page, "03-containers")

        step("its logs and its usage chart")
        link.click()
        expect(page.get_by_role("heading", name=NAME)).to_be_visible()
        expect(page.get_by_label(f"Logs of {NAME}")).to_contain_text("tick", timeout=60_000)
        chart = page.locator("canvas#usage-chart")
        expect(chart).to_have_attribute("aria-label", re.compile(r"latest .* % CPU"), timeout=90_000)
        if page.evaluate("!(window.Chart && Chart.getChart(document.getElementById('usage-chart')))"):
            problems.append("the usage chart was not drawn by Chart.js")
        page.get_by_role("button", name="Explain").click()
        expect(page.locator("#explanation li").first).to_be_visible()
        shot(page, "04-container")

        step("the instance the scaler started")
        instances = [i for i in api("GET", "/v1/instances") if i["role"] != "manager"]
        if len(instances) != 1:
            raise AssertionError(f"expected the one instance the scaler started, got {instances}")
        instance = instances[0]["id"]
        page.get_by_role("link", name="Instances").click()
        instance_row = page.get_by_role("row").filter(has=page.get_by_role("link", name=instance))
        expect(instance_row).to_contain_text("ready")
        shot(page, "05-instances")
        page.get_by_role("link", name="Overview").click()
        expect(page.get_by_role("heading", name="The scaler\u2019s latest decisions")).to_be_visible()
        expect(page.get_by_role("table", name="Instances per cloud and location")).to_contain_text("local")
        shot(page, "06-overview")

        step("quit it from the page, with a confirmation")
        page.get_by_role("link", name="Containers").click()
        page.get_by_role("link", name=NAME).click()
        page.get_by_role("button", name="Quit").click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text(f"Quit {NAME}?")
        dialog.get_by_role("button", name="Quit").click()
        expect(page.get_by_role("button", name="Remove")).to_be_enabled(timeout=30_000)

        step("the instance drains and goes")
        page.get_by_role("link", name="Instances").click()
        expect(page.get_by_role("heading", name="Instances")).to_be_visible()
        expect(page.get_by_role("table", name="Instances")).to_be_visible()
        expect(page.get_by_role("link", name=instance)).to_have_count(0, timeout=180_000)
        shot(page, "07-instances-drained")

        step("events: live, filterable by subject")
        page.get_by_role("link", name="Events").click()
        page.get_by_label("Filter by subject or kind").fill(instance)
        events = page.get_by_role("table", name="Events, newest first")
        expect(events).to_contain_text("instance.deleted")
        # Only its own events: no row about the container itself.
        expect(events.get_by_role("cell", name=NAME, exact=True)).to_have_count(0)
        shot(page, "08-events")

        step("the cookie alone opens nothing: every request needs the tab's CSRF token")
        status = page.evaluate("fetch('/v1/containers').then(r => r.status)")
        if status != 403:
            problems.append(f"with the cookie alone the API answered {status}, not 403")
        problems[:] = [p for p in problems if "403" not in p]

        step("log out: the session is over")
        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("heading", name="Log in to micado")).to_be_visible()
        status = page.evaluate("fetch('/v1/containers').then(r => r.status)")
        if status != 401:
            problems.append(f"after logout the API answered {status}, not 401")
        problems[:] = [p for p in problems if "401" not in p]
        browser.close()

    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    step("all flows passed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (AssertionError, urllib.error.URLError) as error:
        print(f"FAILED: {error}", file=sys.stderr)
        sys.exit(1)
