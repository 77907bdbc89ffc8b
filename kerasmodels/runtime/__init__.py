"""One predictor interface over Keras, TensorFlow (SavedModel), LiteRT, ONNX Runtime and TFLM.

Every predictor has ``name``, ``input_spec`` (shape of one example, dtype), ``predict(x)``
(a batch of float inputs in, float outputs out, quantization handled inside) and
``runtime_call(example)``: a zero-argument call that runs only the runtime on one prepared
example, which is what ``kerasmodels.measure.latencies`` times.

>>> from kerasmodels.runtime import load_predictor
>>> predictor = load_predictor("saved_models/<run>/exports/tflite-int8.tflite")  # doctest: +SKIP
>>> predictor.predict(x).shape  # doctest: +SKIP
(360, 10)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from kerasmodels.errors import ModelFileError
from kerasmodels.layout import MANIFEST, MODEL

if TYPE_CHECKING:  # pragma: no cover
    from kerasmodels.runs import Run


class Predictor(Protocol):
    name: str

    @property
    def input_spec(self) -> tuple[tuple[int | None, ...], str]: ...

    def predict(self, x) -> np.ndarray: ...

    def runtime_call(self, example) -> Callable[[], Any]: ...


def load_predictor(path: str | Path | Run, *, num_threads: int | None = None) -> Predictor:
    """The predictor of an exported file or folder, a ``.keras`` file or a run.

    The format table's ``loader`` for the file's suffix (or the folder's marker file) opens it
    in its runtime: LiteRT for ``.tflite``, ONNX Runtime for ``.onnx``, TFLM for a
    ``tflite-micro`` folder, TensorFlow for a SavedModel. Every predictor's ``predict(x)``
    takes what the dataset's arrays hold and returns the model's outputs.

    Args:
        path: an exported file or folder, a ``.keras`` file, a run's folder or a Run (its
            Keras model).
        num_threads: the runtime's threads, where it can be set.

    Returns:
        The predictor: ``predict(x)``, ``input_spec`` (shape and dtype).

    Raises:
        ModelFileError: a path that does not exist or is no model kerasmodels can run (what it
            takes named), or a corrupt file.

    Examples:
        >>> import kerasmodels as km
        >>> _ = km.export(run, ["tflite-int8"])
        >>> model = km.load_predictor(run.path / "exports" / "tflite-int8.tflite")
        >>> model.predict(run.dataset().test[0][:4]).shape
        (4, 10)
    """
    from kerasmodels.runs import Run

    if isinstance(path, Run):
        from kerasmodels.runtime.keras import KerasPredictor

        return KerasPredictor(path.model)
    path = Path(path)
    if path.is_dir() and (path / MANIFEST).is_file():  # a run directory
        from kerasmodels.runs import load_run

        return load_predictor(load_run(path))
    from kerasmodels.formats import format_of_path, resolve

    fmt = format_of_path(path)
    if fmt is not None and (path.exists() or not fmt.is_folder):
        loader = resolve(fmt.loader)
        return loader(path, num_threads=num_threads) if fmt.threads else loader(path)
    if path.suffix == ".keras" or (path / MODEL).is_file():
        from kerasmodels.runs import load_model
        from kerasmodels.runtime.keras import KerasPredictor

        return KerasPredictor(load_model(path if path.suffix == ".keras" else path / MODEL))
    from kerasmodels.formats import export_formats

    kinds = sorted({Path(f.file).suffix for f in export_formats() if not f.is_folder})
    wanted = (f"give a {', '.join(kinds)} or .keras file, an exported folder "
              f"({', '.join(f.name for f in export_formats() if f.is_folder)}) or a run directory")
    if not path.exists():
        raise ModelFileError(f"{path} does not exist: {wanted}")
    raise ModelFileError(f"{path} is not a model kerasmodels can run: {wanted}")


__all__ = ["Predictor", "load_predictor"]
