"""Every compression recipe in one table: its steps, what each keeps of the steps before it,
how its result is saved, and what the sweep tries by default.

``km.compress``, ``km.recipe_options``, ``km.sweep``, the CLI and the dashboard's Compress page
read these tables and nothing else. Adding a recipe is one ``Step`` row and its function
(``step(model, data, **options) -> (model, report, history)``, each keyword-only option
declared in ``kerasmodels.options.COMPRESSION``), then one ``Recipe`` row naming it
(and any chain it ends). It imports neither TensorFlow nor tfmot: functions are named, and
imported when used.

>>> from kerasmodels.compression.recipes import get_recipe, recipe_names
>>> get_recipe("prune+qat").steps
('prune', 'qat')
>>> "channel_prune+qat" in recipe_names()
True
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kerasmodels.errors import UnknownNameError


@dataclass(frozen=True)
class Step:
    """One compression step: a function from a model to a compressed model.

    Attributes:
        name: what a recipe calls it.
        function: ``"module:function"``, called as ``function(model, data, **options)`` and
            returning ``(model, report, history)``.
        keeps: the earlier steps of a chain whose result this one preserves (tfmot's
            sparsity- and cluster-preserving schemes).
        keep_option: the function's option that is told which: a bool option is True when
            one of ``keeps`` came before, any other gets their ``"+"``-joined names.
        saves: ``"module:function"`` that turns its model into what the run folder holds,
            ``(model, template, report) -> (model to save, {file name: bytes})`` (``template``:
            the model the step started from); by default the model itself. Whatever it saves,
            an installed ``kerasmodels.model_loaders`` entry point restores.
        note: one line for people.
    """

    name: str
    function: str
    keeps: tuple[str, ...] = ()
    keep_option: str = ""
    saves: str = ""
    note: str = ""

    def callable(self) -> Callable[..., Any]:
        return resolve(self.function)

    def options(self) -> list[str]:
        """The options it takes (keyword-only parameters, ``keep_option`` aside)."""
        return [n for n, p in inspect.signature(self.callable()).parameters.items()
                if p.kind is p.KEYWORD_ONLY and n != self.keep_option]

    def chained(self, earlier: list[str]) -> dict[str, Any]:
        """What it is told of the ``earlier`` steps of its chain."""
        kept = [s for s in earlier if s in self.keeps]
        if not kept or not self.keep_option:
            return {}
        default = inspect.signature(self.callable()).parameters[self.keep_option].default
        return {self.keep_option: True if isinstance(default, bool) else "+".join(kept)}


@dataclass(frozen=True)
class Recipe:
    """A recipe users name: one step or a chain of them.

    Attributes:
        name: what ``km.compress(run, name)`` and ``--recipe`` take.
        steps: the ``Step`` names, in order.
        sweep: the option sets ``km.sweep`` tries by default (none: not by default).
        note: one line for people.
    """

    name: str
    steps: tuple[str, ...]
    sweep: tuple[dict[str, Any], ...] = ()
    note: str = ""


STEPS = [
    Step("prune", "kerasmodels.compression.pruning:prune",
         note="tfmot magnitude pruning: zeros the smallest weights"),
    Step("qat", "kerasmodels.compression.quantization:qat", keeps=("prune", "cluster"),
         keep_option="scheme_name", saves="kerasmodels.compression.quantization:saved_form",
         note="quantization-aware training, for an int8 file"),
    Step("cluster", "kerasmodels.compression.clustering:cluster", keeps=("prune",),
         keep_option="preserve_sparsity",
         note="tfmot weight clustering: few distinct values per tensor"),
    Step("distill", "kerasmodels.compression.students:distill_run",
         note="a smaller student trained on the teacher's softened outputs"),
    Step("channel_prune", "kerasmodels.compression.channels:channel_prune",
         note="whole filters and units removed: a narrower, faster model"),
]

RECIPES = [  # the sweep tries them in this order
    Recipe("prune", ("prune",), sweep=({"target_sparsity": 0.8}, {"structured_2_4": True})),
    Recipe("cluster", ("cluster",), sweep=({"clusters": 16},)),
    Recipe("qat", ("qat",), sweep=({},)),
    Recipe("prune+cluster+qat", ("prune", "cluster", "qat"), sweep=({},)),
    Recipe("distill", ("distill",), sweep=({},)),
    Recipe("channel_prune", ("channel_prune",), sweep=({"keep": 0.5},)),
    Recipe("channel_prune+qat", ("channel_prune", "qat"), sweep=({"keep": 0.5}, {"keep": 0.25})),
    Recipe("prune+qat", ("prune", "qat")),
    Recipe("cluster+qat", ("cluster", "qat")),
    Recipe("channel_prune+cluster", ("channel_prune", "cluster")),
    Recipe("channel_prune+prune+qat", ("channel_prune", "prune", "qat")),
]


def resolve(dotted: str) -> Callable[..., Any]:
    """The function a ``"module:function"`` string names."""
    import importlib

    module, _, name = dotted.partition(":")
    return getattr(importlib.import_module(module), name)


def recipe_names() -> list[str]:
    """Every recipe's name, in the table's order."""
    return [r.name for r in RECIPES]


def get_recipe(name: str) -> Recipe:
    """The row called ``name``.

    Raises:
        UnknownNameError: no recipe has that name (the message lists them).
    """
    for recipe in RECIPES:
        if recipe.name == name:
            return recipe
    raise UnknownNameError("recipe", name, recipe_names())


def get_step(name: str) -> Step:
    """The step called ``name``.

    Raises:
        UnknownNameError: no step has that name.
    """
    for step in STEPS:
        if step.name == name:
            return step
    raise UnknownNameError("compression step", name, [s.name for s in STEPS])


def default_sweep() -> list[dict[str, Any]]:
    """What ``km.sweep`` tries when not told: ``{"recipe": name, **options}`` for every option
    set of every row."""
    return [{"recipe": r.name, **options} for r in RECIPES for options in r.sweep]


__all__ = ["RECIPES", "STEPS", "Recipe", "Step", "default_sweep", "get_recipe", "get_step",
           "recipe_names", "resolve"]
