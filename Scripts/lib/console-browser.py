#!/usr/bin/python3
"""Drives the endpoint's web console in headless Chromium over the DevTools
protocol (python3-websocket), for Tests/EndToEndTests/ConsoleBrowserTests.

  console-browser.py --base http://127.0.0.1:PORT --name OPERATOR --password-file FILE \
      --agent AGENT_ID --out DIR [--units-csv FILE]

Logs in through the login form, waits for the agent to show online in the
cameras list, opens its page, presses Reboot and waits for the COMMAND_RESULT,
uploads --units-csv on the factory units page, visits every page taking a
screenshot (DIR/NN-page.png), and probes the API
from the page: a POST with the session cookie but without the CSRF token.
Prints one JSON object of what it saw in the DOM; the Swift test judges it.
Every wait is bounded; exit status 2 with a message on stderr when Chromium
cannot be started or driven.
"""
import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

try:
    import websocket  # Debian python3-websocket
except ImportError:
    print("console-browser: python3-websocket is missing (apt-get install python3-websocket)", file=sys.stderr)
    sys.exit(2)


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Page:
    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        deadline = time.time() + 30
        while time.time() < deadline:
            message = json.loads(self.ws.recv())
            if message.get("id") == my_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
        raise RuntimeError(f"{method}: no answer within 30 s")

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"script error in {expression[:80]!r}: {result['exceptionDetails'].get('text')}"
                               f" {result['exceptionDetails'].get('exception', {}).get('description', '')}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression, what, timeout=20):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = self.evaluate(expression)
            if last:
                return last
            time.sleep(0.1)
        raise RuntimeError(f"timed out after {timeout} s waiting for {what} (last value {last!r})")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as out:
            out.write(base64.b64decode(data))
        return path


def start_chromium(binary, profile, extra_arguments=()):
    arguments = [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                 "--remote-debugging-port=0", "--remote-allow-origins=*", f"--user-data-dir={profile}",
                 "--window-size=1400,1000", *extra_arguments, "about:blank"]
    process = subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    lines = []
    while time.time() < deadline:
        line = process.stderr.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        lines.append(line)
        match = re.search(r"DevTools listening on (ws://\S+)", line)
        if match:
            return process, match.group(1)
    process.kill()
    raise RuntimeError("chromium did not announce its DevTools port within 60 s:\n" + "".join(lines[-20:]))


def page_socket(browser_ws):
    port = re.match(r"ws://[^:/]+:(\d+)/", browser_ws).group(1)
    deadline = time.time() + 20
    while time.time() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as response:
            targets = json.load(response)
        for target in targets:
            if target.get("type") == "page" and target.get("webSocketDebuggerUrl"):
                return target["webSocketDebuggerUrl"]
        time.sleep(0.1)
    raise RuntimeError("chromium opened no page target")


def js(value):
    return json.dumps(value)


