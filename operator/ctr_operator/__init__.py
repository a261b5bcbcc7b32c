"""The kopf operator for the ``Producer`` custom resource (``ctr operator``)."""
