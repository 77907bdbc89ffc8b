"""The run directory: one trained (or compressed) model and everything known about it.

Layout (see ARCHITECTURE.md)::

    saved_models/<run-id>/manifest.json, history.json, model.keras, logs/, exports/

Runs are written to a hidden sibling and renamed into place, so a crash never leaves a
half-written run; JSON files are replaced atomically.

>>> import kerasmodels as km
>>> runs = km.list_runs("saved_models")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from kerasmodels.errors import InputShapeError, RunError
from kerasmodels.layout import (
    EXPORTS,
    EXPORTS_RECORD,
    HISTORY,
    LABELS,
    LOGS,
    MANIFEST,
    MODEL,
    RUNS_DIR,
    SAVED_MODEL,
)
from kerasmodels.manifest import SCHEMA_VERSION, Manifest
from kerasmodels.report import kilobytes

if TYPE_CHECKING:
    from kerasmodels.data.dataset import Dataset

# packages extend how a run's model loads (a QAT run: its float model plus its quantizer
# state) by an entry point in this group: ``loader(run, model) -> model``
MODEL_LOADERS = "kerasmodels.model_loaders"


def write_json(path: str | Path, data: Any) -> None:
    """Write JSON atomically: a temporary file in the same folder, then ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, default=json_default)
            f.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise RunError(f"{path} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunError(f"{path} is corrupt ({exc}): restore it or delete the run") from None


def json_default(value):
    """``json.dump``'s ``default``: numpy scalars and arrays, and paths, as JSON values."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def new_run_id(arch: str, dataset: str, out_dir: str | Path, recipe: str | None = None) -> str:
    """``<arch>-<dataset>-<YYYYmmdd-HHMMSS>[-<recipe>]``, unique within ``out_dir``."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    parts = [arch, slug(dataset), stamp] + ([slug(recipe)] if recipe else [])
    base = "-".join(parts)
    run_id, n = base, 2
    while (Path(out_dir) / run_id).exists():
        run_id, n = f"{base}-{n}", n + 1
    return run_id


def slug(text: str) -> str:
    """A file-name-safe short form: ``csv:/data/iris.csv`` -> ``csv-iris``."""
    if ":" in text:
        kind, _, rest = text.partition(":")
        text = f"{kind}-{Path(rest).stem or Path(rest).name}"
    return re.sub(r"[^A-Za-z0-9_.+]+", "-", text).strip("-") or "data"


def commit_run(staging: Path, final: Path) -> None:
    """Move a fully written staging folder into place in one rename."""
    if final.exists():
        raise RunError(f"{final} already exists: runs are never overwritten")
    os.chmod(staging, 0o755)
    try:
        os.replace(staging, final)  # onto an existing run (never empty): ENOTEMPTY, nothing moves
    except OSError as exc:
        if final.exists():
            raise RunError(f"{final} already exists: runs are never overwritten") from exc
        raise


def commit_new_run(staging: Path, out_dir: Path, manifest: dict[str, Any]) -> str:
    """Commit ``staging`` as ``manifest["id"]``; if another run took that id meanwhile (two
    trainings started in the same second), take the next free one and say so in the manifest.
    Returns the id the run got."""
    requested = run_id = manifest["id"]
    n = 2
    while True:
        try:
            commit_run(staging, out_dir / run_id)
            return run_id
        except RunError:
            if not (out_dir / run_id).exists():
                raise
        run_id, n = f"{requested}-{n}", n + 1
        while (out_dir / run_id).exists():
            run_id, n = f"{requested}-{n}", n + 1
        manifest["id"] = run_id
        write_json(staging / MANIFEST, manifest)


def staging_dir(out_dir: str | Path, run_id: str) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".tmp-{run_id}-", dir=out))