def run(args):
    binary = find_chromium()
    if not binary:
        raise SystemExit("console-browser: chromium is not installed (apt-get install chromium)")
    with open(args.password_file) as f:
        password = f.read().strip()
    os.makedirs(args.out, exist_ok=True)
    seen = {"screenshots": []}
    profile = tempfile.mkdtemp(prefix="console-chromium-")
    process = None
    try:
        process, browser_ws = start_chromium(binary, profile)
        page = Page(page_socket(browser_ws))
        page.call("Page.enable")
        page.call("Runtime.enable")

        def shot(name):
            seen["screenshots"].append(page.screenshot(os.path.join(args.out, f"{len(seen['screenshots']) + 1:02d}-{name}.png")))

        # Login page.
        page.call("Page.navigate", url=args.base + "/console/")
        page.wait_for("document.body && document.body.dataset.page === 'login' && !document.querySelector('#page-login').hidden",
                      "the login form")
        seen["loginFormVisible"] = True
        shot("login")

        # A wrong password first: the form says so and stays.
        page.evaluate(f"""(() => {{
            document.querySelector('#login-name').value = {js(args.name)};
            document.querySelector('#login-password').value = 'not the password';
            document.querySelector('#login-submit').click(); return true; }})()""")
        seen["wrongPasswordMessage"] = page.wait_for("document.querySelector('#login-error').textContent", "the login error")

        page.evaluate(f"""(() => {{
            document.querySelector('#login-name').value = {js(args.name)};
            document.querySelector('#login-password').value = {js(password)};
            document.querySelector('#login-submit').click(); return true; }})()""")
        page.wait_for("document.body.dataset.page === 'cameras' && document.body.dataset.ready === '#/cameras'", "the cameras page")
        seen["operatorShown"] = page.evaluate("document.querySelector('#operator-name').textContent")
        seen["cookieVisibleToScript"] = page.evaluate("document.cookie")

        # The camera online in the list (the list is reloaded until it is).
        row = f"document.querySelector('#cameras-table tbody tr[data-agent=' + CSS.escape({js(args.agent)}) + ']')"
        deadline = time.time() + 30
        while True:
            state = page.evaluate(f"(() => {{ const r = {row}; return r ? r.querySelector('td.state').textContent : null; }})()")
            if state == "online" or time.time() > deadline:
                break
            page.evaluate("document.querySelector('#cameras-refresh').click(), true")
            time.sleep(0.5)
        seen["cameraState"] = state
        seen["cameraRow"] = page.evaluate(f"(() => {{ const r = {row}; return r ? Array.from(r.cells).map(c => c.textContent) : null; }})()")
        seen["cameraColumns"] = page.evaluate("Array.from(document.querySelectorAll('#cameras-table thead tr:first-child th')).map(c => c.textContent)")
        # The filters: the agent id matches, a made-up one hides the row, 'offline' hides it.
        page.evaluate(f"""(() => {{ const i = document.querySelector('[data-filter=id]'); i.value = {js(args.agent)};
            i.dispatchEvent(new Event('input')); return true; }})()""")
        seen["rowsFilteredById"] = page.evaluate("document.querySelectorAll('#cameras-table tbody tr').length")
        page.evaluate("""(() => { const i = document.querySelector('[data-filter=id]'); i.value = 'no-such-camera';
            i.dispatchEvent(new Event('input')); return true; })()""")
        seen["rowsFilteredByMadeUpId"] = page.evaluate("document.querySelectorAll('#cameras-table tbody tr').length")
        page.evaluate("""(() => { const i = document.querySelector('[data-filter=id]'); i.value = '';
            i.dispatchEvent(new Event('input'));
            const s = document.querySelector('[data-filter=online]'); s.value = 'offline';
            s.dispatchEvent(new Event('input')); return true; })()""")
        seen["rowsFilteredOffline"] = page.evaluate("document.querySelectorAll('#cameras-table tbody tr').length")
        page.evaluate("""(() => { const s = document.querySelector('[data-filter=online]'); s.value = '';
            s.dispatchEvent(new Event('input')); return true; })()""")
        shot("cameras")

        # The camera page: press Reboot, wait for the COMMAND_RESULT.
        page.evaluate(f"(() => {{ {row}.querySelector('a').click(); return true; }})()")
        page.wait_for("document.body.dataset.page === 'camera' && document.querySelector('#camera-fields dd') !== null"
                      " && document.body.dataset.ready.startsWith('#/camera/')", "the camera page")
        seen["cameraPageBadge"] = page.evaluate("document.querySelector('#camera-state').textContent")
        seen["cameraReportFields"] = page.evaluate("document.querySelectorAll('#camera-report dt').length")
        page.evaluate("document.querySelector('#cmd-reboot').click(), true")
        seen["rebootSummary"] = page.wait_for(
            "(() => { const s = document.querySelector('#command-summary'); "
            "return s.dataset.action === 'reboot' && s.dataset.status ? s.textContent : null; })()", "the reboot result", timeout=20)
        seen["rebootResultJSON"] = page.evaluate("document.querySelector('#command-result').textContent")
        shot("camera")

        # A POST with the session cookie but no CSRF token, from the page itself.
        seen["postWithoutCSRF"] = page.evaluate(f"""fetch('/api/agents/' + encodeURIComponent({js(args.agent)}) + '/stats',
            {{ method: 'POST', credentials: 'same-origin' }}).then(r => r.status)""")

        for name, ready, table in (("units", "#/units", "#units-table"), ("streampoints", "#/streampoints", "#streampoints-table"),
                                   ("audit", "#/audit", "#audit-table")):
            page.evaluate(f"location.hash = {js(ready)}, true")
            page.wait_for(f"document.body.dataset.page === {js(name)} && document.body.dataset.ready === {js(ready)}", f"the {name} page")
            if name == "units" and args.units_csv:
                document = page.call("DOM.getDocument")["root"]["nodeId"]
                node = page.call("DOM.querySelector", nodeId=document, selector="#units-file")["nodeId"]
                page.call("DOM.setFileInputFiles", files=[os.path.abspath(args.units_csv)], nodeId=node)
                page.evaluate("document.querySelector('#units-submit').click(), true")
                seen["unitsUpload"] = page.wait_for(
                    "(() => { const r = document.querySelector('#units-result'); return r.textContent && !r.textContent.endsWith('\u2026') ? r.textContent : null; })()",
                    "the CSV import's result")
                page.wait_for("document.querySelectorAll('#units-table tbody tr').length > 0", "the imported units in the table")
            seen[f"{name}Rows"] = page.evaluate(
                f"Array.from(document.querySelectorAll('{table} tbody tr')).map(r => Array.from(r.cells).map(c => c.textContent))")
            shot(name)

        # Log out: back to the login form, and the API no longer answers the page.
        page.evaluate("document.querySelector('#logout').click(), true")
        page.wait_for("document.body.dataset.page === 'login'", "the login form after logout")
        seen["afterLogoutAPI"] = page.evaluate("fetch('/api/agents', { credentials: 'same-origin' }).then(r => r.status)")
        seen["statusLine"] = page.evaluate("document.querySelector('#status').textContent")
    finally:
        if process:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)
    print(json.dumps(seen))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--password-file", required=True)
    parser.add_argument("--agent", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--units-csv")
    args = parser.parse_args()
    try:
        run(args)
    except (RuntimeError, OSError, websocket.WebSocketException) as error:
        print(f"console-browser: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
