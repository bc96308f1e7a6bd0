"""The HTML report in a real browser: headless Chromium opens the file offline, draws it
at desktop and phone widths, and its DOM holds the charts. Skipped when Chromium is
missing, unless LEAL_TEST_REQUIRE_BROWSER=1 (as CI sets), where that fails."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from reports.render_html import render_html
from tests.reports.report_sample import campaign, sample_report
from tests.reports.test_render import Page

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
CHARTS = 2 + 4 + 4  # both forest plots, a daily chart per campaign, points, tiers, RFM, NPS


@pytest.fixture(scope="module")
def chromium() -> str:
    found = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    if found is None:
        if os.environ.get("LEAL_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail("LEAL_TEST_REQUIRE_BROWSER=1 but no chromium on PATH")
        pytest.skip("no chromium on PATH")
    return found


def browse(chromium: str, page: Path, profile: Path, *flags: str) -> str:
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        *flags,
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def screenshot(chromium: str, page: Path, tmp_path: Path, width: int) -> np.ndarray:
    png = tmp_path / f"report-{width}.png"
    browse(
        chromium, page, tmp_path / "profile", f"--screenshot={png}", f"--window-size={width},2400"
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return imread(png)


def written(folder: Path, report: dict[str, object]) -> Path:
    page = folder / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    return page


@pytest.fixture(scope="module")
def sample_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return written(tmp_path_factory.mktemp("report"), sample_report())


@pytest.mark.parametrize("width", [1280, 390])
def test_the_report_draws_at_desktop_and_phone_width(
    chromium: str, sample_page: Path, tmp_path: Path, width: int
) -> None:
    pixels = screenshot(chromium, sample_page, tmp_path, width)
    assert pixels.shape[1] == width and pixels.shape[0] == 2400
    colours = np.unique(pixels[..., :3].reshape(-1, 3), axis=0)
    assert len(colours) > 100  # text, tiles and charts, not a blank or one-colour page
    page_grey = np.all(np.abs(pixels[..., :3] - pixels[-1, 0, :3]) < 0.02, axis=-1)
    assert page_grey.mean() < 0.9  # most of the window is content


def test_the_rendered_dom_holds_the_charts(
    chromium: str, sample_page: Path, tmp_path: Path
) -> None:
    dom = browse(chromium, sample_page, tmp_path / "profile", "--dump-dom")
    page = Page(dom)
    assert len(page.named("svg")) == CHARTS
    assert len(page.named("path")) > 200  # the bars, lines and intervals were kept
    assert "Abandoned cart" in dom and "Tier movement" in dom and "Detractors to follow up" in dom


def test_hostile_names_stay_text_in_the_browser(chromium: str, tmp_path: Path) -> None:
    attack = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"
    report = sample_report()
    report["campaigns"] = [campaign(attack, description=attack)]
    dom = browse(chromium, written(tmp_path, report), tmp_path / "profile", "--dump-dom")
    page = Page(dom)
    assert not page.named("script") and not page.named("img")
    assert "pwned" not in page.title
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom
