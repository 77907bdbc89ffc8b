"""Magnitude pruning with tfmot: schedules, per-layer targets, 2:4 structured sparsity.

>>> child = km.compress(run, "prune", target_sparsity=0.8)  # doctest: +SKIP
>>> child.manifest["compression"]["sparsity"]  # doctest: +SKIP
{'conv_0/kernel:0': 0.8, ...}
"""

from __future__ import annotations

from typing import Any

from kerasmodels._compat import tfmot_supports
from kerasmodels.backend import keras
from kerasmodels.compression.common import sparsity_by_kernel, wrapper_limit
from kerasmodels.errors import HyperparameterError
from kerasmodels.modeling import clone
from kerasmodels.options import COMPRESSION

SCHEDULES = COMPRESSION["schedule"].options


def check_sparsity(name: str, value) -> float:
    if not COMPRESSION["target_sparsity"].accepts(value):
        raise HyperparameterError(f"{name} must be {COMPRESSION['target_sparsity'].expected}, "
                                  f"got {value!r}: 0.8 prunes 80% of the weights")
    return float(value)


def prunable(layer, prune_embeddings: bool) -> bool:
    """True when tfmot can prune ``layer`` and it has weights worth pruning."""
    if not layer.trainable_weights:
        return False
    if isinstance(layer, keras.layers.Embedding):
        return prune_embeddings
    return tfmot_supports("prune", layer)


def prune(model, data, *, target_sparsity: float = 0.8, schedule: str = "polynomial",
          epochs: int = 8, learning_rate: float = 1e-3, frequency: int | None = None,
          structured_2_4: bool = False, layer_sparsity: dict[str, float] | None = None,
          prune_embeddings: bool = False, batch_size: int = 32):
    """A pruned, stripped clone of ``model`` and the report for the manifest.

    The schedule reaches ``target_sparsity`` after 60% of the ``epochs``; the rest recover
    accuracy at that sparsity. ``frequency`` (steps between pruning updates) defaults to a
    quarter epoch, so pruning fires often on small data. ``structured_2_4`` keeps 2 of every
    4 weights (tfmot's m-by-n sparsity, Dense and Conv2D only). ``layer_sparsity`` sets
    per-layer targets by layer name. Layers tfmot cannot prune are skipped and reported.
    """
    import tensorflow_model_optimization as tfmot

    from kerasmodels.compression.common import fine_tune

    target = check_sparsity("target_sparsity", target_sparsity)
    layer_sparsity = {k: check_sparsity(f"layer_sparsity[{k!r}]", v)
                      for k, v in (layer_sparsity or {}).items()}
    if schedule not in SCHEDULES:
        from kerasmodels.errors import UnknownNameError

        raise UnknownNameError("pruning schedule", schedule, SCHEDULES)
    unknown = set(layer_sparsity) - {layer.name for layer in model.layers}
    if unknown:
        raise HyperparameterError(f"layer_sparsity names layers the model does not have: "
                                  f"{sorted(unknown)}; its layers: "
                                  f"{[layer.name for layer in model.layers]}")
    steps = -(-len(data.train[0]) // batch_size)
    frequency = frequency or max(1, steps // 4)
    end_step = max(frequency, steps * max(1, round(epochs * 0.6)))
    end_step -= end_step % frequency  # the last update lands exactly on the target

    def schedule_for(sparsity: float):
        if schedule == "constant":
            return tfmot.sparsity.keras.ConstantSparsity(sparsity, begin_step=0,
                                                         frequency=frequency)
        return tfmot.sparsity.keras.PolynomialDecay(0.0, sparsity, begin_step=0,
                                                    end_step=end_step, frequency=frequency)

    pruned, skipped = [], []

    def wrap(layer):
        if not layer.trainable_weights:
            return layer
        limit = wrapper_limit(layer)
        if limit or not prunable(layer, prune_embeddings):
            skipped.append(f"{layer.name} ({type(layer).__name__}{': ' + limit if limit else ''})")
            return layer
        if structured_2_4 and not isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D)):
            skipped.append(f"{layer.name} ({type(layer).__name__}: 2:4 is Dense/Conv2D only)")
            return layer
        if structured_2_4 and layer.kernel.shape[-2] % 4:  # groups run along the input channels
            skipped.append(f"{layer.name} (2:4 needs input channels in fours, it has "
                           f"{layer.kernel.shape[-2]})")
            return layer
        pruned.append(layer.name)
        options = {"sparsity_m_by_n": (2, 4)} if structured_2_4 else {}
        return tfmot.sparsity.keras.prune_low_magnitude(
            layer, pruning_schedule=schedule_for(layer_sparsity.get(layer.name, target)),
            **options)

    wrapped = keras.models.clone_model(clone(model), clone_function=wrap)
    history = fine_tune(wrapped, data, epochs=epochs, learning_rate=learning_rate,
                        batch_size=batch_size,
                        callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    stripped = tfmot.sparsity.keras.strip_pruning(wrapped)
    measured = {name: s for name, s in sparsity_by_kernel(stripped).items()
                if name in pruned}
    report: dict[str, Any] = {"pruned_layers": pruned, "skipped_layers": skipped,
                              "sparsity": measured, "frequency": frequency,
                              "end_step": end_step}
    return stripped, report, history
