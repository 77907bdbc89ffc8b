"""Compression: a run in, a child run out (its manifest names ``parent`` and ``recipe``).

Recipes: ``prune`` (tfmot magnitude pruning), ``qat`` (quantization-aware training),
``cluster`` (tfmot weight clustering), ``distill`` (a smaller student trained on the teacher's
softened logits), ``channel_prune`` (whole filters and units removed: a narrower, faster
model) and the chains ``prune+qat``, ``cluster+qat``, ``prune+cluster+qat``,
``channel_prune+qat``, ``channel_prune+cluster`` and ``channel_prune+prune+qat``, whose later
steps keep what the earlier ones made (sparsity-preserving clustering, pruning- and
cluster-preserving QAT schemes). Every recipe works on a clone, so the parent run is never
changed.

>>> import kerasmodels as km
>>> child = km.compress("saved_models/cnn-digits-...", "prune", target_sparsity=0.8)  # doctest: +SKIP
>>> child.parent, child.manifest["recipe"]  # doctest: +SKIP
('cnn-digits-...', 'prune')
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from kerasmodels.compression.recipes import get_recipe, get_step, recipe_names, resolve
from kerasmodels.errors import HyperparameterError
from kerasmodels.layout import LOGS
from kerasmodels.logs import get_logger
from kerasmodels.options import COMPRESSION, check_all, documented
from kerasmodels.runs import Run, load_run

LOG = get_logger(__name__)


def recipe_options(recipe: str) -> dict[str, dict[str, Any]]:
    """What ``recipe`` takes: ``{option: {"default": ..., "steps": [...], "help": ...,
    "expected": ...}}``; a default is the step's own (its signature), None where it follows
    the architecture's training default.

    Args:
        recipe: a row of ``kerasmodels.compression.recipes.RECIPES``.

    Returns:
        Every option of every step of the recipe, with the steps that take it.

    Raises:
        UnknownNameError: no recipe has that name.

    Examples:
        >>> import kerasmodels as km
        >>> km.recipe_options("prune")["target_sparsity"]["default"]
        0.8
        >>> km.recipe_options("cluster")["clusters"]
        {'default': 16, 'steps': ['cluster'], 'help': 'distinct values per weight tensor (cluster)', 'expected': 'an integer from 2 to 256'}
    """
    import inspect

    described: dict[str, dict[str, Any]] = {}
    for name in get_recipe(recipe).steps:
        step = get_step(name)
        parameters = inspect.signature(step.callable()).parameters
        for option in step.options():
            entry = described.setdefault(option, {
                "default": parameters[option].default, "steps": [],
                "help": COMPRESSION[option].help, "expected": COMPRESSION[option].expected})
            entry["steps"].append(name)
    return described


def check_recipe(recipe: str, options: dict[str, Any]) -> None:
    """Check ``recipe`` and its ``options`` before any work is done.

    Raises:
        UnknownNameError: no recipe has that name.
        HyperparameterError: an option it does not take, or a value the option refuses.
    """
    accepted = sorted({option for name in get_recipe(recipe).steps
                       for option in get_step(name).options()})
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise HyperparameterError(f"recipe {recipe!r} has no option {', '.join(unknown)}; it "
                                  f"takes: {', '.join(accepted)}")
    check_all(COMPRESSION, options, "compression option")


@documented(COMPRESSION, variadic=True)
def compress(run: Run | str | Path, recipe: str, *, progress: bool = False,
             **options: Any) -> Run:
    """Apply ``recipe`` to a clone of ``run``'s model and save the result as a child run.

    A chain's options go to every step that takes them (``target_sparsity`` to prune,
    ``clusters`` to cluster, ``epochs`` to each step), and each step is told what the earlier
    ones made that it must keep (its row's ``keeps``); ``km.recipe_options(recipe)`` lists the
    options with their defaults. Every step's epochs go to TensorBoard (the child's
    ``logs/<step>/``).

    Args:
        run: the parent run (or its folder).
        recipe: ``prune``, ``cluster``, ``qat``, ``distill``, ``channel_prune`` or a chain
            of them (``prune+qat``, ``cluster+qat``, ``prune+cluster+qat``, ...): a row of
            ``kerasmodels.compression.recipes.RECIPES``.
        progress: a progress bar per step.

    Returns:
        The child run, saved beside its parent: its manifest names the ``parent`` and the
        ``recipe`` and adds a ``compression`` report.

    Raises:
        UnknownNameError: no recipe has that name.
        HyperparameterError: an option the recipe does not take, or a value it refuses.
        RunError: a graph-only run (an imported SavedModel) for a recipe that changes layers.

    Examples:
        >>> import kerasmodels as km
        >>> child = km.compress(run, "cluster", epochs=1, clusters=8)
        >>> child.manifest["recipe"], child.parent == run.id
        ('cluster', True)
        >>> child.manifest["compression"]["unique_values"]
        {'conv_0': 8, 'conv_1': 8, 'dense': 8, 'logits': 8}
    """
    check_recipe(recipe, options)
    steps = [get_step(name) for name in get_recipe(recipe).steps]
    parent = load_run(run)
    data = parent.dataset()
    from kerasmodels.compression.common import compression_session, save_child

    started = time.perf_counter()
    model = parent.keras_model(recipe)
    template = model
    report: dict[str, Any] = {}
    history: dict[str, list] = {}
    with tempfile.TemporaryDirectory(prefix="kerasmodels-compress-") as scratch, \
            compression_session(Path(scratch) / LOGS, progress) as session:
        for i, step in enumerate(steps):
            given = {k: v for k, v in options.items() if k in step.options()}
            given.update(step.chained([s.name for s in steps[:i]]))
            template = model
            session["step"] = step.name if len(steps) == 1 else f"{i + 1}-{step.name}"
            LOG.info("%s: step %d of %d, %s", parent.id, i + 1, len(steps), step.name)
            model, step_report, step_history = step.callable()(model, data, **given)
            if len(steps) > 1:
                report.setdefault("steps", []).append({"recipe": step.name, **step_report})
            report.update(step_report)
            for key, values in step_history.items():
                history.setdefault(key, []).extend(values)
        saved, files = (resolve(steps[-1].saves)(model, template, report) if steps[-1].saves
                        else (model, {}))
        recorded = {k: f"model {v.name}" if hasattr(v, "get_config") and hasattr(v, "layers")
                    else v for k, v in options.items()}  # a student model: by its name
        return save_child(parent, model, recipe, data, options=recorded, report=report,
                          history=history, seconds=time.perf_counter() - started,
                          saved=saved, files=files, logs=session["logs"])


__all__ = ["check_recipe", "compress", "recipe_names", "recipe_options"]
