"""ctr's settings: one definition of each (``fields``), grouped per command (``models``).

A setting named ``max_click_delay`` is the flag ``--max-click-delay``, the environment variable
``CTR_MAX_CLICK_DELAY`` and the field ``maxClickDelay`` in a config file, a ``Producer`` custom
resource and the Helm values. A flag beats the environment, which beats the default.
"""
