"""ONNX Runtime behind the predictor interface (no TensorFlow needed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from kerasmodels.errors import ModelFileError
from kerasmodels.runs import check_input
from kerasmodels.runtime.litert import read_model_bytes

ONNX_TYPES = {"tensor(float)": "float32", "tensor(int32)": "int32", "tensor(int64)": "int64"}


class OnnxPredictor:
    """An ``.onnx`` file in an ``onnxruntime.InferenceSession`` on the CPU."""

    name = "onnxruntime"

    def __init__(self, path: str | Path, num_threads: int | None = None):
        import onnxruntime as ort

        self.path = Path(path)
        content = read_model_bytes(self.path, kind="ONNX model")
        options = ort.SessionOptions()
        if num_threads:  # both pools: intra-op alone still leaves a parallel executor
            options.intra_op_num_threads = num_threads
            options.inter_op_num_threads = num_threads
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:
            self.session = ort.InferenceSession(content, options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            raise ModelFileError(f"{self.path} cannot be loaded by ONNX Runtime ({first}): the "
                                 "file is corrupt, truncated or not ONNX; export it again") from None
        self._input = self.session.get_inputs()[0]
        self.num_threads = num_threads

    @property
    def input_spec(self) -> tuple[tuple[int | None, ...], str]:
        """One example's shape (None for a named, dynamic size) and dtype."""
        return (tuple(d if isinstance(d, int) else None for d in self._input.shape[1:]),
                ONNX_TYPES.get(self._input.type, "float32"))

    def predict(self, x) -> np.ndarray:
        x = check_input(x, *self.input_spec)
        return self.session.run(None, {self._input.name: x})[0].astype("float32")

    def runtime_call(self, example) -> Callable[[], np.ndarray]:
        """One ``session.run`` on one ``example`` prepared beforehand (what latency measures)."""
        feed = {self._input.name: check_input(example, *self.input_spec)[:1]}
        session = self.session
        return lambda: session.run(None, feed)[0]
