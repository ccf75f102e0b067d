"""Options shared by several commands, defined once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def split_codes(values: tuple[str, ...]) -> list[str]:
    """`--ignore D101,D102 --ignore M101` -> ['D101', 'D102', 'M101']."""
    return [code.strip().upper() for value in values for code in value.split(",") if code.strip()]


def policy_options(func: F) -> F:
    func = click.option(
        "--ignore", "ignore", multiple=True, metavar="CODES",
        help="Silence rule codes or prefixes (comma-separated, repeatable), e.g. --ignore L103,D107.",
    )(func)
    func = click.option(
        "--error", "error", multiple=True, metavar="CODES",
        help="Raise warnings with these codes or prefixes to errors; ALL raises every warning.",
    )(func)
    return func
