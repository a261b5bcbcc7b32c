"""The one error of the local broker."""


class BrokerError(RuntimeError):
    """The local broker could not be found, started or used; the text says what and where."""
