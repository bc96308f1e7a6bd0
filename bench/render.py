"""Render personalized emails and print emails/s per core.

    python bench/render.py [--emails 10000]

Each email is the shipped birthday or abandoned-cart template in one of five locales,
with a coupon, six recommendations and the customer's loyalty block. Printed: Leal's
path (compiled once, one Jinja render of HTML + subject + text per email), bare Jinja on
the same compiled HTML (the ceiling), compiling MJML for every email, and the MIME build.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mjml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from templates.loader import TemplateSet
from templates.mime import EmailBuilder, EmailParts
from templates.render import Renderer
from templates.samples import sample_context
from templates.sandbox import make_environment

LOCALES = ("ca", "es", "it", "ro", "en")
TEMPLATES = ("birthday", "abandoned_cart")


def contexts(n: int) -> list[tuple[str, dict[str, Any]]]:
    made = []
    for i in range(n):
        template, locale = TEMPLATES[i % 2], LOCALES[i % 5]
        context = sample_context(template, locale, first_name=f"Client {i}", recommendations=6)
        context["customer"]["id"] = f"C{i:07d}"
        made.append((template, context))
    return made


def per_second(work: Callable[[], object], n: int) -> float:
    started = time.perf_counter()
    work()
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=10_000)
    n = parser.parse_args().emails
    batch = contexts(n)
    renderer = Renderer(TemplateSet(None, "es"))
    for template, context in batch[:10]:
        renderer.email(template, context)  # compile every variant once, as a run does
    ours = per_second(lambda: [renderer.email(t, c) for t, c in batch], n)
    parts = {
        (t, c["customer"]["locale"]): [
            renderer.template(t, part, c["customer"]["locale"])[0]
            for part in ("email.mjml", "subject.txt", "text.txt")
        ]
        for t, c in batch[:10]
    }
    html = {key: templates[0] for key, templates in parts.items()}
    bare = per_second(
        lambda: [[p.render(c) for p in parts[t, c["customer"]["locale"]]] for t, c in batch], n
    )
    bare_html = per_second(
        lambda: [html[t, c["customer"]["locale"]].render(c) for t, c in batch], n
    )
    environment = make_environment(html=True)
    sources = {key: renderer.templates.source(key[0], "email.mjml", key[1]).text for key in html}
    few = batch[: max(n // 20, 50)]
    compile_each = per_second(
        lambda: [
            environment.from_string(_uncached_mjml(sources[t, c["customer"]["locale"]])).render(c)
            for t, c in few
        ],
        len(few),
    )
    rendered = [renderer.email(t, c) for t, c in batch]
    builder = EmailBuilder("Cafè Leal", "hola@cafe.example", "ajuda@cafe.example")
    when = datetime.now(UTC)
    mime = per_second(
        lambda: [
            builder.build(
                EmailParts(
                    c["customer"]["email"],
                    r.subject,
                    r.text,
                    r.html,
                    f"<outbox-{i}.leal@cafe.example>",
                    when,
                    c["unsubscribe_url"],
                    None,
                )
            )
            for i, ((_, c), r) in enumerate(zip(batch, rendered, strict=True))
        ],
        n,
    )
    both = 1 / (1 / ours + 1 / mime)
    size = sum(len(r.html) for r in rendered) / n
    print(f"{n:,} emails, compiled HTML {size / 1024:.1f} KB on average, one core")
    print(f"  leal render (html + subject + text) {ours:>9,.0f} emails/s")
    print(f"  bare Jinja, same three templates    {bare:>9,.0f} emails/s (ceiling)")
    print(f"  leal / bare Jinja                   {ours / bare:>9.0%}")
    print(f"  bare Jinja, HTML only               {bare_html:>9,.0f} emails/s")
    print(f"  MJML compiled for every email       {compile_each:>9,.0f} emails/s")
    print(f"  MIME build                          {mime:>9,.0f} messages/s ({1e6 / mime:.0f} µs)")
    print(f"  render + MIME                       {both:>9,.0f} emails/s")


def _uncached_mjml(source: str) -> str:
    return str(mjml.mjml2html(source))  # what compile_mjml caches


if __name__ == "__main__":
    main()
