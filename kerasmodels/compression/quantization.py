"""Quantization-aware training (QAT) with tfmot, and the schemes that keep sparsity and clusters.

The whole model is quantized when tfmot supports every layer; otherwise (LSTM, attention,
layers fed a padding mask) only the supported layers are annotated and the rest are listed.

A QAT model does not reload from a ``.keras`` file (tfmot's wrappers list other variables on
load than on save), so a QAT run stores its float model as ``model.keras`` (safe mode) and the
QAT state (weights and quantizer ranges) as ``qat.weights.npz``; ``restore`` rebuilds the
QAT model from both by the same code path that made it.

>>> child = km.compress(run, "qat")  # doctest: +SKIP
>>> km.export(child, ["tflite-int8"])  # doctest: +SKIP
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from kerasmodels._compat import tfmot_supports
from kerasmodels.backend import keras
from kerasmodels.compression.common import fine_tune, wrapper_limit
from kerasmodels.errors import RunError, UnknownNameError
from kerasmodels.layout import QAT_STATE, QAT_TEMPLATE
from kerasmodels.modeling import clone

# the float model QAT started from: rebuilding the QAT model from it gives the variables the
# state was saved from (tfmot sizes cluster centroids from the weights it wraps)

SCHEMES = ("default", "prune", "cluster", "prune+cluster")


def scheme(name: str):
    """The tfmot quantize scheme: plain 8-bit, or one that keeps sparsity and/or clusters."""
    import tensorflow_model_optimization as tfmot

    combine = tfmot.experimental.combine
    schemes = {
        "default": tfmot.quantization.keras.default_8bit.Default8BitQuantizeScheme,
        "prune": combine.Default8BitPrunePreserveQuantizeScheme,
        "cluster": lambda: combine.Default8BitClusterPreserveQuantizeScheme(False),
        "prune+cluster": lambda: combine.Default8BitClusterPreserveQuantizeScheme(True),
    }
    if name not in schemes:
        raise UnknownNameError("quantize scheme", name, SCHEMES)
    return schemes[name]()


def skip_reason(layer) -> str | None:
    """Why ``layer`` is left in float, or None when tfmot's 8-bit registry can quantize it."""
    if isinstance(layer, keras.layers.InputLayer):
        return "input"
    if isinstance(layer, keras.layers.RNN):
        return "recurrent: tfmot's QAT cannot train through it"
    limit = wrapper_limit(layer)
    if limit:
        return limit
    if not tfmot_supports("quantize", layer) and not folded_batch_norm(layer):
        return "not in tfmot's 8-bit registry"
    return None


def folded_batch_norm(layer) -> bool:
    """A BatchNormalization right after a convolution: tfmot folds it into the convolution's
    kernel (its Conv2D/DepthwiseConv2D + BatchNormalization layout transforms)."""
    if not isinstance(layer, keras.layers.BatchNormalization) or len(layer.inbound_nodes) != 1:
        return False
    before = layer.inbound_nodes[0].inbound_layers
    return isinstance(before, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)) and \
        len(before.outbound_nodes) == 1


def quantize_clone(model, annotate: list[str], scheme_name: str = "default"):
    """A QAT model over a clone of ``model`` with the layers named in ``annotate`` quantized."""
    import tensorflow_model_optimization as tfmot

    quantize = tfmot.quantization.keras
    chosen = set(annotate)

    def mark(layer):
        return quantize.quantize_annotate_layer(layer) if layer.name in chosen else layer

    annotated = keras.models.clone_model(clone(model), clone_function=mark)
    with quantize.quantize_scope():
        return quantize.quantize_apply(annotated, scheme(scheme_name))


def qat(model, data, *, epochs: int = 3, learning_rate: float = 1e-4, batch_size: int = 32,
        scheme_name: str = "default"):
    """A quantization-aware-trained clone of ``model`` and its report.

    Every layer tfmot can quantize is annotated; the others stay float and are listed in
    ``skipped_layers`` (a layer without weights and outside the registry is listed too).
    """
    annotate, skipped = [], []
    for layer in model.layers:
        reason = skip_reason(layer)
        if reason is None:
            annotate.append(layer.name)
        elif reason != "input":
            skipped.append(f"{layer.name} ({type(layer).__name__}: {reason})")
    if not any(model.get_layer(name).weights for name in annotate):
        from kerasmodels.errors import HyperparameterError

        raise HyperparameterError(f"{model.name}: tfmot can quantize none of its weighted layers "
                                  f"({'; '.join(skipped)}); use tflite-int8 post-training "
                                  "quantization instead")
    quantized = quantize_clone(model, annotate, scheme_name)
    history = fine_tune(quantized, data, epochs=epochs, learning_rate=learning_rate,
                        batch_size=batch_size)
    report = {"quantized_layers": annotate, "skipped_layers": skipped,
              "quantize_scheme": scheme_name, "whole_model": not skipped}
    return quantized, report, history


