"""The demo's live view on a terminal: the live topic followed in a thread (the newest row of each
window), and a block of lines redrawn in place below the committed rows."""

import threading

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


class InPlace:
    """Lines at the bottom of a terminal that each ``draw`` replaces; text printed with ``above`` goes
    above them and stays."""

    def __init__(self) -> None:
        self._height = 0

    def _erase(self) -> str:
        up = f"\x1b[{self._height - 1}A" if self._height > 1 else ""
        return f"\r{up}\x1b[J" if self._height else ""

    def draw(self, lines: list[str]) -> str:
        """The text that replaces the lines drawn last by ``lines`` (the last one without a newline)."""
        text = self._erase() + "\n".join(lines)
        self._height = len(lines)
        return text

    def above(self, text: str) -> str:
        """The text that prints ``text`` (whole lines) where the drawn lines were; draw them again after."""
        erase = self._erase()
        self._height = 0
        return erase + text + "\n"
