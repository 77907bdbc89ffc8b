"""Bring your own model: a Keras model (tf_keras or Keras 3) or a SavedModel becomes a run.

The result is an ordinary run (recipe ``import``): export, benchmark, compress, sweep, the
dashboard and the Playground work on it unchanged. Its manifest's ``source`` records where it
came from (kind, path and sha256, framework and version) and, for a Keras 3 model, the largest
difference between the original and its tf_keras rebuild on the dataset.

>>> import keras, kerasmodels as km
>>> inputs = keras.Input((8, 8, 1))
>>> x = keras.layers.Flatten()(inputs)
>>> mine = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
>>> run = km.import_model(mine, "digits", out_dir="/tmp/km-doc", name="mine")
>>> run.manifest["recipe"], run.manifest["source"]["framework"]
('import', 'keras3')
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from kerasmodels.data import Dataset, load_dataset
from kerasmodels.data.dataset import content_sha256
from kerasmodels.errors import HyperparameterError, InputShapeError, UnsupportedLayerError
from kerasmodels.imports.saved_model import SIGNATURE
from kerasmodels.layout import RUNS_DIR
from kerasmodels.logs import get_logger
from kerasmodels.modeling import run_name
from kerasmodels.runs import Run, new_manifest, new_run_id, save_run

LOG = get_logger(__name__)

# a rebuilt Keras 3 model may differ from the original by at most this, relative to the
# largest output (float32 rounding of the same computation in another order)
REBUILD_TOLERANCE = 1e-4
PARITY_EXAMPLES = 1000


def import_model(source: Any, dataset: str | Dataset, *, out_dir: str | Path = RUNS_DIR,
                 name: str | None = None, signature: str = SIGNATURE,
                 dataset_options: dict | None = None,
                 custom_objects: dict[str, Any] | None = None) -> Run:
    """Import ``source`` as a run evaluated on ``dataset``; returns the Run.

    Args:
        source: a tf_keras or Keras 3 model object, a ``.keras`` or ``.h5`` file of either,
            or a SavedModel folder (its ``signature``, one input and one output; a TF
            Serving folder: its newest version). Keras 3 models are rebuilt as tf_keras
            models (``kerasmodels.imports.keras3``) and checked against the original. A
            model object that is subclassed, or has a layer of your own, becomes a graph (a
            SavedModel: it exports and benchmarks; recipes that change layers refuse it).
        dataset: a name (with ``dataset_options``, as in ``km.train``) or a ``km.Dataset``.
        out_dir: where the run is written.
        name: the run's (and its architecture's) name; the model's own by default.
        signature: a SavedModel's signature.
        dataset_options: options of a dataset given by name.
        custom_objects: ``{class name: tf_keras class}`` for layers of your own that you
            vouch for: they are built from that class (nothing else from a file is trusted).
            The run then loads where those classes are registered
            (``keras.saving.register_keras_serializable``).

    Returns:
        The imported run (recipe ``import``); its manifest's ``source`` says where it came
        from, and its ``max_abs_difference`` from a Keras 3 original.

    Raises:
        UnsupportedLayerError: a layer that cannot be rebuilt, named with what to do.
        UnsafeModelError: a file that would run code (a Lambda, a foreign class).
        InputShapeError: a dataset whose shape or classes do not fit the model.

    Nothing is written unless every check passes. A classifier that outputs logits gets a
    softmax; one that predicts a single class for most of the validation split is imported
    with a warning saying why that usually happens.

    Examples:
        A Keras 3 model (``import keras``), as a user brings it; a ``.keras``, ``.h5`` or
        SavedModel path imports the same way:

        >>> import keras
        >>> import kerasmodels as km
        >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
        ...                           keras.layers.Dense(10, activation="softmax")])
        >>> mine = km.import_model(model, "digits", name="mine")
        >>> mine.manifest["recipe"], mine.manifest["source"]["framework"]
        ('import', 'keras3')
    """
    if name is not None:
        run_name(name)  # before any work
    data = load_dataset(dataset, **(dataset_options or {}))
    started = time.perf_counter()
    model, source_record = own_model(source, data, signature=signature,
                                     custom_objects=custom_objects)
    metrics = evaluate(model, data)
    arch = run_name(name or getattr(model, "name", None) or "imported")
    out_dir = Path(out_dir)
    manifest = new_manifest(
        new_run_id(arch, data.name, out_dir, "import"),
        arch={"name": arch, "family": "imported", "hparams": {},
              "params": int(model.count_params())},
        dataset=data, metrics=metrics, recipe="import",
        source={**source_record, "seconds": round(time.perf_counter() - started, 3)},
    )
    return save_run(model, manifest, {}, out_dir, dataset=data)


def own_model(source, data: Dataset, *, signature: str = SIGNATURE,
              custom_objects: dict[str, Any] | None = None):
    """The model ``source`` holds, ready for kerasmodels on ``data``, and the record of where
    it came from: read safely, rebuilt as tf_keras (Keras 3, checked against the original) or
    copied (a model object: the caller's stays theirs), checked to fit ``data``, with a softmax
    after logits. Shared by ``import_model`` and ``km.train(model, ...)``."""
    from kerasmodels.imports.sources import read_source

    if custom_objects is not None and (not isinstance(custom_objects, dict) or not all(
            isinstance(k, str) and isinstance(v, type) for k, v in custom_objects.items())):
        raise HyperparameterError("custom_objects must map class names to tf_keras layer "
                                  f"classes, got {custom_objects!r}")
    read = read_source(source, input_shape=data.input_shape, signature=signature,
                       custom_objects=custom_objects)
    model = read.model
    check_fits(model, data)
    record = {**read.describe(), "sha256": content_sha256(read.path) if read.path else None}
    if custom_objects:  # what the run's model.keras names, for load_run to look up
        from kerasmodels.backend import keras

        record["custom_objects"] = {cls.__name__: keras.saving.get_registered_name(cls)
                                    for cls in custom_objects.values()}
    if read.framework == "keras3" and not read.details.get("as_graph"):
        from kerasmodels.imports.keras3 import rebuild

        original, model = model, rebuild(model, custom_objects)
        record["max_abs_difference"] = check_rebuild(original, model, data)
    elif read.kind == "object" and not read.details.get("as_graph"):
        from kerasmodels.modeling import clone

        model = clone(model)
    model, record["added_softmax"] = with_probabilities(model, data)
    if data.task == "classification":
        from kerasmodels.diagnosis import collapse_message
        from kerasmodels.runtime.keras import KerasPredictor

        x_val, y_val = data.val
        collapsed = collapse_message(KerasPredictor(model).predict(x_val), y_val, data.labels,
                                     f"{data.name}'s validation split")
        if collapsed:
            LOG.warning("importing %s: %s", getattr(model, "name", "the model"), collapsed)
            record["collapsed"] = collapsed
    return model, record


def check_fits(model, data: Dataset) -> None:
    """Raise InputShapeError unless ``model`` takes one input of the dataset's shape and gives
    one output of the right width (one per class, or one value for a regression)."""
    try:
        inputs, outputs = list(model.inputs), list(model.outputs)
    except (AttributeError, TypeError, ValueError):
        raise InputShapeError(f"{model.name} has no input shape yet: start it with keras.Input("
                              "shape) or call it on data once, then import it") from None
    if len(inputs) != 1 or len(outputs) != 1:
        raise InputShapeError(f"the model has {len(inputs)} inputs and {len(outputs)} outputs: "
                              "kerasmodels imports models of one input and one output")
    taken = tuple(model.inputs[0].shape)[1:]
    if len(taken) != len(data.input_shape) or any(
            d is not None and d != e for d, e in zip(taken, data.input_shape, strict=False)):
        shown = tuple("None" if d is None else d for d in taken)
        raise InputShapeError(
            f"the model takes examples of shape ({', '.join(map(str, shown))}) but {data.name}'s "
            f"are {data.input_shape}: import it with a dataset of that shape")
    out = tuple(model.outputs[0].shape)
    width = out[-1] if len(out) == 2 else None
    if data.task == "classification":
        if width != data.num_classes:
            labels = f" ({', '.join(data.labels)})" if data.labels else ""
            raise InputShapeError(
                f"the model gives outputs of shape {out[1:]}, but {data.name} has "
                f"{data.num_classes} classes{labels}: give the dataset it was trained for, or "
                f"a model whose last layer has {data.num_classes} units")
    elif width != 1:
        raise InputShapeError(f"the model gives outputs of shape {out[1:]}, but {data.name} is a "
                              "regression with one target: its last layer needs 1 unit")


def check_rebuild(original, rebuilt, data: Dataset) -> float:
    """The largest difference between the Keras 3 original and its rebuild on the dataset's
    val and test inputs; an UnsupportedLayerError above ``REBUILD_TOLERANCE``."""
    x = np.concatenate([data.val[0], data.test[0]])[:PARITY_EXAMPLES]
    expected = np.asarray(original.predict(x, batch_size=256, verbose=0))
    got = np.asarray(rebuilt.predict(x, batch_size=256, verbose=0))
    difference = float(np.abs(expected - got).max())
    if difference > REBUILD_TOLERANCE * max(1.0, float(np.abs(expected).max())):
        raise UnsupportedLayerError(
            f"the tf_keras rebuild differs from the Keras 3 model by up to {difference:.3g} on "
            f"{data.name}: a layer did not carry over faithfully; report it with the model")
    return difference


def with_probabilities(model, data: Dataset):
    """``model``, with a softmax after it when it is a classifier giving logits; and whether
    one was added."""
    if data.task != "classification":
        return model, False
    from kerasmodels.runtime.keras import KerasPredictor

    outputs = KerasPredictor(model).predict(data.val[0][:64])
    if np.all(outputs >= -1e-6) and np.allclose(outputs.sum(-1), 1.0, atol=1e-3):
        return model, False
    if getattr(model, "saved_model_path", None) is not None:  # a SavedModel's graph
        model.softmax = True
        return model, True
    from kerasmodels.backend import keras

    probabilities = keras.layers.Softmax(name="probabilities")(model.outputs[0])
    return keras.Model(model.inputs, probabilities, name=model.name), True


def evaluate(model, data: Dataset) -> dict[str, dict[str, float]]:
    """Loss and metric on every split: a Keras model compiled as kerasmodels trains, a
    SavedModel's graph from its outputs."""
    from kerasmodels.backend import keras
    from kerasmodels.modeling import compile_for
    from kerasmodels.modeling import evaluate as evaluate_compiled

    if isinstance(model, keras.Model):
        from kerasmodels.optimizers import make_optimizer

        compile_for(model, data.task, make_optimizer("adam", 1e-3))
        return evaluate_compiled(model, data)
    from kerasmodels.tasks import get_task

    task = get_task(data.task)
    return {split: task.measure(model.predict(getattr(data, split)[0]), *getattr(data, split))
            for split in ("train", "val", "test")}


__all__ = ["check_fits", "import_model", "own_model"]
