"""The student's flow in a real browser: headless Chromium (Debian's chromium and chromium-driver, installed
by .ci/run) driven by Selenium through an explicit chromedriver path, so nothing is ever downloaded. The
accessibility check runs axe-core (npm's axe-core 4, installed by .ci/run into .ci/axe) in the same pages.

Skipped, with the reason, where Chromium, chromedriver, Selenium or axe-core is missing; under CI=true a
missing one fails instead. XLBACKPROP_SCREENSHOTS=DIR also copies the result page's screenshots (desktop and
phone width) into DIR, as docs/img/ holds them.
"""

import os
import shutil
import time
from pathlib import Path

import pytest

from tests.serve_helpers import ROOT, SHEET_XSS, XSS, serving, wrong_workbook, xss_workbook
from xlbackprop.validate.batch import validate_file

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
AXE = Path(os.environ.get("AXE_CORE_JS", ROOT / ".ci/axe/node_modules/axe-core/axe.min.js"))
CORPUS = ROOT.parent / "shared" / "corpus" / "students"
CORRECT = CORPUS / "NageswarSahoo__S4__BackPropagation.xlsx"   # expected.json: correct
WRONG = CORPUS / "Navyabhat03__ERA-V1-Session-6__BackPropagation.xlsx"  # expected.json: the g3/g4 template bug
DESKTOP = (1280, 900)
PHONE = (390, 844)

pytestmark = pytest.mark.browser


def _missing():
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"{path} is missing (apt-get install {package})"
    return None


def _need(reason):
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests must run in CI: {reason}")
    pytest.skip(reason)


def _corpus(*files):
    missing = [f.name for f in files if not f.exists()]
    if missing:
        pytest.skip(f"student corpus absent ({', '.join(missing)} not in ../shared/corpus/students)")


def chrome(download_dir, javascript=True):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={download_dir / 'profile'}",
                 f"--window-size={DESKTOP[0]},{DESKTOP[1]}"):
        options.add_argument(flag)
    prefs = {"download.default_directory": str(download_dir), "download.prompt_for_download": False,
             "safebrowsing.enabled": False}
    if not javascript:
        prefs["profile.managed_default_content_settings.javascript"] = 2
    options.add_experimental_option("prefs", prefs)
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    _need(_missing())
    with serving(tmp_path_factory.mktemp("serve"), "--jobs", "2", "--max-upload", "1") as url:
        yield url


@pytest.fixture()
def browser(tmp_path, server):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = chrome(downloads)
    driver.downloads = downloads
    try:
        yield driver
    finally:
        driver.quit()


def upload(driver, server, path, wait=120):
    """Choose the file in the form, send it, and wait for the verdict (or the refusal)."""
    from selenium.webdriver.common.by import By

    driver.get(server + "/")
    driver.find_element(By.ID, "workbook").send_keys(str(path))
    driver.find_element(By.ID, "send").click()
    deadline = time.monotonic() + wait
    while not driver.find_elements(By.ID, "verdict") and not driver.find_elements(By.ID, "error"):
        assert time.monotonic() < deadline, f"no result after {wait} s: {driver.current_url}"
        time.sleep(0.2)


def text_of(driver, css):
    from selenium.webdriver.common.by import By

    return " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, css))


def serious_violations(driver):
    if not AXE.exists():
        _need(f"axe-core is missing at {AXE} (npm install --prefix .ci/axe axe-core@4, as .ci/run does)")
    driver.execute_script(AXE.read_text())
    violations = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations), e => done(String(e)));")
    assert isinstance(violations, list), violations
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in violations if v["impact"] in ("serious", "critical")]


