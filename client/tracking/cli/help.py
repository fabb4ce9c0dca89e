"""Help in the usual shape: flags show no type, values a plain metavar, arguments in capitals.

typer prints `<bool>`, `<str>`, `<list[str]>` beside each option and `{name}` for a
required argument. Every command and group of `tracking` is built with `Command` or
`Group` (cls=...), whose parameters print `--follow`, `--job-name TEXT`, `EXECUTION_ID`
and `[EXECUTION_ID]` instead.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

_METAVARS = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "path": "PATH"}


class _Option(TyperOption):
    def display_type_rich(self, ctx: Any) -> str:
        if self.is_flag or self.count:
            return ""
        if self.metavar:
            return self.metavar
        label = self.display_type(ctx).strip("<>").removesuffix(" range")
        label = label.removeprefix("list[").removesuffix("]")  # repeating is said in the help
        return _METAVARS.get(label, label)  # choices stay as they are: table|json


class _Argument(TyperArgument):
    @property
    def display_name_raw(self) -> str:
        return self.metavar or (self.name or "").upper()

    def display_type_rich(self, ctx: Any) -> str:
        return ""

    def _usage_display_name(self) -> str:
        name = self.display_name_raw + ("..." if self.nargs != 1 else "")
        return name if self.required else f"[{name}]"


def _plain(params: list[Any]) -> list[Any]:
    # typer builds the parameters itself; only their help differs, so their class is swapped.
    for param in params:
        if type(param) is TyperOption:
            param.__class__ = _Option
        elif type(param) is TyperArgument:
            param.__class__ = _Argument
    return params


class Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain(super().get_params(ctx))


class Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain(super().get_params(ctx))


def group(**settings: Any) -> typer.Typer:
    """A typer app whose own help, and that of the commands registered on it, is plain."""
    return typer.Typer(cls=Group, **settings)
