"""The Dataset container and the seeded split every loader shares."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from kerasmodels.errors import DatasetError

Split = tuple[np.ndarray, np.ndarray]


@dataclass
class Dataset:
    """Fixed, seeded train/val/test splits plus what a model and a device need to know.

    >>> import numpy as np
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

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.train[0].shape[1:])

    @property
    def dtype(self) -> str:
        return str(self.train[0].dtype)

    @property
    def is_tokens(self) -> bool:
        """True when inputs are integer token ids (an Embedding goes in front)."""
        return self.vocab_size is not None

    def to_manifest(self) -> dict[str, Any]:
        """What the run manifest records about this dataset."""
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
        }

    def select_classes(self, classes: list[int] | list[str]) -> Dataset:
        """Only the examples of ``classes`` (indices or label names), relabelled 0..k-1 in the
        order given: ``digits`` with ``[0, 1, 2, 3, 4]`` and ``[5, 6, 7, 8, 9]`` make a
        transfer-learning pair.

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
