"""Campaign lists as users write them: a count, or names with an optional true CTR each."""

from typing import NamedTuple


class Campaign(NamedTuple):
    """A campaign and, when set, the click probability that is its true CTR."""

    name: str
    true_ctr: float | None = None


def parse_campaigns(text: str) -> tuple[Campaign, ...]:
    """Parse ``"3"`` (campaign-1..3) or ``"a,b=0.1"`` (names, optional true CTR in [0, 1])."""
    text = text.strip()
    if text.isdigit():
        count = int(text)
        if count < 1:
            raise ValueError("needs at least one campaign")
        return tuple(Campaign(f"campaign-{i}") for i in range(1, count + 1))
    campaigns = []
    for item in text.split(","):
        name, _, ctr_text = item.strip().partition("=")
        name = name.strip()
        if not name or any(c in name for c in "/\\\"' "):
            raise ValueError(f"{item.strip()!r} is not a campaign name (no spaces, quotes or slashes)")
        true_ctr = None
        if ctr_text:
            try:
                true_ctr = float(ctr_text)
            except ValueError:
                raise ValueError(f"true CTR {ctr_text!r} of {name} is not a number") from None
            if not 0 <= true_ctr <= 1:
                raise ValueError(f"true CTR {ctr_text} of {name} is outside [0, 1]")
        campaigns.append(Campaign(name, true_ctr))
    names = [c.name for c in campaigns]
    if len(set(names)) != len(names):
        raise ValueError("campaign names must be unique")
    return tuple(campaigns)


def format_campaigns(campaigns: tuple[Campaign, ...]) -> str:
    """Write campaigns as ``parse_campaigns`` reads them (``"a,b=0.1"``)."""
    return ",".join(c.name if c.true_ctr is None else f"{c.name}={c.true_ctr:g}" for c in campaigns)


def parse_weights(text: str) -> tuple[float, ...]:
    """Parse ``"1,2,1"`` into positive weights."""
    try:
        weights = tuple(float(w) for w in text.split(","))
    except ValueError:
        raise ValueError(f"{text!r} is not a list of numbers") from None
    if any(w <= 0 for w in weights):
        raise ValueError("weights must be > 0")
    return weights
