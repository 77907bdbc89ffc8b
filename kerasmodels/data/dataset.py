"""The Dataset container and the seeded split every loader shares."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from kerasmodels.errors import DatasetError

Split = tuple[np.ndarray, np.ndarray]
SPLITS = ("train", "val", "test")
DATA_DIR_ENV = "KERASMODELS_DATA_DIR"


def data_dir() -> Path:
    """Where generated datasets and computed features are kept: ``$KERASMODELS_DATA_DIR``, or
    ``kerasmodels`` in the user's cache folder (``$XDG_CACHE_HOME`` or ``~/.cache``)."""
    import os

    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kerasmodels"


@dataclass
class Dataset:
    """Fixed, seeded train/val/test splits plus what a model and a device need to know.

    Every stage takes one: training fits on ``train``, chooses on ``val`` (early stopping, the
    sweep's pick) and reports on ``test``. ``km.load_dataset`` makes the built-in ones and reads
    your files; ``Dataset.from_arrays`` splits your own arrays.

    Args:
        name: the dataset's name, as runs record it.
        train: the training split, ``(x, y)`` arrays (or a split read from disk a batch at a
            time, ``stream=True``).
        val: the validation split, what choices are made on.
        test: the test split, what is reported.
        task: ``classification``, ``regression`` or ``anomaly`` (the table ``kerasmodels.tasks``).
        num_classes: classes of a classification task (None otherwise).
        labels: the class names, in the order of the model's outputs.
        preprocessing: how raw input becomes ``x`` (``kind`` ``image``, ``tokens``, ``table``,
            ``audio``, ...), recorded in every export's metadata so a device can repeat it.
        vocab_size: the vocabulary size of a token dataset.
        description: one line for tables and the dashboard.
        options: the options it was loaded with (``load_dataset(name, **options)``).
        sha256: the content hash of the file or folder it was read from (``csv:``, ``images:``):
            a run refuses to reload a changed file.

    Raises:
        DatasetError: from ``from_arrays`` and ``select_classes``: arrays or classes that cannot
            make a dataset (the reason named).

    Examples:
        >>> import numpy as np
        >>> from kerasmodels import Dataset
        >>> x, y = np.zeros((10, 3), "float32"), np.arange(10) % 2
        >>> ds = Dataset("toy", (x, y), (x, y), (x, y), task="classification", num_classes=2)
        >>> ds.input_shape, ds.dtype
        ((3,), 'float32')
    """

    name: str
    train: Split
    val: Split
    test: Split
    task: str = "classification"
    num_classes: int | None = None
    labels: list[str] | None = None
    preprocessing: dict[str, Any] = field(default_factory=dict)
    vocab_size: int | None = None
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    sha256: str | None = None  # of the user's file or folder it was read from (csv:, images:)

    @classmethod
    def from_arrays(cls, x: ArrayLike, y: ArrayLike, *, name: str, labels: list[str] | None = None,
                    test_size: float = 0.2, val_size: float = 0.1, seed: int = 0,
                    task: str | None = None) -> Dataset:
        """A dataset of your own arrays, split once with ``seed`` (stratified by class).

        A run trained on it keeps the arrays in its folder (``dataset.npz``, no pickle), so
        export, compress and the dashboard reload them.

        Args:
            x: the inputs, one row per example (numeric; a 1-D array is one feature).
            y: one target per example: integers or strings are classes (strings become the
                labels, sorted), floats are regression.
            name: the dataset's name (1-64 letters, digits, ``_``, ``.`` or ``-``).
            labels: the class names, one per class index (default: the indices).
            test_size: the share of the examples held out for the test split.
            val_size: the share held out for the validation split.
            seed: the seed of the split.
            task: ``classification`` or ``regression`` (default: inferred from ``y``).

        Returns:
            The split dataset.

        Raises:
            DatasetError: a bad name or share, non-numeric or non-finite inputs, targets that
                are not one per example, or labels that do not match the classes.

        Examples:
            >>> import numpy as np
            >>> from kerasmodels import Dataset
            >>> x, y = np.random.rand(50, 4), np.arange(50) % 2
            >>> Dataset.from_arrays(x, y, name="toy", labels=["no", "yes"]).num_classes
            2
        """
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
            raise DatasetError(f"name must be 1-64 letters, digits, '_', '.' or '-', got {name!r}")
        for what, value in (("test_size", test_size), ("val_size", val_size)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
                raise DatasetError(f"{what} must be a fraction in (0, 1), got {value!r}")
        if test_size + val_size >= 0.9:
            raise DatasetError(f"test_size + val_size is {test_size + val_size:g}: leave at least "
                               "10% of the examples for training")
        x, y = np.asarray(x), np.asarray(y)
        if x.dtype == object or not np.issubdtype(x.dtype, np.number):
            raise DatasetError(f"x must be numeric, got dtype {x.dtype}")
        x = x.reshape(-1, 1) if x.ndim == 1 else x
        x = x.astype("float32") if not np.issubdtype(x.dtype, np.integer) else x.astype("int32")
        if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
            raise DatasetError("x holds NaN or infinite values: clean or impute them first")
        y = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
        if y.ndim != 1 or len(y) != len(x):
            raise DatasetError(f"y must be one target per example: x has {len(x)} examples, y "
                               f"has shape {y.shape}")
        if y.dtype.kind in "USO":  # class names
            names = sorted({str(v) for v in y})
            if labels is not None and list(labels) != names:
                raise DatasetError(f"labels {labels} do not match the classes in y: {names}")
            labels, y = names, np.array([names.index(str(v)) for v in y], "int64")
        task = task or ("classification" if np.issubdtype(y.dtype, np.integer) else "regression")
        if task not in ("classification", "regression"):
            raise DatasetError(f"task must be 'classification' or 'regression', got {task!r}")
        num_classes = None
        if task == "classification":
            if not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
                raise DatasetError("classification targets must be class indices 0..k-1 or "
                                   "class names")
            y = y.astype("int64")
            num_classes = int(y.max()) + 1
            if labels is not None and len(labels) != num_classes:
                raise DatasetError(f"{len(labels)} labels for {num_classes} classes (0.."
                                   f"{num_classes - 1} in y): give one label per class")
        else:
            y = y.astype("float32")
            if not np.isfinite(y).all():
                raise DatasetError("y holds NaN or infinite values: clean or impute them first")
        train, val, test = split(x, y, seed=seed, val_fraction=val_size, test_fraction=test_size,
                                 stratify=task == "classification")
        return cls(name, train, val, test, task=task, num_classes=num_classes,
                   labels=[str(v) for v in labels] if labels is not None else None,
                   description=f"{len(x)} examples of your own",
                   options={"arrays": True, "seed": seed, "test_size": test_size,
                            "val_size": val_size})

    @property
    def in_memory(self) -> bool:
        """Made from arrays (``from_arrays``): a run keeps them, no name reloads them."""
        return bool(self.options.get("arrays"))

    def write_arrays(self, path: str | Path) -> str:
        """Write the splits to one file (npz, no pickle).

        Args:
            path: where to write it.

        Returns:
            The file's sha256, which ``read_arrays`` checks.
        """
        arrays = {f"{s}_{part}": a for s in SPLITS
                  for part, a in zip(("x", "y"), getattr(self, s), strict=True)}
        with open(path, "wb") as f:
            np.savez(f, **arrays)
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()

    @classmethod
    def read_arrays(cls, path: str | Path, info: dict[str, Any]) -> Dataset:
        """The dataset a run kept, checked against the digest recorded when it was written.

        Args:
            path: the file ``write_arrays`` wrote.
            info: the run manifest's ``dataset`` entry (name, task, labels, sha256, ...).

        Returns:
            The dataset, as it was trained on.

        Raises:
            DatasetError: the file is missing, changed since it was written or unreadable.
        """
        path = Path(path)
        if not path.is_file():
            raise DatasetError(f"{path} is missing: this run was trained on arrays it kept "
                               "there; copy the whole run folder")
        content = path.read_bytes()
        if info.get("sha256") and hashlib.sha256(content).hexdigest() != info["sha256"]:
            raise DatasetError(f"{path} was changed after the run was made (its sha256 differs "
                               "from the manifest's): restore it or train again")
        try:
            import io

            with np.load(io.BytesIO(content), allow_pickle=False) as stored:
                splits = {s: (stored[f"{s}_x"], stored[f"{s}_y"]) for s in SPLITS}
        except Exception as exc:
            raise DatasetError(f"{path} cannot be read ({type(exc).__name__}): restore it or "
                               "train again") from None
        return cls(info["name"], splits["train"], splits["val"], splits["test"],
                   task=info.get("task", "classification"), num_classes=info.get("num_classes"),
                   labels=info.get("labels"), preprocessing=info.get("preprocessing") or {},
                   vocab_size=info.get("vocab_size"), options=info.get("options") or {})

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one example (without the batch dimension)."""
        return tuple(int(d) for d in self.train[0].shape[1:])

    @property
    def dtype(self) -> str:
        """The inputs' dtype (``float32``, or ``int32`` for token ids)."""
        return str(self.train[0].dtype)

    def fitting(self, split: str) -> Split:
        """What a model is fit to on one split.

        Args:
            split: ``train``, ``val`` or ``test``.

        Returns:
            ``(inputs, targets)``: the targets are the labels, or the inputs themselves for a
            task whose model reconstructs them (``anomaly``).
        """
        from kerasmodels.tasks import get_task

        x, y = getattr(self, split)
        return x, get_task(self.task).targets(x, y)

    @property
    def is_tokens(self) -> bool:
        """True when inputs are integer token ids (an Embedding goes in front)."""
        return self.vocab_size is not None

    def to_manifest(self) -> dict[str, Any]:
        """What a run's manifest records about this dataset.

        Returns:
            A JSON-ready dict: name, options, task, shape, dtype, classes, labels, vocabulary,
            preprocessing, split sizes and the source's sha256.
        """
        return {
            "name": self.name,
            "options": _jsonable(self.options),
            "task": self.task,
            "input_shape": list(self.input_shape),
            "dtype": self.dtype,
            "num_classes": self.num_classes,
            "labels": self.labels,
            "vocab_size": self.vocab_size,
            "preprocessing": _jsonable(self.preprocessing),
            "sizes": {k: int(len(getattr(self, k)[0])) for k in ("train", "val", "test")},
            **({"sha256": self.sha256} if self.sha256 else {}),
        }

    def check_unchanged(self, recorded: str | None) -> Dataset:
        """Check that the file this dataset was read from is the one a run was made on.

        Args:
            recorded: the sha256 the run's manifest kept (None: nothing to check).

        Returns:
            This dataset.

        Raises:
            DatasetError: its file's content differs from ``recorded``.
        """
        if recorded and self.sha256 and recorded != self.sha256:
            raise DatasetError(f"{self.name} changed since the run was made (its content's sha256 "
                               f"is {self.sha256[:12]}..., the run recorded {recorded[:12]}...): "
                               "restore the data the run was made on, or make the run again")
        return self

    def select_classes(self, classes: list[int] | list[str]) -> Dataset:
        """Only the examples of some classes, relabelled 0..k-1 in the order given.

        ``digits`` with ``[0, 1, 2, 3, 4]`` and ``[5, 6, 7, 8, 9]`` make a transfer-learning
        pair.

        Args:
            classes: at least two distinct class indices or label names.

        Returns:
            A new dataset of those classes (this one is unchanged).

        Raises:
            DatasetError: a class it does not have, fewer than two or repeated classes, or a
                dataset that is not a classification.

        Examples:
            >>> import kerasmodels as km
            >>> km.load_dataset("digits", classes=[5, 6, 7, 8, 9]).labels
            ['5', '6', '7', '8', '9']
        """
        if self.task != "classification" or not self.num_classes:
            raise DatasetError(f"classes= selects classes of a classification dataset; "
                               f"{self.name} is {self.task}")
        names = self.labels or [str(i) for i in range(self.num_classes)]
        picked = []
        for c in classes:
            if isinstance(c, str) and c in names:
                picked.append(names.index(c))
            elif isinstance(c, int | np.integer) and 0 <= int(c) < self.num_classes:
                picked.append(int(c))
            else:
                raise DatasetError(f"{self.name} has no class {c!r}: give indices 0-"
                                   f"{self.num_classes - 1} or names from {names}")
        if len(set(picked)) < 2 or len(set(picked)) != len(picked):
            raise DatasetError(f"classes must be at least two distinct classes, got {classes}")
        relabel = np.full(self.num_classes, -1, "int64")
        relabel[picked] = np.arange(len(picked))

        def keep(part: Split) -> Split:
            x, y = part
            mask = np.isin(y, picked)
            return x[mask], relabel[y[mask]]

        return replace(self, train=keep(self.train), val=keep(self.val), test=keep(self.test),
                       num_classes=len(picked), labels=[names[i] for i in picked],
                       options={**self.options, "classes": list(classes)},
                       description=f"{self.description}; classes {', '.join(names[i] for i in picked)}")

    def __repr__(self) -> str:
        sizes = "/".join(str(len(getattr(self, k)[0])) for k in ("train", "val", "test"))
        return (
            f"Dataset({self.name!r}, task={self.task}, input_shape={self.input_shape}, "
            f"num_classes={self.num_classes}, train/val/test={sizes})"
        )


def content_sha256(path: str | Path, files: list[Path] | None = None) -> str:
    """The sha256 of a file, or of a folder's ``files`` (all of them by default): their paths
    relative to it and their contents, in sorted order."""
    path, digest = Path(path), hashlib.sha256()
    if path.is_dir():
        files = sorted(files if files is not None else (p for p in path.rglob("*") if p.is_file()))
    else:
        files = [path]
    for file in files:
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with open(file, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def split(
    x: np.ndarray,
    y: np.ndarray,
    *,
    seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.2,
    stratify: bool = True,
) -> tuple[Split, Split, Split]:
    """Shuffle once with ``seed`` and cut into train/val/test (stratified for classes)."""
    if len(x) != len(y):
        raise DatasetError(f"{len(x)} inputs but {len(y)} targets: they must match one to one")
    if len(x) < 10:
        raise DatasetError(f"only {len(x)} examples: a dataset needs at least 10 to split")

    (x_rest, y_rest), test = holdout(x, y, test_fraction, seed=seed, stratify=stratify)
    train, val = holdout(x_rest, y_rest, val_fraction / (1.0 - test_fraction), seed=seed + 1,
                         stratify=stratify)
    return train, val, test


def holdout(x: np.ndarray, y: np.ndarray, fraction: float, *, seed: int = 0,
            stratify: bool = True) -> tuple[Split, Split]:
    """Shuffle with ``seed`` and hold ``fraction`` of the examples out: ``(rest, held)``."""
    from sklearn.model_selection import train_test_split

    strat = y if stratify and _can_stratify(y, fraction) else None
    x_rest, x_held, y_rest, y_held = train_test_split(
        x, y, test_size=fraction, random_state=seed, stratify=strat
    )
    return (x_rest, y_rest), (x_held, y_held)


def _can_stratify(y: np.ndarray, fraction: float) -> bool:
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        return False
    counts = np.bincount(y - y.min())
    counts = counts[counts > 0]
    return counts.min() >= 2 and fraction * len(y) >= len(counts)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value
