"""Every private name of another package that kerasmodels uses, in one table.

Each row says which package's private name it is, the version it was checked against and why
kerasmodels needs it (none of these has a public equivalent). The rest of the package reaches
them only through the functions below, and ``tests/test_compat.py`` fails, naming the row, when
an installed version no longer has one (and when a module outside this one spells a private
name of another package).

Example:
    >>> from kerasmodels import _compat
    >>> _compat.missing()
    []
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any


@dataclass(frozen=True)
class PrivateName:
    """A private name of another package.

    Attributes:
        key: how this module refers to it.
        distribution: the PyPI distribution it comes from (for its installed version).
        path: ``module:attribute.attribute``; for an attribute of instances, where the class is.
        checked: the distribution's version it was checked against.
        why: what kerasmodels uses it for.
        instance: builds an object that must have the last attribute of ``path`` (an attribute
            set in ``__init__``, which the class does not have).
    """

    key: str
    distribution: str
    path: str
    checked: str
    why: str
    instance: Callable[[], Any] | None = None

    @property
    def attribute(self) -> str:
        return self.path.rpartition(".")[2] if self.instance else ""


def _adam():
    import tf_keras

    return tf_keras.optimizers.Adam(tf_keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5))


def _converter():
    import tensorflow as tf

    return tf.lite.TFLiteConverter.from_concrete_functions(
        [tf.function(lambda x: x).get_concrete_function(tf.TensorSpec([1], tf.float32))])


def _dropout():
    import tf_keras

    layer = tf_keras.layers.Dropout(0.5)
    layer.build((None, 2))
    return layer._random_generator


def _tf_keras_tensor():
    import tf_keras

    return tf_keras.layers.Masking()(tf_keras.Input((3, 2)))


def _keras3_tensor():
    import keras

    return keras.Input((2,))


PRIVATE_NAMES = (
    PrivateName("saving_v3", "tf-keras", "tf_keras.src.saving.saving_lib:_SAVING_V3_ENABLED",
                "2.21.0", "tf_keras keeps its '.keras format' switch per thread and loading on "
                "a thread that never saved turns it off: save() would write HDF5"),
    PrivateName("flatten_layers", "tf-keras", "tf_keras:Model._flatten_layers", "2.21.0",
                "every layer of a model, nested ones included, in the order checkpoints use "
                "(the random generators a resumed run restores)"),
    PrivateName("random_generator", "tf-keras",
                "tf_keras.src.backend:RandomGenerator._generator", "2.21.0",
                "a dropout layer's tf.random.Generator: its state makes a resumed run "
                "bit-identical", instance=_dropout),
    PrivateName("keras_history", "tf-keras",
                "tf_keras.src.engine.keras_tensor:KerasTensor._keras_history", "2.21.0",
                "the layer that made a symbolic tensor (a model's outputs)",
                instance=_tf_keras_tensor),
    PrivateName("keras3_history", "keras", "keras:KerasTensor._keras_history", "3.15.1",
                "the layer that made a Keras 3 symbolic tensor (a model's input name)",
                instance=_keras3_tensor),
    PrivateName("keras_mask", "tf-keras",
                "tf_keras.src.engine.keras_tensor:KerasTensor._keras_mask", "2.21.0",
                "whether a layer receives a padding mask (tfmot's wrappers drop it)",
                instance=_tf_keras_tensor),
    PrivateName("learning_rate", "tf-keras", "tf_keras.optimizers:Adam._learning_rate",
                "2.21.0", "the schedule itself: the public learning_rate is the last step's "
                "value", instance=_adam),
    PrivateName("prune_registry", "tensorflow-model-optimization",
                "tensorflow_model_optimization.python.core.sparsity.keras.prune_registry:"
                "PruneRegistry", "0.8.1", "which layers tfmot can prune"),
    PrivateName("cluster_registry", "tensorflow-model-optimization",
                "tensorflow_model_optimization.python.core.clustering.keras.clustering_registry:"
                "ClusteringRegistry", "0.8.1", "which layers tfmot can cluster"),
    PrivateName("quantize_registry", "tensorflow-model-optimization",
                "tensorflow_model_optimization.python.core.quantization.keras.default_8bit."
                "default_8bit_quantize_registry:Default8BitQuantizeRegistry", "0.8.1",
                "which layers tfmot's 8-bit QAT can quantize"),
    PrivateName("converter_error", "tensorflow", "tensorflow.lite.python.convert_phase:"
                "ConverterError", "2.21.0", "the TFLite converter's refusal of a model (what "
                "the format cannot hold), told apart from a bug"),
    PrivateName("tflite_schema", "tensorflow",
                "tensorflow.lite.python.schema_py_generated:MetadataT", "2.21.0",
                "the .tflite flatbuffer's object API: metadata and associated files are "
                "written into the file as tflite-support writes them"),
    PrivateName("per_tensor_dense", "tensorflow",
                "tensorflow.lite.python.lite:TFLiteConverterBase."
                "_experimental_disable_per_channel_quantization_for_dense_layers", "2.21.0",
                "dynamic-range files with per-tensor Dense weights: FULLY_CONNECTED version 9 "
                "(runtime 2.4), where per-channel weights need version 12 (runtime 2.17), "
                "which the Task Library's runtime lacks", instance=_converter),
    PrivateName("ops_details", "ai-edge-litert",
                "ai_edge_litert.interpreter:Interpreter._get_ops_details", "2.3.0",
                "the nodes of an allocated LiteRT interpreter: whether a delegate (XNNPACK) "
                "took part of the graph (scripts/bench_xnnpack.py)"),
    PrivateName("streamlit_cleanup", "streamlit",
                "streamlit.runtime.scriptrunner.script_runner:_clean_problem_modules", "1.67.0",
                "Streamlit calls Keras 3's clear_session() after every script run once a "
                "module named keras is loaded: a gc.collect() holding the GIL for seconds"),
)
BY_KEY = {name.key: name for name in PRIVATE_NAMES}


class CompatError(ImportError):
    """An installed package no longer has a private name kerasmodels was checked against."""


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "(not installed)"


@functools.cache
def resolve(key: str) -> Any:
    """The object the row ``key`` names (for an instance attribute: the class holding it).

    Raises:
        CompatError: the installed version does not have it, with the version checked against.
    """
    return lookup(BY_KEY[key])


def lookup(name: PrivateName) -> Any:
    """The object ``name`` names (for an instance attribute: the class holding it).

    Raises:
        CompatError: the installed version does not have it, with the version checked against.
    """
    module_name, _, attributes = name.path.partition(":")
    parts = attributes.split(".")
    if name.instance:
        parts = parts[:-1]
    try:
        found: Any = importlib.import_module(module_name)
        for part in parts:
            found = getattr(found, part)
        if name.instance and not hasattr(name.instance(), name.attribute):
            raise AttributeError(name.attribute)
    except (ImportError, AttributeError) as exc:
        raise CompatError(
            f"{name.distribution} {_version(name.distribution)} has no {name.path} "
            f"({type(exc).__name__}: {exc}), the private name kerasmodels uses for {name.why} "
            f"(checked against {name.distribution} {name.checked}): install "
            f"{name.distribution}=={name.checked}, or update kerasmodels/_compat.py") from None
    return found


def missing() -> list[str]:
    """One line per private name the installed packages no longer have (empty: all there)."""
    found = []
    for name in PRIVATE_NAMES:
        try:
            resolve(name.key)
        except CompatError as exc:
            found.append(str(exc))
    return found


# The accessors the rest of kerasmodels calls.

def keep_keras_v3_saving() -> None:
    """Turn tf_keras' per-thread ".keras format" switch back on for this thread."""
    resolve("saving_v3").value = True


