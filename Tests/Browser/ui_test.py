#!/usr/bin/env python3
"""Real-browser test of devmesh's web UI (headless Debian chromium through selenium 4).

Runs against a running sample stack (Samples/shop):

    python3 Tests/Browser/ui_test.py --admin http://127.0.0.1:9901 --gateway https://localhost:8443 \
        --ca ~/.local/share/devmesh/ca/ca.pem --otlp http://127.0.0.1:4318 --screenshots /tmp/ui-shots \
        --bearer "$(cat Samples/shop/keys/bob.jwt)" --token "$(jq -r .token Samples/shop/.devmesh/state.json)"

Prints `ok: ...` per passing check and `FAIL: what, expected ..., got ...` per failing one;
exits 0 only when every check passed. Every wait is a WebDriverWait with an explicit deadline.
"""
import argparse
import http.client
import json
import os
import re
import secrets
import ssl
import sys
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # pragma: no cover
    print("FAIL: setup, expected the selenium package (pip install selenium), got ImportError", file=sys.stderr)
    sys.exit(2)

SERVICES = ["users", "inventory", "orders", "frontend"]
ROUTE = "/api/orders"
XSS_UA = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>'
XSS_BODY = "<script>window.__xss=2</script><b>bold</b>"
# In a request target (through the gateway to the frontend, which answers any path with its page).
XSS_TARGET = "<img/src=x/onerror=window.__xss=3>"
LIVE_BUDGET = 2.0  # seconds from a response to its row / log line in the UI


class CheckFailed(Exception):
    def __init__(self, what, expected, got):
        super().__init__(f"{what}, expected {expected}, got {got}")


