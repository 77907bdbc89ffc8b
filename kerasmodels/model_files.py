"""Keras model files from strangers: inspected before anything in them is built, and saved in
the ``.keras`` zip format whatever thread saves them.

Keras' ``safe_mode`` only refuses bytecode lambdas: a ``Lambda`` layer whose function is named
by module (``pydoc.pipepager``, ``os.system``) is imported and run on load, and any
``module``/``class_name`` pair in the config is imported. So every ``.keras`` file is read as
data first: each object in its config must be a layer, initializer, regularizer or constraint
of Keras' own, or a class that kerasmodels registered; ``Lambda`` layers and functions that are
not Keras activations are refused with an ``kerasmodels.errors.UnsafeModelError`` naming
them. Only then is the file (a private copy of it, so it cannot change between the check and
the load) opened with ``safe_mode=True``.

>>> from kerasmodels.model_files import check_config
>>> check_config({"class_name": "Lambda", "config": {"name": "evil"}}, "model.keras")
Traceback (most recent call last):
...
kerasmodels.errors.UnsafeModelError: model.keras holds a Lambda layer 'evil': ...
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kerasmodels._compat import keep_keras_v3_saving
from kerasmodels.errors import ForeignClassError, RunError, UnsafeModelError
from kerasmodels.layout import MODEL

CONFIG_ENTRY = "config.json"
MAX_CONFIG_BYTES = 64 * 2**20
REFUSED_CLASSES = {"Lambda": "a Lambda layer", "__lambda__": "a lambda function",
                   "TFOpLambda": "a TensorFlow op layer", "SlicingOpLambda": "a slicing op layer"}
MODEL_CLASSES = {"Functional", "Sequential", "Model"}
# Keras 3 configs name their data this way: references to tensors, tuples, arrays
DATA_CLASSES = {"__keras_tensor__", "__tuple__", "__numpy__"}
FUNCTION_MODULES = ("keras.activations", "tf_keras.activations", "keras.src.activations",
                    "builtins")
# Keras' own layers that live with the application models that use them
KERAS_APPLICATIONS = "keras.src.applications."
# a compile config is never built: kerasmodels loads with compile=False
SKIPPED_KEYS = {"compile_config"}


def _keras_namespaces(module: str | None = None):
    """Keras' layers, initializers, regularizers and constraints: Keras 3's for an object
    whose module is Keras 3's (``keras.layers``, ``keras.src...``), tf_keras' otherwise."""
    if isinstance(module, str) and module.split(".")[0] == "keras":
        import keras
    else:
        from kerasmodels.backend import keras
    return (keras.layers, keras.initializers, keras.regularizers, keras.constraints)


def _is_keras_module(module: str | None) -> bool:
    return module is None or module in ("keras", "tf_keras") or \
        module.startswith(("keras.", "tf_keras."))


def register_kerasmodels_classes() -> None:
    """Register the Keras classes a kerasmodels model file can name (custom layers and
    regularizers), so a process that only loads a run knows them: they are otherwise registered
    when their modules are first imported, which a builder does only when it builds."""
    import kerasmodels.architectures.layers  # noqa: F401
    import kerasmodels.regularizers  # noqa: F401


def _kerasmodels_registered(registered_name: str) -> bool:
    from kerasmodels.backend import keras

    register_kerasmodels_classes()
    return registered_name.startswith("kerasmodels>") and \
        keras.saving.get_registered_object(registered_name) is not None


def _describe(node: dict[str, Any]) -> str:
    config = node.get("config")
    name = config.get("name") if isinstance(config, dict) else None
    return f"{node['class_name']!r}" + (f" (layer {name!r})" if name else "")


def check_config(config: Any, source: str | Path, trusted: Iterable[str] = ()) -> None:
    """Raise UnsafeModelError unless every object in a Keras model config is safe to build.

    ``trusted``: class names of your own that you vouch for (``custom_objects`` of
    ``km.import_model``): allowed, and nothing else from outside Keras."""
    trusted = frozenset(trusted)
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, (list, tuple)):  # a live model's config holds tuples too
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        stack.extend(v for k, v in node.items() if k not in SKIPPED_KEYS)
        class_name = node.get("class_name")
        if not isinstance(class_name, str):
            continue
        if class_name not in trusted:
            check_object(node, class_name, source)


def check_object(node: dict[str, Any], class_name: str, source: str | Path) -> None:
    module, registered = node.get("module"), node.get("registered_name")
    config = node.get("config")
    if class_name in REFUSED_CLASSES:
        name = config.get("name") if isinstance(config, dict) else None
        raise UnsafeModelError(
            f"{source} holds {REFUSED_CLASSES[class_name]} {name or ''!r}: its code would run "
            "when the file is opened, so it is refused. Rebuild the model without Lambda layers "
            "(a registered custom layer, or plain Keras layers) and save it again")
    if class_name == "function":
        name = config if isinstance(config, str) else None
        ok = isinstance(module, str) and module.startswith(FUNCTION_MODULES) and name is not None
        if ok:
            from kerasmodels.backend import keras

            ok = callable(getattr(keras.activations, name or "", None))
        if not ok:
            raise UnsafeModelError(
                f"{source} names the function {module}.{config} (not a Keras activation): "
                "loading would import and run it, so the file is refused")
        return
    if isinstance(registered, str) and ">" in registered:
        if not _kerasmodels_registered(registered):
            raise ForeignClassError(
                f"{source} uses the custom class {registered!r} (module {module}), which "
                "kerasmodels does not provide: its code would run on load, so the file is "
                "refused. Export the model with Keras' own layers, or, if the class is yours "
                f"and you trust it, import with custom_objects={{{class_name!r}: <a tf_keras "
                "class>}")
        return
    if not _is_keras_module(module):
        raise ForeignClassError(
            f"{source} asks to import {_describe(node)} from module {module!r}, which is not "
            "Keras: the file is refused")
    if class_name in MODEL_CLASSES or class_name in DATA_CLASSES or any(
            isinstance(getattr(ns, class_name, None), type) for ns in _keras_namespaces(module)):
        return
    if isinstance(module, str) and module.startswith(KERAS_APPLICATIONS):
        from kerasmodels.imports.keras3 import EQUIVALENT_LAYERS

        if class_name in EQUIVALENT_LAYERS:  # ConvNeXt's LayerScale: Keras' own code
            return
    if class_name in ("DTypePolicy", "Policy", "FloatDTypePolicy"):  # mixed precision policies
        return
    raise ForeignClassError(
        f"{source} holds {_describe(node)}, which is not a Keras layer, initializer, "
        "regularizer or constraint: the file is refused. Use Keras' own layers")


def read_config(path: str | Path) -> dict[str, Any]:
    """The model config stored in a ``.keras`` archive, read as data."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"model file {path} does not exist")
    if not zipfile.is_zipfile(path):
        raise RunError(f"{path} is corrupt or truncated (not a .keras archive): re-train or "
                       "restore the run")
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(CONFIG_ENTRY)
            if info.file_size > MAX_CONFIG_BYTES:
                raise RunError(f"{path}: its config is {info.file_size} bytes, more than any "
                               "model needs; the file is refused")
            return json.loads(archive.read(info))
    except KeyError:
        raise RunError(f"{path} has no {CONFIG_ENTRY}: it is not a Keras model file") from None
    except (zipfile.BadZipFile, OSError, EOFError, json.JSONDecodeError,
            UnicodeDecodeError) as exc:
        raise RunError(f"{path} is corrupt or truncated ({type(exc).__name__}: {exc}): "
                       "re-train or restore the run") from None


