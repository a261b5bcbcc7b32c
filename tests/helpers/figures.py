"""Figures the tests measure (times, counts), printed at the end of the run (conftest.py) instead of
asserted: how fast something is on a shared machine is a figure, not a pass or a fail."""

#: Lines of measured figures, printed once more at the end of the run.
FIGURES: list[str] = []


def report_figures(topic: str, scenario: str, **figures: object) -> None:
    """Record one line of figures, ``[topic] scenario: name=value ...``, for the run's summary."""
    FIGURES.append(f"[{topic}] {scenario}: " + " ".join(f"{name}={value}" for name, value in figures.items()))
