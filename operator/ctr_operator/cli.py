"""``ctr operator``: run the Producer operator against the current kube context (or in-cluster)."""

import argparse
from typing import Any

from ctr.settings.command_line import add_command, resolve
from ctr.settings.models import OperatorSettings


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``operator`` subcommand."""
    add_command(
        subparsers,
        "operator",
        "run the kopf operator for Producer resources",
        "Watch Producer resources and keep their ConfigMap, Deployment and RBAC in line with them.",
        OperatorSettings,
        run,
    )


def kopf_options(config: OperatorSettings) -> dict[str, Any]:
    """The arguments of ``kopf.run`` for these settings."""
    namespaces = [ns.strip() for ns in config.namespaces.split(",")] if config.namespaces else []
    options: dict[str, Any] = {"clusterwide": not namespaces, "namespaces": namespaces}
    if config.peering == "standalone":
        options["standalone"] = True
    else:
        options["peering_name"] = config.peering
    return options


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run the operator until SIGTERM/SIGINT; return the exit code."""
    import kopf

    import ctr_operator.handlers  # noqa: F401  (registers the handlers)
    from ctr_operator import metrics

    config = resolve(parser, args, OperatorSettings)
    metrics.serve(config.metrics_port)
    options = kopf_options(config)
    kopf.run(memo=kopf.Memo(namespaces=options["namespaces"], config=config), **options)
    return 0
