"""Read a user's model from wherever it is: a model object, a ``.keras`` or ``.h5`` file (of
tf_keras or Keras 3) or a SavedModel folder, into a tf_keras model or a ``GraphModel``.

Files are treated as files from strangers: copied to a private folder, their config read as
data and checked (``kerasmodels.model_files.check_config``: no Lambda, no class from
outside Keras) before Keras opens the copy, with ``safe_mode=True`` where the format has one.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kerasmodels.backend import keras as tf_keras
from kerasmodels.errors import (
    ForeignClassError,
    RunError,
    UnsafeModelError,
    UnsupportedLayerError,
)
from kerasmodels.imports.keras3 import MODELS, check_supported, is_keras3, model_config
from kerasmodels.imports.saved_model import SIGNATURE, GraphModel, is_saved_model
from kerasmodels.layout import MODEL
from kerasmodels.model_files import check_config, load_keras_file, read_config

SOURCES = ("a tf_keras or Keras 3 model object, a .keras or .h5 file of either, or a SavedModel "
           "folder (or a .zip of one)")


@dataclass
class Source:
    """The model read from a source, and where it came from (recorded in the run)."""

    model: Any  # a tf_keras model, a Keras 3 model or a GraphModel
    kind: str  # object, keras-file, h5-file, saved_model
    framework: str  # tf_keras, keras3, tensorflow
    version: str
    path: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.path, "framework": self.framework,
                "version": self.version, **self.details}


def read_source(source, *, input_shape: tuple[int, ...], signature: str = SIGNATURE,
                custom_objects: dict[str, Any] | None = None) -> Source:
    """The model ``source`` holds. Raises a clear error for anything else.

    A model object that is subclassed, or holds a layer that cannot be rebuilt and that
    ``custom_objects`` does not name, is saved as a SavedModel (Keras 3's own
    ``model.export(format="tf_saved_model")``, ``tf.saved_model.save`` for tf_keras) and read
    as a graph: it is your object, in your process, and the graph carries no code.
    """
    custom_objects = custom_objects or {}
    if isinstance(source, (str, Path)):
        return _read_path(Path(source), input_shape=input_shape, signature=signature,
                          custom_objects=custom_objects)
    framework = "tf_keras" if isinstance(source, tf_keras.Model) else \
        "keras3" if is_keras3(source) else None
    if framework is not None:
        described = f"model {getattr(source, 'name', '')!r}"
        if type(source).__name__ not in MODELS:  # subclassed: its graph is Python code
            return _as_graph(source, framework, f"{described} is a subclassed model (class "
                             f"{type(source).__name__})", input_shape)
        try:
            config = model_config(source)
            if framework == "keras3":
                _check_keras3(config, described, custom_objects)
            else:
                check_config(config, described, trusted=custom_objects)
        except (UnsupportedLayerError, ForeignClassError) as exc:  # a layer of your own
            return _as_graph(source, framework, str(exc), input_shape)
        import keras

        return Source(source, "object", framework,
                      keras.__version__ if framework == "keras3" else tf_keras.__version__)
    raise UnsupportedLayerError(f"cannot import a {type(source).__name__}: give {SOURCES}")


def _check_keras3(config: dict[str, Any], source: str,
                  custom_objects: dict[str, Any] | None = None) -> None:
    # refuses Lambda and classes from outside Keras (but those you vouch for) first
    check_config(config, source, trusted=custom_objects or {})
    check_supported(config, source, custom_objects)


def _as_graph(model, framework: str, reason: str, input_shape: tuple[int, ...]) -> Source:
    """``model`` saved as a SavedModel (in a folder that lives as long as the graph) and read
    back as a graph."""
    import weakref

    import tensorflow as tf

    folder = Path(tempfile.mkdtemp(prefix="kerasmodels-graph-"))
    target = folder / "saved_model"
    try:
        if framework == "keras3":
            model.export(str(target), format="tf_saved_model", verbose=False)
        else:
            spec = tf.TensorSpec((None, *input_shape), model.inputs[0].dtype
                                 if getattr(model, "inputs", None) else tf.float32)
            serve = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
            tf.saved_model.save(model, str(target), signatures={SIGNATURE: serve})
        graph = GraphModel.load(target, input_shape=input_shape, signature=SIGNATURE)
    except (UnsafeModelError, UnsupportedLayerError):
        shutil.rmtree(folder, ignore_errors=True)
        raise
    except Exception as exc:
        shutil.rmtree(folder, ignore_errors=True)
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise UnsupportedLayerError(f"{reason}; saving it as a SavedModel failed too "
                                    f"({type(exc).__name__}: {first})") from None
    weakref.finalize(graph, shutil.rmtree, folder, True)
    version = __import__("keras").__version__ if framework == "keras3" else tf_keras.__version__
    return Source(graph, "object", framework, version,
                  details={"as_graph": reason.splitlines()[0][:500], "signature": SIGNATURE})


def _read_path(path: Path, *, input_shape: tuple[int, ...], signature: str,
               custom_objects: dict[str, Any]) -> Source:
    if not path.exists():
        raise RunError(f"{path} does not exist: give {SOURCES}")
    if path.is_dir():
        return _read_saved_model(path, input_shape, signature)
    if zipfile.is_zipfile(path):
        if _zipped_saved_model(path):
            return _read_zipped_saved_model(path, input_shape, signature)
        return _read_keras_file(path, custom_objects)
    if _is_hdf5(path):
        return _read_h5_file(path, custom_objects)
    raise RunError(f"{path} is neither a .keras archive, an HDF5 (.h5) file nor a SavedModel "
                   f"folder (or it is truncated): give {SOURCES}")


def _read_saved_model(path: Path, input_shape: tuple[int, ...], signature: str,
                      source: Path | None = None) -> Source:
    from kerasmodels.runtime.keras import newest_version

    path = newest_version(path)  # TF Serving's layout: <folder>/<version>/
    if not is_saved_model(path):
        raise RunError(f"{source or path} is a folder without saved_model.pb (nor a numbered "
                       f"version folder holding one): give {SOURCES}")
    links = [p for p in path.rglob("*") if p.is_symlink()]
    if links:  # the run keeps a copy of the folder: nothing from outside it
        raise UnsafeModelError(f"{path} holds a link ({links[0].relative_to(path)}): a "
                               "SavedModel is imported as plain files; copy the target in")
    model = GraphModel.load(path, input_shape=input_shape, signature=signature)
    import tensorflow as tf

    return Source(model, "saved_model", "tensorflow", tf.__version__, str(source or path),
                  {"signature": signature})


def _zipped_saved_model(path: Path) -> bool:
    """A zip of a SavedModel folder (what a browser can upload), not a .keras archive."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return "metadata.json" not in names and any(Path(n).name == "saved_model.pb" for n in names)


