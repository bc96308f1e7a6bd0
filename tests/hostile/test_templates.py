"""Server-side template injection (PayloadsAllTheThings' Jinja2 payloads) against the
renderer: as a shop's template body each payload renders or fails with a clear error,
within the limits, executing nothing; as customer data it prints literally, escaped in HTML."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from markupsafe import escape

from templates.loader import SHIPPED, TemplateSet
from templates.render import Renderer, RenderSkipError
from templates.samples import sample_context
from tests.hostile.corpora import ssti_payloads
from tests.templates.test_limits import DOS

SECRET = "leal-hostile-secret-4711"
LEAKS = ("<class", "root:x:", "uid=", "Popen", "<module", "<function", "__builtins__", SECRET)


def test_every_payload_as_a_shop_template_executes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a secret in the environment and every payload as each part of a template
    monkeypatch.setenv("LEAL_SECRET_KEY", SECRET)
    payloads = [*ssti_payloads(), *DOS]
    for number, payload in enumerate(payloads):
        for part in ("subject.txt", "text.txt", "sms.txt"):
            folder = tmp_path / f"t{number}" / "en"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / part).write_text(payload, encoding="utf-8")
        (folder / "email.mjml").write_text(
            f"<mjml><mj-body><mj-section><mj-column><mj-text>{payload}"
            "</mj-text></mj-column></mj-section></mj-body></mjml>",
            encoding="utf-8",
        )
    renderer = Renderer(TemplateSet(tmp_path, "en"))
    started, outcomes = time.monotonic(), {"rendered": 0, "skipped": 0}
    # when each is rendered
    for number in range(len(payloads)):
        for channel in ("email", "sms"):
            try:
                output = _render(renderer, f"t{number}", channel)
            except RenderSkipError as error:
                outcomes["skipped"] += 1
                assert f"t{number}/en/" in str(error)  # names the template file
                output = str(error)
            except Exception as error:  # compose skips these (compose_error)
                outcomes["skipped"] += 1
                output = f"{type(error).__name__}: {error}"
            else:
                outcomes["rendered"] += 1
            # then nothing reached files, processes, the environment or Python's objects
            assert not any(leak in output for leak in LEAKS), (number, output[:300])
    assert time.monotonic() - started < 10
    assert outcomes["rendered"] and outcomes["skipped"], outcomes
    assert os.environ["LEAL_SECRET_KEY"] == SECRET


def _render(renderer: Renderer, template: str, channel: str) -> str:
    if channel == "email":
        return renderer.email(template, sample_context("birthday")).html
    return renderer.sms(template, sample_context("birthday"), 99).text


@pytest.mark.parametrize("template", ["birthday", "abandoned_cart"])
def test_every_payload_as_a_first_name_prints_literally(template: str) -> None:
    renderer = Renderer(TemplateSet(SHIPPED, "en"))
    for payload in [p for p in ssti_payloads() if "\n" not in p and "\r" not in p]:
        context = sample_context(template, "en", first_name=payload)
        email = renderer.email(template, context)
        assert payload in email.text  # plain text: as typed, not evaluated
        assert str(escape(payload)) in email.html  # HTML: escaped
        if "<" in payload:
            assert payload not in email.html
