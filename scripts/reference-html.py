"""Regenerate the reference HTML with node `mjml`, the reference MJML compiler.

    npm install --prefix var/mjml mjml@4
    .venv/bin/python scripts/reference-html.py            # or MJML=/path/to/bin/mjml

Writes tests/templates/reference/<template>-<locale>.html for every shipped email and
tests/templates/fixtures/reference/<template>-<locale>.html for the test fixtures. The
test suite compares what Leal's compiler makes of each email (visible text, links,
images) with these files, so node is needed only when a template changes. Includes are
resolved by Leal first, exactly as for Leal's own compiler; node validates strictly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from templates.loader import SHIPPED, TemplateSet  # noqa: E402

FIXTURES = ROOT / "tests" / "templates" / "fixtures"
SETS = {
    SHIPPED: ROOT / "tests" / "templates" / "reference",
    FIXTURES / "templates": FIXTURES / "reference",
}
LOCAL = ROOT / "var" / "mjml" / "node_modules" / ".bin" / "mjml"


def compiler() -> str:
    """$MJML, else var/mjml's, else `mjml` on the PATH."""
    found = os.environ.get("MJML") or (str(LOCAL) if LOCAL.exists() else shutil.which("mjml"))
    if not found:
        sys.exit("node mjml not found: npm install --prefix var/mjml mjml@4 (or set MJML)")
    return found


def node_mjml(mjml: str, source: str) -> str:
    return subprocess.run(  # noqa: S603 (the developer's own mjml)
        [mjml, "-i", "-s", "--config.validationLevel=strict"],
        input=source, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def main() -> None:
    mjml = compiler()
    for root, out in SETS.items():
        templates = TemplateSet(root, "en")
        out.mkdir(parents=True, exist_ok=True)
        for path in sorted(root.glob("*/*/email.mjml")):
            name, locale = path.parent.parent.name, path.parent.name
            try:
                html = node_mjml(mjml, templates.source(name, "email.mjml", locale).text)
            except subprocess.CalledProcessError as error:
                sys.exit(f"{path}: node mjml refused it:\n{error.stderr}")
            (out / f"{name}-{locale}.html").write_text(html, encoding="utf-8")
            print(f"{out.relative_to(ROOT)}/{name}-{locale}.html: {len(html):,} bytes")


if __name__ == "__main__":
    main()
