"""The teacher's flow in headless Chromium: the roster, a wrong code, the receipt, the class table and the
Class report, the gradebook downloads (parsed), a re-grade with an --assignment, the deadline and
--feedback verdict. With XLBACKPROP_SCREENSHOTS=DIR set, the class page's screenshot is also saved in DIR
(docs/img/class-teacher.png is one)."""

import csv
import os
import shutil
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import openpyxl
import pytest

from tests.class_helpers import ClassServer, make_roster
from tests.test_serve_browser import _missing, _need, chrome
from tests.wb_fixtures import Layout, simulate, write_workbook

pytest.importorskip("selenium", reason="selenium is not installed (pip install selenium)")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TARGETS = (0.5, 0.5)  # the era preset's, so that `generate` makes the assignment these workbooks follow


@pytest.fixture
def browser(tmp_path):
    _need(_missing())  # skipped without Chromium, chromedriver or Selenium; under CI=true, failed
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = chrome(downloads)  # the student's page's browser: Debian's chromium, never a downloaded driver
    driver.downloads = downloads
    yield driver
    driver.quit()


def books(folder):
    right = write_workbook(folder / "right.xlsx", {"Sheet1": [Layout(rows=simulate(rows=4, targets=TARGETS))]})
    rows = simulate(rows=4, targets=TARGETS, mistakes={"E1": lambda e: (e["t1"] - e["a_o1"]) ** 2})
    wrong = write_workbook(folder / "wrong.xlsx", {"Sheet1": [Layout(rows=rows)]})
    return right, wrong


def click_and_load(driver, element, timeout=60):
    """Click what submits a form or follows a link, and wait until the next page has replaced this one.

    The old page is marked on its window object: a new document gets a new one. (Selenium's staleness_of asks
    about an element of the old page, and Chromium can answer that with an inspector error instead of
    "stale" while the page is being replaced.) Errors while the next page loads mean "not yet".
    """
    driver.execute_script("window.__xlbackpropOldPage = true")
    element.click()
    replaced = "return window.__xlbackpropOldPage === undefined && document.readyState === 'complete'"
    WebDriverWait(driver, timeout, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script(replaced))


def hand_in(driver, url, student_id, code, path):
    driver.get(url + "/")
    driver.find_element(By.ID, "student_id").send_keys(student_id)
    driver.find_element(By.ID, "code").send_keys(code)
    driver.find_element(By.ID, "workbook").send_keys(str(path))
    click_and_load(driver, driver.find_element(By.ID, "send"))


def wait_for(driver, predicate, timeout=120, refresh=True):
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, f"timed out on {driver.current_url}"
        time.sleep(0.5)
        if refresh:
            driver.refresh()


def download(driver, link_id, name, timeout=90):
    target = driver.downloads / name
    target.unlink(missing_ok=True)
    driver.find_element(By.ID, link_id).click()
    end = time.monotonic() + timeout
    while not target.exists() or list(driver.downloads.glob("*.crdownload")):
        assert time.monotonic() < end, f"{name} was not downloaded"
        time.sleep(0.2)
    return target


def log_in(driver, server):
    driver.get(server.url + "/teacher")
    if driver.find_elements(By.ID, "login"):
        driver.find_element(By.ID, "token").send_keys(server.token())
        click_and_load(driver, driver.find_element(By.ID, "log-in"))
    assert driver.find_elements(By.ID, "class-table")


def cells(driver, student_id):
    row = driver.find_element(By.CSS_SELECTOR, f'#class-table tr[data-student="{student_id}"]')
    return [td.text for td in row.find_elements(By.TAG_NAME, "td")]


