"""Compression: a run in, a child run out (its manifest names ``parent`` and ``recipe``).

Recipes: ``prune`` (tfmot magnitude pruning), ``qat`` (quantization-aware training),
``cluster`` (tfmot weight clustering), ``distill`` (a smaller student trained on the teacher's
softened logits) and the collaborative chains ``prune+qat``, ``cluster+qat`` and
``prune+cluster+qat``, whose later steps keep what the earlier ones made (sparsity-preserving
clustering, pruning- and cluster-preserving QAT schemes). Every recipe works on a clone, so
the parent run is never changed.

>>> import kerasmodels as km
>>> child = km.compress("saved_models/cnn-digits-...", "prune", target_sparsity=0.8)  # doctest: +SKIP
>>> child.parent, child.manifest["recipe"]  # doctest: +SKIP
('cnn-digits-...', 'prune')
"""

from __future__ import annotations

import inspect
import time
import warnings
from pathlib import Path
from typing import Any

from kerasmodels.errors import HyperparameterError, UnknownNameError
from kerasmodels.runs import Run, load_run

RECIPES = ("prune", "qat", "cluster", "distill", "prune+qat", "cluster+qat",
           "prune+cluster+qat")


def _step(name: str):
    from kerasmodels.compression import clustering, pruning, quantization

    return {"prune": pruning.prune, "qat": quantization.qat, "cluster": clustering.cluster,
            "distill": distill_run}[name]


def _options(function) -> list[str]:
    return [n for n, p in inspect.signature(function).parameters.items()
            if p.kind is p.KEYWORD_ONLY]


def compress(run: Run | str | Path, recipe: str, **options: Any) -> Run:
    """Apply ``recipe`` to a clone of ``run``'s model and save the result as a child run.

    A chain's options go to every step that takes them (``target_sparsity`` to prune,
    ``clusters`` to cluster, ``epochs`` to each step).
    """
    if recipe not in RECIPES:
        raise UnknownNameError("recipe", recipe, RECIPES)
    steps = recipe.split("+")
    accepted = sorted({name for step in steps for name in _options(_step(step))})
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise HyperparameterError(f"recipe {recipe!r} has no option {', '.join(unknown)}; it "
                                  f"takes: {', '.join(accepted)}")
    parent = load_run(run)
    data = parent.dataset()
    from kerasmodels.compression.common import save_child

    started = time.perf_counter()
    model, report, history, template = parent.model, {}, {}, None
    for i, step in enumerate(steps):
        function = _step(step)
        given = {k: v for k, v in options.items() if k in _options(function)}
        if step == "cluster" and "prune" in steps[:i]:
            given["preserve_sparsity"] = True
        if step == "qat" and i:
            given["scheme_name"] = "+".join(steps[:i])
        template = model
        model, step_report, step_history = function(model, data, **given)
        if len(steps) > 1:
            report.setdefault("steps", []).append({"recipe": step, **step_report})
        report.update(step_report)
        for key, values in step_history.items():
            history.setdefault(key, []).extend(values)
    return save_child(parent, model, recipe, data, options=options, report=report,
                      history=history, seconds=time.perf_counter() - started,
                      float_template=template if steps[-1] == "qat" else None)


def distill_run(teacher, data, *, student_arch: str | None = None,
                student_hparams: dict | None = None, temperature: float = 4.0,
                alpha: float = 0.7, epochs: int | None = None, learning_rate: float | None = None,
                batch_size: int = 32, seed: int = 0):
    """Distill into ``student_arch`` (default: the small variant of the teacher's family) and
    train the same student alone with the same budget, for comparison."""
    from kerasmodels.architectures import build_model, get_architecture, small_variant
    from kerasmodels.compression.common import fine_tune
    from kerasmodels.compression.distillation import distill
    from kerasmodels.training import evaluate

    family = teacher.name if teacher.name in ("cnn", "mlp", "rnn", "transformer") else None
    student_arch = student_arch or (small_variant(family) if family else None)
    if student_arch is None:
        raise HyperparameterError(f"give student_arch: the teacher {teacher.name!r} has no "
                                  "known small variant")
    defaults = get_architecture(student_arch).training
    epochs = epochs or defaults.get("epochs", 20)
    learning_rate = learning_rate or defaults.get("learning_rate", 1e-3)
    student, report, history = distill(teacher, data, student_arch=student_arch,
                                       student_hparams=student_hparams, temperature=temperature,
                                       alpha=alpha, epochs=epochs, learning_rate=learning_rate,
                                       batch_size=batch_size, seed=seed)
    if report["student_params"] >= report["teacher_params"]:
        warnings.warn(f"the student ({report['student_params']:,} parameters) is not smaller "
                      f"than its teacher ({report['teacher_params']:,})", stacklevel=3)
    from kerasmodels.training import seed_everything

    seed_everything(seed)
    alone = build_model(student_arch, data, **(student_hparams or {}))
    fine_tune(alone, data, epochs=epochs, learning_rate=learning_rate, batch_size=batch_size,
              seed=seed)
    report["student_alone"] = evaluate(alone, data)
    report["learning_rate"] = learning_rate
    return student, report, history


__all__ = ["RECIPES", "compress"]
