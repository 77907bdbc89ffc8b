"""Every variant of a model family side by side: the Keras models and their exported files.

A family is a root run and its compressed children (pruned, QAT, clustered, the distilled
student); each one's Keras model and each of its exports (TFLite float and int8, ONNX, ...)
is a variant. The dashboard's Playground loads them once and predicts one input with all.

>>> variants = km.load_variants("saved_models/cnn-digits-...")  # doctest: +SKIP
>>> rows = km.predict_variants(variants, x)  # doctest: +SKIP
>>> rows[0]["label"], rows[0]["confidence"], rows[0]["ms"]  # doctest: +SKIP
('7', 0.998, 0.21)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kerasmodels.layout import EXPORTS, EXPORTS_RECORD
from kerasmodels.runs import Run, load_run
from kerasmodels.tasks import label_name, reconstruction_error


@dataclass
class Variant:
    """One way to run one member of a family: ``run``, ``recipe``, ``format``, ``runtime``."""

    run: str
    recipe: str
    format: str
    runtime: str
    predictor: Any
    labels: list[str] | None
    threshold: float | None = None  # an anomaly detector's: scores above it are anomalies

    @property
    def name(self) -> str:
        return f"{self.recipe} · {self.format}"


class Variants(list):
    """The variants that load, plus ``broken``: ``(run, file, reason)`` for those that don't."""

    def __init__(self, variants=(), broken=()):
        super().__init__(variants)
        self.broken: list[tuple[str, str, str]] = list(broken)


def load_variants(run: Run | str | Path, *, formats: tuple[str, ...] | None = None) -> Variants:
    """The Keras model and every exported file of each member of ``run``'s family, warmed up.

    The family is the root run and its compressed children; each member's Keras model and
    each file in its ``exports.json`` becomes a variant with its runtime (LiteRT, ONNX
    Runtime, TFLM, TensorFlow), loaded once. The Playground predicts with them side by side.

    Args:
        run: any member of the family, or its folder.
        formats: keep only these formats (``"keras"`` and rows of the format table).

    Returns:
        A list of variants (``run``, ``recipe``, ``format``, ``runtime``, ``predictor``,
        ``labels``) with a ``broken`` attribute: ``(run, file, reason)`` for each file that
        did not load (a random ``.tflite``, garbage ``.onnx``, a corrupt ``exports.json``),
        which does not take the family down.

    Raises:
        RunError: ``run`` is not a run.
        UnknownNameError: a format that is neither ``keras`` nor a row of the table.

    Examples:
        >>> import kerasmodels as km
        >>> _ = km.export(run, ["tflite-int8"])
        >>> variants = km.load_variants(run, formats=("keras", "tflite-int8"))
        >>> sorted((v.format, v.runtime) for v in variants if v.recipe == "base")
        [('keras', 'keras'), ('tflite-int8', 'litert')]
    """
    from kerasmodels.benchmarks import family
    from kerasmodels.errors import KerasModelsError
    from kerasmodels.exports import artifact_name
    from kerasmodels.formats import format_names
    from kerasmodels.runs import read_json
    from kerasmodels.runtime import load_predictor
    from kerasmodels.runtime.keras import KerasPredictor

    if formats is not None:
        from kerasmodels.errors import UnknownNameError

        for name in formats:
            if name not in ("keras", *format_names()):
                raise UnknownNameError("format", name, ("keras", *format_names()))
    found = Variants()
    members = family(load_run(run))
    example = members[0].dataset().test[0][:1]  # warm-up input (zeros are all padding)

    def add(member, recipe, labels, fmt, where, make):
        threshold = member.metrics.get("train", {}).get("threshold")
        if formats is not None and fmt not in formats:
            return
        try:
            predictor = make()
            predictor.predict(example)  # trace / allocate now, not on the first click
        except KerasModelsError as exc:
            found.broken.append((member.id, where, str(exc)))
            return
        found.append(Variant(member.id, recipe, fmt, predictor.name, predictor, labels,
                             threshold))

    for member in members:
        recipe = member.record.recipe or "base"
        labels = member.record.dataset.labels
        add(member, recipe, labels, "keras", member.model_path.name,
            lambda m=member: KerasPredictor(m.model))
        folder = member.path / EXPORTS
        if not (folder / EXPORTS_RECORD).is_file():
            continue
        try:
            record = read_json(folder / EXPORTS_RECORD)
            artifacts = record["artifacts"]
            if not isinstance(artifacts, dict):
                raise TypeError("artifacts is not a mapping")
        except (KerasModelsError, KeyError, TypeError) as exc:
            found.broken.append((member.id, f"{EXPORTS}/{EXPORTS_RECORD}",
                                 f"{type(exc).__name__}: {exc}; export the run again"))
            continue
        for fmt in artifacts:
            if fmt in format_names(playground=False):
                continue
            if fmt not in format_names():
                found.broken.append((member.id, f"{EXPORTS}/{EXPORTS_RECORD}",
                                     f"unknown format {fmt!r}"))
                continue
            path = folder / artifact_name(fmt)
            add(member, recipe, labels, fmt, f"exports/{path.name}",
                lambda p=path: load_predictor(p, num_threads=1))
    return found


