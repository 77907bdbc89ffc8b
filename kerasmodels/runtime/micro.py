"""TensorFlow Lite for Microcontrollers: a ``tflite-micro`` folder run by TFLM's own
interpreter (the ``tflite-micro`` package, reference kernels), behind the predictor interface.

>>> from kerasmodels.runtime.micro import MicroModel
>>> model = MicroModel("saved_models/<run>/exports/tflite-micro")  # doctest: +SKIP
>>> model.arena_bytes, model.flash_bytes  # doctest: +SKIP
(9344, 27496)
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kerasmodels.errors import ModelFileError
from kerasmodels.runs import check_input

MODEL_FILE, HEADER_FILE = "model.tflite", "model_data.h"  # in the tflite-micro folder
STATEFUL_OPS = ("UNIDIRECTIONAL_SEQUENCE_LSTM", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE")


@contextlib.contextmanager
def captured_stderr():
    """What native code writes to file descriptor 2 (TFLM reports a missing op there)."""
    with tempfile.TemporaryFile(mode="w+b") as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        text: list[str] = []
        try:
            yield text
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text.append(sink.read().decode(errors="replace"))


def interpreter(content: bytes, arena_size: int):
    """TFLM's interpreter over ``content`` with an arena of ``arena_size`` bytes."""
    from tflite_micro import runtime

    return runtime.Interpreter.from_bytes(content, arena_size=arena_size)


def op_names(content: bytes) -> list[str]:
    """The ops the model uses, in first-use order: builtins by name, custom ops by their code
    (``TFLM_DECODE`` in a compressed model), read from the flatbuffer with TFLM's own model
    reader."""
    from tflite_micro.tensorflow.lite.micro.compression import model_editor

    seen: dict[str, None] = {}
    for subgraph in model_editor.read(content).subgraphs:
        for op in subgraph.operators:
            seen.setdefault(op.opcode_name, None)
    return list(seen)


def quantize(x: np.ndarray, details: dict) -> np.ndarray:
    """``x`` in the input tensor's integer type, with its scale and zero-point."""
    params, dtype = details["quantization_parameters"], np.dtype(details["dtype"])
    scales = list(params["scales"])
    if not scales or not scales[0]:  # not quantized (token ids stay int32)
        return np.asarray(x).astype(dtype)
    scale, zero_point = float(scales[0]), int(params["zero_points"][0])
    info = np.iinfo(dtype)
    return np.clip(np.round(np.asarray(x) / scale + zero_point), info.min, info.max).astype(dtype)


class MicroModel:
    """A ``tflite-micro`` folder run by TFLM's interpreter: float in, float out (quantized with
    the model's own scale and zero-point), one example per invoke."""

    name = "tflm"
    num_threads = 1  # TFLM runs on one core

    def __init__(self, folder: str | Path):
        from kerasmodels.runtime.litert import read_model_bytes

        self.path = Path(folder)
        self.content = read_model_bytes(self.path / MODEL_FILE, b"TFL3", "TFLite model")
        header = (self.path / HEADER_FILE).read_text() if (self.path / HEADER_FILE).is_file() \
            else ""
        found = re.search(r"kTensorArenaSize = (\d+);", header)
        if not found:
            raise ModelFileError(f"{self.path} has no {HEADER_FILE} with kTensorArenaSize: "
                                 "export tflite-micro again")
        self.arena_bytes, self.flash_bytes = int(found.group(1)), len(self.content)
        with captured_stderr():
            try:
                self.interpreter = interpreter(self.content, self.arena_bytes)
            except RuntimeError:
                raise ModelFileError(f"{self.path}: TFLM cannot run it in its "
                                     f"{self.arena_bytes}-byte arena: export it again") from None
        self._input = self.interpreter.get_input_details(0)
        self._output = self.interpreter.get_output_details(0)
        # an LSTM keeps its state in variable tensors between invokes: each example starts
        # afresh, as on LiteRT
        self._stateful = any(op in STATEFUL_OPS for op in op_names(self.content))
        self._turn = threading.Lock()  # one caller at a time: the arena holds one input

    @property
    def input_spec(self) -> tuple[tuple[int, ...], str]:
        """One example's shape, and the dtype callers pass (floats, unless token ids)."""
        quantized = bool(list(self._input["quantization_parameters"]["scales"]))
        dtype = "float32" if quantized else np.dtype(self._input["dtype"]).name
        return tuple(int(d) for d in self._input["shape"][1:]), dtype

    def _quantize(self, x: np.ndarray) -> np.ndarray:
        return quantize(x, self._input)

    def _dequantize(self, out: np.ndarray) -> np.ndarray:
        params = self._output["quantization_parameters"]
        scale, zero_point = float(params["scales"][0]), int(params["zero_points"][0])
        return ((out.astype("float32") - zero_point) * scale).astype("float32")

    def predict(self, x) -> np.ndarray:
        x = check_input(x, *self.input_spec)
        outputs = []
        with self._turn:
            for row in x:
                if self._stateful:
                    self.interpreter.reset()
                self.interpreter.set_input(self._quantize(row[None]), 0)
                self.interpreter.invoke()
                outputs.append(self._dequantize(self.interpreter.get_output(0)))
        return np.concatenate(outputs)

    def runtime_call(self, example) -> Callable[[], np.ndarray]:
        """``set_input``, ``invoke``, ``get_output`` on one example quantized beforehand."""
        tensor = self._quantize(check_input(example, *self.input_spec)[:1])
        micro, stateful = self.interpreter, self._stateful

        def call() -> np.ndarray:
            if stateful:
                micro.reset()
            micro.set_input(tensor, 0)
            micro.invoke()
            return micro.get_output(0)

        return call


__all__ = ["HEADER_FILE", "MODEL_FILE", "MicroModel", "captured_stderr", "interpreter",
           "op_names", "quantize"]
