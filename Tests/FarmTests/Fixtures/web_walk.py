"""Walks the coordinator's web pages in headless Chromium (Debian's, driven by selenium) as a person would.

Usage: web_walk.py BASE_URL API_KEY SCRIPT CANCEL_VIDEO_ID OUTPUT_FOLDER
Signs in, submits SCRIPT through the form with the keyboard only (after one refusal shown beside its field),
watches the video page's progress move over Server-Sent Events without a reload, plays the finished video to its
end, cancels CANCEL_VIDEO_ID from the dashboard, drains and resumes an agent, runs axe-core on every page, measures
each page's weight and first contentful paint, and saves a screenshot of each page into OUTPUT_FOLDER.
Prints one JSON report; the caller asserts on it (this script only stops early when a page never shows up).
"""
import json
import os
import sys
import time

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from web_common import Browser

base, key, script, cancel_id, out = sys.argv[1:6]
browser = Browser(out)
driver, report = browser.driver, browser.report
step, wait_for, js, audit = browser.step, browser.wait_for, browser.js, browser.audit
try:
    # Signing in: the dashboard sends a browser without a session to the sign-in page.
    driver.get(base + "/")
    wait_for(lambda: "/signin" in driver.current_url, what="the sign-in redirect")
    wait_for(lambda: driver.find_element(By.ID, "key"), what="the key field")
    audit("signin")
    field = driver.find_element(By.ID, "key")
    field.send_keys("mf_000000000000_wrong")
    field.send_keys(Keys.ENTER)
    report["wrongKeyError"] = wait_for(lambda: driver.find_element(By.ID, "key-error").text, what="the wrong key's error")
    field.clear()
    field.send_keys(key)
    field.send_keys(Keys.ENTER)
    wait_for(lambda: driver.current_url.rstrip("/") == base.rstrip("/"), what="the dashboard after signing in")
    cookie = driver.get_cookie("farm_session") or {}
    report["cookie"] = {"httpOnly": cookie.get("httpOnly"), "secure": cookie.get("secure"), "sameSite": cookie.get("sameSite"),
                        "readableByScript": "farm_session" in js("return document.cookie")}
    wait_for(lambda: driver.find_elements(By.ID, f"video-{cancel_id}"), what="the video to cancel in the dashboard")
    audit("videos")
    step("signed in")

    # Submitting with the keyboard only: Tab from the top of the page, keys into whatever has the focus.
    driver.get(base + "/submit")
    wait_for(lambda: js("return document.getElementById('who').textContent"), what="the session on the submit page")
    audit("submit")
    js("document.activeElement.blur(); window.scrollTo(0, 0)")
    body = driver.find_element(By.TAG_NAME, "body")
    order = []

    def keys(*typed):
        """Typed on the keyboard, into whatever has the focus."""
        ActionChains(driver).send_keys(*typed).perform()

    def tab_to(element_id, limit=40):
        for _ in range(limit):
            keys(Keys.TAB)
            focused = driver.switch_to.active_element
            order.append(focused.get_attribute("id") or focused.get_attribute("value") or focused.tag_name)
            if focused.get_attribute("id") == element_id:
                return focused
        raise TimeoutError(f"Tab never reached #{element_id}; the focus went {order}")

    body.click()
    tab_to("script").send_keys(script)  # the file chooser's answer: selenium's only way to pick a file
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#scene-list input"), what="the discovered scenes")
    report["scenes"] = [box.get_attribute("value") for box in driver.find_elements(By.CSS_SELECTOR, "#scene-list input")]
    tab_to("quality")
    keys("l")  # typing selects the option that starts with it: Low
    report["quality"] = js("return document.getElementById('quality').value")
    tab_to("priority")
    keys(Keys.END, *[Keys.BACKSPACE] * 8, "5000")
    tab_to("submit-button")
    keys(Keys.ENTER)
    report["priorityError"] = wait_for(lambda: driver.find_element(By.ID, "priority-error").text, what="the priority refusal")
    report["priorityInvalid"] = driver.find_element(By.ID, "priority").get_attribute("aria-invalid")
    report["focusAfterRefusal"] = driver.switch_to.active_element.get_attribute("id")
    keys(Keys.END, *[Keys.BACKSPACE] * 8, "0")
    tab_to("submit-button")
    keys(Keys.ENTER)
    report["tabOrder"] = order
    wait_for(lambda: "/videos/" in driver.current_url, what="the video page after submitting")
    video_id = driver.current_url.rstrip("/").split("/")[-1]
    report["videoID"] = video_id
    step("submitted with the keyboard")

    # Watching: the page must not reload, so a marker set now must survive until the video is done.
    js("window.__farmMarker = 'still the same page'")
    # Every value the page gives the bar, not just those this loop happens to sample: a fast render moves it
    # while the loop is away on the dashboard.
    js("""const o = document.getElementById('overall'); window.__farmBar = [[o.value, o.max]];
          new MutationObserver(() => window.__farmBar.push([o.value, o.max]))
            .observe(o, {attributes: true, attributeFilter: ['value', 'max']});""")
    seen = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        state = js("""const o = document.getElementById('overall');
                      return [o.value, o.max, document.getElementById('summary').textContent]""")
        if not seen or seen[-1] != state:
            seen.append(state)
        if 0 < state[0] < state[1] and "dashboard-live" not in report:
            # The dashboard while the video renders, in a second tab (this page stays as it is).
            page = driver.current_window_handle
            driver.switch_to.new_window("tab")
            driver.get(base + "/")
            wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, f"#video-{video_id} progress"), timeout=10, what="the live bar")
            driver.save_screenshot(os.path.join(out, "dashboard-live.png"))
            report["dashboard-live"] = True
            driver.close()
            driver.switch_to.window(page)
            driver.save_screenshot(os.path.join(out, "video-rendering.png"))
        if state[2].startswith("Done") or state[2].startswith("Failed"):
            break
        time.sleep(0.1)
    report["progress"] = js("return window.__farmBar")
    report["sampled"] = seen
    report["sameDocument"] = js("return window.__farmMarker") == "still the same page"
    audit("video")
    wait_for(lambda: js("return !document.getElementById('player').hidden && document.getElementById('player').dataset.final === 'true'"),
             timeout=20, what="the finished video in the player")
    js("""const v = document.getElementById('player'); window.__played = {ended: false};
          v.addEventListener('ended', () => { window.__played = {ended: true, duration: v.duration, at: v.currentTime}; });
          v.muted = true; v.play().catch(e => { window.__played.error = String(e); });""")
    report["played"] = wait_for(lambda: js("return window.__played.ended || window.__played.error ? window.__played : null"),
                                timeout=90, what="the video to end")
    report["playedSource"] = js("return document.getElementById('player').currentSrc")
    step("watched")

    # Cancelling another video from the dashboard; the row changes over the live stream.
    driver.get(base + "/")
    def click(selector):
        """Clicks what `selector` finds; the pages redraw their tables live, so a button found may be replaced
        before the click lands: find it again then."""
        def attempt():
            driver.find_element(By.CSS_SELECTOR, selector).click()
            return True
        wait_for(attempt, what=f"a click on {selector}")

    click(f"#video-{cancel_id} button")
    report["cancelledRow"] = wait_for(
        lambda: driver.find_element(By.ID, f"video-{cancel_id}").get_attribute("data-state") in ("cancelled",) and "cancelled",
        timeout=30, what="the cancelled row")
    report["liveAnnouncement"] = js("return document.getElementById('live').textContent")
    report["doneRow"] = driver.find_element(By.ID, f"video-{video_id}").get_attribute("data-state")
    audit("videos-after")
    step("cancelled")

    # Agents: drain one and give it work again.
    driver.get(base + "/agents")
    wait_for(lambda: driver.find_element(By.CSS_SELECTOR, "#agents tbody tr button"), what="an agent's button")
    audit("agents")
    click("#agents tbody tr button")
    report["drained"] = wait_for(lambda: driver.find_element(By.CSS_SELECTOR, "#agents tbody tr button").text == "Resume", what="drained")
    click("#agents tbody tr button")
    report["resumed"] = wait_for(lambda: driver.find_element(By.CSS_SELECTOR, "#agents tbody tr button").text == "Drain", what="resumed")
    step("drained and resumed")
except Exception as error:  # reported, so the caller shows what the walk reached
    browser.fail(error)
finally:
    driver.quit()
print(json.dumps(report))
