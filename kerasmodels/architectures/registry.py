"""The one registry of architectures, and what each family declares for the rest of
kerasmodels (search space, width and depth, fine-tuning head, pretraining, example data)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kerasmodels.errors import HyperparameterError


@dataclass(frozen=True)
class Family:
    """What a family of architectures declares for the stages that are not about building it.

    Attributes:
        name: the family (``Architecture.family``).
        example: the built-in dataset it is shown on (the lab, the demo, the docs).
        search_space: what ``km.search`` samples for it by default, besides the training
            options (``width`` and ``depth`` become ``width_of``).
        width_of: the list hyperparameter that a search's ``width`` and ``depth`` set (its
            first layer's size and its number of layers); empty: the family has none.
        growth: each layer's size over the one before it in ``width_of``.
        task_layers: layers that belong to the task rather than the features, replaced with
            the head when a run of this family is fine-tuned (``km.finetune``).
        pretrains: ``km.pretrain`` can pretrain its encoder on unlabelled tokens.
    """

    name: str
    example: str
    search_space: dict[str, list] = field(default_factory=dict)
    width_of: str = ""
    growth: float = 1.0
    task_layers: tuple[str, ...] = ()
    pretrains: bool = False

    def widths(self, width: int, depth: int) -> list[int]:
        """``depth`` layer sizes from ``width``, each ``growth`` times the one before."""
        return [max(1, int(width * self.growth ** i)) for i in range(depth)]


@dataclass(frozen=True)
class Architecture:
    """A registered builder with its hyperparameter defaults and training defaults.

    Attributes:
        lab: quick enough for the dashboard's lab (trained several times while one waits).
    """

    name: str
    family: str
    builder: Callable[..., Any]
    description: str
    small_of: str | None = None
    training: dict[str, Any] = field(default_factory=dict)
    lab: bool = False

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
FAMILIES: dict[str, Family] = {}


def register_family(family: Family) -> Family:
    """Add ``family`` to the families (each family module declares its own)."""
    FAMILIES[family.name] = family
    return family


def register(name: str, *, family: str, small_of: str | None = None, lab: bool = False,
             **training):
    """Decorator: add a builder ``f(spec, **hparams) -> keras.Model`` to the registry.

    Args:
        name: the architecture's name.
        family: its ``Family`` (registered by its module first).
        small_of: the architecture it is the small variant of (the default distillation
            student of that one).
        lab: offered by the dashboard's lab.
        **training: its training defaults (``epochs``, ``batch_size``, ``learning_rate``).
    """

    def wrap(builder):
        if family not in FAMILIES:
            raise ValueError(f"register the family {family!r} before its architecture {name!r}")
        doc = (builder.__doc__ or "").strip().splitlines()
        REGISTRY[name] = Architecture(name, family, builder, doc[0] if doc else "", small_of,
                                      training, lab)
        return builder

    return wrap
