"""One validator for config tables: a dataclass's fields say which keys a table takes.

A table is a frozen dataclass whose fields carry their check in the field metadata::

    @dataclass(frozen=True)
    class Table:
        workers: int = setting(1, check=integer(1), help="worker threads")

:func:`from_table` checks a table (a mapping read from TOML/YAML) against it: unknown keys
first (``where.key: unknown key (known: ...)``), then required keys (``where.key:
missing``), then each given key in field order, and builds the dataclass. Every error is
one :class:`~evotrans.errors.EvotransError` line naming the key. A check is a function
``(value, path) -> value`` (the value to keep, e.g. a list made a tuple) that raises;
the helpers here build the usual ones. Rules that relate several keys stay with the
table that has them, after :func:`from_table`.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from evotrans.errors import EvotransError

Check = Callable[[Any, str], Any]
T = TypeVar("T")


def setting(
    default: Any = dataclasses.MISSING,
    *,
    check: Check | None = None,
    help: str = "",
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    """A dataclass field that is a table key: its default, check and one-line help
    (no default: the key is required)."""
    return dataclasses.field(
        default=default, default_factory=default_factory, metadata={"check": check, "help": help}
    )


def key_path(where: str, key: Any) -> str:
    """``where.key`` (``key`` alone at the top level, ``where = ""``)."""
    return f"{where}.{key}" if where else f"{key}"


def fail(path: str, message: str) -> EvotransError:
    """The error of one key: ``path: message``."""
    return EvotransError(f"{path}: {message}")


def check_known(table: Mapping[Any, Any], known: Iterable[str], where: str) -> None:
    """Refuse a key that is not in ``known`` (listed in the order given)."""
    names = tuple(known)
    for key in table:
        if key not in names:
            raise fail(key_path(where, key), f"unknown key (known: {', '.join(names)})")


def keys(cls: type) -> tuple[str, ...]:
    """The table keys of a schema dataclass, in field order."""
    return tuple(f.name for f in dataclasses.fields(cls))


def checked(
    cls: type, table: Mapping[Any, Any], where: str, *, sort_known: bool = True
) -> dict[str, Any]:
    """The given keys of ``table``, checked (and converted) by ``cls``'s fields; absent
    keys are left out (their defaults are the dataclass's, or the caller's)."""
    fields = dataclasses.fields(cls)
    names = [f.name for f in fields]
    check_known(table, sorted(names) if sort_known else names, where)
    for f in fields:
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required and f.name not in table:
            raise fail(key_path(where, f.name), "missing")
    values: dict[str, Any] = {}
    for f in fields:
        if f.name in table:
            check = f.metadata.get("check")
            value = table[f.name]
            values[f.name] = value if check is None else check(value, key_path(where, f.name))
    return values


def check_value(cls: type, name: str, table: Mapping[Any, Any], where: str) -> None:
    """Run the check of one field on ``table[name]`` (when given), ahead of the rest."""
    (f,) = (f for f in dataclasses.fields(cls) if f.name == name)
    check = f.metadata.get("check")
    if check is not None and name in table:
        check(table[name], key_path(where, name))


def from_table(
    cls: type[T],
    table: Any,
    where: str,
    *,
    not_table: str = "must be a table",
    defaults: Mapping[str, Any] | None = None,
    sort_known: bool = True,
) -> T:
    """``cls`` built from a checked table (``None``: an empty one); ``defaults``: values
    for keys the table does not set, checked like the table's own."""
    if table is None:
        table = {}
    if not isinstance(table, Mapping):
        raise fail(where, not_table)
    table = {**(defaults or {}), **table}
    return cls(**checked(cls, table, where, sort_known=sort_known))


# -- checks ---------------------------------------------------------------------------------


def is_int(value: Any) -> bool:
    """An integer that is not a boolean."""
    return isinstance(value, int) and not isinstance(value, bool)


def satisfies(test: Callable[[Any], bool], message: str, *, optional: bool = False) -> Check:
    """Accept a value ``test`` passes (and None when ``optional``); else ``message``
    (``{value!r}`` in it is the value)."""

    def check(value: Any, path: str) -> Any:
        if value is None and optional:
            return None
        if not test(value):
            raise fail(path, message.format(value=value))
        return value

    return check


def integer(
    minimum: int,
    maximum: int | None = None,
    *,
    optional: bool = False,
    message: str = "must be an integer >= {minimum}",
    above: str = "at most {maximum}, got {value}",
) -> Check:
    """An integer ``>= minimum`` (``message``), at most ``maximum`` (``above``)."""

    def check(value: Any, path: str) -> Any:
        if value is None and optional:
            return None
        if not is_int(value) or value < minimum:
            raise fail(path, message.format(minimum=minimum, maximum=maximum, value=value))
        if maximum is not None and value > maximum:
            raise fail(path, above.format(minimum=minimum, maximum=maximum, value=value))
        return value

    return check


def choice(options: Sequence[str]) -> Check:
    """One of ``options``: ``'x' is not one of a, b``."""
    listed = ", ".join(options)
    return satisfies(lambda value: value in options, "{value!r} is not one of " + listed)


def boolean(message: str = "must be true or false") -> Check:
    return satisfies(lambda value: isinstance(value, bool), message)


def matching(pattern: re.Pattern[str], message: str, *, optional: bool = False) -> Check:
    """A string the regular expression matches."""
    return satisfies(
        lambda value: isinstance(value, str) and bool(pattern.match(value)),
        message,
        optional=optional,
    )


def path_text(message: str, *, optional: bool = False) -> Check:
    """A non-empty string without NUL (a path used as written)."""
    return satisfies(
        lambda value: isinstance(value, str) and bool(value) and "\0" not in value,
        message,
        optional=optional,
    )


def positive_number(message: str) -> Check:
    """A finite number > 0 (not a boolean)."""
    return satisfies(
        lambda value: (
            not isinstance(value, bool) and isinstance(value, (int, float)) and 0 < value < math.inf
        ),
        message,
    )


def is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def int_list(minimum: int, maximum: int) -> Check:
    """A list of integers from ``minimum`` to ``maximum``, made a tuple."""

    def check(value: Any, path: str) -> tuple[int, ...]:
        if not is_list(value):
            raise fail(path, "must be a list of integers")
        for item in value:
            if not is_int(item) or not minimum <= item <= maximum:
                raise fail(path, f"{item!r} is not an integer >= {minimum}")
        return tuple(value)

    return check


def string_list(value: Any, path: str) -> tuple[str, ...]:
    """A list of strings, made a tuple."""
    if not is_list(value) or not all(isinstance(item, str) for item in value):
        raise fail(path, "must be a list of strings")
    return tuple(value)


def as_tuple(message: str) -> Check:
    """A list (any items: the owner checks them), made a tuple."""

    def check(value: Any, path: str) -> tuple[Any, ...]:
        if not is_list(value):
            raise fail(path, message)
        return tuple(value)

    return check
