"""TFLite conversion: float32, float16, dynamic-range, full int8 and int16x8.

Models are converted from a concrete function. Recurrent models get a static batch of 1
(LiteRT's TensorList ops need a static shape: ``TensorListReserve ... static``); the others keep
a dynamic batch. GRU and SimpleRNN layers over sequences of a fixed length are converted
unrolled (``unrolled``): the converter keeps them as a WHILE loop over TensorLists, and
its int8 calibration of that loop kills the process (tensorflow/tensorflow#62281, a segfault
in ``MinMax::Update``); unrolled, they are plain ops that every format and TFLM can hold.

>>> from kerasmodels.exports.tflite import convert
>>> data = convert(model, "tflite-int8", representative=x_train[:200])  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np

from kerasmodels._compat import converter_error, per_tensor_dense, tflite_schema
from kerasmodels.backend import keras, tf
from kerasmodels.errors import ExportError, ParityError
from kerasmodels.logs import quiet_native
from kerasmodels.tasks import get_task

CALIBRATION_SAMPLES = 200
# the formats this converter makes (rows of kerasmodels.formats), by what each quantizes
MODES = ("tflite-float32", "tflite-float16", "tflite-dynamic", "tflite-int8", "tflite-int16x8",
         "tflite-mixed")


# the recurrent layers the converter cannot fuse (LSTM becomes UNIDIRECTIONAL_SEQUENCE_LSTM)
UNROLLED_LAYERS = ("GRU", "SimpleRNN")
MAX_UNROLLED_STEPS = 512  # longer sequences stay loops: an unrolled graph grows with each step


def has_recurrent_layer(model) -> bool:
    return any(isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional))
               for layer in nested_layers(model))


def nested_layers(model):
    """Every layer of ``model``, those of nested models too."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from nested_layers(layer)


def _rolled(layer) -> bool:
    """A GRU or SimpleRNN loop (in a Bidirectional too) over a fixed number of steps."""
    inner = [layer.forward_layer, layer.backward_layer] \
        if isinstance(layer, keras.layers.Bidirectional) else [layer]
    try:
        steps = layer.input_shape[1]
    except (AttributeError, RuntimeError, IndexError, TypeError):
        return False
    return isinstance(steps, int) and steps <= MAX_UNROLLED_STEPS and any(
        type(cell).__name__ in UNROLLED_LAYERS and not cell.unroll for cell in inner)


def unrolled(model):
    """``model``, or a copy of it whose GRU and SimpleRNN layers are unrolled (the same
    weights, the same function; every other layer is shared with ``model``, not copied).

    >>> unrolled(build_model("rnn", "sequences", cell="gru")).get_layer("gru_0").unroll  # doctest: +SKIP
    True
    """
    if not isinstance(model, keras.Model) or not any(_rolled(layer)
                                                     for layer in nested_layers(model)):
        return model
    copies: list[tuple[Any, Any]] = []

    def copy(layer):
        if isinstance(layer, keras.Model):
            return unrolled(layer)
        if not _rolled(layer):
            return layer  # shared
        config = layer.get_config()
        for key in ("layer", "backward_layer"):  # a Bidirectional wraps its two loops
            if isinstance(config.get(key), dict):
                config[key]["config"]["unroll"] = True
        if not isinstance(layer, keras.layers.Bidirectional):
            config["unroll"] = True
        fresh = type(layer).from_config(config)
        copies.append((fresh, layer))
        return fresh

    try:
        clone = keras.models.clone_model(model, clone_function=copy)
    except (ValueError, TypeError, NotImplementedError):  # a subclassed model: as it is
        return model
    for fresh, layer in copies:
        fresh.set_weights(layer.get_weights())
    return clone


def input_signature(model, batch: int | None = None, example_shape=None) -> tf.TensorSpec:
    """The input every format takes: named ``inputs``, a batch of ``batch`` (None: any), and
    the model's example shape, where a size the model leaves open (a sequence of any length)
    is fixed to ``example_shape``'s (the run's data), as a device needs."""
    spec = model.inputs[0]
    shape = list(spec.shape[1:])
    if example_shape is not None and len(example_shape) == len(shape):
        shape = [given if size is None else size for size, given in zip(shape, example_shape,
                                                                         strict=True)]
    return tf.TensorSpec((batch, *shape), spec.dtype, name="inputs")


