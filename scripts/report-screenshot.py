"""Regenerate docs/images/report.png, the screenshot of `leal demo`'s HTML report.

    .venv/bin/python scripts/report-screenshot.py     # or CHROMIUM=/path/to/chrome

Builds a demo shop in a temporary directory (`leal demo`: the example settings.toml, 5,000
customers, seed 42, the four weeks before today), opens its report.html in headless
Chromium 1,280 pixels wide, and keeps the whole page, trimmed below its last line: every
campaign, the loyalty KPIs, the surveys and the detractors to follow up, in 256 colours.
Nothing is left in the repository but the image (docs/measurement.md shows it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images" / "report.png"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
WIDTH, TALLEST = 1280, 16_000  # pixels: the page is about 9,000 tall with 12 campaigns


def main() -> None:
    browser = os.environ.get("CHROMIUM") or next(filter(None, map(shutil.which, BROWSERS)), None)
    if browser is None:
        sys.exit("no chromium on PATH: set CHROMIUM=/path/to/chrome")
    leal = Path(sys.executable).with_name("leal")
    with tempfile.TemporaryDirectory(prefix="leal-report-") as folder:
        work = Path(folder)
        demo = [str(leal), "--settings", str(ROOT / "settings.toml"), "demo", "--dir", "demo"]
        subprocess.run(demo, cwd=work, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
        shot = work / "report.png"
        subprocess.run(  # noqa: S603 (the developer's own browser)
            [browser, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1",
             f"--window-size={WIDTH},{TALLEST}", f"--screenshot={shot}",
             (work / "demo" / "report.html").as_uri()],
            cwd=work, check=True, capture_output=True,
        )  # fmt: skip
        image = _trimmed(Image.open(shot).convert("RGB"))
    # 256 colours, undithered: the page's flat colours and text stay sharp, a third the size
    image.quantize(256, Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(OUT, optimize=True)
    print(f"{OUT.relative_to(ROOT)}: {image.width} x {image.height}")


def _trimmed(image: Image.Image, margin: int = 24) -> Image.Image:
    """The page down to its last row that is not the background, and a margin."""
    pixels = np.asarray(image)
    background = pixels[-1, -1]
    rows = np.flatnonzero((pixels != background).any(axis=(1, 2)))
    if rows.size == 0 or rows[-1] >= image.height - 1:
        sys.exit(f"the page is blank or taller than {TALLEST} pixels: raise TALLEST")
    return image.crop((0, 0, image.width, min(int(rows[-1]) + margin, image.height)))


if __name__ == "__main__":
    main()