def float_model(quantized, template):
    """``template``'s architecture with the QAT-trained float weights of ``quantized``.

    Matched by variable name: tfmot's wrappers take the wrapped layer's kernel into their own
    variable list, so the inner layer's ``get_weights()`` no longer holds it.
    """
    trained = {}
    for variable in quantized.weights:
        trained.setdefault(variable.name, variable)
    result = clone(template)
    for variable in result.weights:
        if variable.name not in trained:
            raise RunError(f"the QAT model has no variable {variable.name}: its float weights "
                           "cannot be recovered")
        variable.assign(trained[variable.name])
    return result


def state_bytes(quantized) -> bytes:
    """Every variable of the QAT model (weights and quantizer ranges), in model order, as npz."""
    buffer = io.BytesIO()
    np.savez(buffer, *quantized.get_weights())
    return buffer.getvalue()


def restore(float_version, report: dict[str, Any], state: Path):
    """Rebuild the QAT model from its float model and ``qat.weights.npz``."""
    quantized = quantize_clone(float_version, report["quantized_layers"],
                               report.get("quantize_scheme", "default"))
    try:
        with np.load(state, allow_pickle=False) as stored:
            values = [stored[f"arr_{i}"] for i in range(len(stored.files))]
    except Exception as exc:
        raise RunError(f"{state} is corrupt or truncated ({type(exc).__name__}): re-run the "
                       "compression") from None
    expected = [tuple(w.shape) for w in quantized.weights]
    if [v.shape for v in values] != expected:
        raise RunError(f"{state} does not fit the model ({len(values)} arrays, the model has "
                       f"{len(expected)} variables): re-run the compression")
    quantized.set_weights(values)
    return quantized


def saved_form(model, template, report: dict[str, Any]) -> tuple[Any, dict[str, bytes]]:
    """What a QAT run's folder holds: its float model (``model.keras``, what every exporter
    reads), plus its quantizer state and the float model its wrappers are rebuilt on
    (restored by ``load_run_model``). Adds the float model's sparsity and unique values
    per kernel to ``report``.

    Args:
        model: the quantization-aware-trained model.
        template: the float model the QAT step started from.
        report: the step's report, completed here.

    Returns:
        The model to save and ``{file name: bytes}`` beside it.
    """
    import tempfile

    from kerasmodels.compression.common import kernel_weights, sparsity_by_kernel
    from kerasmodels.model_files import save_keras_file

    saved = float_model(model, template)
    files = {QAT_STATE: state_bytes(model)}
    with tempfile.TemporaryDirectory(prefix="kerasmodels-qat-") as scratch:
        save_keras_file(template, Path(scratch) / QAT_TEMPLATE)
        files[QAT_TEMPLATE] = (Path(scratch) / QAT_TEMPLATE).read_bytes()
    report["sparsity"] = sparsity_by_kernel(saved)
    report["unique_values"] = {name: int(np.unique(w).size)
                               for name, w in kernel_weights(saved).items()}
    return saved, files


def load_run_model(run, model):
    """The model of ``run`` as it was trained: for a QAT run (a ``qat.weights.npz`` beside its
    float model), the QAT model rebuilt; any other model as it is. Plugged into
    ``kerasmodels.runs.Run.model`` by the ``kerasmodels.model_loaders`` entry point."""
    state = run.path / QAT_STATE
    if not state.is_file():
        return model
    from kerasmodels.runs import load_model

    template = run.path / QAT_TEMPLATE
    return restore(load_model(template) if template.is_file() else model,
                   run.record.compression, state)


__all__ = ["SCHEMES", "float_model", "load_run_model", "qat", "quantize_clone", "restore",
           "saved_form", "scheme", "state_bytes"]