def flatten_layers(model) -> list:
    """Every layer of ``model``, nested ones included, in checkpoint order (not the model)."""
    resolve("flatten_layers")
    return list(model._flatten_layers(include_self=False))


def random_generator(layer):
    """``layer``'s ``tf.random.Generator`` (dropout), or None."""
    resolve("random_generator")
    return getattr(getattr(layer, "_random_generator", None), "_generator", None)


def producing_layer(tensor):
    """The layer (tf_keras) or operation (Keras 3) that made a symbolic tensor, or None."""
    history = getattr(tensor, "_keras_history", None)
    return history[0] if history else None


def has_mask(tensor) -> bool:
    """Whether a symbolic tensor carries a padding mask."""
    return getattr(tensor, "_keras_mask", None) is not None


def learning_rate_schedule(optimizer):
    """The optimizer's learning rate as given: a schedule or a variable."""
    return getattr(optimizer, "_learning_rate", None)


def tfmot_supports(registry: str, layer) -> bool:
    """Whether tfmot's ``registry`` ("prune", "cluster" or "quantize") takes ``layer``."""
    if registry == "quantize":
        return bool(resolve("quantize_registry")().supports(layer))
    return bool(resolve(f"{registry}_registry").supports(layer))


def converter_error() -> type:
    """The TFLite converter's ``ConverterError`` class."""
    return resolve("converter_error")


def tflite_schema():
    """TFLite's generated flatbuffer schema module (``ModelT``, ``BufferT``, ``MetadataT``)."""
    resolve("tflite_schema")
    return importlib.import_module(BY_KEY["tflite_schema"].path.partition(":")[0])


def per_tensor_dense(converter) -> None:
    """Make ``converter`` quantize Dense weights per tensor, not per output channel."""
    resolve("per_tensor_dense")
    converter._experimental_disable_per_channel_quantization_for_dense_layers = True


def ops_of(interpreter) -> list[str]:
    """The op names of an allocated LiteRT interpreter's nodes (``DELEGATE`` for a node a
    delegate took)."""
    resolve("ops_details")
    return [op["op_name"] for op in interpreter._get_ops_details()]


def replace_streamlit_cleanup(replacement: Callable[[], None]) -> bool:
    """Make Streamlit call ``replacement`` after each script run instead of its module
    cleanup; False when this Streamlit has none to replace."""
    try:
        resolve("streamlit_cleanup")
    except CompatError:
        return False
    from streamlit.runtime.scriptrunner import script_runner

    script_runner._clean_problem_modules = replacement
    return True


__all__ = ["PRIVATE_NAMES", "CompatError", "PrivateName", "converter_error", "flatten_layers",
           "has_mask", "keep_keras_v3_saving", "learning_rate_schedule", "missing",
           "ops_of", "per_tensor_dense", "producing_layer", "random_generator", "replace_streamlit_cleanup",
           "lookup", "resolve", "tfmot_supports", "tflite_schema"]
