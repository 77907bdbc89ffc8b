"""A griffe extension: the API pages complete a function's ``Args:`` from its option table, as
``kerasmodels.options.documented`` does for ``help()`` at import time (the same function,
:func:`kerasmodels.options.with_option_args`), so an option's help is written once."""

from __future__ import annotations

import re
from typing import Any

import griffe

from kerasmodels import options

DECORATOR = re.compile(r"documented\((?P<table>\w+)(?P<variadic>, variadic=True)?\)")
PREFIX = {griffe.ParameterKind.var_positional: "*", griffe.ParameterKind.var_keyword: "**"}


class OptionArgs(griffe.Extension):
    def on_function_instance(self, *, func: griffe.Function, **kwargs: Any) -> None:
        for decorator in func.decorators:
            match = DECORATOR.search(str(decorator.value))
            if match and func.docstring is not None:
                names = [PREFIX.get(p.kind, "") + p.name for p in func.parameters]
                func.docstring.value = options.with_option_args(
                    func.docstring.value, names, getattr(options, match["table"]),
                    bool(match["variadic"]))
