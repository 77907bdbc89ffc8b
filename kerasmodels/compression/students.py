"""The ``distill`` recipe: a student (the teacher family's small variant, a model of yours or a
narrower copy of the teacher) trained on the teacher's softened outputs, and the same student
trained alone with the same budget, for comparison.

>>> import kerasmodels as km
>>> child = km.compress("saved_models/cnn-digits-...", "distill")  # doctest: +SKIP
>>> child.manifest["compression"]["student_arch"]  # doctest: +SKIP
'cnn_small'
"""

from __future__ import annotations

import warnings

from kerasmodels.architectures import (
    architecture_names,
    build_model,
    default_student,
    get_architecture,
)
from kerasmodels.backend import keras
from kerasmodels.compression.channels import narrower_copy
from kerasmodels.compression.common import fine_tune, substep
from kerasmodels.compression.distillation import distill
from kerasmodels.errors import HyperparameterError, UnknownNameError
from kerasmodels.imports import check_fits, with_probabilities
from kerasmodels.imports.keras3 import is_keras3, rebuild
from kerasmodels.modeling import clone, evaluate, seed_everything
from kerasmodels.options import TRAINING


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
    if student is None and teacher.name in architecture_names():
        student = default_student(teacher.name)
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


__all__ = ["distill_run"]
