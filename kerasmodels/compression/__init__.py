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

import inspect
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from kerasmodels.errors import HyperparameterError, UnknownNameError
from kerasmodels.layout import LOGS
from kerasmodels.logs import get_logger
from kerasmodels.options import COMPRESSION, TRAINING, check_all
from kerasmodels.runs import Run, load_run

RECIPES = ("prune", "qat", "cluster", "distill", "channel_prune", "prune+qat", "cluster+qat",
           "prune+cluster+qat", "channel_prune+qat", "channel_prune+cluster",
           "channel_prune+prune+qat")
LOG = get_logger(__name__)
# the steps whose result a later step must keep (tfmot's preserving schemes)
PRESERVED = ("prune", "cluster")


def _step(name: str):
    from kerasmodels.compression import channels, clustering, pruning, quantization

    return {"prune": pruning.prune, "qat": quantization.qat, "cluster": clustering.cluster,
            "distill": distill_run, "channel_prune": channels.channel_prune}[name]


def _options(function) -> list[str]:
    return [n for n, p in inspect.signature(function).parameters.items()
            if p.kind is p.KEYWORD_ONLY and n in COMPRESSION]


def recipe_options(recipe: str) -> dict[str, dict[str, Any]]:
    """What ``recipe`` takes: ``{option: {"default": ..., "steps": [...], "help": ...,
    "expected": ...}}``; a default is the step's own (its signature), None where it follows
    the architecture's training default.

    >>> recipe_options("prune")["target_sparsity"]["default"]
    0.8
    """
    if recipe not in RECIPES:
        raise UnknownNameError("recipe", recipe, RECIPES)
    described: dict[str, dict[str, Any]] = {}
    for step in recipe.split("+"):
        parameters = inspect.signature(_step(step)).parameters
        for name in _options(_step(step)):
            entry = described.setdefault(name, {
                "default": parameters[name].default, "steps": [],
                "help": COMPRESSION[name].help, "expected": COMPRESSION[name].expected})
            entry["steps"].append(step)
    return described


def check_recipe(recipe: str, options: dict[str, Any]) -> None:
    """An UnknownNameError or HyperparameterError unless ``recipe`` exists and takes
    ``options`` with values it accepts (before any work is done)."""
    if recipe not in RECIPES:
        raise UnknownNameError("recipe", recipe, RECIPES)
    accepted = sorted({name for step in recipe.split("+") for name in _options(_step(step))})
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise HyperparameterError(f"recipe {recipe!r} has no option {', '.join(unknown)}; it "
                                  f"takes: {', '.join(accepted)}")
    check_all(COMPRESSION, options, "compression option")


def compress(run: Run | str | Path, recipe: str, *, progress: bool = False,
             **options: Any) -> Run:
    """Apply ``recipe`` to a clone of ``run``'s model and save the result as a child run.

    A chain's options go to every step that takes them (``target_sparsity`` to prune,
    ``clusters`` to cluster, ``epochs`` to each step); :func:`recipe_options` lists them with
    their defaults, :data:`kerasmodels.options.COMPRESSION` declares what each accepts. Every
    step's epochs go to TensorBoard (the child's ``logs/<step>/``); ``progress`` shows a bar
    per step.
    """
    check_recipe(recipe, options)
    steps = recipe.split("+")
    parent = load_run(run)
    data = parent.dataset()
    from kerasmodels.compression.common import compression_session, save_child

    started = time.perf_counter()
    model, template = parent.keras_model(recipe), None
    report: dict[str, Any] = {}
    history: dict[str, list] = {}
    with tempfile.TemporaryDirectory(prefix="kerasmodels-compress-") as scratch, \
            compression_session(Path(scratch) / LOGS, progress) as session:
        for i, step in enumerate(steps):
            function = _step(step)
            given = {k: v for k, v in options.items() if k in _options(function)}
            if step == "cluster" and "prune" in steps[:i]:
                given["preserve_sparsity"] = True
            kept = [s for s in steps[:i] if s in PRESERVED]
            if step == "qat" and kept:
                given["scheme_name"] = "+".join(kept)
            template = model
            session["step"] = step if len(steps) == 1 else f"{i + 1}-{step}"
            LOG.info("%s: step %d of %d, %s", parent.id, i + 1, len(steps), step)
            model, step_report, step_history = function(model, data, **given)
            if len(steps) > 1:
                report.setdefault("steps", []).append({"recipe": step, **step_report})
            report.update(step_report)
            for key, values in step_history.items():
                history.setdefault(key, []).extend(values)
        recorded = {k: f"model {v.name}" if hasattr(v, "get_config") and hasattr(v, "layers")
                    else v for k, v in options.items()}  # a student model: by its name
        return save_child(parent, model, recipe, data, options=recorded, report=report,
                          history=history, seconds=time.perf_counter() - started,
                          float_template=template if steps[-1] == "qat" else None,
                          logs=session["logs"])


