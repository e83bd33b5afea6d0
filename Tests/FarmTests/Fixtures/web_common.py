"""What the browser walks share: headless Chromium (Debian's, driven by selenium), polling, axe-core audits.

A walk makes one `Browser(out)`, collects its findings in `browser.report`, and prints that as JSON at the end.
"""
import os
import time

from axe_selenium_python import Axe
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys


class Browser:
    def __init__(self, out):
        self.out = out
        os.makedirs(out, exist_ok=True)
        self.report = {"axe": {}, "pages": {}, "steps": []}
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for argument in ("--headless=new", "--no-sandbox", "--autoplay-policy=no-user-gesture-required", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,1000"):
            options.add_argument(argument)
        self.driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path="/usr/bin/chromedriver"))
        self.driver.set_page_load_timeout(30)

    def step(self, text):
        self.report["steps"].append(text)

    def wait_for(self, condition, timeout=60.0, what="a condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = condition()
                if value:
                    return value
            except Exception:  # the page may be between loads
                pass
            time.sleep(0.1)
        raise TimeoutError(f"timed out waiting for {what} on {self.driver.current_url}")

    def js(self, code, *args):
        return self.driver.execute_script(code, *args)

    def audit(self, name):
        """axe-core on the page as it is now; its weight and first paint; a screenshot."""
        axe = Axe(self.driver)
        axe.inject()
        results = axe.run()
        self.report["axe"][name] = [{"id": v["id"], "impact": v.get("impact"), "help": v["help"],
                                     "nodes": [n.get("html", "")[:200] for n in v["nodes"][:3]]} for v in results["violations"]]
        timing = self.js("""
            const nav = performance.getEntriesByType('navigation')[0];
            // Before the video: media and live streams are not the page's weight.
            const resources = performance.getEntriesByType('resource')
                .filter(r => !/\\.(m3u8|m4s|mp4)(\\?|$)/.test(r.name) && !/\\/events(\\?|$)/.test(r.name));
            const paint = performance.getEntriesByName('first-contentful-paint')[0];
            return {bytes: (nav ? nav.encodedBodySize : 0) + resources.reduce((n, r) => n + (r.encodedBodySize || 0), 0),
                    fcp: paint ? paint.startTime : null, resources: resources.map(r => r.name)};
        """)
        self.report["pages"][name] = timing
        self.driver.save_screenshot(os.path.join(self.out, f"{name}.png"))

    def sign_in(self, base, key, landing="/"):
        """Signs in through the sign-in page the landing page sends a browser without a session to."""
        self.driver.get(base + landing)
        self.wait_for(lambda: "/signin" in self.driver.current_url, what="the sign-in redirect")
        field = self.wait_for(lambda: self.driver.find_element(By.ID, "key"), what="the key field")
        field.send_keys(key)
        field.send_keys(Keys.ENTER)
        self.wait_for(lambda: "/signin" not in self.driver.current_url, what="the page after signing in")

    def fail(self, error):
        """Records where the walk stopped, for the caller to show."""
        self.report["error"] = f"{type(error).__name__}: {error}"
        try:
            self.driver.save_screenshot(os.path.join(self.out, "failure.png"))
            self.report["failurePage"] = self.driver.page_source[:3000]
            self.report["console"] = self.driver.get_log("browser")[-20:]
        except Exception:
            pass
