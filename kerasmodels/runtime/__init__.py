"""One predictor interface over Keras, TensorFlow (SavedModel), LiteRT and ONNX Runtime.

Every predictor has ``name``, ``input_spec`` (shape of one example, dtype), ``predict(x)``
(a batch of float inputs in, float outputs out, quantization handled inside) and
``runtime_call(example)``: a zero-argument call that runs only the runtime on one prepared
example, which is what :func:`kerasmodels.benchmarks.latencies` times.

>>> from kerasmodels.runtime import load_predictor
>>> predictor = load_predictor("saved_models/<run>/exports/tflite-int8.tflite")  # doctest: +SKIP
>>> predictor.predict(x).shape  # doctest: +SKIP
(360, 10)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from kerasmodels.errors import ModelFileError

RUNTIMES = ("keras", "tensorflow", "litert", "onnxruntime", "tflm")


class Predictor(Protocol):
    name: str

    @property
    def input_spec(self) -> tuple[tuple[int, ...], str]: ...

    def predict(self, x) -> np.ndarray: ...

    def runtime_call(self, example) -> Callable[[], Any]: ...


def load_predictor(path, *, num_threads: int | None = None) -> Predictor:
    """The predictor for an exported file or folder, or for a run (its Keras model)."""
    from kerasmodels.runs import Run

    if isinstance(path, Run):
        from kerasmodels.runtime.keras import KerasPredictor

        return KerasPredictor(path.model)
    path = Path(path)
    if path.is_dir() and (path / "manifest.json").is_file():  # a run directory
        from kerasmodels.runs import load_run

        return load_predictor(load_run(path))
    if path.suffix == ".tflite":
        from kerasmodels.edge import LiteRTModel

        return LiteRTModel(path, num_threads=num_threads)
    if path.suffix == ".onnx":
        from kerasmodels.runtime.onnx import OnnxPredictor

        return OnnxPredictor(path, num_threads=num_threads)
    if path.is_dir() and (path / "model_data.h").is_file():  # a tflite-micro folder
        from kerasmodels.exports.micro import MicroModel

        return MicroModel(path)
    if path.is_dir() and not (path / "saved_model.pb").is_file():  # TF Serving: <dir>/<version>/
        versions = sorted((p for p in path.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
        if versions and (versions[-1] / "saved_model.pb").is_file():
            path = versions[-1]
    if path.is_dir() and (path / "saved_model.pb").is_file():
        from kerasmodels.runtime.keras import SavedModelPredictor

        return SavedModelPredictor(path)
    if path.suffix == ".keras" or (path / "model.keras").is_file():
        from kerasmodels.runs import load_model
        from kerasmodels.runtime.keras import KerasPredictor

        return KerasPredictor(load_model(path if path.suffix == ".keras" else path / "model.keras"))
    if not path.exists():
        raise ModelFileError(f"{path} does not exist: give a .tflite, .onnx, .keras file, a "
                             "SavedModel folder or a run directory")
    raise ModelFileError(f"{path} is not a model kerasmodels can run: give a .tflite, .onnx, "
                         ".keras file, a SavedModel folder or a run directory")


__all__ = ["RUNTIMES", "Predictor", "load_predictor"]
