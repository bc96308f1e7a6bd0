"""docs/settings.md is the schema's own description: generated, and kept equal by this test."""

from __future__ import annotations

import pytest
from pydantic import Field

from campaigns import settings_doc
from campaigns.config import Settings, Strict


def test_the_committed_reference_is_the_generated_one() -> None:
    # when the reference is generated from campaigns/config.py
    text = settings_doc.render()
    # then it is what docs/settings.md holds (else: python -m campaigns.settings_doc)
    assert settings_doc.DOC.read_text(encoding="utf-8") == text
    assert settings_doc.main(["--check"]) == 0


def test_every_setting_and_secret_is_in_it() -> None:
    text = settings_doc.render()
    for section, field in Settings.model_fields.items():
        if section != "campaigns":
            for key in settings_doc._model(field).model_fields:
                assert f"`LEAL_{section.upper()}__{key.upper()}`" in text
    for variable in ("LEAL_SECRET_KEY", "LEAL_SMTP_PASSWORD", "LEAL_TWILIO_AUTH_TOKEN"):
        assert f"| `{variable}` |" in text
    assert "`amount_off_cents` | integer, optional, ≥ 1 | unset" in text


def test_a_setting_without_a_description_fails_the_generator() -> None:
    # given a section whose field says nothing about itself
    class Undocumented(Strict):
        """A section."""

        knob: int = Field(3, ge=0)

    # then generating its reference fails, naming it
    with pytest.raises(ValueError, match=r"Undocumented\.knob has no description"):
        settings_doc._section("[x]", Undocumented, ("x",))
