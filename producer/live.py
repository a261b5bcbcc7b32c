"""The settings a running producer takes without a restart, and their validation."""

from dataclasses import dataclass, replace
from typing import Any, Mapping, Optional

from ctr import settings
from ctr.campaigns import Campaign


class LiveSettingsError(ValueError):
    """A live settings document that cannot be applied; the text names the field."""


@dataclass(frozen=True)
class LiveSettings:
    """Rate, click model, campaigns and running state of a producer."""

    rate: float
    click_probability: float
    max_click_delay: float
    campaigns: tuple[Campaign, ...]
    campaign_weights: Optional[tuple[float, ...]]
    state: str

    @property
    def paused(self) -> bool:
        """True when no new impressions are to be sent."""
        return self.state == "Paused"

    def validate(self) -> "LiveSettings":
        """Check the settings together (weights match campaigns); return self."""
        if self.campaign_weights is not None and len(self.campaign_weights) != len(self.campaigns):
            raise LiveSettingsError(
                f"campaignWeights has {len(self.campaign_weights)} weights for {len(self.campaigns)} campaigns"
            )
        return self

    def updated(self, document: Mapping[str, Any]) -> "LiveSettings":
        """Return these settings with the fields in ``document`` (camelCase keys) applied."""
        by_field = {s.field: s for s in settings.LIVE_SETTINGS}
        unknown = sorted(set(document) - set(by_field))
        if unknown:
            raise LiveSettingsError(f"unknown field {unknown[0]} (known: {', '.join(sorted(by_field))})")
        changes = {}
        for field, value in document.items():
            setting = by_field[field]
            if value is None:
                changes[setting.dest] = None if setting.default is None else setting.parse_text(setting.default)
                continue
            try:
                changes[setting.dest] = setting.parse_text(_as_text(value))
            except ValueError as err:
                raise LiveSettingsError(f"{field}: {err}") from None
        return replace(self, **changes).validate()


def _as_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(_as_text(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" if v is not None else str(k) for k, v in value.items())
    return str(value)


def initial_live_settings(values: Mapping[str, Any]) -> LiveSettings:
    """Build LiveSettings from resolved setting values keyed by ``dest``."""
    return LiveSettings(**{s.dest: values[s.dest] for s in settings.LIVE_SETTINGS}).validate()