class Run:
    """A run directory: one trained, imported or compressed model and everything about it.

    Everything downstream of training reads and writes only this folder (its contract:
    ``saved_models/README.md``), so the API, the CLI and the dashboard see the same thing. The
    model loads on first use of ``.model``, after its config is checked (safe mode, no code
    from the file runs). Open one with ``km.load_run``; ``km.train``, ``km.compress`` and
    ``km.import_model`` return one.

    Args:
        path: the run's folder.
        manifest: its ``manifest.json``, as written.
        record: the typed manifest, when already parsed (it is parsed from ``manifest``
            otherwise).

    Raises:
        RunError: a manifest that is not a kerasmodels manifest (its schema named).

    Examples:
        >>> import kerasmodels as km
        >>> run = km.load_run(run.path)          # a run's folder, e.g. saved_models/cnn-digits-...
        >>> run.arch, run.manifest["dataset"]["name"], sorted(run.metrics)
        ('cnn', 'digits', ['test', 'train', 'val'])
        >>> run.predict(run.dataset().test[0][:5]).shape
        (5, 10)
    """

    def __init__(self, path: str | Path, manifest: dict[str, Any],
                 record: Manifest | None = None):
        self.path = Path(path)
        self.manifest = manifest  # manifest.json as written
        self.record = record or Manifest.from_json(manifest, str(self.path / MANIFEST))
        self._model = None
        self._history: dict[str, list] | None = None

    # -- what the manifest says -------------------------------------------------------------
    @property
    def id(self) -> str:
        """The run's name: its folder's name, unique in its runs folder."""
        return self.record.id

    @property
    def arch(self) -> str:
        """The architecture it was built from (``cnn``, ``transformer``, ``imported``, ...)."""
        return self.record.arch.name

    @property
    def hparams(self) -> dict[str, Any]:
        """The architecture's hyperparameters it was built with."""
        return self.record.arch.hparams

    @property
    def metrics(self) -> dict[str, dict[str, float]]:
        """Its scores per split: ``{"val": {...}, "test": {"accuracy": ...}}``."""
        return self.record.metrics

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one input example (without the batch dimension)."""
        return self.record.dataset.input_shape

    @property
    def parent(self) -> str | None:
        """The run it was compressed or fine-tuned from (None: trained or imported)."""
        return self.record.parent

    @property
    def history(self) -> dict[str, list]:
        """Per-epoch lists (``loss``, ``val_loss``, ...); a RunError if history.json is broken."""
        if self._history is None:
            file = self.path / HISTORY
            history = read_json(file) if file.exists() else {}
            if not isinstance(history, dict) or not all(
                    isinstance(v, list) and all(isinstance(x, (int, float)) for x in v)
                    for v in history.values()):
                raise RunError(f"{file} is not a history (an object of lists of numbers): "
                               "restore it or delete it")
            self._history = history
        return self._history

    def dataset(self) -> Dataset:
        """Reload the run's dataset with the options it was trained on.

        Returns:
            The dataset, split as it was for training (arrays a run was trained on are read
            from its folder).

        Raises:
            RunError: the manifest names another file for the kept arrays.
            DatasetError: the data changed since the run was made, or cannot be read.
        """
        from kerasmodels.data import load_dataset

        info = self.record.dataset
        if info.stored is not None:  # trained on arrays: kept in the run's folder
            from kerasmodels.data.dataset import Dataset
            from kerasmodels.layout import DATASET

            if info.stored != DATASET:  # a manifest names no other file
                raise RunError(f"{self.path / MANIFEST}: dataset.stored must be "
                               f"{DATASET!r}, got {info.stored!r}")
            return Dataset.read_arrays(self.path / DATASET, self.manifest["dataset"])
        return load_dataset(info.name, **info.options).check_unchanged(info.sha256)

    # -- the model ---------------------------------------------------------------------------
    @property
    def model(self):
        """The Keras model, loaded once with ``safe_mode=True`` (an imported SavedModel: its
        graph, a ``kerasmodels.imports.saved_model.GraphModel``).

        The installed ``kerasmodels.model_loaders`` then see it: a quantization-aware-trained
        run is rebuilt from its float model and its QAT state.
        """
        if self._model is None:
            if self.is_graph:
                from kerasmodels.imports.saved_model import GraphModel

                source = self.record.source
                model = GraphModel.load(self.path / SAVED_MODEL, input_shape=self.input_shape,
                                        signature=source.get("signature", "serving_default"),
                                        softmax=bool(source.get("added_softmax")))
            else:
                model = load_model(self.path / MODEL,
                                   self.record.source.get("custom_objects"))
                for loader in model_loaders():
                    model = loader(self, model)
            self._model = model
        return self._model

    @property
    def is_graph(self) -> bool:
        """An imported SavedModel: a graph without Keras layers (export and run it; recipes
        that change layers refuse it)."""
        return not (self.path / MODEL).exists() and (self.path / SAVED_MODEL).is_dir()

    @property
    def quantization_aware(self) -> bool:
        """Made by a recipe that ends in quantization-aware training."""
        return "qat" in str(self.record.recipe or "").split("+")

    def keras_model(self, purpose: str) -> Any:
        """The Keras model, for something that needs Keras layers.

        Args:
            purpose: what needs them, named in the error (``"pruning"``).

        Returns:
            The Keras model.

        Raises:
            RunError: the run is an imported SavedModel, a graph without Keras layers.
        """
        if self.is_graph:
            raise RunError(f"{self.id} is an imported SavedModel, a graph without Keras layers: "
                           f"{purpose} needs them. Import the model as a .keras or .h5 file, or "
                           "as a Keras model object")
        return self.model

    @property
    def model_path(self) -> Path:
        """The model's file (``model.keras``) or folder (an imported SavedModel)."""
        return self.path / (SAVED_MODEL if self.is_graph else MODEL)

    @property
    def model_bytes(self) -> int:
        """Bytes of the model file, or of the files of an imported SavedModel folder."""
        if self.is_graph:
            return sum(p.stat().st_size for p in self.model_path.rglob("*") if p.is_file())
        return self.model_path.stat().st_size

    def predict(self, x: ArrayLike, batch_size: int = 256) -> np.ndarray:
        """Predict with the Keras model after checking the input's shape and dtype.

        Args:
            x: a batch, or one example, shaped as the run's inputs.
            batch_size: examples per step.

        Returns:
            The model's outputs, one row per example.

        Raises:
            InputShapeError: an input of another shape or dtype (what was expected named).

        Examples:
            >>> run = km.load_run(run.path)  # a digits CNN of yours
            >>> run.predict(run.dataset().test[0][:2]).shape
            (2, 10)
        """
        x = check_input(x, self.input_shape, self.record.dataset.dtype)
        return self.model.predict(x, batch_size=batch_size, verbose=0)

    def summary(self) -> str:
        """The Keras model summary as text.

        Returns:
            Its layers, output shapes and parameter counts, one line each.
        """
        lines: list[str] = []
        self.model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line),
                           line_length=100)
        return "\n".join(lines)

    def exported_files(self) -> list[Path]:
        """The run's exported files, as offered for download.

        Returns:
            The files ``exports.json`` records (``.tflite``, ``.onnx``), with
            ``exports.json`` and ``labels.json``; nothing else in the folder.
        """
        folder = self.path / EXPORTS
        try:
            record = read_json(folder / EXPORTS_RECORD)
        except RunError:
            return []
        artifacts = record.get("artifacts") if isinstance(record, dict) else None
        names = {entry.get("path") for entry in (artifacts or {}).values()
                 if isinstance(entry, dict)}
        names |= {EXPORTS_RECORD, LABELS}
        return sorted(p for p in folder.iterdir()
                      if p.name in names and p.is_file() and p.parent == folder)

    def __repr__(self) -> str:
        test = self.metrics.get("test", {})
        shown = ", ".join(f"{k}={v:.4f}" for k, v in test.items() if isinstance(v, float))
        return f"Run({self.id!r}, {shown})"


