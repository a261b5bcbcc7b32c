"""The demo's live view on a terminal: the live topic followed in a thread (the newest row of each
window), and a block of lines redrawn in place below the committed rows."""

import os
import shutil
import threading
from collections.abc import Callable

from confluent_kafka import KafkaException

from ctr.results_contract import LiveRow
from ctr_results.topic import TopicRowsError, changes

#: A window as the demo tracks it: (campaign, window start).
WindowKey = tuple[str, str]


class LiveRowsFollower:
    """The newest row of each window on the live topic, read in a background thread until ``close``."""

    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        self._bootstrap_servers, self._topic = bootstrap_servers, topic
        self._rows: dict[WindowKey, LiveRow] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.error: str | None = None
        self._thread = threading.Thread(target=self._follow, name="live-rows", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        try:
            for batch in changes(self._bootstrap_servers, self._topic, True, self._stop, LiveRow):
                with self._lock:
                    self._rows.update(((row.campaign_id, row.window_start), row) for row in batch)
        except TopicRowsError as err:
            self.error = str(err)
        except KafkaException as err:
            self.error = f"reading {self._topic} failed: {err.args[0].str() if err.args else err}"

    def open_windows(self, committed: set[WindowKey]) -> list[LiveRow]:
        """The newest row of each window not in ``committed``, by window, then campaign; the rows of
        committed windows are forgotten."""
        with self._lock:
            for key in committed & self._rows.keys():
                del self._rows[key]
            rows = list(self._rows.values())
        return sorted(rows, key=lambda row: (row.window_start, row.campaign_id))

    def close(self) -> None:
        """Stop following (the thread ends within one poll)."""
        self._stop.set()
        self._thread.join(timeout=5.0)


#: Terminal controls: stop and resume wrapping long lines (a drawn line stays one row, cut at the
#: terminal's edge, whatever its characters' widths, so that erasing it moves up one row per line).
WRAP_OFF, WRAP_ON = "\x1b[?7l", "\x1b[?7h"


class InPlace:
    """Lines at the bottom of a terminal that each ``draw`` replaces; text printed with ``above`` goes
    above them and stays. ``size`` tells the terminal's size (its rows bound the lines drawn)."""

    def __init__(self, size: Callable[[], os.terminal_size] = shutil.get_terminal_size) -> None:
        self._height = 0
        self._size = size

    def _erase(self) -> str:
        up = f"\x1b[{self._height - 1}A" if self._height > 1 else ""
        return f"\r{up}\x1b[J" if self._height else ""

    def draw(self, lines: list[str]) -> str:
        """The text that replaces the lines drawn last by ``lines`` (the last one without a newline),
        each cut at the terminal's edge; when they are more than its rows, the first and the last of
        them with a line saying how many are left out between."""
        fit = max(self._size().lines - 1, 1)
        if len(lines) > fit:
            left_out = len(lines) - fit + 1
            lines = [*lines[: fit - 2], f"… {left_out} more", lines[-1]] if fit >= 3 else lines[-fit:]
        text = WRAP_OFF + self._erase() + "\n".join(lines) + WRAP_ON
        self._height = len(lines)
        return text

    def above(self, text: str) -> str:
        """The text that prints ``text`` (whole lines) where the drawn lines were; draw them again after."""
        erase = self._erase()
        self._height = 0
        return erase + text + "\n"
