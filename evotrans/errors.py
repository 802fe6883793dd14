"""The one exception type of evotrans' user-facing errors."""

from __future__ import annotations

MAX_MESSAGE = 1000  # characters of a message kept: the start (the key) and the end


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` as one printable line: control characters, line breaks and lone surrogates
    (undecodable bytes of a command line) escaped; a longer text keeps its start and end."""
    if len(text) > limit:
        text = f"{text[: limit * 3 // 4]} … {text[-(limit // 4) :]}"
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


class EvotransError(ValueError):
    """Bad user input: a one-line message naming the bad part.

    The message is made one printable line whatever the input it quotes (see
    :func:`one_line`). The CLI prints it and exits with status 2.
    """

    def __init__(self, message: object = "", *args: object) -> None:
        super().__init__(one_line(str(message)), *args)