def check_input(x, input_shape: tuple[int | None, ...], dtype: str = "float32") -> np.ndarray:
    """Return ``x`` as a batch for a model with ``input_shape`` (None: a size the model takes
    any of), or raise InputShapeError."""
    try:
        x = np.asarray(x)
    except Exception as exc:
        raise InputShapeError(f"input cannot be read as an array: {exc}") from None
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise InputShapeError(f"input must be numeric, got dtype {x.dtype}")
    if _fits(x.shape, input_shape):
        x = x[None]
    if not _fits(x.shape[1:], input_shape):
        raise InputShapeError(
            f"input shape {tuple(x.shape)} does not fit the model, which takes a batch of "
            f"{tuple(input_shape)} (shape (n, {', '.join(map(str, input_shape))})): reshape or "
            "preprocess the input as the dataset does"
        )
    if x.dtype.kind in "fc" and not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).sum())
        raise InputShapeError(f"the input holds {bad} NaN or infinite value(s): a model's answer "
                              "to them is meaningless; clean or impute the input first")
    if np.dtype(dtype).kind in "iu":
        if not np.issubdtype(x.dtype, np.integer) and not np.all(np.mod(x, 1) == 0):
            raise InputShapeError("this model takes integer token ids; the input has fractions")
        return x.astype(dtype)
    return x.astype("float32")


