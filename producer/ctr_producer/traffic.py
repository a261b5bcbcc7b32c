"""A seeded model of ad traffic: which campaign each impression is for, and whether and when it is clicked."""

import itertools
import random

from ctr.events import Click, Impression
from ctr.settings.models import LiveSettings

USERS = 100_000


class TrafficModel:
    """Makes impressions and their clicks; the same seed and settings give the same events."""

    def __init__(self, live: LiveSettings, seed: int | None = None) -> None:
        self._rng = random.Random(seed)
        self.apply(live)

    def apply(self, live: LiveSettings) -> None:
        """Take new click probability, delay and campaigns for the impressions made from now on."""
        self._names = [c.name for c in live.campaigns]
        self._probabilities = [
            live.click_probability if c.true_ctr is None else c.true_ctr for c in live.campaigns
        ]
        self._max_delay_ms = int(live.max_click_delay * 1000)
        self._cum_weights = (
            list(itertools.accumulate(live.campaign_weights)) if live.campaign_weights else None
        )
        self._round_robin = itertools.cycle(range(len(self._names)))

    def _new_id(self) -> str:
        return f"{self._rng.getrandbits(64):016x}"

    def impression(self, ts: int) -> tuple[Impression, Click | None]:
        """Return an impression at ``ts`` (epoch ms) and its click, or None if it is not clicked."""
        rng = self._rng
        if self._cum_weights is None:
            index = next(self._round_robin)
        else:
            index = rng.choices(range(len(self._names)), cum_weights=self._cum_weights)[0]
        impression = Impression(self._new_id(), f"user-{int(rng.random() * USERS)}", self._names[index], ts)
        if rng.random() >= self._probabilities[index]:
            return impression, None
        delay = rng.randint(0, self._max_delay_ms)
        return impression, Click(self._new_id(), impression.impr_id, impression.user_id, ts + delay)
