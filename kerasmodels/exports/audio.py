"""The ``tflite-audio`` export: a model that hears, with its feature front end inside.

Every other format of an audio run takes the model's input (MFCCs or log-mel energies), with
``features.tflite`` beside it to make them. Phone apps classify sound with the Task Library's
``AudioClassifier`` or MediaPipe's: they hand a model one buffer of samples and read its
metadata for the sample rate. This file is that model: float32 samples ``(1, clip_samples)``
at the dataset's sample rate in, class scores out; the front end is training's own
``tf.signal`` graph (``kerasmodels.data.audio.feature_function``), the model's layers
follow it in one float32 graph, and the metadata's input is ``AudioProperties`` (sample rate,
one channel) with the labels on the output.

>>> km.export(run, ["tflite-audio"])  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kerasmodels.errors import ExportError


def write(model, target: Path, *, fmt, data, info: dict[str, Any]) -> dict[str, Any]:
    """The converter of the ``tflite-audio`` row."""
    import tensorflow as tf

    from kerasmodels.audio import FeatureParams
    from kerasmodels.data.audio import feature_function
    from kerasmodels.exports.metadata import embed
    from kerasmodels.exports.tflite import runtime_needs, variables_of
    from kerasmodels.logs import quiet_native
    from kerasmodels.runtime.litert import LiteRTModel

    preprocessing = info.get("preprocessing") or {}
    if preprocessing.get("kind") != "audio":
        raise ExportError(f"{fmt.name} cannot hold this model: it takes sound, for a model "
                          "trained on an audio: dataset (this run's input is "
                          f"{preprocessing.get('kind') or 'not made from sound'})")
    params = FeatureParams.from_preprocessing(preprocessing)
    features = feature_function(params)

    @tf.function(input_signature=[tf.TensorSpec([1, params.clip_samples], tf.float32,
                                                name="inputs")])
    def heard(clips):
        return {"outputs": model(features(clips), training=False)}

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [heard.get_concrete_function()], variables_of(model))
    try:
        with quiet_native():
            content = converter.convert()
    except Exception as exc:  # noqa: BLE001 - the converter's refusal, one line
        raise ExportError(f"{fmt.name} cannot hold this model: "
                          f"{str(exc).strip().splitlines()[0][:300]}") from None
    target.write_bytes(embed(content, {**info, "takes_sound": True}))
    return {"quantization": LiteRTModel(target).quantization, "runtime": runtime_needs(content)}


__all__ = ["write"]
