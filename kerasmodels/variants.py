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

    A broken file (a random ``.tflite``, garbage ``.onnx``, a corrupt ``exports.json``) does
    not take the family down: the good variants are returned and each broken one is listed in
    ``.broken`` with its reason. ``formats`` restricts the list.
    """
    from kerasmodels.benchmarks import family
    from kerasmodels.errors import KerasModelsError
    from kerasmodels.exports import artifact_name
    from kerasmodels.formats import format_names
    from kerasmodels.runs import read_json
    from kerasmodels.runtime import load_predictor
    from kerasmodels.runtime.keras import KerasPredictor

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
    """Each variant's output for one example ``x``: label, confidence, probabilities, ms
    (an anomaly detector's: ``anomaly_score``, its ``threshold`` and the label ``normal`` or
    ``anomaly``).

    The input's shape is checked once (an InputShapeError names the shape the family takes);
    a variant whose runtime fails on this input gets its ``error`` instead of a label.
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
