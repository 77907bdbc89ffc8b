"""ONNX through tf2onnx, validated with ``onnx.checker``; input ``inputs``, output ``outputs``
(as in every format), and the model's metadata in ``metadata_props``.

>>> from kerasmodels.exports.onnx import convert
>>> data = convert(model, opset=17)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from kerasmodels.backend import keras, tf
from kerasmodels.errors import ExportError
from kerasmodels.formats import OPTIONS

OUTPUT_NAME = "outputs"
# metadata_props keys: what the TFLite metadata holds, as text (labels and preprocessing in JSON)
METADATA_KEYS = ("name", "description", "version", "author", "task", "labels", "preprocessing")


def write(model, target: Path, *, fmt, data, info: dict[str, Any],
          opset: int = OPTIONS["opset"].default) -> dict[str, Any]:
    """The converter of the ``onnx`` row: ``target`` with ``info`` in ``metadata_props``."""
    import onnx

    proto = onnx.load_from_string(convert(model, opset, example_shape=info["input_shape"]))
    onnx.helper.set_model_props(proto, metadata_props(info))
    proto.doc_string = info.get("description", "")
    target.write_bytes(proto.SerializeToString())
    return {}


def metadata_props(info: dict[str, Any]) -> dict[str, str]:
    return {key: value if isinstance(value, str) else json.dumps(value)
            for key in METADATA_KEYS if (value := info.get(key)) is not None}


def rename_output(graph, name: str = OUTPUT_NAME) -> None:
    """Call the graph's one output ``name`` (tf2onnx names it after the Keras layer)."""
    old = graph.output[0].name
    if old == name:
        return
    for node in graph.node:
        node.output[:] = [name if o == old else o for o in node.output]
        node.input[:] = [name if i == old else i for i in node.input]
    graph.output[0].name = name


def convert(model, opset: int = OPTIONS["opset"].default, example_shape=None) -> bytes:
    """The serialized ONNX model (dynamic batch, input ``inputs``, output ``outputs``; sizes
    the model leaves open fixed to ``example_shape``'s)."""
    import onnx
    import tf2onnx

    from kerasmodels.exports.tflite import input_signature

    signature = [input_signature(model, None, example_shape)]
    unmapped = _UnsupportedOps()
    logger = logging.getLogger("tf2onnx.tfonnx")
    logger.addHandler(unmapped)
    try:
        if isinstance(model, keras.Model):
            proto, _ = tf2onnx.convert.from_keras(model, input_signature=signature, opset=opset)
        else:  # an imported SavedModel's graph
            function = tf.function(lambda inputs: model(inputs, training=False))
            proto, _ = tf2onnx.convert.from_function(function, input_signature=signature,
                                                     opset=opset)
    finally:
        logger.removeHandler(unmapped)
    if unmapped.ops:
        raise ExportError(f"onnx (opset {opset}) cannot hold this model: tf2onnx has no ONNX "
                          f"operator for {unmapped.ops}")
    rename_output(proto.graph)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:  # the converter wrote what ONNX does not allow
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"onnx (opset {opset}) cannot hold this model: {first}") from None
    return proto.SerializeToString()


class _UnsupportedOps(logging.Handler):
    """Catches tf2onnx's "Unsupported ops: ..." report (it logs them instead of raising)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.ops = ""

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("Unsupported ops"):
            self.ops = record.getMessage().partition(":")[2].strip()