def concrete_function(model, batch: int | None = None, example_shape=None):
    """``model(x, training=False)`` traced for ``input_signature``, its output named
    ``outputs`` (as in every format)."""
    signature = input_signature(model, batch, example_shape)
    function = tf.function(lambda x: {"outputs": model(x, training=False)})
    return function.get_concrete_function(signature)


def variables_of(model) -> tf.Module:
    """A bare module holding ``model``'s variables: the converter saves its root object, and a
    Keras model as the root makes it trace every layer again (the sequences LSTM: 11.5 s per
    conversion, 1.6 s with this; the same bytes)."""
    root = tf.Module()
    root.model_variables = list(model.variables)
    return root


IO_TYPES = {"int8": "int8", "uint8": "uint8", "float": None}  # io_type -> tf dtype name


def convert(model, fmt: str, representative: np.ndarray | None = None, *,
            io_type: str = "int8", batch: int | None = None,
            normalization: tuple[list[float], list[float]] | None = None) -> bytes:
    """The ``.tflite`` bytes of ``model`` in format ``fmt``.

    ``representative`` (a sample of training inputs) calibrates the int8 and int16x8 formats;
    ``io_type`` is what a full-int8 model takes and returns: ``int8``, ``uint8`` or ``float``.
    Integer token inputs stay int32 either way. A uint8 input with ``normalization`` (``(mean,
    std)`` of raw pixels, ``kerasmodels.exports.metadata.normalization``) gets it as its
    quantization (``fold_normalization``). ``batch`` fixes the batch size (recurrent
    models: always 1); None keeps it dynamic. Dynamic-range files quantize Dense weights per
    tensor: FULLY_CONNECTED stays at version 9 (runtime 2.4, what the Task Library runs) where
    per-channel weights need version 12 (runtime 2.17).
    """
    if fmt not in MODES:
        raise ExportError(f"{fmt!r} is not a TFLite format: choose one of {', '.join(MODES)}")
    batch = 1 if has_recurrent_layer(model) else batch
    model = unrolled(model)
    function = concrete_function(model, batch, None if representative is None
                                 else representative.shape[1:])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], variables_of(model))
    float_input = model.inputs[0].dtype.is_floating
    if fmt != "tflite-float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if fmt == "tflite-dynamic":
        per_tensor_dense(converter)
    if fmt == "tflite-float16":
        converter.target_spec.supported_types = [tf.float16]
    if fmt in ("tflite-int8", "tflite-int16x8"):
        if representative is None or not len(representative):
            raise ExportError(f"{fmt} needs a representative sample of training inputs")
        sample = representative[:CALIBRATION_SAMPLES]

        def calibration():
            for row in sample:
                yield [row[None].astype(model.inputs[0].dtype.as_numpy_dtype)]

        converter.representative_dataset = calibration
    if fmt == "tflite-int8":
        if io_type not in IO_TYPES:
            raise ExportError(f"io_type {io_type!r} is not one of {', '.join(IO_TYPES)}")
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        integer = IO_TYPES[io_type]
        if integer and float_input:
            converter.inference_input_type = getattr(tf, integer)
        if integer:
            converter.inference_output_type = getattr(tf, integer)
    if fmt == "tflite-int16x8":
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    try:
        with quiet_native():  # the MLIR quantizer's "fully_quantize: 0, ..." lines
            content = converter.convert()
    except Exception as exc:
        if not is_converter_limitation(exc):
            raise  # a bug (ours or the converter's), not a format that cannot hold the model
        raise ExportError(f"{fmt} cannot hold this model: {conversion_reason(exc)}") from None
    if fmt == "tflite-int8" and io_type == "uint8" and float_input and normalization:
        content = fold_normalization(content, *normalization)
    return content