def _fits(shape: tuple[int, ...], input_shape: tuple[int | None, ...]) -> bool:
    """``shape`` is ``input_shape``, where a None size (a model that takes any length) takes
    any size."""
    return len(shape) == len(input_shape) and all(
        expected is None or size == expected
        for size, expected in zip(shape, input_shape, strict=True))


def load_model(path: str | Path, trusted: dict[str, str] | None = None):
    """Load a ``.keras`` file, refusing files that would run code (see
    ``kerasmodels.model_files``), turning every failure into a clear error.

    ``trusted``: ``{class name: registered name}`` of classes the user vouched for when the
    run was imported (``custom_objects``); each must be registered in this process."""
    from kerasmodels.model_files import load_keras_file

    custom_objects = {}
    if trusted:
        from kerasmodels.backend import keras

        for name, registered in trusted.items():
            found = keras.saving.get_registered_object(registered)
            if found is None:
                raise RunError(f"{path} uses your class {registered!r} (custom_objects when it "
                               "was imported): import the module that registers it "
                               "(@keras.saving.register_keras_serializable) before opening "
                               "the run")
            custom_objects[name] = found
    return load_keras_file(path, custom_objects)


def load_run(path: Run | str | Path) -> Run:
    """Open a run directory (the model itself loads on first use).

    Args:
        path: the run's folder, or a Run (returned as it is).

    Returns:
        The Run.

    Raises:
        RunError: no such folder (the runs beside it suggested), not a run, or a manifest that
            is corrupt or from another tool (the file and the fix named).

    Examples:
        >>> import kerasmodels as km
        >>> km.load_run(run.path).id == run.id
        True
        >>> km.load_run("saved_models/no-such-run")
        Traceback (most recent call last):
        ...
        kerasmodels.errors.RunError: run directory saved_models/no-such-run does not exist...
    """
    if isinstance(path, Run):
        return path
    if not isinstance(path, (str, os.PathLike)):
        raise RunError(f"a run is a directory path (str or Path) or a Run, got "
                       f"{type(path).__name__} {path!r}")
    path = Path(path)
    if not path.is_dir():
        hint = ""
        if not path.is_absolute() and (Path(RUNS_DIR) / path).is_dir():
            return load_run(Path(RUNS_DIR) / path)
        if path.parent.is_dir():
            ids = sorted(p.name for p in path.parent.iterdir() if p.is_dir() and not p.name.startswith("."))
            hint = f"; runs there: {', '.join(ids[:8])}" if ids else ""
        raise RunError(f"run directory {path} does not exist{hint}")
    manifest = read_json(path / MANIFEST)
    return Run(path, manifest, check_manifest(manifest, path))


