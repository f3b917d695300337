"""What a person sees of a page: headless Chromium driven over the DevTools protocol (a
websocket), no WebDriver. Used by the report tests."""
import base64
import json
import shutil
import subprocess
import time
import urllib.request

import websocket

from services import free_port


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Page:
    """A page loaded in a viewport of width x height CSS pixels."""

    def __init__(self, url, profile, width=1280, height=800):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--remote-debugging-port={self.port}", f"--user-data-dir={profile}",
             f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.ids = 0
        end = time.time() + 30
        targets = None
        while time.time() < end:
            try:
                targets = json.loads(urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/json", timeout=2).read())
                if any(t["type"] == "page" for t in targets):
                    break
            except OSError:
                pass
            time.sleep(0.2)
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30,
                                              suppress_origin=True)
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        self.call("Page.enable")
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")

    def call(self, method, **params):
        self.ids += 1
        self.ws.send(json.dumps({"id": self.ids, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.ids:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def wait_event(self, name, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            msg = json.loads(self.ws.recv())
            if msg.get("method") == name:
                return msg
        raise TimeoutError(name)

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return r["result"].get("value")

    def seen(self, selector):
        """The text of the element as it shows in the first screen: rendered, not hidden,
        inside the viewport; None otherwise."""
        return self.evaluate(f"""(function() {{
            var e = document.querySelector({json.dumps(selector)});
            if (!e) return null;
            var s = getComputedStyle(e), r = e.getBoundingClientRect();
            if (s.display === 'none' || s.visibility !== 'visible' || +s.opacity === 0 ||
                r.width === 0 || r.height === 0 || r.top < 0 || r.left < 0 ||
                r.bottom > window.innerHeight || r.right > window.innerWidth) return null;
            return e.innerText;
        }})()""")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            self.proc.wait(10)
