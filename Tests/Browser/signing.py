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
import urllib.request

from selenium.webdriver.common.by import By

import headless

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


def log_in(driver, wait, user, password):
    wait.until(lambda d: d.find_element(By.ID, "login-user").is_displayed())
    driver.find_element(By.ID, "login-user").send_keys(user)
    driver.find_element(By.ID, "login-password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "#loginform button[type=submit]").click()
    wait.until(lambda d: user in d.find_element(By.ID, "whoami").text)


def sign(driver, wait, password, meaning):
    wait.until(lambda d: d.execute_script("return document.getElementById('signdialog').open"))
    box = driver.find_element(By.ID, "sign-password")
    box.clear()
    box.send_keys(password)
    driver.execute_script("document.getElementById('sign-meaning').value = arguments[0]", meaning)
    driver.find_element(By.CSS_SELECTOR, "#signform button[type=submit]").click()
    wait.until(lambda d: not d.execute_script("return document.getElementById('signdialog').open"))


def scenario(driver, wait):
    driver.get(args.base + "/incidents/" + args.incident)
    log_in(driver, wait, operator, operator_password)
    token = driver.execute_script("return sessionStorage.getItem('millwright.key')")
    assert token and token.startswith("mws_"), "a session token is kept, not a password"
    assert driver.execute_script("return localStorage.length") == 0, "nothing in localStorage"
    step("logged in as " + driver.find_element(By.ID, "whoami").text)

    headless.click(driver, wait, 'button[data-verdict="false_positive"]')
    sign(driver, wait, "not-the-password", "reviewed")
    refused = headless.text_of(driver, wait, "#verdict-result")
    assert "Not recorded" in refused, refused
    assert api("/v1/incidents/" + args.incident).get("resolution") is None, "a wrong password recorded a verdict"
    step("wrong password refused: " + refused)

    headless.click(driver, wait, 'button[data-verdict="false_positive"]')
    sign(driver, wait, operator_password, "reviewed")
    wait.until(lambda d: "Signed (feedback):" in d.find_element(By.ID, "main").text)
    shown = headless.text_of(driver, wait, "p.signature")
    assert f"({operator}), reviewed," in shown, shown
    assert api("/v1/incidents/" + args.incident)["resolution"] == "false_positive"
    step("signed false positive shown: " + shown)
    driver.save_screenshot(os.path.join(args.shots, "signed-false-positive.png"))

    driver.find_element(By.ID, "forget").click()
    wait.until(lambda d: d.find_element(By.ID, "loginform").is_displayed())
    assert driver.execute_script("return sessionStorage.getItem('millwright.key')") is None
    step("logged out")

    driver.get(args.base + "/audit")
    log_in(driver, wait, admin, admin_password)
    kind = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, 'input[data-audit-filter="kind"]'))
    kind.send_keys("signature")
    driver.find_element(By.CSS_SELECTOR, "#auditfilter button[type=submit]").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "table.audit tr.signed")) == 1)
    row = driver.find_element(By.CSS_SELECTOR, "table.audit tr.signed").text
    assert f"({operator}), reviewed" in row and args.incident in row, row
    step("the auditor's view lists the signature")
    driver.save_screenshot(os.path.join(args.shots, "audit-trail.png"))


headless.run("signing", args.shots, scenario, ignore=("401",))