def screenshot(driver, name, width, folder):
    """The whole page at `width`, saved as folder/name (and into $XLBACKPROP_SCREENSHOTS when set)."""
    driver.set_window_size(width, 800)
    driver.refresh()  # laid out at this width from the start, as a phone would load it
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(height + 140, 4000))
    path = folder / name
    driver.save_screenshot(str(path))
    if os.environ.get("XLBACKPROP_SCREENSHOTS"):
        target = Path(os.environ["XLBACKPROP_SCREENSHOTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / name)
    return path


def test_a_correct_corpus_workbook_is_correct_in_the_browser(browser, server):
    _corpus(CORRECT)
    upload(browser, server, CORRECT)
    assert text_of(browser, "#verdict") == "CORRECT"
    assert not text_of(browser, "td.wrong")


def test_a_wrong_corpus_workbook_shows_the_marked_cell_and_the_fix(browser, server, tmp_path):
    from selenium.webdriver.common.by import By

    _corpus(WRONG)
    upload(browser, server, WRONG)
    assert text_of(browser, "#verdict") == "WRONG"
    assert "Sheet1!Z3" in text_of(browser, ".error-card .cell")
    assert "L3*(1-L3)" in text_of(browser, ".error-card .fix")  # a_h2's derivative where a_h1's was
    marked = browser.find_elements(By.CSS_SELECTOR, "td.wrong")
    assert "Z3" in [td.get_attribute("data-cell") for td in marked]
    assert all(td.value_of_css_property("background-color") != "rgba(0, 0, 0, 0)" for td in marked)
    assert serious_violations(browser) == []
    desktop = screenshot(browser, "serve-result-desktop.png", DESKTOP[0], tmp_path)
    phone = screenshot(browser, "serve-result-phone.png", PHONE[0], tmp_path)
    assert desktop.stat().st_size > 10_000 and phone.stat().st_size > 10_000
    # on a phone the page is as wide as the screen: only the grid scrolls sideways
    assert browser.execute_script("return document.documentElement.scrollWidth") <= PHONE[0] + 1
    assert serious_violations(browser) == []


def test_the_annotated_copy_downloads_and_validates(browser, server, tmp_path):
    from selenium.webdriver.common.by import By

    upload(browser, server, wrong_workbook(tmp_path / "wrong.xlsx"))
    browser.find_element(By.ID, "download").click()
    copy = browser.downloads / "wrong.annotated.xlsx"
    deadline = time.monotonic() + 30
    while not copy.exists():
        assert time.monotonic() < deadline, f"no download in {list(browser.downloads.iterdir())}"
        time.sleep(0.2)
    time.sleep(0.5)  # Chrome renames the .crdownload when it is complete
    result = validate_file(copy)
    assert result.verdict == "wrong"
    assert result.tables[0].first_error.cell == "Sheet1!V4"


def test_an_xss_workbook_shows_its_markup_as_text(browser, server, tmp_path):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    upload(browser, server, xss_workbook(tmp_path / "xss.xlsx"))
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text
    page = browser.find_element(By.TAG_NAME, "main").text
    assert SHEET_XSS in page and XSS in page
    assert not browser.find_elements(By.CSS_SELECTOR, "main script, main img")


def test_an_oversized_upload_is_refused_on_the_page(browser, server, tmp_path):
    big = tmp_path / "big.xlsx"
    big.write_bytes(b"PK\x03\x04" + os.urandom(1_500_000))  # this server takes at most 1 MB
    upload(browser, server, big)
    assert "larger than 1 MB" in text_of(browser, "#error")
    assert serious_violations(browser) == []


def test_the_front_page_is_accessible_and_usable_by_keyboard(browser, server):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    browser.get(server + "/")
    assert serious_violations(browser) == []
    reached = []
    for _ in range(4):  # Tab from the top of the page reaches the file chooser, then the button
        ActionChains(browser).send_keys(Keys.TAB).perform()
        reached.append(browser.switch_to.active_element.get_attribute("id"))
    assert "workbook" in reached and "send" in reached
    assert reached.index("workbook") < reached.index("send")


def test_without_javascript_the_form_posts_and_the_result_page_refreshes_itself(server, tmp_path):
    from selenium.webdriver.common.by import By

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = chrome(downloads, javascript=False)
    try:
        upload(driver, server, wrong_workbook(tmp_path / "wrong.xlsx"))
        assert text_of(driver, "#verdict") == "WRONG"
        assert driver.find_elements(By.CSS_SELECTOR, 'td.wrong[data-cell="V4"]')
    finally:
        driver.quit()