def distill_run(teacher, data, *, student=None, student_hparams: dict | None = None,
                width: float = 0.5, temperature: float = 4.0, alpha: float = 0.7,
                epochs: int | None = None, learning_rate: float | None = None,
                batch_size: int = 32, seed: int = 0):
    """Distill ``teacher`` into ``student`` and train the same student alone with the same
    budget, for comparison.

    ``student``: an architecture name (with ``student_hparams``), a Keras model (trained from
    its own weights; yours is not changed), or by default the small variant of a registry
    teacher's family, and for any other model a narrower copy of the teacher (the same graph
    with ``width`` of its channels and units).
    """
    from kerasmodels.architectures import architecture_names, build_model, get_architecture
    from kerasmodels.architectures import small_variant as small
    from kerasmodels.backend import keras
    from kerasmodels.compression.common import clone, fine_tune, substep
    from kerasmodels.compression.distillation import distill, narrower_copy
    from kerasmodels.imports import check_fits, with_probabilities
    from kerasmodels.imports.keras3 import is_keras3, rebuild
    from kerasmodels.training import evaluate, seed_everything

    if student is None and teacher.name in ("cnn", "mlp", "rnn", "transformer"):
        student = small(teacher.name)
    if is_keras3(student):
        student = rebuild(student)
    if isinstance(student, keras.Model):  # yours: it must fit the data and give probabilities
        check_fits(student, data)
        student, _ = with_probabilities(student, data)
    seed_everything(seed)
    if isinstance(student, str):
        if student not in architecture_names():
            raise UnknownNameError("student architecture", student, architecture_names())
        spec = get_architecture(student)
        record = {"name": spec.name, "family": spec.family,
                  "hparams": {**spec.hparams, **(student_hparams or {})}}
        defaults = spec.training

        def fresh():
            return build_model(student, data, **(student_hparams or {}))
    elif student is None or isinstance(student, keras.Model):
        if student_hparams:
            raise HyperparameterError("student_hparams go with a student architecture name")
        template = narrower_copy(teacher, width) if student is None else student
        described = f"{teacher.name}-w{width:g}" if student is None else template.name
        record = {"name": described, "family": "distilled",
                  "hparams": {"width": width} if student is None else {}}
        defaults = {}

        def fresh():
            return keras.models.clone_model(template)
    else:
        raise HyperparameterError(f"student must be an architecture name or a Keras model, got "
                                  f"{type(student).__name__}")
    epochs = epochs or defaults.get("epochs", TRAINING["epochs"].default)
    learning_rate = learning_rate or defaults.get("learning_rate", TRAINING["learning_rate"].default)
    initial = clone(student) if isinstance(student, keras.Model) else fresh()
    student_model, report, history = distill(
        teacher, data, student=initial, temperature=temperature, alpha=alpha, epochs=epochs,
        learning_rate=learning_rate, batch_size=batch_size, seed=seed)
    report.update(student_arch=record["name"], student_hparams=record["hparams"],
                  student_record=record)
    if report["student_params"] >= report["teacher_params"]:
        warnings.warn(f"the student ({report['student_params']:,} parameters) is not smaller "
                      f"than its teacher ({report['teacher_params']:,})", stacklevel=3)
    seed_everything(seed)
    alone = fresh()
    with substep("student-alone"):
        fine_tune(alone, data, epochs=epochs, learning_rate=learning_rate,
                  batch_size=batch_size, seed=seed)
    report["student_alone"] = evaluate(alone, data)
    report["learning_rate"] = learning_rate
    return student_model, report, history


__all__ = ["RECIPES", "check_recipe", "compress", "recipe_options"]
