"""What a device runs: a ``.tflite`` file (its labels inside, or in ``labels.json``), with
numpy and ai-edge-litert.

It never imports TensorFlow (nor anything of kerasmodels that does), so a phone, a Raspberry Pi
or a CI job installs numpy, ai-edge-litert and kerasmodels with ``--no-deps``.

>>> from kerasmodels.edge import EdgeModel
>>> model = EdgeModel("saved_models/<run>/exports/tflite-int8.tflite")  # doctest: +SKIP
>>> model.classify(pixels)  # raw digits: (n, 8, 8), 0..16  # doctest: +SKIP
['7', '2', '1']
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from kerasmodels.errors import ModelFileError
from kerasmodels.layout import EXPORTS, FEATURES, LABELS
from kerasmodels.runtime.litert import LiteRTModel  # numpy and ai-edge-litert only


class EdgeModel(LiteRTModel):
    """A ``.tflite`` export and what it was trained on, run with numpy and LiteRT alone.

    What a device installs: ``numpy``, ``ai-edge-litert`` and kerasmodels with ``--no-deps``
    (no TensorFlow). Label names and preprocessing come from ``labels.json`` next to the file
    or, when that is absent, from the file's embedded metadata. ``predict(x)`` takes what the
    dataset's arrays hold, as every predictor does; ``predict_raw(raw)`` and ``classify(raw)``
    take raw input (pixels 0..16 for digits, CSV rows as written, sound for a keyword
    spotter: WAV paths or bytes, or samples at the recorded rate), apply the recorded
    preprocessing, and accept grayscale images without their channel axis (``(n, 8, 8)``). A
    keyword spotter's features are computed by ``features.tflite`` (written beside every
    export) in LiteRT. int8 input and output are quantized and dequantized for you.

    Args:
        path: the ``.tflite`` file.
        num_threads: LiteRT's threads.
        labels_path: a ``labels.json`` to use instead of the one beside the file or inside it.

    Raises:
        ModelFileError: the file does not exist or is not a TFLite model, or its labels are
            corrupt.

    Examples:
        >>> import kerasmodels as km
        >>> from kerasmodels.edge import EdgeModel
        >>> _ = km.export(run, ["tflite-int8"])
        >>> model = EdgeModel(run.path / "exports" / "tflite-int8.tflite", num_threads=1)
        >>> pixels = km.load_dataset("digits").test[0][:3] * 16   # raw: 0..16, as scanned
        >>> labels = model.classify(pixels)
        >>> len(labels), all(label in model.labels for label in labels)
        (3, True)
    """

    def __init__(self, path: str | Path, num_threads: int | None = None,
                 labels_path: str | Path | None = None):
        super().__init__(path, num_threads)
        labels_path = Path(labels_path) if labels_path else self._beside(LABELS)
        try:
            if labels_path.is_file():
                self.info = json.loads(labels_path.read_text())
            else:
                embedded = self._embedded.get(LABELS)
                labels_path = self.path  # for the error below
                self.info = json.loads(embedded) if embedded else {}
            if not isinstance(self.info, dict):
                raise ValueError("not a JSON object")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ModelFileError(f"{labels_path}'s labels are corrupt ({exc}): export the run "
                                 "again") from None
        self.labels: list[str] | None = self.info.get("labels")
        self.preprocessing: dict[str, Any] = self.info.get("preprocessing") or {}
        self._features: LiteRTModel | None = None

    def _beside(self, name: str) -> Path:
        """``name`` next to the model, or in the exports folder around a format's own folder
        (``exports/tflite-micro/model.tflite`` reads ``exports/labels.json``)."""
        here = self.path.parent / name
        around = self.path.parent.parent / name
        return around if not here.is_file() and self.path.parent.parent.name == EXPORTS \
            and around.is_file() else here

    def features(self, sound: ArrayLike | str | Path | bytes | list) -> np.ndarray:
        """A keyword spotter's input, computed as training computed it.

        Args:
            sound: WAV paths or bytes, samples at the recorded rate, or a batch of clips.

        Returns:
            The model's input features, one row per clip (by the ``features.tflite`` next to
            the model, in LiteRT).

        Raises:
            ModelFileError: the model does not take sound, or ``features.tflite`` is missing
                beside it.
        """
        from kerasmodels.audio import FeatureParams, as_clips

        if self.preprocessing.get("kind") != "audio":
            raise ModelFileError(f"{self.path.name} does not take sound (its input is "
                                 f"{self.preprocessing.get('kind') or 'arrays'})")
        if self._features is None:
            found = self._beside(FEATURES)
            if not found.is_file():
                raise ModelFileError(f"{FEATURES} is missing beside {self.path.name}: copy it "
                                     "from the run's exports folder (it turns sound into the "
                                     "model's input)")
            self._features = LiteRTModel(found)
        return self._features.predict(as_clips(sound, FeatureParams.from_preprocessing(
            self.preprocessing)))

    def preprocess(self, raw: ArrayLike | str | Path | bytes | list) -> np.ndarray:
        """The dataset's preprocessing (what the training data went through) on raw input.

        Args:
            raw: raw input: pixels as scanned, CSV rows as written, or sound for a keyword
                spotter; grayscale images may come without their channel axis.

        Returns:
            The model's input.

        Raises:
            ModelFileError: sound given to a model without its ``features.tflite``.
        """
        prep = self.preprocessing
        if prep.get("kind") == "audio":
            return self.features(raw)
        x = np.asarray(raw)
        shape, _ = self.input_spec
        if x.ndim == len(shape) and shape[-1] == 1 and x.shape[1:] == shape[:-1]:
            x = x[..., None]  # grayscale images without their channel axis
        if prep.get("kind") == "image" and "scale" in prep:
            return x.astype("float32") * prep["scale"] + prep.get("offset", 0.0)
        if prep.get("kind") == "tabular" and "mean" in prep:
            return (x.astype("float32") - np.asarray(prep["mean"], "float32")) / np.asarray(
                prep["std"], "float32")
        return x

    def predict_raw(self, raw: ArrayLike | str | Path | bytes | list) -> np.ndarray:
        """The model's outputs for raw input.

        Args:
            raw: raw input, as ``preprocess`` takes it.

        Returns:
            One row per example (probabilities for a classifier).

        Raises:
            InputShapeError: input of another shape than the model's, once preprocessed.
        """
        return self.predict(self.preprocess(raw))

    def classify(self, raw: ArrayLike | str | Path | bytes | list) -> list[str]:
        """The most likely label of each raw example.

        Args:
            raw: raw input, as ``preprocess`` takes it.

        Returns:
            One label per example.

        Raises:
            ModelFileError: the model is not a classifier (it has no labels).
        """
        if not self.labels:
            raise ModelFileError(f"{self.path} is not a classifier (no labels): use predict_raw()")
        return [self.labels[i] for i in self.predict_raw(raw).argmax(axis=-1)]


__all__ = ["EdgeModel"]
