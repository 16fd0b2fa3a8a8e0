"""Login and an electronic signature in a real, headless Chromium (Debian's chromium and
chromedriver, driven by selenium). Started by Tests/BlackBoxTests/Part11Tests.swift against a
running `millwright serve` with compliance.part11 on, two users and one open incident.

Checks: a named user logs in from the header (the session token, not a password, is kept,
in sessionStorage); "False positive" opens the signing dialog; a wrong password is refused
and nothing is recorded; the right one records the verdict and the page shows the
signature's manifestation; an admin finds the signature in the auditor's view (/audit);
logging out returns to the login form. No Content Security Policy violation on the way.
"""
import argparse
import json
import os
import sys
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

parser = argparse.ArgumentParser()
parser.add_argument("--base", required=True)
parser.add_argument("--incident", required=True)
parser.add_argument("--operator", required=True, help="user:password of an operator")
parser.add_argument("--admin", required=True, help="user:password of an admin")
parser.add_argument("--admin-key", required=True)
parser.add_argument("--shots", required=True)
args = parser.parse_args()
os.makedirs(args.shots, exist_ok=True)
operator, operator_password = args.operator.split(":", 1)
admin, admin_password = args.admin.split(":", 1)


def step(text):
    print("signing.py:", text, flush=True)


def api(path):
    req = urllib.request.Request(args.base + path)
    req.add_header("Authorization", "Bearer " + args.admin_key)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1024,1366",
          "--no-first-run", "--disable-extensions", "--disable-background-networking"]:
    options.add_argument(a)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
wait = WebDriverWait(driver, 30, poll_frequency=0.1)
failed = False


def log_in(user, password):
    wait.until(lambda d: d.find_element(By.ID, "login-user").is_displayed())
    driver.find_element(By.ID, "login-user").send_keys(user)
    driver.find_element(By.ID, "login-password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "#loginform button[type=submit]").click()
    wait.until(lambda d: user in d.find_element(By.ID, "whoami").text)


def sign(password, meaning):
    wait.until(lambda d: d.execute_script("return document.getElementById('signdialog').open"))
    box = driver.find_element(By.ID, "sign-password")
    box.clear()
    box.send_keys(password)
    driver.execute_script("document.getElementById('sign-meaning').value = arguments[0]", meaning)
    driver.find_element(By.CSS_SELECTOR, "#signform button[type=submit]").click()
    wait.until(lambda d: not d.execute_script("return document.getElementById('signdialog').open"))


try:
    driver.get(args.base + "/incidents/" + args.incident)
    log_in(operator, operator_password)
    token = driver.execute_script("return sessionStorage.getItem('millwright.key')")
    assert token and token.startswith("mws_"), "a session token is kept, not a password"
    assert driver.execute_script("return localStorage.length") == 0, "nothing in localStorage"
    step("logged in as " + driver.find_element(By.ID, "whoami").text)

    button = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, 'button[data-verdict="false_positive"]'))
    button.click()
    sign("not-the-password", "reviewed")
    wait.until(lambda d: "Not recorded" in d.find_element(By.ID, "verdict-result").text)
    assert api("/v1/incidents/" + args.incident).get("resolution") is None, "a wrong password recorded a verdict"
    step("wrong password refused: " + driver.find_element(By.ID, "verdict-result").text)

    driver.find_element(By.CSS_SELECTOR, 'button[data-verdict="false_positive"]').click()
    sign(operator_password, "reviewed")
    wait.until(lambda d: "Signed (feedback):" in d.find_element(By.ID, "main").text)
    shown = driver.find_element(By.CSS_SELECTOR, "p.signature").text
    assert f"({operator}), reviewed," in shown, shown
    assert api("/v1/incidents/" + args.incident)["resolution"] == "false_positive"
    step("signed false positive shown: " + shown)
    driver.save_screenshot(os.path.join(args.shots, "signed-false-positive.png"))

    driver.find_element(By.ID, "forget").click()
    wait.until(lambda d: d.find_element(By.ID, "loginform").is_displayed())
    assert driver.execute_script("return sessionStorage.getItem('millwright.key')") is None
    step("logged out")

    driver.get(args.base + "/audit")
    log_in(admin, admin_password)
    kind = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, 'input[data-audit-filter="kind"]'))
    kind.send_keys("signature")
    driver.find_element(By.CSS_SELECTOR, "#auditfilter button[type=submit]").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "table.audit tr.signed")) == 1)
    row = driver.find_element(By.CSS_SELECTOR, "table.audit tr.signed").text
    assert f"({operator}), reviewed" in row and args.incident in row, row
    step("the auditor's view lists the signature")
    driver.save_screenshot(os.path.join(args.shots, "audit-trail.png"))

    violations = [e["message"] for e in driver.get_log("browser")
                  if ("Content Security Policy" in e["message"] or e["level"] == "SEVERE")
                  and "favicon.ico" not in e["message"] and "401" not in e["message"]]
    assert not violations, "browser errors: " + "; ".join(violations)
    step("no CSP violation or script error")
except Exception as e:
    failed = True
    driver.save_screenshot(os.path.join(args.shots, "signing-failure.png"))
    with open(os.path.join(args.shots, "signing-failure.html"), "w") as f:
        f.write(driver.page_source)
    print("signing.py: FAILED:", repr(e), file=sys.stderr, flush=True)
    for entry in driver.get_log("browser"):
        print("browser log:", entry, file=sys.stderr, flush=True)
finally:
    driver.quit()
sys.exit(1 if failed else 0)
