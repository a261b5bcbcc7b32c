"""``ctr operator``: run the Producer operator against the current kube context (or in-cluster)."""

import argparse
from typing import Any

from ctr import settings


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``operator`` subcommand."""
    settings.add_command(subparsers, "operator", "run the kopf operator for Producer resources",
                         "Watch Producer resources and keep their ConfigMap, Deployment and RBAC in line with them.",
                         settings.OPERATOR_SETTINGS, run)


def kopf_options(values: dict[str, Any]) -> dict[str, Any]:
    """The arguments of ``kopf.run`` for these settings."""
    namespaces = [ns.strip() for ns in values["namespaces"].split(",")] if values["namespaces"] else []
    options: dict[str, Any] = {"clusterwide": not namespaces, "namespaces": namespaces}
    if values["peering"] == "standalone":
        options["standalone"] = True
    else:
        options["peering_name"] = values["peering"]
    return options


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run the operator until SIGTERM/SIGINT; return the exit code."""
    import kopf

    import ctr_operator.handlers  # noqa: F401  (registers the handlers)

    values = settings.resolve_settings(parser, args, settings.OPERATOR_SETTINGS)
    options = kopf_options(values)
    memo = kopf.Memo(namespaces=options["namespaces"], resync_interval=values["resync_interval"])
    kopf.run(memo=memo, **options)
    return 0
