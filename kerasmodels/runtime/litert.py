"""LiteRT (``ai-edge-litert``): a ``.tflite`` file behind the predictor interface, with numpy
alone. Imported by ``kerasmodels.edge`` on devices: it never imports TensorFlow.

>>> from kerasmodels.runtime.litert import LiteRTModel
>>> model = LiteRTModel("saved_models/<run>/exports/tflite-int8.tflite")  # doctest: +SKIP
>>> model.predict(x).shape  # doctest: +SKIP
(360, 10)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from kerasmodels.errors import ModelFileError
from kerasmodels.runs import check_input  # numpy only, like everything imported here


def read_model_bytes(path: str | Path, magic: bytes | None = None, kind: str = "model") -> bytes:
    """The file's bytes, or a clear error for a missing, empty or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{kind} file {path} does not exist: export the run first")
    data = path.read_bytes()
    if len(data) < 16 or (magic is not None and data[4:8] != magic):
        raise ModelFileError(f"{path} is not a {kind} (truncated, empty or another kind of file): "
                             "export it again")
    return data


TFLM_ONLY_OP = b"TFLM_DECODE"  # a TFLM-compressed model's decoding op (exports/micro_compression)


class LiteRTModel:
    """A ``.tflite`` file behind ``predict(x)``: float in, float out, whatever is inside.

    int8/int16 inputs and outputs are quantized and dequantized with the file's own scale and
    zero-point; a model with a fixed batch (LSTMs are exported with a batch of 1) is run one
    example at a time. ``num_threads`` sets the CPU threads (XNNPACK is the default delegate).
    One model can be shared between threads (the dashboard's sessions share it): an interpreter
    holds one input and one output, so calls take turns.
    """

    name = "litert"

    def __init__(self, path: str | Path, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        from kerasmodels.logs import quiet_native

        self.path = Path(path)
        content = read_model_bytes(self.path, b"TFL3", "TFLite model")
        if TFLM_ONLY_OP in content:  # the custom op's name, in the file's operator codes
            raise ModelFileError(f"{self.path} is compressed for TensorFlow Lite Micro (its "
                                 f"weights are decoded by {TFLM_ONLY_OP.decode()} operators, "
                                 "which LiteRT does not have): run its folder with TFLM "
                                 "(kerasmodels.runtime.micro.MicroModel), or export "
                                 "tflite-micro with compress_weights=False for a file both run")
        self._embedded = embedded_files(content)  # its metadata's attached files, if any
        try:
            with quiet_native():  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
                self.interpreter = Interpreter(model_content=content, num_threads=num_threads)
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelFileError(f"{self.path} cannot be loaded by LiteRT ({exc}): the file is "
                                 "corrupt or truncated; export it again") from None
        self.num_threads = num_threads
        self._turn = threading.Lock()  # set_tensor, invoke, get_tensor from one caller at a time
        self._input = self.interpreter.get_input_details()[0]
        self._output = self.interpreter.get_output_details()[0]
        self._batch = int(self._input["shape"][0])
        self._fixed_batch = int(self._input["shape_signature"][0]) != -1

    @property
    def input_spec(self) -> tuple[tuple[int, ...], str]:
        """``(shape of one example, dtype the caller passes)``: floats for quantized inputs."""
        dtype = np.dtype(self._input["dtype"])
        caller = "float32" if self._input["quantization"][0] else dtype.name
        return tuple(int(d) for d in self._input["shape"][1:]), caller

    @property
    def quantization(self) -> dict[str, Any]:
        """Input and output dtype, scale and zero-point (scale 0 means not quantized)."""
        def describe(detail):
            scale, zero_point = detail["quantization"]
            return {"dtype": np.dtype(detail["dtype"]).name, "scale": float(scale),
                    "zero_point": int(zero_point)}

        return {"input": describe(self._input), "output": describe(self._output)}

    def predict(self, x: ArrayLike) -> np.ndarray:
        """The file's outputs, dequantized to float.

        Args:
            x: a batch, or one example, as the dataset's arrays hold it (floats for a
                quantized input: they are quantized with the file's scale and zero-point).

        Returns:
            One row per example, float32.

        Raises:
            InputShapeError: an input of another shape or dtype than the file's.
        """
        x = check_input(x, *self.input_spec)
        with self._turn:
            return self._predict(x)

    def _predict(self, x: np.ndarray) -> np.ndarray:
        if self._fixed_batch:
            return np.concatenate([self._invoke(x[i:i + self._batch])
                                   for i in range(0, len(x), self._batch)])
        if len(x) != self._batch:
            self.interpreter.resize_tensor_input(self._input["index"], [len(x), *x.shape[1:]])
            self.interpreter.allocate_tensors()
            self._batch = len(x)
            self._input = self.interpreter.get_input_details()[0]
            self._output = self.interpreter.get_output_details()[0]
        return self._invoke(x)

    def _quantize(self, x: np.ndarray) -> np.ndarray:
        """``x`` in the input tensor's dtype (int8/int16 with the file's scale and zero-point)."""
        scale, zero_point = self._input["quantization"]
        dtype = np.dtype(self._input["dtype"])
        if scale:
            info = np.iinfo(dtype)
            x = np.clip(np.round(x / scale + zero_point), info.min, info.max)
        return x.astype(dtype)

    def _invoke(self, x: np.ndarray) -> np.ndarray:
        if self._fixed_batch:  # LSTM/GRU state lives in variable tensors: start each call afresh
            self.interpreter.reset_all_variables()
        self.interpreter.set_tensor(self._input["index"], self._quantize(x))
        self.interpreter.invoke()
        out = self.interpreter.get_tensor(self._output["index"])
        out_scale, out_zero = self._output["quantization"]
        if out_scale:
            out = (out.astype("float32") - out_zero) * out_scale
        return out.astype("float32")

    def runtime_call(self, example: ArrayLike) -> Callable[[], np.ndarray]:
        """A call that runs the interpreter on one example and nothing else: what latency
        measures (the numpy around it costs more than a small model).

        Args:
            example: one input example (or a batch, of which the first is used).

        Returns:
            A function without arguments: ``set_tensor``, ``invoke``, ``get_tensor`` on the
            input quantized once, beforehand.

        Raises:
            InputShapeError: an example of another shape or dtype than the file's.
        """
        example = check_input(example, *self.input_spec)[:1]
        self.predict(example)  # batch of one allocated
        interpreter, tensor = self.interpreter, self._quantize(example)
        index_in, index_out = self._input["index"], self._output["index"]
        reset = self._fixed_batch

        def call() -> np.ndarray:
            if reset:
                interpreter.reset_all_variables()
            interpreter.set_tensor(index_in, tensor)
            interpreter.invoke()
            return interpreter.get_tensor(index_out)

        return call


def embedded_files(content: bytes) -> dict[str, bytes]:
    """The associated files appended to a ``.tflite`` with its metadata (a zip archive at its
    end, as tflite-support and kerasmodels write it); {} when there are none."""
    import io
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return {name: archive.read(name) for name in archive.namelist()
                    if "/" not in name and archive.getinfo(name).file_size < 2**22}
    except (zipfile.BadZipFile, OSError, ValueError):
        return {}


__all__ = ["LiteRTModel", "embedded_files", "read_model_bytes"]
