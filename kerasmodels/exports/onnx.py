"""ONNX through tf2onnx, validated with ``onnx.checker``.

>>> from kerasmodels.exports.onnx import convert
>>> data = convert(model, opset=17)  # doctest: +SKIP
"""

from __future__ import annotations

from kerasmodels.backend import tf
from kerasmodels.errors import ExportError

DEFAULT_OPSET = 17


def convert(model, opset: int = DEFAULT_OPSET) -> bytes:
    """The serialized ONNX model (dynamic batch, input named ``inputs``)."""
    import onnx
    import tf2onnx

    spec = model.inputs[0]
    signature = [tf.TensorSpec((None, *spec.shape[1:]), spec.dtype, name="inputs")]
    try:
        proto, _ = tf2onnx.convert.from_keras(model, input_signature=signature, opset=opset)
        onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"onnx (opset {opset}) cannot hold this model: {first}") from None
    return proto.SerializeToString()