class UITest:
    def __init__(self, args):
        self.args = args
        self.admin = args.admin.rstrip("/")
        self.gateway = args.gateway.rstrip("/")
        self.otlp = args.otlp.rstrip("/")
        self.shots = args.screenshots
        os.makedirs(self.shots, exist_ok=True)
        self.tls = ssl.create_default_context(cafile=args.ca)
        self.passed = 0
        self.failed = 0
        self.console = []
        self.driver = None
        self.first_trace = None
        self.not_it = set()  # recorded request ids known not to be the one looked for

    # ------------------------------------------------------------------ plumbing
    def ok(self, message):
        self.passed += 1
        print(f"ok: {message}", flush=True)

    def fail(self, message):
        self.failed += 1
        print(f"FAIL: {message}", flush=True)

    def start_browser(self):
        opts = Options()
        opts.binary_location = "/usr/bin/chromium"
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,900",
                  "--force-color-profile=srgb", "--lang=en-US"):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(options=opts, service=Service("/usr/bin/chromedriver"))
        self.driver.set_page_load_timeout(20)

    def wait(self, timeout=10, poll=0.05):
        return WebDriverWait(self.driver, timeout, poll_frequency=poll)

    def until(self, what, expected, cond, timeout=10):
        """Waits for cond(driver) to be truthy; raises CheckFailed naming what was awaited."""
        last = {"got": "nothing"}

        def probe(d):
            try:
                v = cond(d)
            except WebDriverException as e:  # stale elements while the page re-renders
                last["got"] = type(e).__name__
                return False
            if not v:
                last["got"] = repr(v)
            return v

        try:
            return self.wait(timeout).until(probe)
        except TimeoutException:
            raise CheckFailed(what, expected, f"{last['got']} after {timeout}s") from None

    def open(self, path):
        self.driver.get(self.admin + path)
        self.collect_console(path)

    def css(self, selector):
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def collect_console(self, where):
        try:
            entries = self.driver.get_log("browser")
        except Exception:  # get_log is not in every driver
            return
        for e in entries:
            self.console.append((where, e.get("level"), e.get("message", "")))

    def screenshot(self, name):
        path = os.path.join(self.shots, name)
        self.driver.save_screenshot(path)
        print(f"   screenshot {path}", flush=True)

    def screenshot_whole_page(self, name, most=2400):
        """A screenshot of the page down to its end (at most `most` pixels): the window grows for it."""
        size = self.driver.get_window_size()
        chrome = size["height"] - self.driver.execute_script("return window.innerHeight")
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        try:
            if height + chrome > size["height"]:
                self.driver.set_window_size(size["width"], min(most, height + chrome))
            self.screenshot(name)
        finally:
            self.driver.set_window_size(size["width"], size["height"])

    def theme(self):
        return self.driver.execute_script("return document.documentElement.dataset.theme || null")

    def set_theme(self, want):
        for _ in range(3):
            if self.theme() == want:
                return
            self.driver.find_element(By.CSS_SELECTOR, "[data-testid=theme-toggle]").click()
        self.until(f"theme toggle to {want}", want, lambda d: self.theme() == want, 3)

    def api(self, path):
        with urllib.request.urlopen(self.admin + path, timeout=10) as r:
            return json.load(r)

    def gateway_get(self, ua):
        headers = {"User-Agent": ua}
        if self.args.bearer:  # the shop's /api/orders route requires a token
            headers["Authorization"] = "Bearer " + self.args.bearer
        req = urllib.request.Request(self.gateway + ROUTE, headers=headers)
        with urllib.request.urlopen(req, context=self.tls, timeout=15) as r:
            body = r.read()
            status = r.status
        done = time.monotonic()
        if status != 200:
            raise CheckFailed(f"GET {self.gateway}{ROUTE}", "200", f"{status} {body[:200]!r}")
        return done

    def gateway_fetch(self, path, ua):
        """GET path through the gateway with this User-Agent; its status, whatever it is."""
        req = urllib.request.Request(self.gateway + path, headers={"User-Agent": ua})
        try:
            with urllib.request.urlopen(req, context=self.tls, timeout=15) as r:
                r.read()
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def request_for(self, ua, timeout=8):
        """The id of the exchange the gateway recorded for the request with this User-Agent."""
        def lookup(_):
            listing = self.api("/api/v1/requests?" + urllib.parse.urlencode({"service": "devmesh-gateway", "since": "10m", "limit": "30"}))
            for row in listing.get("requests", []):
                if row["id"] in self.not_it:
                    continue
                detail = self.api(f"/api/v1/requests/{row['id']}")
                if any(str(name).lower() == "user-agent" and value == ua for name, value in detail.get("request_headers", [])):
                    return row["id"]
                self.not_it.add(row["id"])
            return False

        return self.until(f"the gateway's recording of the request with User-Agent {ua[:40]!r} in /api/v1/requests", "a request id", lookup, timeout)

    def trace_for(self, ua, timeout=5):
        """The id of the trace whose spans carry this user agent (the attr filter, or a scan)."""
        query = urllib.parse.urlencode({"attr": "user_agent.original=" + ua, "since": "10m", "limit": "5"}, quote_via=urllib.parse.quote)
        state = {"attr": True}

        def lookup(_):
            if state["attr"]:
                try:
                    rows = self.api("/api/v1/traces?" + query)
                    return rows[0]["traceID"] if rows else False
                except urllib.error.HTTPError as e:
                    if e.code != 400:
                        raise
                    state["attr"] = False  # no attr filter: look through the newest traces
            for row in self.api("/api/v1/traces?since=10m&limit=40"):
                detail = self.api("/api/v1/traces/" + row["traceID"])
                if any((s.get("attributes") or {}).get("user_agent.original") == ua for s in detail["spans"]):
                    return row["traceID"]
            return False

        return self.until(f"trace of the request with User-Agent {ua[:40]!r} in the API", "a trace id", lookup, timeout)

    # ------------------------------------------------------------------ checks
    def check_overview(self):
        self.open("/")
        self.set_theme("light")
        for name in SERVICES:
            self.until(f"overview row for {name}", f"[data-testid=service-row][data-service={name}]",
                       lambda d, n=name: self.css(f'[data-testid=service-row][data-service="{n}"]'), 10)
        for name in SERVICES:
            row = self.css(f'[data-testid=service-row][data-service="{name}"]')[0]
            for cmd in ("restart", "stop", "start"):
                if not row.find_elements(By.CSS_SELECTOR, f"[data-testid=service-{cmd}]"):
                    raise CheckFailed(f"{cmd} button in the {name} row", f"[data-testid=service-{cmd}]", "none")
        # metrics cells filled (not the loading state)
        self.until("overview metrics loaded", "the cards", lambda d: self.css(".cards .card"), 10)
        self.screenshot("overview.png")
        self.ok(f"overview lists {', '.join(SERVICES)} with restart/stop/start buttons")

    def check_sign_in_and_restart(self):
        """Without the token the UI may look but not change; `devmesh ui`'s URL signs it in."""
        self.open("/")
        restart = '[data-testid=service-row][data-service="users"] [data-testid=service-restart]'
        self.until("the users row", restart, lambda d: self.css(restart), 10)
        self.css(restart)[0].click()
        self.until("a refusal toast for a UI that is not signed in", "a toast naming `devmesh ui`",
                   lambda d: any("devmesh ui" in t.text for t in self.css("#toasts .toast")), 5)
        before = self.api("/api/v1/status")
        restarts = next(r["restarts"] for s in before["services"] if s["name"] == "users" for r in s["replicas"])
        pid = next(r.get("pid") for s in before["services"] if s["name"] == "users" for r in s["replicas"])
        self.open("/?token=" + urllib.parse.quote(self.args.token))
        self.until("the token to leave the address bar", "a URL without ?token=",
                   lambda d: "token=" not in d.current_url and d.current_url.rstrip("/") == self.admin, 10)
        self.until("the users row", restart, lambda d: self.css(restart), 10)
        self.css(restart)[0].click()
        self.until("an accepted toast", "'Restart users: accepted'",
                   lambda d: any("accepted" in t.text.lower() for t in self.css("#toasts .toast")), 5)

        def restarted(_):
            st = self.api("/api/v1/status")
            r = next(r for s in st["services"] if s["name"] == "users" for r in s["replicas"])
            return r.get("pid") not in (None, pid) and r.get("state") == "running"
        self.until("users to run again under a new pid", f"a pid other than {pid}", restarted, 20)
        self.ok(f"without the token Restart is refused with a hint; after /?token= it restarts users (restarts were {restarts})")

    def check_overview_traffic(self):
        """The overview again once the checks above made traffic: its numbers, and the docs' screenshot."""
        self.open("/")
        self.set_theme("light")
        self.until("overview rows", "[data-testid=service-row]", lambda d: self.css('[data-testid=service-row][data-service="frontend"]'), 10)
        # The frontend row's p50 cell (numbers: port, restarts, rps, errors, p50, p99) has a latency
        # once the API reports the requests made above.
        def p50(d):
            cells = self.css('[data-testid=service-row][data-service="frontend"] td.num')
            return len(cells) == 6 and cells[4].text.strip() not in ("", "—") and cells[4].text.strip()
        self.until("frontend traffic in the overview", "a p50 latency in the frontend row", p50, 10)
        self.screenshot("overview.png")
        self.ok("overview shows the traffic of the requests made")

    def check_trace_appears(self):
        ua = "ui-test-" + secrets.token_hex(6)
        done = self.gateway_get(ua)
        self.driver.get(self.admin + "/traces")
        trace_id = self.trace_for(ua)
        sel = f'[data-testid=trace-row][data-trace-id="{trace_id}"]'
        self.until(f"trace row {trace_id} on /traces", sel, lambda d: self.css(sel), 8)
        elapsed = time.monotonic() - done
        self.collect_console("/traces")
        if elapsed > LIVE_BUDGET:
            raise CheckFailed(f"trace {trace_id} in the Traces list", f"within {LIVE_BUDGET}s of the response", f"{elapsed:.2f}s")
        self.first_trace = trace_id
        self.until("the filter form", "[data-testid=trace-filter-form]", lambda d: self.css("[data-testid=trace-filter-form]"), 3)
        self.screenshot("traces.png")
        self.ok(f"request through the gateway appears in Traces {elapsed:.2f}s after its response (trace {trace_id})")

    def check_trace_detail(self):
        trace_id = self.first_trace
        if not trace_id:
            raise CheckFailed("trace detail", "a trace from the previous check", "none (it failed)")
        row = self.css(f'[data-testid=trace-row][data-trace-id="{trace_id}"]')
        if not row:
            self.open("/traces")
            row = [self.until("trace row", trace_id, lambda d: self.css(f'[data-testid=trace-row][data-trace-id="{trace_id}"]'), 8)[0]]
        row[0].find_element(By.CSS_SELECTOR, "a.root-link").click()
        self.until("trace detail URL", f"/traces/{trace_id}", lambda d: f"/traces/{trace_id}" in d.current_url, 5)
        detail = self.api("/api/v1/traces/" + trace_id)
        spans, logs = detail["spans"], detail["logs"]
        services = {s["service"] for s in spans}
        self.until("span rows in the waterfall", f"{len(spans)} [data-testid=span-row]",
                   lambda d: len(self.css("[data-testid=span-row]")) == len(spans), 8)
        shown = {e.get_attribute("data-span-id") for e in self.css("[data-testid=span-row]")}
        missing = {s["spanID"] for s in spans} - shown
        if missing:
            raise CheckFailed("spans in the waterfall", "every span of the API", f"missing {sorted(missing)}")
        if len(services) < 4:
            raise CheckFailed("services in the trace", ">= 4", f"{sorted(services)}")
        if not logs:
            raise CheckFailed("logs of the trace in the API", ">= 1", "0")
        self.until("trace log lines", f"{len(logs)} [data-testid=trace-log-line]",
                   lambda d: len(self.css("[data-testid=trace-log-line]")) == len(logs), 5)
        errors_api = sum(1 for s in spans if s["status"] == "error" or int((s.get("attributes") or {}).get("http.response.status_code", 0) or 0) >= 500)
        errors_ui = len(self.css('[data-testid=span-row][data-error="true"]'))
        if errors_api != errors_ui:
            raise CheckFailed("error spans marked data-error", str(errors_api), str(errors_ui))
        # open a span's side panel for the screenshot
        server = self.css('[data-testid=span-row][data-service="frontend"][data-kind="server"]') or self.css("[data-testid=span-row]")
        server[0].click()
        self.until("span attributes panel", "[data-testid=span-attributes]", lambda d: self.css("[data-testid=span-attributes]"), 5)
        self.collect_console("/traces/id")
        self.screenshot("trace-detail.png")
        self.set_theme("dark")
        self.screenshot("trace-detail-dark.png")
        self.set_theme("light")
        self.ok(f"trace detail shows all {len(spans)} spans of {len(services)} services and its {len(logs)} log lines")

    def check_log_tail(self):
        self.open("/logs")
        self.until("the log stream to connect", "[data-stream-state=live] (or polling)",
                   lambda d: self.css("[data-stream-state=live], [data-stream-state=polling]"), 8)
        ua = "ui-test-" + secrets.token_hex(6)
        done = self.gateway_get(ua)
        trace_id = self.trace_for(ua)
        script = "return [...document.querySelectorAll('[data-testid=log-line]')].some(e => e.textContent.includes(arguments[0]))"
        self.until(f"a log line of trace {trace_id} without reloading", "a [data-testid=log-line] containing the trace id",
                   lambda d: d.execute_script(script, trace_id), 6)
        elapsed = time.monotonic() - done
        self.collect_console("/logs")
        if elapsed > LIVE_BUDGET:
            raise CheckFailed(f"live log line of trace {trace_id}", f"within {LIVE_BUDGET}s of the response", f"{elapsed:.2f}s")
        self.screenshot("logs.png")
        self.ok(f"log tail showed the new request's line {elapsed:.2f}s after its response, without a reload")

    def check_xss(self):
        self.gateway_get(XSS_UA)
        trace_id = self.trace_for(XSS_UA)
        now = str(time.time_ns())
        record = {"resourceLogs": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "xss-test"}}]},
            "scopeLogs": [{"scope": {"name": "ui-test"}, "logRecords": [{
                "timeUnixNano": now, "observedTimeUnixNano": now, "severityNumber": 17, "severityText": "ERROR",
                "body": {"stringValue": XSS_BODY},
                "attributes": [{"key": "ui.test", "value": {"stringValue": XSS_UA}}]}]}]}]}
        req = urllib.request.Request(self.otlp + "/v1/logs", data=json.dumps(record).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            if r.status // 100 != 2:
                raise CheckFailed("OTLP/JSON log post", "2xx", str(r.status))

        self.open("/traces/" + trace_id)
        sel = '[data-testid=span-row][data-service="frontend"][data-kind="server"]'
        self.until("the frontend server span", sel, lambda d: self.css(sel), 8)[0].click()
        table = self.until("span attributes panel", "[data-testid=span-attributes]", lambda d: self.css("[data-testid=span-attributes]"), 5)[0]
        text = table.text
        if "<script>" not in text or "<img" not in text:
            raise CheckFailed("user agent in the span attributes", "the literal text <img ...><script>...", repr(text[:300]))
        if self.css("[data-testid=span-attributes] img, [data-testid=span-attributes] script, main img, main script"):
            raise CheckFailed("elements from the user agent", "none", "an <img> or <script> in the page")
        if self.driver.execute_script("return window.__xss") is not None:
            raise CheckFailed("window.__xss on the trace page", "None", repr(self.driver.execute_script("return window.__xss")))
        self.collect_console("/traces/xss")

        self.open("/logs?grep=" + urllib.parse.quote("window.__xss"))
        script = "return [...document.querySelectorAll('[data-testid=log-line]')].filter(e => e.textContent.includes(arguments[0])).map(e => e.textContent)"
        lines = self.until("the OTLP log line as text", "a [data-testid=log-line] containing <script>window.__xss=2",
                           lambda d: d.execute_script(script, "<script>window.__xss=2</script><b>bold</b>"), 8)
        if self.css("[data-testid=log-line] b, [data-testid=log-line] script, [data-testid=log-line] img"):
            raise CheckFailed("markup inside log lines", "no <b>, <script> or <img> element", "found one")
        if self.driver.execute_script("return window.__xss") is not None:
            raise CheckFailed("window.__xss on the logs page", "None", repr(self.driver.execute_script("return window.__xss")))
        self.collect_console("/logs?grep")
        self.ok(f"XSS payloads render as text in the span panel and the log tail ({len(lines)} line(s)); window.__xss stays unset")

    def check_host_guard(self):
        u = urllib.parse.urlsplit(self.admin)
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=10)
        try:
            conn.putrequest("GET", "/api/v1/status", skip_host=True)
            conn.putheader("Host", "evil.test")
            conn.endheaders()
            status = conn.getresponse().status
        finally:
            conn.close()
        if status not in (421, 403):
            raise CheckFailed("admin request with Host: evil.test", "421 or 403", str(status))
        self.ok(f"admin refuses Host: evil.test with {status}")

    def check_compare(self):
        ids = []
        for _ in range(2):
            ua = "ui-test-" + secrets.token_hex(6)
            self.gateway_get(ua)
            ids.append(self.trace_for(ua))
        self.open(f"/compare?a={ids[0]}&b={ids[1]}")
        rows = self.until("compare rows", ">= 4 [data-testid=compare-row]", lambda d: len(self.css("[data-testid=compare-row]")) >= 4 and self.css("[data-testid=compare-row]"), 8)
        changes = sorted({r.get_attribute("data-change") for r in rows})
        self.collect_console("/compare")
        self.screenshot("compare.png")
        self.ok(f"compare shows {len(rows)} aligned rows (changes: {', '.join(changes)})")

    def check_map(self):
        self.open("/map")
        for name in ("frontend", "orders", "users", "inventory"):
            self.until(f"service map node {name}", f"[data-testid=graph-node][data-service={name}]",
                       lambda d, n=name: self.css(f'[data-testid=graph-node][data-service="{n}"]'), 8)
        self.until("service map edge orders→users", "[data-testid=graph-edge][data-from=orders][data-to=users]",
                   lambda d: self.css('[data-testid=graph-edge][data-from="orders"][data-to="users"]'), 8)
        self.collect_console("/map")
        self.screenshot("service-map.png")
        self.ok("service map shows frontend, orders, users, inventory and the edge orders → users")

    def check_filters_and_keys(self):
        # a bad filter shows the API's 400 message next to the form
        self.open("/traces?min_duration=soon")
        err = self.until("the API's 400 message", "a visible [data-testid=api-error]",
                         lambda d: [e for e in self.css("[data-testid=api-error]") if e.is_displayed() and e.text.strip()], 5)[0]
        if "min_duration" not in err.text:
            raise CheckFailed("the 400 message", "text naming min_duration", repr(err.text))
        # keyboard: g m goes to the map, ? opens the shortcuts
        self.driver.execute_script("document.activeElement && document.activeElement.blur()")
        ActionChains(self.driver).send_keys("g").send_keys("m").perform()
        self.until("g m to open the service map", "/map", lambda d: d.current_url.endswith("/map"), 3)
        ActionChains(self.driver).send_keys("?").perform()
        self.until("? to show the shortcuts", "a dialog", lambda d: self.css(".overlay [role=dialog]"), 3)
        ActionChains(self.driver).send_keys(Keys.ESCAPE).perform()
        self.until("Esc to close the shortcuts", "no dialog", lambda d: not self.css(".overlay [role=dialog]"), 3)
        self.collect_console("/traces?bad")
        self.ok("a bad filter shows the API's message; g m, ? and Esc work")

    def check_requests_list(self):
        """A request through the gateway is listed on /requests, newest first, and opens; a UI not signed
        in may look at it but its Replay is refused with the same hint as Restart."""
        ua = "ui-test-" + secrets.token_hex(6)
        self.gateway_get(ua)
        rid = self.request_for(ua)
        self.open("/requests")
        sel = f'[data-testid=request-row][data-request-id="{rid}"]'
        self.until(f"row of recorded request {rid} on /requests", sel, lambda d: self.css(sel), 8)
        text = self.css(sel)[0].text
        for want in ("devmesh-gateway", "GET", ROUTE, "200"):
            if want not in text:
                raise CheckFailed(f"the row of request {rid}", f"text containing {want!r}", repr(text[:300]))
        times = [int(e.get_attribute("data-time") or 0) for e in self.css("[data-testid=request-row]")]  # Unix ns
        if times != sorted(times, reverse=True):
            raise CheckFailed("the order of the rows", "newest first", repr(times[:10]))
        # the path filter: every row left is under the prefix, ours among them
        self.open("/requests?path=" + urllib.parse.quote(ROUTE))
        self.until(f"row of request {rid} with the path filter {ROUTE}", sel, lambda d: self.css(sel), 8)
        targets = [e.text for e in self.css("[data-testid=request-row] .target-link")]
        if not targets or any(not t.startswith(ROUTE) for t in targets):
            raise CheckFailed(f"targets listed with path={ROUTE}", f"all starting with {ROUTE}", repr(targets[:10]))
        self.set_theme("light")
        self.screenshot("requests.png")
        self.css(sel)[0].find_element(By.CSS_SELECTOR, "a.target-link").click()
        self.until("the request detail URL", f"/requests/{rid}", lambda d: d.current_url.split("?")[0].endswith(f"/requests/{rid}"), 5)
        self.until("the request's headers", f"[data-testid=request-headers] containing {ua}",
                   lambda d: any(ua in e.text for e in self.css("[data-testid=request-headers]")), 8)
        status = self.until("the response status", "200 in [data-testid=response-pane]",
                            lambda d: [e.text for e in self.css("[data-testid=response-pane] .panel-head .badge") if e.text == "200"], 5)
        link = self.css("[data-testid=request-trace-link]")
        if not link or "/traces/" not in (link[0].get_attribute("href") or ""):
            raise CheckFailed("the link to the request's trace", "an <a href=/traces/<id>>", repr(link[0].get_attribute("href") if link else None))
        # this browser is not signed in yet (check "sign-in and restart" comes later): a replay is refused
        self.css("#replay-button")[0].click()
        self.until("the sign-in hint for a replay from a UI that is not signed in", "[data-testid=replay-error] naming `devmesh ui`",
                   lambda d: any("devmesh ui" in e.text for e in self.css("[data-testid=replay-error]")), 8)
        if self.css("#replay-diff"):
            raise CheckFailed("the refused replay", "no #replay-diff", "a diff")
        self.screenshot("request-detail.png")
        self.collect_console("/requests")
        self.ok(f"request {rid} through the gateway is listed on /requests (newest first, path filter) and opens with its headers and status {status[0]}; "
                "Replay without the token shows the sign-in hint")

    def check_requests_xss(self):
        """Markup in a recorded target and headers stays text on the list and the detail."""
        ua = XSS_UA + " " + secrets.token_hex(6)
        path = f"/?ui-test-{secrets.token_hex(4)}={XSS_TARGET}"
        if self.gateway_fetch(path, ua) == 400:
            # a gateway that refuses < and > in a target: the same, percent-encoded (the User-Agent still carries markup)
            ua = XSS_UA + " " + secrets.token_hex(6)
            path = path.replace("<", "%3C").replace(">", "%3E")
            self.gateway_fetch(path, ua)
        rid = self.request_for(ua)
        self.open("/requests")
        sel = f'[data-testid=request-row][data-request-id="{rid}"]'
        self.until(f"row of recorded request {rid} on /requests", sel, lambda d: self.css(sel), 8)
        target = self.css(sel)[0].find_element(By.CSS_SELECTOR, ".target-link").get_attribute("textContent")
        # as sent, or percent-encoded if the gateway normalised it: either way text
        if "<img/src=x" not in target and "%3Cimg" not in target.replace("%3c", "%3C"):
            raise CheckFailed("the recorded target on /requests", f"the literal text {XSS_TARGET}", repr(target[:200]))
        if self.css("main img, main script"):
            raise CheckFailed("elements from the target on /requests", "none", "an <img> or <script> in the page")
        if self.driver.execute_script("return window.__xss") is not None:
            raise CheckFailed("window.__xss on /requests", "None", repr(self.driver.execute_script("return window.__xss")))
        self.css(sel)[0].find_element(By.CSS_SELECTOR, "a.target-link").click()
        headers = self.until("the request's headers", "[data-testid=request-headers]", lambda d: self.css("[data-testid=request-headers]"), 8)[0]
        if "<script>" not in headers.text or "<img" not in headers.text:
            raise CheckFailed("the User-Agent in the request headers", "the literal text <img ...><script>...", repr(headers.text[:300]))
        if self.css("main img, main script"):
            raise CheckFailed("elements from the target or headers on the request detail", "none", "an <img> or <script> in the page")
        if self.driver.execute_script("return window.__xss") is not None:
            raise CheckFailed("window.__xss on the request detail", "None", repr(self.driver.execute_script("return window.__xss")))
        self.collect_console("/requests/xss")
        self.ok(f"markup in a recorded target and User-Agent (request {rid}) renders as text on /requests and its detail; window.__xss stays unset")

    def check_requests_replay(self):
        """Signed in, Replay sends the recorded request again and shows recorded and replayed side by side."""
        ua = "ui-test-" + secrets.token_hex(6)
        self.gateway_get(ua)
        rid = self.request_for(ua)
        # a shared link to one request (the admin serves the page at /requests/<id>)
        self.open(f"/requests/{rid}")
        self.until(f"the detail of request {rid} at /requests/{rid}", "#replay-button (the admin must serve the UI at /requests/:id)",
                   lambda d: self.css("#replay-button"), 8)
        self.css("#replay-button")[0].click()
        diff = self.until("the replay's diff", "#replay-diff (or the replay's error)",
                          lambda d: self.css("#replay-diff") or [e for e in self.css("[data-testid=replay-error]") if e.text.strip()], 20)[0]
        if diff.get_attribute("id") != "replay-diff":
            raise CheckFailed("the replay", "#replay-diff", "the error " + repr(diff.text[:300]))
        # The sample's answers may change between the recording and the replay: accept either verdict.
        equal = [e for e in diff.find_elements(By.CSS_SELECTOR, ".diff-equal") if "identical" in e.text]
        changes = diff.find_elements(By.CSS_SELECTOR, ".diff-changes li")
        if not equal and not changes:
            raise CheckFailed("the replay's summary", "'identical' (.diff-equal) or a list of differences (.diff-changes li)", repr(diff.text[:300]))
        statuses = {}
        for side in ("recorded", "replayed"):
            el = diff.find_elements(By.CSS_SELECTOR, f"[data-testid=replay-{side}] [data-testid=diff-status]")
            statuses[side] = el[0].text.strip() if el else ""
            if not re.fullmatch(r"\d{3}", statuses[side]):
                raise CheckFailed(f"the {side} pane's status", "an HTTP status such as 200", repr(statuses[side]))
        if statuses["recorded"] != "200":
            raise CheckFailed("the recorded pane's status", "200 (the request made above got 200)", statuses["recorded"])
        self.set_theme("light")
        self.screenshot("replay-diff.png")
        self.collect_console("/requests/replay")
        verdict = "identical" if equal else f"{len(changes)} difference(s): " + "; ".join(c.text for c in changes[:3])
        self.ok(f"Replay of request {rid} shows recorded {statuses['recorded']} and replayed {statuses['replayed']} side by side: {verdict}")

    def check_policies_page(self):
        """The sample's policies, what they select, recent decisions, and the what-if form (signed in: it POSTs)."""
        self.open("/policies")
        row = '[data-testid=policy-row][data-policy="default/users-read"]'
        self.until("the users-read policy row", row, lambda d: self.css(row), 10)
        if "users" not in self.css(row)[0].text:
            raise CheckFailed("users-read's row", "it selects users", repr(self.css(row)[0].text))
        self.until("recent decisions from the traffic above", "[data-testid=decision-row]",
                   lambda d: self.css("[data-testid=decision-row]"), 10)

        def ask(frm, path, want):
            from selenium.webdriver.support.ui import Select
            Select(self.css("[data-testid=whatif-to]")[0]).select_by_value("users")
            Select(self.css("[data-testid=whatif-from]")[0]).select_by_value(frm)
            box = self.css("[data-testid=whatif-path]")[0]
            box.clear()
            box.send_keys(path)
            self.css("[data-testid=whatif-submit]")[0].click()
            self.until(f"the what-if verdict for {frm} {path}", want,
                       lambda d: [e for e in self.css("[data-testid=whatif-outcome]") if e.text == want], 5)
        self.until("the what-if form's workloads", "users in the To list",
                   lambda d: self.css('[data-testid=whatif-to] option[value="users"]'), 5)
        ask("frontend", "/users/42", "DENY")
        if "users-read" not in self.css("[data-testid=whatif-result]")[0].text:
            raise CheckFailed("the explanation", "users-read considered", repr(self.css("[data-testid=whatif-result]")[0].text[:200]))
        ask("orders", "/users/42", "ALLOW")
        self.set_theme("light")
        self.screenshot("policies.png")
        self.collect_console("/policies")
        self.ok("policies page lists the sample's policies and decisions; what-if answers DENY for frontend and ALLOW for orders")

    def open_gateway_page(self):
        """The Gateway page, through its link in the nav (the app routes it without a reload)."""
        self.open("/")
        self.until("the Gateway link in the nav", "[data-testid=nav-gateway]", lambda d: self.css("[data-testid=nav-gateway]"), 10)[0].click()
        self.until("the Gateway page", "/gateway with [data-testid=gateway-routes]",
                   lambda d: d.current_url.split("?")[0].endswith("/gateway") and self.css("[data-testid=gateway-routes]"), 5)

    def check_gateway_usage(self):
        """The Gateway page counts the requests to /api/orders (made above with bob's token) per caller."""
        self.gateway_get("ui-test-" + secrets.token_hex(6))  # one at least, whichever checks ran before
        self.open_gateway_page()
        route, subject = f"{ROUTE} \u2192 frontend", "https://issuer.shop.test/bob"

        def shown(_):
            rows = [r for r in self.css("[data-testid=gateway-route]") if r.get_attribute("data-route") == route]
            if not rows:
                return False
            cell = rows[0].find_elements(By.CSS_SELECTOR, "td.c-requests")
            digits = re.sub(r"\D", "", cell[0].text) if cell else ""
            callers = [c for c in self.css("[data-testid=gateway-caller]")
                       if c.get_attribute("data-route") == route and c.get_attribute("data-kind") == "subject" and c.get_attribute("data-name") == subject]
            if not digits or int(digits) < 1 or not callers or not re.match(r"subject\s+" + re.escape(subject), callers[0].text):
                return False
            return int(digits), " ".join(callers[0].text.split())
        requests, caller = self.until(f"the {route} row with its requests and the caller subject {subject}",
                                      f"a request count >= 1 in the route row and a caller row 'subject {subject}'", shown, 10)
        limit = [e.text for e in self.css("[data-testid=gateway-rate-limit]") if e.get_attribute("data-route") == route]
        if not limit or "60 per 1m by jwt_sub" not in limit[0]:
            raise CheckFailed(f"the rate limit of {route}", "'60 per 1m by jwt_sub'", repr(limit[:1]))
        self.collect_console("/gateway")
        who = " ".join(caller.split()[:4])  # kind, name, allowance left
        self.ok(f"Gateway page: {route} counts {requests} request(s); caller {who!r}; limit 60 per 1m by jwt_sub")

    def check_gateway_cache(self):
        """Two requests to the cached /api/catalog route: the Gateway page lists the stored answer; Purge drops it."""
        for _ in range(2):
            status = self.gateway_fetch("/api/catalog", "ui-test-" + secrets.token_hex(6))
            if status != 200:
                raise CheckFailed(f"GET {self.gateway}/api/catalog", "200", str(status))
        self.open_gateway_page()
        sel = '[data-testid=cache-entry][data-path="/api/catalog"]'
        self.until("the cache entry of /api/catalog on the Gateway page", sel, lambda d: self.css(sel), 8)
        text = self.css(sel)[0].text
        if "inventory" not in text or "200" not in text:
            raise CheckFailed("the /api/catalog cache entry", "its service inventory and status 200", repr(text[:200]))
        self.set_theme("light")
        self.screenshot_whole_page("gateway.png")
        # signed in since "sign-in and restart": Purge (a DELETE with the cookie and Origin) is accepted
        self.css("[data-testid=cache-purge]")[0].click()
        self.until("the purge's toast", "'Purged N cached answer(s)'",
                   lambda d: any(t.text.startswith("Purged ") for t in self.css("#toasts .toast")), 5)
        self.until("the purged entry to leave the list", f"no {sel}", lambda d: not self.css(sel), 6)
        self.collect_console("/gateway")
        self.ok("Gateway page lists the cached answer of /api/catalog (inventory, 200); Purge cache drops it")

    def external(self, name):
        """The external's object in GET /api/v1/externals, or None."""
        return next((x for x in self.api("/api/v1/externals") if x.get("name") == name), None)

    def put_external_mode(self, name, mode):
        """PUT /api/v1/externals/NAME/mode as the CLI does (X-Devmesh-Token): puts things back after a failure."""
        req = urllib.request.Request(f"{self.admin}/api/v1/externals/{urllib.parse.quote(name)}/mode", method="PUT",
                                     data=json.dumps({"mode": mode}).encode(),
                                     headers={"Content-Type": "application/json", "X-Devmesh-Token": self.args.token})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)

    def check_externals(self):
        """The overview's Externals section lists the shop's payments (called by orders, replay-or-live); its mode
        select switches the ambassador (a PUT, signed in since "sign-in and restart") and back."""
        from selenium.webdriver.support.ui import Select
        name, configured = "payments", "replay-or-live"
        before = self.external(name)
        if not before:
            raise CheckFailed(f"{name} in GET /api/v1/externals", f"an external {name} (Samples/shop declares it)", "none")
        if before.get("mode") != configured:
            raise CheckFailed(f"{name}'s mode before the check", configured, repr(before.get("mode")))
        self.open("/")
        section = "[data-testid=externals]"
        row = f'{section} [data-testid=external-row][data-external="{name}"]'
        select = f"{section} [data-testid=external-mode-{name}]"
        self.until("the Externals section on the overview", f"a visible {section}",
                   lambda d: [e for e in self.css(section) if e.is_displayed()], 10)
        self.until(f"the {name} row's mode select", f"{select} showing {configured}",
                   lambda d: [e for e in self.css(select) if e.get_attribute("value") == configured], 10)
        text = self.css(row)[0].get_attribute("textContent")  # the URL cell may wrap
        for want in ("orders", before["url"]):
            if want not in text:
                raise CheckFailed(f"the {name} row", f"text containing {want!r}", repr(text[:300]))

        def switch(want):
            self.until(f"the {name} mode select to be enabled", "an enabled select",
                       lambda d: [e for e in self.css(select) if e.is_enabled()], 5)
            Select(self.css(select)[0]).select_by_value(want)
            try:
                self.until(f"GET /api/v1/externals to say {name} is in mode {want}", f'"mode":"{want}"',
                           lambda d: (self.external(name) or {}).get("mode") == want, 5)
            except CheckFailed:
                toasts = [t.text for t in self.css("#toasts .toast")]
                raise CheckFailed(f"{name}'s mode in GET /api/v1/externals after selecting {want}", f'"mode":"{want}"',
                                  f"{(self.external(name) or {}).get('mode')!r}; toasts {toasts!r}") from None
            self.until(f"the {name} row to show the answer", f"{select} showing {want}, enabled again",
                       lambda d: [e for e in self.css(select) if e.get_attribute("value") == want and e.is_enabled()], 5)

        try:
            switch("replay")
            note = f"[data-testid=external-configured-{name}]"
            self.until(f"the note of {name}'s configured mode", f"'(devmesh.yaml: {configured})'",
                       lambda d: [e for e in self.css(note) if f"(devmesh.yaml: {configured})" in e.text], 5)
            self.set_theme("light")
            self.screenshot("externals.png")
            switch(configured)
            self.until(f"the note of {name}'s configured mode to go", "no '(devmesh.yaml: ...)' note",
                       lambda d: not [e for e in self.css(f"[data-testid=external-configured-{name}]") if e.text.strip()], 5)
        finally:
            if (self.external(name) or {}).get("mode") != configured:
                self.put_external_mode(name, configured)  # the later checks send orders' calls to payments
        self.collect_console("/ externals")
        self.ok(f"overview lists external {name} (called by orders); its mode select switched it to replay and back to {configured} (GET /api/v1/externals agreed)")

    def check_console(self):
        self.collect_console("end")
        bad = []
        for where, level, message in self.console:
            print(f"   console [{where}] {level}: {message[:300]}")
            if level == "SEVERE" and ("Content Security Policy" in message or "Content-Security-Policy" in message):
                bad.append(message)
        if bad:
            raise CheckFailed("browser console", "no Content Security Policy violations", f"{len(bad)}: {bad[0][:300]}")
        self.ok(f"no CSP violations in the console ({len(self.console)} console entries)")

    # ------------------------------------------------------------------ run
    def run(self):
        checks = [
            ("1 overview", self.check_overview),
            ("2 trace appears", self.check_trace_appears),
            ("3 trace detail", self.check_trace_detail),
            ("4 live log tail", self.check_log_tail),
            ("5 xss", self.check_xss),
            ("6 host guard", self.check_host_guard),
            ("7 compare", self.check_compare),
            ("8 service map", self.check_map),
            ("extra filters and keys", self.check_filters_and_keys),
            ("9 requests list", self.check_requests_list),
            ("requests xss", self.check_requests_xss),
            ("sign-in and restart", self.check_sign_in_and_restart),
            ("requests replay", self.check_requests_replay),
            ("policies", self.check_policies_page),
            ("gateway usage", self.check_gateway_usage),
            ("gateway cache", self.check_gateway_cache),
            ("externals", self.check_externals),
            ("overview with traffic", self.check_overview_traffic),
            ("console", self.check_console),
        ]
        try:
            self.start_browser()
        except WebDriverException as e:
            self.fail(f"starting chromium, expected a headless /usr/bin/chromium through /usr/bin/chromedriver, got {e.msg}")
            return 1
        try:
            for name, check in checks:
                try:
                    check()
                except CheckFailed as e:
                    self.fail(f"[{name}] {e}")
                except (urllib.error.URLError, OSError, WebDriverException) as e:
                    self.fail(f"[{name}] ran into an error, expected none, got {type(e).__name__}: {getattr(e, 'msg', None) or e}")
                except Exception as e:  # a bug in the test itself
                    self.fail(f"[{name}] crashed, expected none, got {type(e).__name__}: {e}")
                    traceback.print_exc()
        finally:
            self.driver.quit()
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 0 if self.failed == 0 else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--admin", required=True, help="the admin URL, e.g. http://127.0.0.1:9901")
    p.add_argument("--gateway", required=True, help="the gateway's HTTPS URL, e.g. https://localhost:8443")
    p.add_argument("--ca", required=True, help="the devmesh CA certificate (devmesh ca path)")
    p.add_argument("--otlp", required=True, help="the OTLP/HTTP ingest URL, e.g. http://127.0.0.1:4318")
    p.add_argument("--screenshots", required=True, help="folder for the PNG screenshots")
    p.add_argument("--bearer", help="a JWT for routes that require one (the shop's keys/bob.jwt)")
    p.add_argument("--token", required=True, help="the stack's token (.devmesh/state.json), as `devmesh ui` puts it in the URL")
    return UITest(p.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
