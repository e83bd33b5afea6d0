"""Makes a video from a prompt on the coordinator's "Describe a video" page, with the keyboard only.

Usage: generate_walk.py BASE_URL API_KEY PROMPT OUTPUT_FOLDER
Signs in, is refused once (no prompt: the error beside the field, the focus on it), types PROMPT, a length and a
quality, submits, watches each round of the job appear on the same page until its video exists, follows the link to
the video's page, and runs axe-core on the page before and after. Prints one JSON report for the caller to assert on.
"""
import json
import sys

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from web_common import Browser

base, key, prompt, out = sys.argv[1:5]
browser = Browser(out)
driver, report, js = browser.driver, browser.report, browser.js


def keys(*typed):
    """Typed on the keyboard, into whatever has the focus."""
    ActionChains(driver).send_keys(*typed).perform()


def tab_to(element_id, limit=40):
    for _ in range(limit):
        keys(Keys.TAB)
        if driver.switch_to.active_element.get_attribute("id") == element_id:
            return
    raise TimeoutError(f"Tab never reached #{element_id}")


try:
    browser.sign_in(base, key, landing="/generate")
    browser.wait_for(lambda: "/generate" in driver.current_url and js("return document.getElementById('who').textContent"),
                     what="the generate page with its session")
    browser.audit("generate")
    js("document.activeElement.blur(); window.scrollTo(0, 0)")
    driver.find_element(By.TAG_NAME, "body").click()
    tab_to("generate-button")
    keys(Keys.ENTER)
    report["promptError"] = browser.wait_for(lambda: driver.find_element(By.ID, "prompt-error").text, what="the prompt's refusal")
    report["focusAfterRefusal"] = driver.switch_to.active_element.get_attribute("id")
    keys(prompt)
    tab_to("targetSeconds")
    keys(Keys.END, *[Keys.BACKSPACE] * 4, "5")
    tab_to("quality")
    keys("l")
    tab_to("generate-button")
    keys(Keys.ENTER)
    browser.step("submitted")
    link = browser.wait_for(lambda: driver.find_element(By.ID, "video-link"), timeout=180, what="the job's video link")
    report["rounds"] = [item.text.split("\n")[0] for item in driver.find_elements(By.CSS_SELECTOR, "#rounds > li")]
    report["stages"] = [item.get_attribute("data-stage") for item in driver.find_elements(By.CSS_SELECTOR, "#rounds > li")]
    report["jobURL"] = driver.current_url
    report["status"] = driver.find_element(By.ID, "form-status").text
    report["recent"] = browser.wait_for(lambda: [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "#recent a")],
                                        what="the job among the recent ones")
    browser.audit("generate-done")
    link.send_keys(Keys.ENTER)
    browser.wait_for(lambda: "/videos/" in driver.current_url, what="the video's page")
    report["videoID"] = driver.current_url.rstrip("/").split("/")[-1]
    browser.step("followed the link to the video")
except Exception as error:  # reported, so the caller shows what the walk reached
    browser.fail(error)
finally:
    driver.quit()
print(json.dumps(report))
