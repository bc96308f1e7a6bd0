"""The file channel, the demo default: one .eml file per email, one JSON line per SMS.

Files are named by outbox id and written whole then renamed, so a retried message
replaces its own file instead of adding a second one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from workers.channels.base import Outcome, OutgoingEmail, OutgoingSms


class FileChannel:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        (folder / "email").mkdir(parents=True, exist_ok=True)
        (folder / "sms").mkdir(parents=True, exist_ok=True)

    def send_email(self, message: OutgoingEmail) -> Outcome:
        self._write(self.folder / "email" / f"{message.outbox_id}.eml", message.data)
        return Outcome("sent", provider_id=f"file:{message.outbox_id}")

    def send_sms(self, message: OutgoingSms) -> Outcome:
        line = {"outbox_id": message.outbox_id, "to": message.to, "body": message.body}
        data = (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")
        self._write(self.folder / "sms" / f"{message.outbox_id}.json", data)
        return Outcome("sent", provider_id=f"file:{message.outbox_id}")

    def probe(self) -> str | None:
        return None  # a folder on this machine: nothing to wait for

    def _write(self, path: Path, data: bytes) -> None:
        partial = path.with_suffix(path.suffix + ".part")
        partial.write_bytes(data)
        os.replace(partial, path)  # atomic: a reader never sees half a message
