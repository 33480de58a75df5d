"""Headless Chromium (Debian's `chromium` and `chromium-driver`, installed by
scripts/bootstrap.sh) driven through Selenium, for the console's browser tests."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)
# Where the tests save their screenshots: `make console-screenshots` sets it to docs/console.
SCREENSHOTS = "CONSOLE_SCREENSHOTS_DIR"


def chromium() -> Iterator[WebDriver]:
    """A fresh browser (its own profile directory), quit at the end."""
    profile = tempfile.mkdtemp(prefix="console-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    # The driver is named: Selenium Manager would otherwise try to download one.
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(2)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def press(driver: WebDriver, element: WebElement) -> None:
    """Click `element` and wait for the page it leads to (a form posted, a link followed):
    the old page's document goes stale."""
    page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, 30).until(expected_conditions.staleness_of(page))


def sign_in(driver: WebDriver, base: str, token: str) -> None:
    """Sign in through the form, as a person does: the token typed, the button pressed."""
    driver.get(f"{base}/console/signin")
    driver.find_element(By.ID, "token").send_keys(token)
    press(driver, driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    assert driver.find_elements(By.CSS_SELECTOR, "form.signout"), driver.page_source


def sign_out(driver: WebDriver) -> None:
    press(driver, driver.find_element(By.CSS_SELECTOR, "form.signout button"))
    assert driver.find_elements(By.ID, "token"), driver.current_url


def shoot(driver: WebDriver, name: str, fallback: Path) -> Path:
    """A full-page screenshot `name`.png, in $CONSOLE_SCREENSHOTS_DIR or `fallback`."""
    folder = Path(os.environ.get(SCREENSHOTS) or fallback)
    folder.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(600, min(int(height) + 40, 2400)))
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 900)
    return path
