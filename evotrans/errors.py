"""The one exception type of evotrans' user-facing errors."""


class EvotransError(ValueError):
    """Bad user input: a one-line message naming the bad part.

    The CLI prints the message on one line and exits with status 2.
    """
