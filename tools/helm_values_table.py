"""Write the parameters table of helm/README.md from the ``## @param`` lines of helm/values.yaml.

Run: python tools/helm_values_table.py   (``make helm-docs``); a test checks the README is current.
"""

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parent.parent / "helm"
BEGIN, END = "<!-- values:begin -->", "<!-- values:end -->"


def _lookup(values: dict[str, Any], path: str) -> Any:
    node: Any = values
    for key in path.split("."):
        node = node[key]
    return node


def values_table() -> str:
    """The Markdown table: parameter, description, default, one row per ``## @param``."""
    text = (CHART / "values.yaml").read_text()
    values = yaml.safe_load(text)
    rows = ["| Parameter | Description | Default |", "|---|---|---|"]
    for section, body in re.findall(r"## @section (.+)\n((?:(?!## @section).*\n?)*)", text):
        rows.append(f"| **{section.strip()}** | | |")
        for path, description in re.findall(r"## @param (\S+) (.+)", body):
            default = json.dumps(_lookup(values, path))
            rows.append(f"| `{path}` | {description.strip()} | `{default}` |")
    return "\n".join(rows)


def readme_with_table(readme: str) -> str:
    """``readme`` with the table between the markers replaced by the current one."""
    before, _, rest = readme.partition(BEGIN)
    _, _, after = rest.partition(END)
    return f"{before}{BEGIN}\n{values_table()}\n{END}{after}"


if __name__ == "__main__":
    path = CHART / "README.md"
    path.write_text(readme_with_table(path.read_text()))
    sys.exit(0)
