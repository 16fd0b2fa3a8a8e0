"""What the browser tests share: Debian's chromium, headless, driven through Debian's
/usr/bin/chromedriver (selenium must not look for or download a driver), and one way to end a
scenario: no Content Security Policy violation or script error, a screenshot and the page's
HTML on failure, exit status 0 only if everything held."""
import os
import sys

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def run(name, shots, scenario, ignore=()):
    """Runs scenario(driver, wait) in a fresh headless chromium and exits the process."""
    os.makedirs(shots, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1024,1366",
              "--no-first-run", "--disable-extensions", "--disable-background-networking"]:
        options.add_argument(a)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
    wait = WebDriverWait(driver, 30, poll_frequency=0.1)
    failed = False
    try:
        scenario(driver, wait)
        violations = [e["message"] for e in driver.get_log("browser")
                      if ("Content Security Policy" in e["message"] or e["level"] == "SEVERE")
                      and not any(i in e["message"] for i in ("favicon.ico",) + tuple(ignore))]
        assert not violations, "browser errors: " + "; ".join(violations)
        print(f"{name}: no CSP violation or script error", flush=True)
    except Exception as e:
        failed = True
        driver.save_screenshot(os.path.join(shots, f"{name}-failure.png"))
        with open(os.path.join(shots, f"{name}-failure.html"), "w") as f:
            f.write(driver.page_source)
        print(f"{name}: FAILED:", repr(e), file=sys.stderr, flush=True)
        for entry in driver.get_log("browser"):
            print("browser log:", entry, file=sys.stderr, flush=True)
    finally:
        driver.quit()
    sys.exit(1 if failed else 0)


def click(driver, wait, selector):
    """Clicks the element once it is there; the page re-renders on events, so an element found
    a moment ago may be gone: find it again until the click lands."""
    def attempt(d):
        try:
            d.find_element(By.CSS_SELECTOR, selector).click()
            return True
        except (StaleElementReferenceException, NoSuchElementException):
            return False
    wait.until(attempt)


def text_of(driver, wait, selector):
    def attempt(d):
        try:
            return d.find_element(By.CSS_SELECTOR, selector).text or False
        except (StaleElementReferenceException, NoSuchElementException):
            return False
    return wait.until(attempt)