def predict_variants(variants: list[Variant], x: np.ndarray) -> list[dict[str, Any]]:
    """Each variant's answer for one example, timed: the Playground's table.

    Args:
        variants: what ``km.load_variants`` returned (or some of it).
        x: one example as the dataset's arrays hold it (``input_shape``, or with a batch axis
            of 1).

    Returns:
        A row per variant: ``variant``, ``run``, ``recipe``, ``format``, ``runtime``, ``ms``,
        ``label``, ``confidence`` and ``probabilities`` (an anomaly detector's:
        ``anomaly_score``, its ``threshold`` and the label ``normal`` or ``anomaly``). A variant
        whose runtime fails on this input gets its ``error`` instead of a label.

    Raises:
        InputShapeError: an input of another shape or dtype than the family takes (checked
            once, the expected shape named), or NaN or infinite values.

    Examples:
        >>> import kerasmodels as km
        >>> variants = km.load_variants(run, formats=("keras", "tflite-int8"))
        >>> x = run.dataset().test[0][0]
        >>> rows = km.predict_variants(variants, x)
        >>> sorted(rows[0])
        ['confidence', 'format', 'label', 'ms', 'probabilities', 'recipe', 'run', 'runtime', 'variant']
    """
    from kerasmodels.runs import check_input

    if not variants:
        return []
    shape, dtype = variants[0].predictor.input_spec
    batch = check_input(x, shape, dtype)
    rows = []
    for variant in variants:
        row: dict[str, Any] = {"variant": variant.name, "run": variant.run,
                               "recipe": variant.recipe, "format": variant.format,
                               "runtime": variant.runtime}
        start = time.perf_counter()
        try:
            output = np.asarray(variant.predictor.predict(batch))[0]
        except Exception as exc:  # noqa: BLE001  (one runtime's failure is a row, not a crash)
            rows.append({**row, "ms": None, "label": None, "confidence": None,
                         "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"})
            continue
        row["ms"] = round((time.perf_counter() - start) * 1000, 3)
        if variant.threshold is not None:
            score = float(reconstruction_error(output[None], batch[:1])[0])
            row.update(label=label_name("anomaly", None, int(score > variant.threshold)),
                       confidence=None, anomaly_score=round(score, 4),
                       threshold=round(variant.threshold, 4))
        elif variant.labels and output.size == len(variant.labels):
            best = int(output.argmax())
            row.update(label=variant.labels[best], confidence=float(output[best]),
                       probabilities=[float(p) for p in output])
        else:
            row.update(label=None, confidence=None, value=float(output.ravel()[0]))
        rows.append(row)
    return rows


__all__ = ["Variant", "Variants", "load_variants", "predict_variants"]
