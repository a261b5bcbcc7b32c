"""ctr: a real-time click-through-rate pipeline (shared definitions and the ``ctr`` command)."""
