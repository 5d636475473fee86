"""Checking keyword options against what a function accepts, with a user-facing error."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping

from hsinr.errors import InputError


def keyword_names(function: Callable) -> list[str]:
    """The keyword-only arguments of ``function`` (the options after its ``*``)."""
    return [
        name
        for name, parameter in inspect.signature(function).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    ]


def check_options(function: Callable, options: Mapping[str, object], what: str) -> None:
    """Raise :class:`InputError` naming the options ``function`` does not take."""
    accepted = keyword_names(function)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise InputError(
            f"{what} takes no option {', '.join(unknown)}; "
            f"it takes: {', '.join(accepted) or 'none'}"
        )
