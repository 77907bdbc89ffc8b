"""TFLM's compression of a model's constant tensors: the flash a pruned or clustered model saves.

TFLM stores every int8 weight as a byte, so a 16-cluster model is as large as its parent. The
``tflite-micro`` package ships TFLM's compressor (``tflite_micro.tensorflow.lite.micro.
compression``): a tensor with at most 2**k distinct values per channel (k = 1..7) is stored as
k-bit indices into a table of its values, and a ``DECODE`` operator (the custom op
``TFLM_DECODE``) restores it into the arena just before the operator that reads it. A clustered
model has at most ``clusters`` values per output channel once quantized (batch normalization
folds a scale per channel, which keeps the count); a pruned model's small channels often have
few enough too.

Each int8 weight tensor is compressed where its indices and tables are smaller than its bytes
by ``LEAST_SAVING``; a tensor that an operator must read as a constant while preparing
(TFLM's list, ``constant_inputs``) stays as it is and is named, and so are the tensors of an
operator type whose compressed model TFLM refuses or computes differently (the caller checks:
``kerasmodels.exports.micro.write_folder``). The compressor's Huffman and pruning methods
are stubs in this version of the package ("not yet implemented"): ``unavailable_methods``
says so, measured on the installed package.

>>> from kerasmodels.exports.micro_compression import plan
>>> plan(open("model.tflite", "rb").read())[0][0]  # doctest: +SKIP
Candidate(tensor=9, name='cnn/conv_1/Conv2D', op='CONV_2D', bits=4, axis=0, ...)
"""

from __future__ import annotations

import functools
import importlib
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

PACKAGE = "tflite_micro.tensorflow.lite.micro.compression"
DECODE_OP = "TFLM_DECODE"  # the custom op compressed models use
LEAST_SAVING = 0.1  # a tensor is compressed when that share of its bytes (at least) is saved
MAX_BITS = 7  # TFLM's widest look-up-table index
INT8, INT16, INT32 = 9, 7, 2  # the schema's TensorType values
WEIGHT_TYPES = (INT8, INT16)  # what is compressed
LUT_TYPES = (INT8, INT16, INT32)  # what is looked at (an int32 one only to be named when an
# operator needs it constant)


def _module(name: str):
    return importlib.import_module(f"{PACKAGE}.{name}")


@dataclass(frozen=True)
class Candidate:
    """A constant tensor the look-up-table compression shrinks."""

    tensor: int  # its index in subgraph 0
    name: str
    op: str  # the operator type that reads it
    bits: int  # index width
    axis: int | None  # the channel axis of its tables (its quantization axis), None: one table
    bytes_before: int
    bytes_after: int  # indices and tables

    def to_json(self) -> dict[str, Any]:
        return {"tensor": self.name, "op": self.op, "bits": self.bits,
                "bytes_before": self.bytes_before, "bytes_after": self.bytes_after}


def _axis(tensor) -> int | None:
    quantization = tensor.quantization
    scales = getattr(quantization, "scales", None)
    if isinstance(scales, list) and len(scales) > 1:
        return int(quantization.axis or 0)
    return None


def _bits(values: np.ndarray, axis: int | None) -> int:
    slices = [values] if axis is None else list(np.moveaxis(values, axis, 0))
    most = max(int(np.unique(s).size) for s in slices)
    return max(1, (most - 1).bit_length())


def plan(content: bytes) -> tuple[list[Candidate], list[dict[str, str]]]:
    """What ``compress`` would do to ``content``: the tensors it shrinks, and those it
    leaves with the reason (``{"tensor", "op", "reason"}``)."""
    editor, spec = _module("model_editor"), _module("spec")
    lut, constant_inputs = _module("lut"), _module("constant_inputs")
    model = editor.read(content)
    subgraph = model.subgraphs[0]
    candidates, left = [], []
    for index, tensor in enumerate(subgraph.tensors):
        if tensor.buffer is None or not tensor.buffer.data or tensor.dtype not in LUT_TYPES:
            continue
        readers = [op.opcode_name for op in subgraph.consumers_of(tensor)]
        op = readers[0] if readers else "(none)"
        axis = _axis(tensor)
        bits = _bits(tensor.array, axis)
        if bits > MAX_BITS:
            continue  # as many values as int8 has: nothing to gain, nothing to say
        uses = constant_inputs.find_uses(subgraph, tensor)
        if uses:  # few enough values, but an operator must read it as a constant
            left.append({"tensor": tensor.name, "op": op,
                         "reason": "; ".join(use.describe() for use in uses)})
            continue
        if tensor.dtype not in WEIGHT_TYPES:
            continue  # int32 biases and shapes: one value per channel, tables cost more
        method = spec.LookUpTableCompression(
            bits, spec.PerChannel(axis) if axis is not None else spec.PerTensor())
        result = lut.LutCompressor().compress(tensor, method)
        before, after = len(tensor.buffer.data), len(result.encoded_data) + len(
            result.ancillary_data)
        if after <= before * (1 - LEAST_SAVING):
            candidates.append(Candidate(index, tensor.name, op, bits, axis, before, after))
    return candidates, left


def compress(content: bytes, candidates: list[Candidate]) -> bytes:
    """``content`` with ``candidates`` compressed and their DECODE operators inserted."""
    spec = _module("spec")
    specs = [spec.Tensor(0, c.tensor, [spec.LookUpTableCompression(
        c.bits, spec.PerChannel(c.axis) if c.axis is not None else spec.PerTensor())])
        for c in candidates]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "resulted in expansion": plan() leaves those out
        return bytes(_module("compress").compress(content, specs))


@functools.cache
def unavailable_methods() -> dict[str, str]:
    """The compressor's methods this version of the package cannot apply, with what it says
    (tried on a one-tensor model, not assumed)."""
    spec, compressor = _module("spec"), _module("compressor")
    editor = _module("model_editor")
    tensor = editor.Tensor(shape=(4,), dtype=INT8, data=np.array([0, 0, 1, 0], np.int8))
    found = {}
    for name, method in (("huffman", spec.HuffmanCompression()),
                         ("pruning", spec.PruningCompression())):
        plugin = getattr(_module(name), f"{name.capitalize()}Compressor")()
        try:
            plugin.compress(tensor, method)
        except compressor.CompressionError as exc:
            found[name] = str(exc).split(". ")[0]
    return found


__all__ = ["DECODE_OP", "Candidate", "compress", "plan", "unavailable_methods"]
