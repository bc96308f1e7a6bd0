"""A survey answered in a real browser: headless Chromium, driven by chromedriver over the
WebDriver protocol, opens a survey link from a real `leal serve` (uvicorn) at phone width,
picks another score, types a comment and sends the form; the thank-you page follows, the
answer is the one recorded, and the console stays clean (the Content-Security-Policy header
is enforced: anything the page tried to load or run would be an error there). So the form's
relative action, its token, the SameSite=Strict cookie and the Origin check all work in a
browser, not only in the test client. Skipped when Chromium or chromedriver is missing,
unless LEAL_TEST_REQUIRE_BROWSER=1 (as CI sets), where that fails.

`LEAL_SURVEY_SCREENSHOT=docs/images/survey.png` also writes the filled page's screenshot there.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from matplotlib.image import imread
from sqlalchemy import Engine, select

from campaigns.config import Settings
from campaigns.loader import Config
from shop.db import make_engine
from shop.models import SurveyClick, SurveyResponse
from templates.links import SurveyMoment, survey_token
from templates.unsubscribe import Signer
from tests.factories import ShopFactory
from tests.shop.test_surveys import sent, survey_settings
from workers.web import create_app
from workers.web_words import WORDS

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
DRIVERS = ("chromedriver", "chromium-driver")
SIGNER = Signer(b"k" * 32)
SHOP = "Cafè del Born"
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the WebDriver key of an element reference
COMMENT = "Molt bon cafè, però el paquet va arribar tard. <b>Gràcies!</b>"
WIDTH = 390


def _found(names: tuple[str, ...]) -> str | None:
    return next((path for name in names if (path := shutil.which(name))), None)


@dataclass(frozen=True)
class Browser:
    http: httpx.Client  # chromedriver's WebDriver endpoint, with a session
    session: str

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = self.http.request(method, f"/session/{self.session}{path}", json=body)
        answer.raise_for_status()
        return answer.json()["value"]

    def script(self, source: str) -> Any:
        return self.call("POST", "/execute/sync", {"script": source, "args": []})

    def cdp(self, command: str, **params: Any) -> Any:
        return self.call("POST", "/goog/cdp/execute", {"cmd": command, "params": params})

    def open(self, url: str, width: int) -> None:
        self.cdp("Emulation.setDeviceMetricsOverride", width=width, height=900,
                 deviceScaleFactor=2, mobile=True)  # fmt: skip
        self.call("POST", "/se/log", {"type": "browser"})  # drop what earlier pages logged
        self.call("POST", "/url", {"url": url})

    def element(self, css: str) -> str:
        found = self.call("POST", "/element", {"using": "css selector", "value": css})
        return str(found[ELEMENT])

    def click(self, css: str) -> None:
        self.call("POST", f"/element/{self.element(css)}/click", {})

    def type(self, css: str, text: str) -> None:
        self.call("POST", f"/element/{self.element(css)}/value", {"text": text})

    def errors(self) -> list[str]:
        logs = self.call("POST", "/se/log", {"type": "browser"})
        return [entry["message"] for entry in logs if entry["level"] == "SEVERE"]

    def screenshot(self, path: Path) -> np.ndarray:
        shot = self.cdp("Page.captureScreenshot", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return imread(path)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    chromium, driver = _found(BROWSERS), _found(DRIVERS)
    if chromium is None or driver is None:
        if os.environ.get("LEAL_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail("LEAL_TEST_REQUIRE_BROWSER=1 but no chromium and chromedriver on PATH")
        pytest.skip("no chromium and chromedriver on PATH")
    port = _free_port()
    process = subprocess.Popen([driver, f"--port={port}"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
    try:
        _wait(lambda: http.get("/status").json()["value"]["ready"])
        options = {"binary": chromium, "args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--hide-scrollbars", "--no-first-run",
            f"--user-data-dir={tmp_path_factory.mktemp('profile')}"]}  # fmt: skip
        capabilities = {"browserName": "chrome", "goog:chromeOptions": options,
                        "goog:loggingPrefs": {"browser": "ALL"}}  # fmt: skip
        created = http.post("/session", json={"capabilities": {"alwaysMatch": capabilities}})
        created.raise_for_status()
        session = created.json()["value"]["sessionId"]
        yield Browser(http, session)
        http.delete(f"/session/{session}")
    finally:
        http.close()
        process.terminate()
        process.wait(10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(ready: Callable[[], Any], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        time.sleep(0.05)
    raise TimeoutError(f"not ready in {seconds} s")


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # in a thread: the test runner keeps them
        pass


@dataclass(frozen=True)
class Served:
    url: str
    engine: Engine
    moment: SurveyMoment


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Served]:
    """`leal serve` on a real uvicorn, over a SQLite shop where a Catalan customer's NPS
    survey went out two hours ago."""
    path = tmp_path_factory.mktemp("survey") / "leal.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    port = _free_port()
    public = f"http://127.0.0.1:{port}"
    base = Settings(database={"url": f"sqlite:///{path}"})
    settings = survey_settings(base, web={"public_url": public},
                               shop={"name": SHOP, "url": "https://cafe.example"})  # fmt: skip
    customer = ShopFactory(engine, settings).customer("marta", locale="ca", first_name="Marta")
    moment = sent(engine, customer, at=datetime.now(UTC) - timedelta(hours=2))
    server = _Server(uvicorn.Config(create_app(Config(settings, None), engine, SIGNER),
                                    host="127.0.0.1", port=port, log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    _wait(lambda: server.started)
    yield Served(public, engine, moment)
    server.should_exit = True
    thread.join(10)
    engine.dispose()


def test_a_person_answers_a_survey_on_a_phone(
    browser: Browser, served: Served, tmp_path: Path
) -> None:
    words = WORDS["ca"]
    # when Marta opens the link of 7 in her email on a phone
    browser.open(f"{served.url}/survey/{survey_token(SIGNER, served.moment)}/7", WIDTH)
    # then the page is hers, in Catalan, with 7 chosen, and fits the screen
    assert browser.script("return document.title") == f"{words['title']} · {SHOP}"
    assert browser.script("return document.documentElement.lang") == "ca"
    assert browser.script("return document.querySelector('input[name=score]:checked').value") == "7"
    page, screen = browser.script(
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert page <= screen == WIDTH
    # when she changes her mind to 9 and types a comment
    browser.click("input[name=score][value='9'] + span")
    browser.type("#comment", COMMENT)
    assert browser.script("return document.querySelector('input[name=score]:checked').value") == "9"
    png = tmp_path / "survey.png"
    pixels = browser.screenshot(png)
    target = os.environ.get("LEAL_SURVEY_SCREENSHOT")
    if target:
        shutil.copy(png, target)
    assert pixels.shape[1] == WIDTH * 2  # deviceScaleFactor 2
    assert len(np.unique(pixels[..., :3].reshape(-1, 3), axis=0)) > 50  # not a blank
    # and sends it
    browser.click("button[type=submit]")
    _wait(lambda: browser.script("return document.title").startswith(words["thanks_title"]))
    # then the thank-you page, in Catalan, mentions her points; the console stayed clean
    text = browser.script("return document.body.innerText")
    assert words["thanks"] in text and "20 punts" in text
    assert browser.errors() == []
    # and her answer is the one recorded: 9, the comment as typed; the click was a person's
    with served.engine.connect() as connection:
        answers = connection.execute(select(SurveyResponse.score, SurveyResponse.comment)).all()
        clicks = connection.execute(select(SurveyClick.score, SurveyClick.suspect)).all()
    assert [tuple(row) for row in answers] == [(9, COMMENT)]
    assert [tuple(row) for row in clicks] == [(7, False)]