def _read_zipped_saved_model(path: Path, input_shape: tuple[int, ...], signature: str
                             ) -> Source:
    """A zipped SavedModel, unpacked (paths leaving the folder, links and zip bombs refused)
    into a folder that lives as long as its graph."""
    import weakref

    from kerasmodels.data.files import extract_zip

    folder = Path(tempfile.mkdtemp(prefix="kerasmodels-savedmodel-"))
    try:
        extract_zip(path, folder, error=UnsafeModelError)
        found = sorted(p.parent for p in folder.rglob("saved_model.pb"))
        read = _read_saved_model(found[0] if found else folder, input_shape, signature, path)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    weakref.finalize(read.model, shutil.rmtree, folder, True)
    return read


def _read_keras_file(path: Path, custom_objects: dict[str, Any]) -> Source:
    version = _archive_version(path)
    if not version.startswith("3."):
        return Source(load_keras_file(path, custom_objects), "keras-file", "tf_keras", version,
                      str(path))
    import keras

    with tempfile.TemporaryDirectory(prefix="kerasmodels-import-") as private:
        copy = Path(private) / MODEL
        shutil.copyfile(path, copy)
        _check_keras3(read_config(copy), str(path), custom_objects)
        model = _open(path, lambda: keras.saving.load_model(copy, safe_mode=True, compile=False))
    return Source(model, "keras-file", "keras3", version, str(path))


def _archive_version(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            return str(json.loads(archive.read("metadata.json")).get("keras_version", ""))
    except (KeyError, zipfile.BadZipFile, OSError, json.JSONDecodeError, UnicodeDecodeError):
        raise RunError(f"{path} is a zip but not a Keras model archive (no readable "
                       f"metadata.json): give {SOURCES}") from None


def _is_hdf5(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(8) == b"\x89HDF\r\n\x1a\n"


def _read_h5_file(path: Path, custom_objects: dict[str, Any]) -> Source:
    import h5py

    with tempfile.TemporaryDirectory(prefix="kerasmodels-import-") as private:
        copy = Path(private) / "model.h5"
        shutil.copyfile(path, copy)
        try:
            with h5py.File(copy, "r") as f:
                raw, version = f.attrs.get("model_config"), f.attrs.get("keras_version", "")
            raw = raw.decode() if isinstance(raw, bytes) else raw
            version = version.decode() if isinstance(version, bytes) else str(version)
            if raw is None:
                raise RunError(f"{path} holds weights only (no model config): save the whole "
                               "model with model.save")
            config = json.loads(raw)
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RunError(f"{path} is a corrupt or truncated HDF5 file ({type(exc).__name__}): "
                           "save the model again") from None
        # the legacy HDF5 loader has no safe mode: the config check is the guard
        if version.startswith("3."):
            import keras

            _check_keras3(config, str(path), custom_objects)
            model = _open(path, lambda: keras.models.load_model(copy, compile=False))
            return Source(model, "h5-file", "keras3", version, str(path))
        check_config(config, path, trusted=custom_objects)
        model = _open(path, lambda: tf_keras.models.load_model(
            copy, compile=False, custom_objects=custom_objects))
    return Source(model, "h5-file", "tf_keras", version, str(path))


def _open(path: Path, load):
    try:
        return load()
    except (UnsafeModelError, UnsupportedLayerError):
        raise
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise RunError(f"{path} cannot be loaded ({type(exc).__name__}: {first}): the file is "
                       "corrupt, truncated or from an incompatible version") from None
    finally:
        from kerasmodels._compat import keep_keras_v3_saving

        keep_keras_v3_saving()


__all__ = ["SOURCES", "Source", "read_source"]
