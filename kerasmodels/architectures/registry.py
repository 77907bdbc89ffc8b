"""The one registry of architectures."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kerasmodels.errors import HyperparameterError


@dataclass(frozen=True)
class Architecture:
    """A registered builder with its hyperparameter defaults and training defaults."""

    name: str
    family: str
    builder: Callable[..., Any]
    description: str
    small_of: str | None = None
    training: dict[str, Any] = field(default_factory=dict)

    @property
    def hparams(self) -> dict[str, Any]:
        """The builder's hyperparameters and their defaults."""
        sig = inspect.signature(self.builder)
        return {
            n: p.default
            for n, p in sig.parameters.items()
            if p.kind is p.KEYWORD_ONLY and p.default is not p.empty
        }

    def check_hparams(self, hparams: dict[str, Any]) -> None:
        unknown = sorted(set(hparams) - set(self.hparams))
        if unknown:
            known = ", ".join(f"{k}={v!r}" for k, v in self.hparams.items()) or "none"
            raise HyperparameterError(
                f"architecture {self.name!r} has no hyperparameter {', '.join(unknown)}; "
                f"it takes: {known}"
            )
        for name, value in hparams.items():
            sizes = value if isinstance(value, (list, tuple)) else [value]
            for size in sizes:
                if isinstance(size, int) and not isinstance(size, bool) and size > MAX_SIZE:
                    raise HyperparameterError(
                        f"{name}={value!r} asks for a layer of {size:,} (units, filters, ...): "
                        f"sizes up to {MAX_SIZE:,} are accepted; models for the edge are small")


MAX_SIZE = 65_536  # the largest width (units, filters, heads, length) a hyperparameter may ask
REGISTRY: dict[str, Architecture] = {}


def register(name: str, *, family: str, small_of: str | None = None, **training):
    """Decorator: add a builder ``f(spec, **hparams) -> keras.Model`` to the registry."""

    def wrap(builder):
        doc = (builder.__doc__ or "").strip().splitlines()
        REGISTRY[name] = Architecture(name, family, builder, doc[0] if doc else "", small_of,
                                      training)
        return builder

    return wrap