def test_teacher_flow_from_roster_to_gradebook_and_regrade(browser, tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    ada, alan, carol = make_roster(folder / "roster.csv", 3)
    right, wrong = books(tmp_path)
    server = ClassServer(folder, tmp_path / "serve.log", "--points", "10", "--title", "Backprop (7)").start()
    try:
        hand_in(browser, server.url, ada.id, alan.code, right)  # a classmate's code
        error = browser.find_element(By.ID, "error").text
        assert "student ID or the personal code is not right" in error

        hand_in(browser, server.url, ada.id, ada.code, right)
        receipt = browser.find_element(By.ID, "receipt").text
        sub_id = browser.find_element(By.ID, "receipt-id").text
        assert len(sub_id) == 16 and len(browser.find_element(By.ID, "receipt-hash").text) == 64
        assert "UTC" in browser.find_element(By.ID, "receipt-time").text and ada.id in receipt
        wait_for(browser, lambda: browser.find_elements(By.ID, "verdict"))
        assert browser.find_element(By.ID, "verdict").text == "CORRECT"

        hand_in(browser, server.url, alan.id, alan.code, wrong)
        wait_for(browser, lambda: browser.find_elements(By.ID, "verdict"))
        assert browser.find_element(By.ID, "verdict").text == "WRONG"
        assert "E1" in browser.find_element(By.CSS_SELECTOR, ".error-card").text

        log_in(browser, server)
        assert cells(browser, ada.id)[1:4] == [ada.name, "correct", "10"]
        assert cells(browser, alan.id)[2:4] == ["wrong", "0"] and "E1" in cells(browser, alan.id)[5]
        assert cells(browser, carol.id)[1:4] == [carol.name, "no submission", ""]  # the roster, all of it
        report = browser.find_element(By.ID, "class-report").text
        assert "1 correct" in report and "1 wrong" in report
        assert browser.find_elements(By.CSS_SELECTOR, "#mistakes-chart rect")
        shot = tmp_path / "class-teacher.png"
        browser.save_screenshot(str(shot))
        if os.environ.get("XLBACKPROP_SCREENSHOTS"):
            shutil.copy(shot, Path(os.environ["XLBACKPROP_SCREENSHOTS"]) / "class-teacher.png")

        with download(browser, "canvas", "gradebook-canvas.csv").open(encoding="utf-8", newline="") as f:
            canvas = list(csv.reader(f))
        assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Backprop (7)"]
        assert [(r[2], r[5]) for r in canvas[2:]] == [(ada.id, "10"), (alan.id, "0"), (carol.id, "")]
        with download(browser, "moodle", "gradebook-moodle.csv").open(encoding="utf-8", newline="") as f:
            moodle = list(csv.DictReader(f))
        assert [(r["ID number"], r["Backprop (7)"]) for r in moodle] == [(ada.id, "10"), (alan.id, "0"),
                                                                         (carol.id, "")]
        xlsx = openpyxl.load_workbook(download(browser, "xlsx", "gradebook.xlsx"))
        assert [xlsx["Grades"].cell(r, 6).value for r in (2, 3, 4)] == [10, 0, None]

        click_and_load(browser, browser.find_element(By.CSS_SELECTOR, f'#class-table tr[data-student="{alan.id}"] a'))
        assert "First error" in browser.page_source and "Download the workbook" in browser.page_source
    finally:
        server.stop()

    # the teacher assigns two learning rates: restarted with --assignment, a re-grade finds 0.8 missing
    assignment = tmp_path / "assignment.xlsx"
    from click.testing import CliRunner

    from xlbackprop.cli import main

    generated = CliRunner().invoke(main, ["generate", "--lrs", "0.5,0.8", "--iterations", "4", "--out",
                                          str(assignment)])
    assert generated.exit_code == 0, generated.output
    server = ClassServer(folder, tmp_path / "serve.log", "--points", "10", "--assignment", str(assignment)).start()
    try:
        log_in(browser, server)  # the login cookie outlives the restart: the token is the same
        click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "#regrade button"))
        assert "re-grading 2 submissions" in browser.find_element(By.ID, "done").text
        wait_for(browser, lambda: not browser.find_elements(By.ID, "queued"))
        assert cells(browser, ada.id)[2:5] == ["incomplete", "5", "1 of 2"]
    finally:
        server.stop()


def test_deadline_and_verdict_only_feedback(browser, tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    ada, alan, _ = make_roster(folder / "roster.csv", 3)
    right, wrong = books(tmp_path)
    soon = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat(timespec="seconds")
    server = ClassServer(folder, tmp_path / "serve.log", "--feedback", "verdict", "--deadline", soon).start()
    try:
        browser.get(server.url + "/")
        assert browser.find_element(By.ID, "deadline").text.startswith("Deadline: ")
        hand_in(browser, server.url, alan.id, alan.code, wrong)
        receipt_url = browser.current_url
        wait_for(browser, lambda: browser.find_elements(By.ID, "verdict"))
        assert browser.find_element(By.ID, "verdict").text == "WRONG"
        assert browser.find_elements(By.ID, "verdict-only")
        assert not browser.find_elements(By.CSS_SELECTOR, ".error-card")
    finally:
        server.stop()

    past = datetime.now(timezone.utc).isoformat(timespec="seconds")  # after the first hand-in, before the next
    server = ClassServer(folder, tmp_path / "serve.log", "--feedback", "verdict", "--deadline", past).start()
    try:
        browser.get(receipt_url.replace(receipt_url.split("/receipt/")[0], server.url))
        assert browser.find_elements(By.CSS_SELECTOR, ".error-card")  # after the deadline: every detail
        assert not browser.find_elements(By.ID, "verdict-only")
        hand_in(browser, server.url, alan.id, alan.code, right)  # too late to count
        assert "after the deadline" in browser.find_element(By.ID, "late").text
        log_in(browser, server)
        assert cells(browser, alan.id)[2] == "wrong"  # the one before the deadline counts
        assert len(browser.find_elements(By.CSS_SELECTOR, "#all-submissions tbody tr")) == 2
    finally:
        server.stop()
