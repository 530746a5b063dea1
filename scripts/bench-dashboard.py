"""The dashboard's first paint with a big fleet, against the same page with an empty one.

Run by `scripts/bench.sh --no-clouds dashboard` against a live manager: Debian's chromium
(Playwright) loads the real page from the manager and logs in through /v1/session. The
list answers (containers, instances, events) are made in the browser (Playwright's
routing) with --containers and --instances items, so the page's own cost is what is
measured; the manager's cost for long lists is `micado bench launch`'s list latency. Each
trial is a pair, big fleet and empty fleet in alternating order, each in a fresh page; the
figure is the median of their ratios. Also the page's transfer size, from the manager.

Reads MICADO_URL and MICADO_TOKEN (environment, never argv).
"""

import argparse
import json
import os
import statistics

from playwright.sync_api import sync_playwright

URL = os.environ["MICADO_URL"].rstrip("/")
TOKEN = os.environ["MICADO_TOKEN"]

# Records the moment the overview's tables are in the document, then the frame after: the
# paint that shows them.
PAINT_PROBE = """
new MutationObserver((_, observer) => {
  const page = document.getElementById('page');
  const done = page && !page.hidden && page.querySelector('h1')?.textContent === 'Overview' && page.querySelectorAll('table').length === 3;
  if (!done) return;
  observer.disconnect();
  requestAnimationFrame(() => requestAnimationFrame(() => { window.__overviewPainted = performance.now(); }));
}).observe(document, { subtree: true, childList: true, attributes: true });
"""


def fleet(containers, instances):
    now = "2026-12-01T12:00:00.000Z"
    states = ["running", "running", "running", "pending", "stopped", "failed"]
    nodes = [f"m{n:010x}" for n in range(instances)]
    return {
        "containers": [{
            "name": f"container-app{n}", "client": "bench", "image": "busybox:local", "desired": "running",
            "state": states[n % len(states)], "memoryMiB": 128, "node": nodes[n % instances] if instances else None,
            "endpoint": f"10.213.0.{10 + n % instances}:{8000 + n}" if instances else None, "createdAt": now,
            "cpuPercent": (n % 97) / 3, "memoryUsedMiB": 20 + n % 50,
            "application": f"app{n % 40}" if n % 3 == 0 else None,
        } for n in range(containers)],
        "instances": [{
            "id": nodes[n], "hostname": "i" + nodes[n][1:], "cloud": ["local", "aws"][n % 2], "location": ["eu", "us-east-1a"][n % 2],
            "role": "worker", "state": "ready", "availability": "active", "address": f"10.213.0.{10 + n}",
            "containers": containers // max(instances, 1), "memoryReservedMiB": 2000, "memoryTotalMiB": 4096,
            "flavour": "medium", "tag": "auto", "pricePerHour": 0.0416, "createdAt": now,
        } for n in range(instances)],
        "events": [{"id": n + 1, "time": now, "kind": ["instance.create", "service.scale", "container.running"][n % 3],
                    "subject": f"container-app{n}", "message": f"decision {n}"} for n in range(300)],
    }


def strip(value):
    return {k: v for k, v in value.items() if v is not None} if isinstance(value, dict) else value


def first_paint(browser, data):
    context = browser.new_context()
    page = context.new_page()
    page.add_init_script(PAINT_PROBE)
    page.request.post(URL + "/v1/session", data=json.dumps({"token": TOKEN}), headers={"Content-Type": "application/json"})

    def answer(route, body):
        route.fulfill(status=200, content_type="application/json", body=json.dumps([strip(x) for x in body]))

    page.route("**/v1/containers?all=true", lambda route: answer(route, data["containers"]))
    page.route("**/v1/instances", lambda route: answer(route, data["instances"]))
    page.route("**/v1/events?limit=300", lambda route: answer(route, data["events"]))
    page.goto(URL + "/#/overview")
    # Polled from outside (the page's CSP forbids the eval a wait_for_function needs); the
    # moment itself is taken inside the page.
    painted = None
    for _ in range(6000):
        painted = page.evaluate("window.__overviewPainted")
        if painted is not None:
            break
        page.wait_for_timeout(10)
    if painted is None:
        raise SystemExit("the overview was not painted within 60 s")
    context.close()
    return painted


def transfer_size(browser):
    context = browser.new_context()
    page = context.new_page()
    page.goto(URL + "/")
    page.wait_for_load_state("load")
    sizes = page.evaluate("""() => {
      const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
      return entries.map(e => [e.name, e.transferSize, e.decodedBodySize]);
    }""")
    context.close()
    return sizes


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--containers", type=int, default=1000)
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--trials", type=int, default=10)
    args = parser.parse_args()
    big, empty = fleet(args.containers, args.instances), fleet(0, 0)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=os.environ.get("MICADO_CHROMIUM", "/usr/bin/chromium"), headless=True, args=["--no-sandbox"])
        first_paint(browser, empty)  # warm-up: the browser's own start is not the page's
        loaded, baseline, ratios = [], [], []
        for trial in range(args.trials):
            order = [("big", big), ("empty", empty)] if trial % 2 == 0 else [("empty", empty), ("big", big)]
            times = {name: first_paint(browser, data) for name, data in order}
            loaded.append(times["big"])
            baseline.append(times["empty"])
            ratios.append(times["big"] / times["empty"])
        sizes = transfer_size(browser)
        browser.close()

    def p90(values):
        return sorted(values)[max(0, int(len(values) * 0.9 + 0.5) - 1)]

    print(f"dashboard first paint of the overview, {args.trials} interleaved pairs, fresh page each")
    print(f"  {args.containers} containers, {args.instances} instances: median {statistics.median(loaded):.0f} ms, p90 {p90(loaded):.0f} ms")
    print(f"  empty fleet (baseline):       median {statistics.median(baseline):.0f} ms, p90 {p90(baseline):.0f} ms")
    print(f"  ratio (median of pairs): {statistics.median(ratios):.2f}x")
    total = sum(s[1] for s in sizes)
    print(f"page transfer: {total / 1024:.0f} KiB in {len(sizes)} responses (" + ", ".join(f"{name.rsplit('/', 1)[-1] or '/'} {size / 1024:.1f} KiB" for name, size, _ in sizes) + ")")


if __name__ == "__main__":
    main()
