"""The planner's board in a real, headless Chromium (Debian's chromium and chromedriver,
driven by selenium). Started by Tests/BlackBoxTests/BrowserTests.swift against a running
`millwright serve` that already holds a few incidents with evidence.

Checks: the board loads with the key from the form and its thumbnails really decode
(naturalWidth > 0); a new incident arrives over the event stream without a reload; on the
incident page, "False positive" records a verdict that the page then shows; no Content
Security Policy violation on the way. Screenshots go to --shots. Exit 0 only if all holds.
"""
import argparse
import json
import os
import time
import urllib.request

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

import headless

parser = argparse.ArgumentParser()
parser.add_argument("--base", required=True)
parser.add_argument("--key", required=True, help="an admin key (reads, verdicts, re-drives)")
parser.add_argument("--ingest-key", required=True)
parser.add_argument("--incidents", type=int, required=True, help="incidents already on the board")
parser.add_argument("--shots", required=True)
args = parser.parse_args()
os.makedirs(args.shots, exist_ok=True)


def step(text):
    print("board.py:", text, flush=True)


def api(method, path, body=None, key=None):
    req = urllib.request.Request(args.base + path, method=method, data=None if body is None else json.dumps(body).encode())
    req.add_header("Authorization", "Bearer " + (key or args.key))
    if body is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def scenario(driver, wait):
    driver.get(args.base + "/")
    step("board shell loaded: " + driver.title)
    driver.find_element(By.ID, "key").send_keys(args.key)
    driver.find_element(By.CSS_SELECTOR, "#keyform button[type=submit]").click()

    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "article.incident")) >= args.incidents)
    thumbs = driver.find_elements(By.CSS_SELECTOR, "article.incident img.thumb")
    assert len(thumbs) >= args.incidents, f"{len(thumbs)} thumbnails for {args.incidents} incidents"
    wait.until(lambda d: d.execute_script(
        "const i = document.querySelectorAll('article.incident img.thumb');"
        "return i.length > 0 && Array.from(i).every(x => x.complete && x.naturalWidth > 0);"))
    widths = driver.execute_script("return Array.from(document.querySelectorAll('article.incident img.thumb')).map(x => x.naturalWidth)")
    assert all(w == 320 for w in widths), f"thumbnail widths {widths}"
    step(f"{len(widths)} thumbnails decoded, {widths[0]} px wide")
    assert driver.execute_script("return sessionStorage.getItem('millwright.key')") == args.key
    assert driver.execute_script("return localStorage.length") == 0, "the key must not be in localStorage"
    wait.until(lambda d: d.find_element(By.ID, "live").text == "live")
    driver.save_screenshot(os.path.join(args.shots, "board.png"))

    # A new incident over the event stream: the page is the same page afterwards (no reload).
    driver.execute_script("window.__sameDocument = 'yes'")
    posted = api("POST", "/v1/detections", {
        "detection_id": "browser-new-1", "camera_id": "CAM-07", "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "defect_class": "misalignment", "confidence": 0.97, "bbox": {"x": 100, "y": 100, "width": 80, "height": 40},
        "image": {"width": 1920, "height": 1080}}, key=args.ingest_key)
    incident = posted["results"][0]["incident_id"]
    selector = f'article.incident[data-incident="{incident}"]'
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, selector)) == 1)
    assert driver.execute_script("return window.__sameDocument") == "yes", "the page was reloaded"
    step(f"incident {incident} arrived over SSE without a reload")
    driver.save_screenshot(os.path.join(args.shots, "board-live.png"))

    # Quality analytics before the verdict: the new incident's class has no false positive yet.
    def analytics_false_positives(group):
        driver.get(args.base + "/analytics?by=defect_class")
        row = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f'tr[data-group="{group}"]'))
        return int(row.get_attribute("data-false-positive"))
    before = analytics_false_positives("misalignment")
    wait.until(lambda d: d.execute_script("const s = document.querySelector('svg.chart'); return !!s && s.querySelectorAll('rect.bar').length > 0"))
    step(f"analytics page with its chart; misalignment false positives: {before}")

    # The incident page: full-size evidence, then a verdict from the button.
    driver.get(args.base + "/incidents/" + incident)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "ol.strip li"))
    headless.click(driver, wait, 'button[data-verdict="false_positive"]')
    wait.until(lambda d: "Verdict: false positive" in d.find_element(By.ID, "main").text)
    after = api("GET", "/v1/incidents/" + incident)
    assert after["resolution"] == "false_positive", f"incident after the verdict: state {after['state']}, resolution {after.get('resolution')}"
    step("false positive recorded and shown; incident " + after["state"])
    driver.save_screenshot(os.path.join(args.shots, "incident-false-positive.png"))

    # The verdict shows in the analytics, and a threshold simulation answers in the page.
    after_fp = analytics_false_positives("misalignment")
    assert after_fp == before + 1, f"misalignment false positives {before} before the verdict, {after_fp} after"
    step(f"analytics counted the false positive: {before} -> {after_fp}")
    form = driver.find_element(By.ID, "simulate")
    Select(form.find_element(By.NAME, "defect_class")).select_by_value("misalignment")
    form.find_element(By.NAME, "min_confidence").send_keys("0.99")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    result = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, '#simulate-result[data-state="done"]'))
    assert "false positives avoided: 1" in result.text, "simulation: " + result.text
    step("simulation: " + result.text)
    driver.save_screenshot(os.path.join(args.shots, "analytics-simulation.png"))

    # An incident with evidence shows it at full size.
    with_image = next(i for i in api("GET", "/v1/incidents?limit=50")["items"] if i.get("evidence_sha256") and i["id"] != incident)
    driver.get(args.base + "/incidents/" + with_image["id"])
    wait.until(lambda d: d.execute_script("const i = document.querySelector('img.evidence'); return !!i && i.complete && i.naturalWidth > 320"))
    step("full-size evidence decoded on the incident page")
    driver.save_screenshot(os.path.join(args.shots, "incident-evidence.png"))


headless.run("board", args.shots, scenario)