def fold_normalization(content: bytes, mean: list[float], std: list[float]) -> bytes:
    """A uint8-input file whose input quantization is the normalization: pixel ``p`` means
    ``(p - mean) / std``, as the metadata says and the Task Library assumes (it feeds uint8
    pixels as they are). The converter calibrates the input's scale on the training sample,
    which need not span 0-255; its first op (QUANTIZE, uint8 to int8) requantizes whatever the
    input's parameters are, so setting them is exact. Raises ExportError when the
    normalization is not one integer mean in 0-255 and one std (per-channel statistics cannot
    be one uint8 quantization): export int8 or float io then."""
    from tensorflow.lite.tools import flatbuffer_utils

    if len(set(mean)) != 1 or len(set(std)) != 1 or not float(mean[0]).is_integer() or \
            not 0 <= mean[0] <= 255:
        raise ExportError(f"a uint8 input cannot hold the normalization mean {mean}, std {std}: "
                          "export with io_type='int8' or 'float'")
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    graph = model.subgraphs[0]
    first = graph.operators[0]
    if first.inputs[0] != graph.inputs[0] or \
            model.operatorCodes[first.opcodeIndex].builtinCode != \
            tflite_schema().BuiltinOperator.QUANTIZE:
        raise ExportError("tflite-int8: the converter's uint8 input is not followed by its "
                          "QUANTIZE op (did the converter change?): export io_type='int8'")
    tensor = graph.tensors[graph.inputs[0]]
    tensor.quantization.scale = np.array([1.0 / std[0]], np.float32)
    tensor.quantization.zeroPoint = np.array([int(mean[0])], np.int64)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))



def io_type_of(io_type: str, info: dict[str, Any]) -> str:
    """``auto`` resolved: uint8 for a model of images (a camera frame is uint8), int8 else."""
    if io_type != "auto":
        return io_type
    return "uint8" if (info.get("preprocessing") or {}).get("kind") == "image" else "int8"


def write(model, target: Path, *, fmt, data, info: dict[str, Any], io_type: str = "auto"
          ) -> dict[str, Any]:
    """The converter of the TFLite rows: ``target`` with the standard metadata (labels,
    normalization, name, description, version, author) embedded; what it records besides
    its quantization: the oldest runtime that runs it and the op versions it uses
    (``runtime_needs``)."""
    from kerasmodels.exports.metadata import embed, normalization
    from kerasmodels.runtime.litert import LiteRTModel

    extras: dict[str, Any] = {}
    if fmt.name == "tflite-mixed":
        content, extras["device"] = mixed(model, data, fmt)
    else:
        content = convert(model, fmt.name, data.train[0], io_type=io_type_of(io_type, info),
                          normalization=normalization(info.get("preprocessing") or {}))
    target.write_bytes(embed(content, info))
    return {"quantization": LiteRTModel(target).quantization, "runtime": runtime_needs(content),
            **extras}


