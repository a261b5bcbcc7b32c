"""Sources of live settings that can change while the producer runs.

A source calls ``on_change(document)`` with the whole settings document (camelCase keys) once
at start (unless it gave it when it was made, as the file source does) and again after every
change; ``on_error(message)`` when the document is unreadable. The Kubernetes ConfigMap source
implements the same interface.
"""

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import yaml

log = logging.getLogger("ctr.produce.config")

OnChange = Callable[[Mapping[str, Any]], None]
OnError = Callable[[str], None]
POLL_INTERVAL = 0.2


class ConfigSource(Protocol):
    """Something that reports live settings documents until stopped."""

    def start(self, on_change: OnChange, on_error: OnError) -> None:
        """Report the current document (unless the source gave it when it was made), then every change,
        from a thread of its own."""

    def reload(self) -> None:
        """Read the document again now (SIGHUP)."""

    def stop(self) -> None:
        """Stop reporting."""


def parse_settings_text(text: str, where: str, as_json: bool = False) -> Mapping[str, Any]:
    """Parse a JSON or YAML live settings document into a mapping (empty text: empty mapping).

    Raises ValueError naming ``where`` when the text is not JSON/YAML or not a mapping.
    """
    if not text.strip():
        return {}
    try:
        document = json.loads(text) if as_json else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as err:
        raise ValueError(f"{where} is not valid {'JSON' if as_json else 'YAML'}: {err}") from None
    if not isinstance(document, dict):
        raise ValueError(f"{where} does not hold a mapping of settings")
    return document


def read_settings_file(path: str) -> Mapping[str, Any]:
    """Parse a JSON (``.json``) or YAML settings file into a mapping."""
    with open(path, encoding="utf-8") as handle:
        return parse_settings_text(handle.read(), path, as_json=path.endswith(".json"))


class FileConfigSource:
    """Watches a JSON/YAML file: read once when made (``document``), then re-read when its modification
    time or size changes."""

    def __init__(self, path: str, poll_interval: float = POLL_INTERVAL) -> None:
        """Read the file; OSError, or ValueError naming it, when it cannot be read or parsed."""
        self.path = path
        self.poll_interval = poll_interval
        self._read_stamp = self._stamp()
        self.document = read_settings_file(path)
        self._stopped = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, on_change: OnChange, on_error: OnError) -> None:
        """Report the file's settings after every change since ``document`` was read."""
        self._thread = threading.Thread(
            target=self._watch, args=(on_change, on_error), name="config-file", daemon=True
        )
        self._thread.start()

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def _report(self, on_change: OnChange, on_error: OnError) -> None:
        try:
            document = read_settings_file(self.path)
        except (OSError, ValueError) as err:
            on_error(f"config file: {err}")
            return
        on_change(document)

    def _watch(self, on_change: OnChange, on_error: OnError) -> None:
        last = self._read_stamp
        while not self._stopped.is_set():
            forced = self._wake.wait(self.poll_interval)
            self._wake.clear()
            stamp = self._stamp()
            if forced or stamp != last:
                last = stamp
                self._report(on_change, on_error)

    def reload(self) -> None:
        """Read the file again at once."""
        self._wake.set()

    def stop(self) -> None:
        """Stop watching."""
        self._stopped.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