def check_manifest(manifest: Any, path: Path) -> Manifest:
    """The typed manifest of the run in ``path``, or a RunError naming what is wrong (a field
    every reader relies on, a folder renamed, a newer kerasmodels)."""
    record = Manifest.from_json(manifest, str(path / MANIFEST))
    if record.id != path.name:
        raise RunError(f"{path / MANIFEST} is not a valid kerasmodels manifest: it is the "
                       f"manifest of {record.id!r}, but the folder is named {path.name!r} "
                       "(rename the folder back); restore it or delete the run")
    return record


def scan_runs(runs_dir: str | Path = RUNS_DIR) -> tuple[list[Run], list[tuple[Path, str]]]:
    """All runs under a runs folder, oldest first, and the broken ones with the reason.

    Args:
        runs_dir: the runs folder (a folder that does not exist holds no runs).

    Returns:
        ``(runs, broken)``: the loadable Runs, and ``(folder, reason)`` for each folder that
        looks like a run and cannot be opened (a missing model, a corrupt manifest).

    Raises:
        TypeError: ``runs_dir`` is not a path.

    Examples:
        >>> import kerasmodels as km
        >>> runs, broken = km.scan_runs(run.path.parent)
        >>> len(runs) >= 1, broken
        (True, [])
    """
    root = Path(runs_dir)
    runs: list[Run] = []
    broken: list[tuple[Path, str]] = []
    if not root.is_dir():
        return runs, broken
    for sub in sorted(root.iterdir()):
        if not sub.is_dir() or sub.name.startswith("."):
            continue
        try:
            run = load_run(sub)
            if not run.is_graph and not zipfile.is_zipfile(sub / MODEL):
                raise RunError(f"{sub / MODEL} is missing or corrupt")
            runs.append(run)
        except RunError as exc:
            broken.append((sub, str(exc)))
    runs.sort(key=lambda r: (r.record.created_at, r.id))
    return runs, broken


def runs_table(runs_dir: str | Path = RUNS_DIR) -> tuple[list[dict[str, Any]],
                                                                 list[tuple[Path, str]]]:
    """One row per run, and the broken runs: what ``kerasmodels runs`` and the dashboard show.

    Args:
        runs_dir: the runs folder.

    Returns:
        ``(rows, broken)``: a dict per run (id, arch, dataset, parent, recipe, params, test
        metrics, size, epochs, ...) and ``(folder, reason)`` for each broken one.

    Raises:
        TypeError: ``runs_dir`` is not a path.

    Examples:
        >>> import kerasmodels as km
        >>> rows, broken = km.runs_table(run.path.parent)
        >>> rows[0]["arch"], rows[0]["dataset"]
        ('cnn', 'digits')
    """
    runs, broken = scan_runs(runs_dir)
    rows = []
    for run in runs:
        test = run.metrics.get("test", {})
        rows.append({
            "run": run.id, "arch": run.arch, "dataset": run.record.dataset.name,
            "parent": run.parent, "recipe": run.record.recipe,
            "params": run.record.arch.params,
            "test_acc": test.get("accuracy"), "test_mae": test.get("mae"),
            "test_auc": test.get("auc"),
            "kB": kilobytes(run.model_bytes),
            "epochs": run.record.training.get("epochs_run"),
        })
    return rows, broken


def list_runs(runs_dir: str | Path = RUNS_DIR, *,
              where: Callable[[Run], bool] | None = None) -> list[Run]:
    """The loadable runs under a runs folder, oldest first.

    Args:
        runs_dir: the runs folder (a folder that does not exist holds no runs).
        where: keep only the runs for which ``where(run)`` is true.

    Returns:
        The runs; broken ones are left out (``km.scan_runs`` lists them with the reason).

    Raises:
        TypeError: ``runs_dir`` is not a path.

    Examples:
        >>> import kerasmodels as km
        >>> [r.arch for r in km.list_runs(run.path.parent, where=lambda r: r.parent is None)]
        ['cnn']
    """
    runs, _ = scan_runs(runs_dir)
    return [r for r in runs if where is None or where(r)]


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def model_loaders() -> list[Callable]:
    """The installed ``kerasmodels.model_loaders`` entry points, loaded (see ``MODEL_LOADERS``)."""
    from importlib.metadata import entry_points

    return [entry.load() for entry in sorted(entry_points(group=MODEL_LOADERS),
                                             key=lambda e: e.name)]


