"""MJML compile time per email for every candidate compiler, and the Jinja cost after it.

    python bench/mjml_compilers.py [--no-cli]

Candidates, each timed when installed: `mjml-python` and `mrml` (both the MRML engine, in
process), the pure-Python `mjml` port (its import name clashes with mjml-python's, so it
runs in a child process from `pip install --target var/bench/pymjml mjml`, or $PURE_MJML),
node `mjml` warm in one node process and as one CLI run per email (`npm install --prefix
var/mjml mjml@4`, or $MJML_DIR). Then, for Leal's compiler: building the Jinja template of
the compiled HTML (once per template version) and rendering it (once per recipient).
Uses the shipped emails when present, else the test fixtures.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from templates.loader import SHIPPED, TemplateSet  # noqa: E402
from templates.mjml import compile_mjml  # noqa: E402
from templates.samples import MOMENTS, sample_context  # noqa: E402
from templates.sandbox import make_environment  # noqa: E402

FIXTURES = ROOT / "tests" / "templates" / "fixtures" / "templates"
PURE = Path(os.environ.get("PURE_MJML", ROOT / "var" / "bench" / "pymjml"))
NODE = Path(os.environ.get("MJML_DIR", ROOT / "var" / "mjml"))
BUDGET_S = 0.2  # time spent per measurement: enough repeats for a stable mean

# The child processes time with the same rule: repeat until BUDGET_S has passed.
PURE_CHILD = """
import json, sys, time
from mjml import mjml_to_html
out = {}
for name, source in json.load(sys.stdin).items():
    mjml_to_html(source)
    n, started = 0, time.perf_counter()
    while n < 3 or time.perf_counter() - started < BUDGET:
        mjml_to_html(source)
        n += 1
    out[name] = (time.perf_counter() - started) / n * 1e3