def runtime_needs(content: bytes) -> dict[str, Any]:
    """What a runtime must have to run ``content``: the converter's ``min_runtime_version``
    (the file's metadata entry) and each op's version (``{"FULLY_CONNECTED": 9}``)."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    names = {value: name for name, value in vars(tflite_schema().BuiltinOperator).items()
             if not name.startswith("_")}
    ops: dict[str, int] = {}
    for code in model.operatorCodes:
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        name = code.customCode.decode() if code.customCode else names.get(builtin, str(builtin))
        ops[name] = max(ops.get(name, 0), int(code.version))
    version = ""
    for entry in model.metadata or []:
        if entry.name.decode() == "min_runtime_version":
            version = bytes(model.buffers[entry.buffer].data).rstrip(b"\0").decode()
    return {"min_runtime_version": version, "op_versions": ops}


MIXED_FLOAT_SHARE = 0.5  # tflite-mixed keeps at most this share of its layers in float
MIXED_TRIALS = 12  # and converts at most this many selections


def relative_error(float_output, quantized, scale, zero_point) -> float:
    """A quantized tensor's mean error relative to the mean magnitude of its float values:
    near 1 where the tensor's scale, set by a few large values, rounds the others away.
    Capped at 10 (a tensor of near-zero values), 0 where the debugger could not compare."""
    restored = (quantized.astype("float64") - zero_point) * scale
    reference = float_output.astype("float64")
    error = float(np.mean(np.abs(restored - reference)) / (np.mean(np.abs(reference)) + 1e-9))
    return min(error, 10.0) if np.isfinite(error) else 0.0


def mixed(model, data, fmt) -> tuple[bytes, dict[str, Any]]:
    """int8, with the layers whose quantization loses most left in float: TensorFlow's
    ``QuantizationDebugger`` compares each quantized layer's output with its float output on
    the calibration sample and ranks the layers by ``relative_error``; the worst 1, 2, 4,
    ... are kept in float until the file meets ``fmt``'s floor on the validation split (a
    layer is rarely enough alone: the next layer quantizes its output again), then the fewest
    that do are found by bisection.

    Returns the file and what it kept in float (``float_layers``, ``quantized_layers``) with
    the validation agreement before and after; an ExportError when keeping
    ``MIXED_FLOAT_SHARE`` of the layers in float (or ``MIXED_TRIALS`` selections) does not
    meet the floor.
    """
    search = MixedPrecision(model, data)
    worst = search.ranked()
    enough = quality_floor(fmt, data.task)
    content = search.quantized([])
    measured = before = search.quality(content)
    most = int(len(worst) * MIXED_FLOAT_SHARE)
    low, high, trials = 0, 0, 0  # the most layers in float that missed, the fewest that fit
    while measured < enough:  # 1, 2, 4, ... worst layers in float, at most `most`
        count = min(max(1, 2 * low), most)
        if count <= low or trials >= MIXED_TRIALS:  # a float16 file is the answer
            what = {"classification": "agreement", "anomaly": "AUC drop"}.get(data.task,
                                                                              "difference")
            raise ParityError(
                f"{fmt.name} cannot reach its floor: with the {low} worst of its "
                f"{len(worst)} quantized layers kept in float its validation {what} is "
                f"{abs(measured):.4f} (full int8: {abs(before):.4f}); more in float leaves "
                "little of int8: export tflite-float16, or train the run quantization-aware "
                "(kerasmodels compress RUN qat)",
                {"top1_agreement": measured} if data.task == "classification" else {})
        trial = search.quantized(worst[:count])
        reached, trials = search.quality(trial), trials + 1
        if reached >= enough:
            high, content, measured = count, trial, reached
            break
        low, measured = count, reached
    while high - low > 1 and trials < MIXED_TRIALS:  # the fewest that fit, by bisection
        middle = (low + high) // 2
        trial = search.quantized(worst[:middle])
        reached, trials = search.quality(trial), trials + 1
        if reached >= enough:
            high, content, measured = middle, trial, reached
        else:
            low = middle
    kept = worst[:high]
    key = {"classification": "val_agreement", "anomaly": "val_auc_drop"}.get(
        data.task, "val_relative_difference")
    return content, {"float_layers": kept, "quantized_layers": len(worst) - len(kept),
                     f"{key}_int8": round(abs(before), 6), key: round(abs(measured), 6)}


def quality_floor(fmt, task: str) -> float:
    """The least ``MixedPrecision.quality`` that meets ``fmt``'s floor for ``task``."""
    if task == "classification":
        return fmt.agreement_floor
    return -(fmt.auc_drop_ceiling if get_task(task).reconstructs else fmt.difference_ceiling)


