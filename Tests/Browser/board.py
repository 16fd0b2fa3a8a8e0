"""The planner's board in a real, headless Chromium (Debian's chromium and chromedriver,
driven by selenium). Started by Tests/BlackBoxTests/BrowserTests.swift against a running
`millwright serve` that already holds a few incidents with evidence.

Checks: the board loads with the key from the form and its thumbnails really decode
(naturalWidth > 0); a new incident arrives over the event stream without a reload; on the
incident page, "False positive" records a verdict that the page then shows; the analytics
page counts it and answers a threshold simulation; its training export downloads as a zip
whose COCO labels are valid; a manual inspection log imported on the shadow page is lined up
with the incidents; no Content Security Policy violation on the way. Screenshots go to
--shots. Exit 0 only if all holds.
"""
import argparse
import datetime
import glob
import json
import os
import tempfile
import time
import urllib.request
import zipfile

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

    # The training export, downloaded from the analytics page as a planner would, then read:
    # a COCO file whose annotations point at images in the zip, the false positive as a negative.
    # Verdicts on two incidents with frames: one confirmed, one a false positive.
    others = [i for i in api("GET", "/v1/incidents?limit=50")["items"]
              if i.get("evidence_sha256") and i["id"] not in (incident, with_image["id"])]
    api("POST", f"/v1/incidents/{with_image['id']}/feedback", {"verdict": "confirmed"})
    api("POST", f"/v1/incidents/{others[0]['id']}/feedback", {"verdict": "false_positive"})
    downloads = tempfile.mkdtemp(prefix="mw-downloads-")
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})
    driver.get(args.base + "/analytics")
    form = wait.until(lambda d: d.find_element(By.ID, "export"))
    Select(form.find_element(By.NAME, "format")).select_by_value("coco")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, '#export-result[data-state="done"]'))
    archive = wait.until(lambda d: [p for p in glob.glob(os.path.join(downloads, "millwright-training-coco-*.zip"))
                                    if zipfile.is_zipfile(p)] or False)[0]
    with zipfile.ZipFile(archive) as z:
        assert z.testzip() is None, "a corrupt entry in the export"
        names = set(z.namelist())
        coco = json.loads(z.read("annotations.json"))
        manifest = json.loads(z.read("manifest.json"))
    images = {i["id"]: i for i in coco["images"]}
    assert images, f"no image in the export: {sorted(names)}, manifest {manifest}"
    assert all(i["file_name"] in names for i in images.values()), "every COCO image is in the zip"
    assert all(a["image_id"] in images for a in coco["annotations"]), "every annotation points at an image"
    categories = {c["id"] for c in coco["categories"]}
    assert all(a["category_id"] in categories and len(a["bbox"]) == 4 for a in coco["annotations"])
    annotated = {a["image_id"] for a in coco["annotations"]}
    assert manifest["confirmed"] >= 1 and annotated, f"the confirmed defect is annotated: manifest {manifest}"
    assert manifest["negatives"] >= 1 and len(images) - len(annotated) >= manifest["negatives"], \
        f"the false positive is a negative sample: {len(images)} images, {len(annotated)} annotated, manifest {manifest['negatives']} negatives"
    step(f"COCO export downloaded in the browser: {len(images)} images, {len(coco['annotations'])} annotations, {manifest['negatives']} negatives")

    # The shadow report: a manual log naming a defect found now, after Millwright first saw it.
    # This gateway is live, so the comparison is with the incidents sent to the CMMS.
    seen = api("GET", "/v1/incidents/" + with_image["id"])
    first = datetime.datetime.fromisoformat(seen["first_seen"].replace("Z", "+00:00"))
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    assert now > first, f"first seen {first} is not before now {now}"
    found = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    log = os.path.join(downloads, "rounds.csv")
    with open(log, "w") as f:
        f.write(f"date,asset,defect,found_by,notes\n{found},{seen['asset']},{seen['defect_class']},ann,\"on the round, by torch\"\n")
    driver.get(args.base + "/shadow?mode=live")
    wait.until(lambda d: d.find_element(By.ID, "manual-log")).find_element(By.NAME, "file").send_keys(log)
    headless.click(driver, wait, "#manual-log button[type=submit]")
    result = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, '#manual-log-result[data-state="done"]'))
    assert "Imported 1 of 1 rows" in result.text, "import: " + result.text
    caught = int(text_of_summary(driver, wait, "caught_first"))
    assert caught >= 1, f"Millwright first on {caught} findings"
    assert driver.find_elements(By.CSS_SELECTOR, f'tr[data-incident="{with_image["id"]}"]'), "the match links the incident"
    step(f"manual log imported in the browser; the shadow report shows Millwright first on {caught} finding(s)")
    driver.save_screenshot(os.path.join(args.shots, "shadow-report.png"))


def text_of_summary(driver, wait, name):
    text = headless.text_of(driver, wait, f'dd[data-summary="{name}"]')
    return text[:len(text) - len(text.lstrip("0123456789"))]


headless.run("board", args.shots, scenario)

