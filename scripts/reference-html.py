"""Regenerate tests/templates/reference/*.html with node mjml, the reference compiler.

    npm install --prefix /tmp/mjmlref mjml@4
    MJML=/tmp/mjmlref/node_modules/.bin/mjml .venv/bin/python scripts/reference-html.py

The test suite compares what Leal's compiler makes of each shipped email (visible text,
links, images) with these files, so node is needed only when a template changes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from templates.loader import TemplateSet  # noqa: E402

OUT = ROOT / "tests" / "templates" / "reference"


def main() -> None:
    compiler = os.environ.get("MJML", "mjml")
    templates = TemplateSet(None, "en")
    OUT.mkdir(parents=True, exist_ok=True)
    for path in sorted(templates.root.glob("*/*/email.mjml")):
        name, locale = path.parent.parent.name, path.parent.name
        source = templates.source(name, "email.mjml", locale).text
        html = subprocess.run(  # noqa: S603 (the developer's own mjml)
            [compiler, "-i", "-s", "--config.validationLevel=strict"],
            input=source, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        (OUT / f"{name}-{locale}.html").write_text(html, encoding="utf-8")
        print(f"{name}/{locale}: {len(html):,} bytes")


if __name__ == "__main__":
    main()