class MixedPrecision:
    """int8 files of one model with chosen layers left in float, and how each does on the
    validation split (what ``mixed`` searches over)."""

    def __init__(self, model, data):
        self.representative = data.train[0][:CALIBRATION_SAMPLES]
        self.model = unrolled(model)
        self.batch = 1 if has_recurrent_layer(self.model) else None
        self.function = concrete_function(self.model, self.batch,
                                          self.representative.shape[1:])
        self.dtype = self.model.inputs[0].dtype.as_numpy_dtype
        self.task, (self.x_val, self.y_val) = data.task, data.val
        self.reference = np.asarray(
            self.model.predict(self.x_val, batch_size=256, verbose=0)
            if hasattr(self.model, "predict") else self.model(self.x_val, training=False))
        self.debugger: Any = None

    def calibration(self):
        for row in self.representative:
            yield [row[None].astype(self.dtype)]

    def converter(self):  # one per conversion: a converter does not convert twice
        made = tf.lite.TFLiteConverter.from_concrete_functions([self.function],
                                                               variables_of(self.model))
        made.optimizations = [tf.lite.Optimize.DEFAULT]
        made.representative_dataset = self.calibration
        return made

    def ranked(self) -> list[str]:
        """The quantized layers' tensors, the worst (largest ``relative_error``) first."""
        import csv
        import io

        options = tf.lite.experimental.QuantizationDebugOptions(
            layer_direct_compare_metrics={"relative_error": relative_error})
        with quiet_native():
            self.debugger = tf.lite.experimental.QuantizationDebugger(
                converter=self.converter(), debug_dataset=self.calibration,
                debug_options=options)
            self.debugger.run()
            dump = io.StringIO()
            self.debugger.layer_statistics_dump(dump)
        rows = list(csv.DictReader(io.StringIO(dump.getvalue())))
        return [r["tensor_name"] for r in sorted(rows, key=lambda r: -float(r["relative_error"]))]

    def quantized(self, denylisted: list[str]) -> bytes:
        """The int8 file with ``denylisted`` tensors' layers in float (after ``ranked``)."""
        # the setter rebuilds its debug model, which fails once no layer is quantized; the
        # options are set before that, so the file below is right
        with contextlib.suppress(ValueError):
            self.debugger.options = tf.lite.experimental.QuantizationDebugOptions(
                denylisted_nodes=denylisted or None,
                layer_direct_compare_metrics={"relative_error": relative_error})
        with quiet_native():
            return self.debugger.get_nondebug_quantized_model()

    def quality(self, content: bytes) -> float:
        """Top-1 agreement with the model on validation (minus the drop of the validation AUC
        for anomaly detection, minus the largest relative difference for a regression):
        higher is better."""
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_content=content)
        index = interpreter.get_input_details()[0]["index"]
        output = interpreter.get_output_details()[0]["index"]
        x_val = self.x_val
        rows = 1 if self.batch == 1 else len(x_val)  # recurrent models take one at a time
        interpreter.resize_tensor_input(index, [rows, *x_val.shape[1:]])
        interpreter.allocate_tensors()
        outputs = []
        for start in range(0, len(x_val), rows):
            interpreter.set_tensor(index, x_val[start:start + rows].astype(self.dtype))
            interpreter.invoke()
            outputs.append(interpreter.get_tensor(output).copy())
        got = np.concatenate(outputs)
        if self.task == "classification":
            return float((got.argmax(-1) == self.reference.argmax(-1)).mean())
        task = get_task(self.task)
        if task.reconstructs:  # minus the drop of the anomaly score's AUC
            return -(task.measure(self.reference, self.x_val, self.y_val)["auc"]
                     - task.measure(got, self.x_val, self.y_val)["auc"])
        return -float(np.abs(got - self.reference).max() /
                      max(float(np.std(self.reference)), 1e-12))


def is_converter_limitation(exc: Exception) -> bool:
    """Whether the TFLite converter refused the model because of what the format can hold.

    That is its ``ConverterError`` (an op with no TFLite kernel, or none in the requested
    integer type), or the calibrator's RuntimeError naming an op or a tensor it cannot quantize
    (an integer token input has no min/max to calibrate). Anything
    else is a bug and is raised as it is. (``ConverterError`` lives in a private module:
    checked against TensorFlow 2.21 by ``tests/test_export.py``.)
    """
    if isinstance(exc, converter_error()):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(
        words in text for words in ("quantiz", "calibrat", "not supported", "unsupported"))


def conversion_reason(exc: Exception) -> str:
    """The converter's one useful line (which op, and why) out of its long report."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        lowered = line.lower()
        if any(word in lowered for word in ("op ", "ops ", "not supported", "unsupported",
                                             "failed to", "quantiz")):
            return line[:300]
    return (lines[0] if lines else type(exc).__name__)[:300]