def load_keras_file(path: str | Path, custom_objects: dict[str, Any] | None = None):
    """Load a ``.keras`` file after checking its config; every failure is a clear error.

    The checked bytes are the loaded bytes: the file is copied to a private folder first.
    ``custom_objects`` (classes you vouch for, by name) are allowed and given to Keras.
    """
    from kerasmodels.backend import keras

    register_kerasmodels_classes()
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="kerasmodels-load-") as private:
        copy = Path(private) / MODEL
        try:
            shutil.copyfile(path, copy)
        except FileNotFoundError:
            raise RunError(f"model file {path} does not exist") from None
        except IsADirectoryError:
            raise RunError(f"{path} is a folder, not a .keras file") from None
        check_config(read_config(copy), path, trusted=custom_objects or {})
        try:
            return keras.models.load_model(copy, safe_mode=True, compile=False,
                                           custom_objects=custom_objects)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() \
                else type(exc).__name__
            raise RunError(f"{path} cannot be loaded ({type(exc).__name__}: {first}): the "
                           "file is corrupt, truncated or from an incompatible version; "
                           "re-train the run") from exc
        finally:
            keep_keras_v3_saving()


def save_keras_file(model, path: str | Path) -> None:
    """``model.save(path)`` in the ``.keras`` zip format on any thread.

    tf_keras keeps its ".keras format" switch per thread and loading a model on a thread that
    never saved turns it off, so the next ``save("x.keras")`` there would write HDF5.
    """
    keep_keras_v3_saving()
    model.save(path)


__all__ = ["check_config", "load_keras_file", "read_config", "register_kerasmodels_classes",
           "save_keras_file"]
