"""ONNX through tf2onnx, validated with ``onnx.checker``.

>>> from kerasmodels.exports.onnx import convert
>>> data = convert(model, opset=17)  # doctest: +SKIP
"""

from __future__ import annotations

import logging

from kerasmodels.backend import keras, tf
from kerasmodels.errors import ExportError

DEFAULT_OPSET = 17


def convert(model, opset: int = DEFAULT_OPSET) -> bytes:
    """The serialized ONNX model (dynamic batch, input named ``inputs``)."""
    import onnx
    import tf2onnx

    spec = model.inputs[0]
    signature = [tf.TensorSpec((None, *spec.shape[1:]), spec.dtype, name="inputs")]
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