print(json.dumps(out))
"""
NODE_CHILD = """
const mjml = require(process.argv[1]);
const sources = JSON.parse(require('fs').readFileSync(0, 'utf8'));
(async () => {
  const out = {};
  for (const [name, source] of Object.entries(sources)) {
    for (let i = 0; i < 3; i++) await mjml(source);  // warm the JIT
    let n = 0; const started = process.hrtime.bigint();
    while (n < 3 || Number(process.hrtime.bigint() - started) / 1e9 < BUDGET) {
      await mjml(source); n++;
    }
    out[name] = Number(process.hrtime.bigint() - started) / n / 1e6;
  }
  console.log(JSON.stringify(out));
})();
"""


def ms_per_call(work: Callable[[], object]) -> float:
    work()  # a first call outside the timing: imports, caches
    n, started = 0, time.perf_counter()
    while n < 3 or time.perf_counter() - started < BUDGET_S:
        work()
        n += 1
    return (time.perf_counter() - started) / n * 1e3


def emails() -> tuple[str, TemplateSet, dict[str, str]]:
    """What to compile: name-locale -> resolved MJML."""
    root = SHIPPED if any(SHIPPED.glob("*/*/email.mjml")) else FIXTURES
    templates = TemplateSet(root, "en")
    found = sorted(root.glob("*/*/email.mjml"))
    sources = {
        f"{p.parent.parent.name}-{p.parent.name}": templates.source(
            p.parent.parent.name, "email.mjml", p.parent.name
        ).text
        for p in found
    }
    return ("shipped" if root == SHIPPED else "fixture"), templates, sources


def in_process() -> dict[str, Callable[[str], object]]:
    compilers: dict[str, Callable[[str], object]] = {}
    try:
        from mjml import mjml2html

        compilers["mjml-python"] = mjml2html
    except ImportError:
        pass
    try:
        import mrml

        compilers["mrml"] = mrml.to_html
    except ImportError:
        pass
    return compilers


def pure_python(sources: dict[str, str]) -> dict[str, float] | None:
    if not (PURE / "mjml").is_dir():
        return None
    code = PURE_CHILD.replace("BUDGET", str(BUDGET_S))
    return _child([sys.executable, "-c", code], sources, {"PYTHONPATH": str(PURE)})


def node_warm(sources: dict[str, str]) -> dict[str, float] | None:
    module = NODE / "node_modules" / "mjml"
    if not module.is_dir() or not shutil.which("node"):
        return None
    code = NODE_CHILD.replace("BUDGET", str(BUDGET_S))
    return _child(["node", "-e", code, str(module)], sources, {})


def node_cli(sources: dict[str, str]) -> dict[str, float] | None:
    cli = NODE / "node_modules" / ".bin" / "mjml"
    if not cli.exists():
        return None
    run = partial(subprocess.run, [cli, "-i", "-s"], capture_output=True, text=True)
    return {
        name: ms_per_call(partial(run, input=source))
        for name, source in list(sources.items())[:3]  # ~0.35 s a run: three emails suffice
    }


def _child(command: list[str], sources: dict[str, str], env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        command, input=json.dumps(sources), capture_output=True, text=True, check=True,
        env={**os.environ, **env},
    )  # fmt: skip
    result: dict[str, float] = json.loads(done.stdout)
    return result


def jinja_costs(templates: TemplateSet, name: str, locale: str) -> tuple[float, float]:
    """ms to build the Jinja template of the compiled HTML, and ms per render."""
    html = compile_mjml(templates.source(name, "email.mjml", locale))
    environment = make_environment(html=True)
    template = environment.from_string(html)
    context: dict[str, Any] = sample_context(name if name in MOMENTS else "birthday", locale)
    build = ms_per_call(lambda: environment.from_string(html))  # from_string never caches
    return build, ms_per_call(lambda: template.render(context))


def versions() -> str:
    found = []
    for package in ("mjml-python", "mrml"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found.append(f"{package} {importlib.metadata.version(package)}")
    node = NODE / "node_modules" / "mjml" / "package.json"
    if node.exists():
        found.append(f"node mjml {json.loads(node.read_text())['version']}")
    pure = sorted(PURE.glob("mjml-*.dist-info"))
    if pure:
        found.append(f"pure-Python mjml {pure[0].name.removesuffix('.dist-info').split('-')[1]}")
    return ", ".join(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--no-cli", action="store_true", help="skip node mjml's CLI (slow)")
    skip_cli = parser.parse_args().no_cli
    kind, templates, sources = emails()
    columns: dict[str, dict[str, float] | None] = {
        name: {email: ms_per_call(partial(compile, source)) for email, source in sources.items()}
        for name, compile in in_process().items()
    }
    columns["pure Python"] = pure_python(sources)
    columns["node warm"] = node_warm(sources)
    columns["node CLI"] = None if skip_cli else node_cli(sources)
    jinja = {email: jinja_costs(templates, *email.rsplit("-", 1)) for email in sources}
    _table(kind, columns, jinja)


def _table(
    kind: str, columns: dict[str, dict[str, float] | None], jinja: dict[str, tuple[float, float]]
) -> None:
    shown = {name: column for name, column in columns.items() if column is not None}
    print(f"{len(jinja)} {kind} emails, ms per call ({versions()})")
    print("node CLI: one process per compile, first three emails only")
    heads = [*shown, "Jinja build", "Jinja render"]
    print(f"{'email':<22}" + "".join(f"{head:>13}" for head in heads))
    for email, (build, render) in jinja.items():
        cells = [column.get(email) for column in shown.values()] + [build, render]
        print(f"{email:<22}" + "".join(_cell(cell) for cell in cells))
    means = [_mean(list(column.values())) for column in shown.values()]
    means += [_mean([b for b, _ in jinja.values()]), _mean([r for _, r in jinja.values()])]
    print(f"{'mean':<22}" + "".join(_cell(cell) for cell in means))
    missing = [name for name, column in columns.items() if column is None]
    if missing:
        print(f"not measured (not installed or skipped): {', '.join(missing)}")


def _cell(value: float | None) -> str:
    return f"{'—':>13}" if value is None else f"{value:>13.3f}"


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


if __name__ == "__main__":
    main()
