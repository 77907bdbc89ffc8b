"""TensorFlow Lite for Microcontrollers: a full-int8 model and what firmware needs with it.

The ``tflite-micro`` export is a folder: ``model.tflite`` (full int8, int8 input and output, a
batch of one: TFLM has no dynamic shapes), ``model_data.cc`` (the model as a 16-byte aligned
byte array), ``model_data.h`` (its length, the tensor arena size and ``RegisterModelOps``, the
``MicroMutableOpResolver`` calls for exactly the ops it uses). The arena is measured, not
guessed: the smallest arena in which TFLM's own interpreter (the ``tflite-micro`` package,
reference kernels) runs the model, searched from what its recording allocator reports. A model
with an op TFLM lacks is refused with the op's name.

Its predictor is ``kerasmodels.runtime.micro.MicroModel``.

>>> from kerasmodels.exports.micro import resolver_call
>>> resolver_call("CONV_2D")
'AddConv2D'
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np

from kerasmodels.errors import ExportError
from kerasmodels.exports.micro_compression import (
    DECODE_OP,
    Candidate,
    compress,
    plan,
    unavailable_methods,
)
from kerasmodels.runtime.micro import HEADER_FILE, MODEL_FILE, MicroModel, op_names, quantize

SOURCE_FILE = "model_data.cc"
ARENA_ALIGNMENT = 16
MAX_ARENA_BYTES = 16 * 2**20  # what the interpreter measuring a model is given
# op names whose MicroMutableOpResolver method is not their CamelCase
RESOLVER_NAMES = {"UNIDIRECTIONAL_SEQUENCE_LSTM": "UnidirectionalSequenceLSTM",
                  "L2_NORMALIZATION": "L2Normalization", "SVDF": "Svdf", DECODE_OP: "Decode"}
MAX_CHECKED = 2000  # test examples the compressed model is compared on, bit for bit


def resolver_call(op: str) -> str:
    """``CONV_2D`` -> ``AddConv2D``: the MicroMutableOpResolver method that registers ``op``."""
    if op in RESOLVER_NAMES:
        return f"Add{RESOLVER_NAMES[op]}"
    return "Add" + "".join(w.upper() if w[0].isdigit() else w.capitalize() for w in op.split("_"))


# TFLM's interpreter on a model, in a fresh process: a model TFLM cannot prepare can leave its
# Python wrapper unusable, or crash the process that tried (tiny arenas did), so every first contact
# with a model happens in one of these. argv: model file, input .npy, arena size; prints what
# the recording allocator says the arena held.
PROBE = ("import sys, numpy as np\n"
         "from tflite_micro import runtime\n"
         "micro = runtime.Interpreter.from_bytes(open(sys.argv[1], 'rb').read(), "
         "arena_size=int(sys.argv[3]))\n"
         "micro.set_input(np.load(sys.argv[2]), 0)\n"
         "micro.invoke()\n"
         "micro.print_allocations()\n")


class Probe:
    """Runs ``content`` on ``example`` in TFLM in fresh processes, with any arena size."""

    def __init__(self, content: bytes, example: np.ndarray, scratch: Path,
                 name: str = MODEL_FILE):
        self.model_file, self.input_file = scratch / name, scratch / "input.npy"
        self.model_file.write_bytes(content)
        np.save(self.input_file, example)

    def run(self, arena: int):
        import subprocess
        import sys

        return subprocess.run([sys.executable, "-c", PROBE, str(self.model_file),
                               str(self.input_file), str(arena)], capture_output=True,
                              text=True, timeout=300)

    def check(self) -> int:
        """What the recording allocator reports the arena held, with a generous arena; an
        ExportError naming the ops TFLM lacks, or saying it crashed."""
        done = self.run(MAX_ARENA_BYTES)
        if done.returncode != 0:
            missing = sorted(set(re.findall(r"opcode '?([A-Z0-9_]+)'?", done.stderr)))
            if missing:
                raise ExportError(f"tflite-micro cannot hold this model: TFLM has no kernel for "
                                  f"{', '.join(missing)}")
            last = (done.stderr.strip().splitlines() or ["no message"])[-1][:200]
            what = f"crashed (signal {-done.returncode})" if done.returncode < 0 else "failed"
            raise ExportError(f"tflite-micro cannot hold this model: TFLM {what} preparing or "
                              f"running it ({last})")
        found = re.search(r"Arena allocation total (\d+) bytes", done.stdout + done.stderr)
        if not found:
            raise ExportError("tflite-micro: TFLM did not report its arena use (did the "
                              "tflite-micro package change?)")
        return int(found.group(1))

    def smallest_arena(self, recorded: int) -> int:
        """The smallest arena (a multiple of 16 bytes) TFLM runs the model in: from the
        recorded figure (a lower bound: allocation needs a little more while it plans) up, by
        bisection."""
        floor = -(-recorded // ARENA_ALIGNMENT) * ARENA_ALIGNMENT
        low, high, step = floor - ARENA_ALIGNMENT, floor, 256
        while self.run(high).returncode != 0:
            low, high, step = high, high + step, step * 2
            if high > MAX_ARENA_BYTES:
                raise ExportError("tflite-micro cannot hold this model: it needs a tensor arena "
                                  f"of more than {MAX_ARENA_BYTES // 2**20} MB")
        while high - low > ARENA_ALIGNMENT:
            middle = (low + high) // 2 // ARENA_ALIGNMENT * ARENA_ALIGNMENT
            low, high = (low, middle) if self.run(middle).returncode == 0 else (middle, high)
        return high


def c_files(content: bytes, ops: list[str], arena: int, name: str = "g_model") -> tuple[str, str]:
    """``(model_data.cc, model_data.h)`` for ``content``."""
    rows = [", ".join(f"0x{b:02x}" for b in content[i:i + 12]) for i in range(0, len(content), 12)]
    source = (f'#include "{HEADER_FILE}"\n\n'
              f"// {len(content)} bytes: the model, read in place from flash\n"
              f"alignas({ARENA_ALIGNMENT}) const unsigned char {name}[] = {{\n  "
              + ",\n  ".join(rows) + "\n};\n"
              f"const unsigned int {name}_len = {len(content)};\n")
    registrations = "\n".join(f"  if (resolver.{resolver_call(op)}() != kTfLiteOk) return "
                              f"kTfLiteError;  // {op}" for op in ops)
    decoded = (f"// {DECODE_OP}: weights stored as look-up-table indices (TFLM's compression), "
               "decoded into the arena before the operator that reads them\n"
               if DECODE_OP in ops else "")
    header = (f"// Generated by kerasmodels: a full-int8 model for TensorFlow Lite Micro.\n"
              f"{decoded}#pragma once\n\n"
              '#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"\n\n'
              f"extern const unsigned char {name}[];\n"
              f"extern const unsigned int {name}_len;\n\n"
              f"// measured with TFLM's interpreter (reference kernels); keep it "
              f"{ARENA_ALIGNMENT}-byte aligned\n"
              f"constexpr int kTensorArenaSize = {arena};\n"
              f"constexpr int kModelOpCount = {len(ops)};\n\n"
              "inline TfLiteStatus RegisterModelOps(\n"
              "    tflite::MicroMutableOpResolver<kModelOpCount>& resolver) {\n"
              f"{registrations}\n  return kTfLiteOk;\n}}\n")
    return source, header


def tflm_outputs(content: bytes, arena: int, inputs: np.ndarray) -> np.ndarray:
    """TFLM's raw (integer) outputs for the already quantized ``inputs``, one invoke each
    (call it on a model a ``Probe`` has run: TFLM can crash on one it cannot prepare)."""
    from kerasmodels.runtime.micro import STATEFUL_OPS, captured_stderr, interpreter

    with captured_stderr():
        micro = interpreter(content, arena)
    stateful = any(op in STATEFUL_OPS for op in op_names(content))
    outputs = []
    for row in inputs:
        if stateful:
            micro.reset()
        micro.set_input(row[None], 0)
        micro.invoke()
        outputs.append(micro.get_output(0).copy())
    return np.concatenate(outputs)


class Compression:
    """The flash TFLM's compressor saves on one model, checked: every compressed tensor's
    operator type is kept only if TFLM prepares and runs the compressed model and gives the
    same outputs, bit for bit, as the uncompressed one on ``inputs`` (quantized test
    examples)."""

    def __init__(self, content: bytes, inputs: np.ndarray, scratch: Path):
        self.content, self.inputs, self.scratch = content, inputs, scratch
        self.reference: np.ndarray | None = None  # the plain file's outputs, once needed

    def trial(self, candidates: list[Candidate]) -> tuple[bytes | None, str]:
        """The compressed file, or None and why TFLM refused it or differs."""
        made = compress(self.content, candidates)
        probe = Probe(made, self.inputs[:1], self.scratch, name="compressed.tflite")
        try:
            probe.check()
        except ExportError as exc:
            return None, str(exc).split(": ", 1)[-1]
        if self.reference is None:
            self.reference = tflm_outputs(self.content, MAX_ARENA_BYTES, self.inputs)
        if not np.array_equal(tflm_outputs(made, MAX_ARENA_BYTES, self.inputs), self.reference):
            return None, "TFLM's outputs differ from the uncompressed model's"
        return made, ""

    def best(self) -> tuple[bytes, dict]:
        """The smallest file TFLM runs identically, and what was compressed and left."""
        candidates, left = plan(self.content)
        report: dict = {"method": "lut", "flash_bytes_before": len(self.content),
                        "checked_examples": 0, "tensors": [], "left": left,
                        "unavailable": unavailable_methods()}
        if not candidates:
            return self.content, report
        made, why = self.trial(candidates)
        kept = candidates
        if made is None:  # find the operator types TFLM cannot take compressed inputs of
            kept = []
            for op in dict.fromkeys(c.op for c in candidates):
                group = [c for c in candidates if c.op == op]
                alone, why = self.trial(group)
                if alone is None:
                    left += [{"tensor": c.name, "op": op, "reason": why} for c in group]
                else:
                    kept += group
            made = self.trial(kept)[0] if kept else None
        if made is None or len(made) >= len(self.content):
            return self.content, report
        report["tensors"] = [c.to_json() for c in kept]
        report["checked_examples"] = len(self.inputs)  # bit for bit, by trial()
        return made, report


def write_folder(folder: Path, content: bytes, example: np.ndarray,
                 test_inputs: np.ndarray | None = None) -> dict:
    """Write the ``tflite-micro`` folder for the int8 model ``content`` (``example``: one float
    input, to measure the arena with; ``test_inputs``: float inputs on which a compressed
    model must give TFLM's outputs bit for bit, None: no compression); returns what firmware
    needs to know (flash bytes, arena bytes, ops, and what compression saved), or an
    ExportError naming the ops TFLM lacks."""
    from kerasmodels.runtime.litert import LiteRTModel

    with tempfile.TemporaryDirectory(prefix="kerasmodels-tflm-") as scratch:
        (Path(scratch) / "litert.tflite").write_bytes(content)
        litert = LiteRTModel(Path(scratch) / "litert.tflite")
        details = litert.interpreter.get_input_details()[0]
        scale, zero_point = details["quantization"]
        spec = {"dtype": details["dtype"],
                "quantization_parameters": {"scales": [scale], "zero_points": [zero_point]}}
        probe = Probe(content, quantize(example, spec), Path(scratch))
        arena = probe.smallest_arena(probe.check())
        device: dict = {}
        if test_inputs is not None:
            checked = quantize(test_inputs[:MAX_CHECKED], spec)
            firmware, report = Compression(content, checked, Path(scratch)).best()
            device["compression"] = report
            if firmware is not content:
                device["arena_bytes_uncompressed"] = arena
                squeezed = Probe(firmware, quantize(example, spec), Path(scratch),
                                 name="compressed.tflite")
                arena = squeezed.smallest_arena(squeezed.check())
                content = firmware
    ops = op_names(content)
    source, header = c_files(content, ops, arena)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MODEL_FILE).write_bytes(content)
    (folder / SOURCE_FILE).write_text(source)
    (folder / HEADER_FILE).write_text(header)
    return {"flash_bytes": len(content), "arena_bytes": arena, "ops": ops, **device}


def write(model, target: Path, *, fmt, data, info: dict, compress_weights: bool = True
          ) -> dict:
    """The converter of the ``tflite-micro`` row: full int8 at a batch of one, compressed by
    TFLM's compressor where that saves flash and TFLM's outputs stay the same, its C files,
    the measured arena, and how it compares with the uncompressed file run by LiteRT (largest
    output difference; a classifier's top-1 agreement)."""
    from kerasmodels.exports.tflite import convert, runtime_needs
    from kerasmodels.runtime.litert import LiteRTModel

    content = convert(model, "tflite-int8", data.train[0], io_type="int8", batch=1)
    x = data.test[0]
    device = write_folder(target, content, x[:1], x if compress_weights else None)
    with tempfile.TemporaryDirectory(prefix="kerasmodels-tflm-") as scratch:
        (Path(scratch) / MODEL_FILE).write_bytes(content)  # LiteRT runs no DECODE
        litert = LiteRTModel(Path(scratch) / MODEL_FILE)
        on_phone, quantization = litert.predict(x), litert.quantization
    on_device = MicroModel(target).predict(x)
    device["litert_max_abs_diff"] = float(np.abs(on_device - on_phone).max())
    if data.task == "classification":
        device["litert_agreement"] = float((on_device.argmax(-1) ==
                                            on_phone.argmax(-1)).mean())
    return {"quantization": quantization, "device": device, "runtime": runtime_needs(content)}


__all__ = ["Compression", "Probe", "c_files", "resolver_call", "tflm_outputs", "write", "write_folder"]