def versions() -> dict[str, str | None]:
    """The versions a run was made with."""
    import platform
    from importlib import metadata

    from kerasmodels._version import __version__
    from kerasmodels.backend import keras, tf

    def version(package):
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    return {"python": platform.python_version(), "tensorflow": tf.__version__,
            "tf_keras": keras.__version__, "tfmot": version("tensorflow-model-optimization"),
            "kerasmodels": __version__}


def new_manifest(run_id: str, *, arch: dict[str, Any], dataset, metrics: dict[str, Any],
                 training: dict[str, Any] | None = None, parent: str | None = None,
                 recipe: str | None = None, **sections: Any) -> dict[str, Any]:
    """Every run's manifest, whatever made it (train, pretrain, finetune, compress, import).

    ``dataset`` is the Dataset the run was made on (or its manifest record); ``sections`` are
    the recipe's own records (``compression``, ``finetune``, ``pretraining``, ``source``).
    """
    return {
        "schema_version": SCHEMA_VERSION,
        "id": run_id,
        "status": "complete",
        "created_at": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "arch": arch,
        "dataset": dataset if isinstance(dataset, dict) else dataset.to_manifest(),
        "training": training or {},
        "metrics": metrics,
        "parent": parent,
        "recipe": recipe,
        **sections,
        "versions": versions(),
    }


def save_run(model, manifest: dict[str, Any], history: dict[str, Any], out_dir: str | Path, *,
             logs: Path | None = None, work: Path | None = None,
             files: dict[str, bytes] | None = None, dataset=None, held=None) -> Run:
    """Write a run atomically (staging folder, then one rename) and return it.

    The returned run holds ``held`` as its model (default: ``model``), not reloaded: a QAT
    child saves its float model and keeps the quantize-wrapped one.

    ``files`` are extra files of the run (name -> content), e.g. a QAT run's quantizer state.
    A ``dataset`` made from arrays is kept in the run (``dataset.npz`` and its sha256); an
    imported SavedModel is copied in as ``saved_model/``.
    """
    from kerasmodels.model_files import save_keras_file

    out_dir = Path(out_dir)
    run_id = manifest["id"]
    staging = staging_dir(out_dir, run_id)
    try:
        if getattr(model, "saved_model_path", None) is not None:
            shutil.copytree(model.saved_model_path, staging / SAVED_MODEL, symlinks=False)
        else:
            save_keras_file(model, staging / MODEL)
        for name, content in (files or {}).items():
            (staging / name).write_bytes(content)
        write_json(staging / HISTORY, history)
        if dataset is not None and dataset.in_memory:
            from kerasmodels.layout import DATASET

            manifest = {**manifest, "dataset": {**manifest["dataset"], "stored": DATASET,
                                                "sha256": dataset.write_arrays(
                                                    staging / DATASET)}}
        if logs is not None and logs.exists():
            shutil.copytree(logs, staging / LOGS)
        write_json(staging / MANIFEST, manifest)
        run_id = commit_new_run(staging, out_dir, manifest)
    except BaseException:
        remove_tree(staging)
        raise
    if work is not None:
        discard(work)
    run = load_run(out_dir / run_id)
    run._model = model if held is None else held
    return run


def discard(work: Path, created_out_dir: Path | None = None) -> None:
    """Remove a work folder, and its parents when they are left empty."""
    remove_tree(work)
    for folder in (work.parent, created_out_dir):
        if folder is not None and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
