"""The on-disk cache of computed features (``audio:`` MFCCs, ``anomaly:`` log-mel frames): one
folder per folder content, options and feature parameters, one ``.npy`` file per split and part.

Features are written a chunk at a time (``kerasmodels.data.stream.RowWriter``) into a
temporary folder that is renamed when complete, so a killed process leaves no half-written
cache, and computing them never holds more than a chunk. A loader reads them back whole, or,
with ``stream=True``, as memory maps that training and evaluation read a batch at a time
(``kerasmodels.data.stream``).

Example:
    >>> import numpy as np
    >>> cache = FeatureCache("0" * 64, {"doc": True}, {"kind": "example"})
    >>> with cache.writing() as store:  # doctest: +SKIP
    ...     for part in ("train", "val", "test"):
    ...         store.split(part, (2,)).append(np.zeros((3, 2)), np.zeros(3, "int64"))
    >>> cache.load(stream=True)["train"][0].shape  # doctest: +SKIP
    (3, 2)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from kerasmodels.data.dataset import SPLITS, Split, data_dir
from kerasmodels.data.stream import RowWriter, open_rows
from kerasmodels.errors import DatasetError

FEATURE_CACHE_VERSION = 2  # a change to how sound becomes features is a new version


class SplitWriter:
    """One split's features and labels, appended a chunk at a time."""

    def __init__(self, folder: Path, part: str, row_shape: tuple[int, ...]):
        self.x = RowWriter(folder / f"{part}_x.npy", row_shape)
        self.y = RowWriter(folder / f"{part}_y.npy", (), "int64")

    def append(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x.append(x)
        self.y.append(y)

    def close(self) -> None:
        self.x.close()
        self.y.close()

    def discard(self) -> None:
        self.x.discard()
        self.y.discard()


class Store:
    """What ``FeatureCache.writing`` yields: a writer per split."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.writers: list[SplitWriter] = []

    def split(self, part: str, row_shape: tuple[int, ...]) -> SplitWriter:
        writer = SplitWriter(self.folder, part, row_shape)
        self.writers.append(writer)
        return writer


class FeatureCache:
    """The features of one content, options and parameters (see the module docstring)."""

    def __init__(self, sha256: str, options: dict[str, Any], preprocessing: dict[str, Any]):
        key = json.dumps([FEATURE_CACHE_VERSION, sha256, options, preprocessing],
                         sort_keys=True, default=str)
        self.key = hashlib.sha256(key.encode()).hexdigest()[:32]
        self.folder = data_dir() / "features" / self.key
        self.temporary = False  # the data folder could not be written: features live in a
        # temporary folder, read whole and removed

    def load(self, stream: bool = False) -> dict[str, Split] | None:
        """The splits, or None when the cache is missing or damaged (then made again)."""
        files = [self.folder / f"{part}_{k}.npy" for part in SPLITS for k in ("x", "y")]
        if not all(f.is_file() for f in files):
            return None
        try:
            out = {part: (open_rows(self.folder / f"{part}_x.npy") if stream else
                          np.load(self.folder / f"{part}_x.npy", allow_pickle=False),
                          np.load(self.folder / f"{part}_y.npy", allow_pickle=False))
                   for part in SPLITS}
        except (OSError, ValueError):  # a damaged cache is made again
            return None
        finally:
            if self.temporary and not stream:
                shutil.rmtree(self.folder, ignore_errors=True)
        return out

    def load_or_make(self, stream: bool, make: Callable[[Store], None]) -> dict[str, Split]:
        """The cached splits, first made by ``make(store)`` when missing (``writing``)."""
        arrays = self.load(stream)
        if arrays is None:
            with self.writing(stream) as store:
                make(store)
            arrays = self.load(stream)
            if arrays is None:
                raise DatasetError(f"the features written to {self.folder} cannot be read "
                                   "back: check the disk")
        return arrays

    @contextlib.contextmanager
    def writing(self, stream: bool = False) -> Iterator[Store]:
        """A ``Store`` whose splits become the cache when the block ends without an
        error; nothing of it stays otherwise."""
        try:
            self.folder.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{self.key}-", dir=self.folder.parent))
        except OSError as exc:
            if stream:
                raise DatasetError(f"stream=True keeps the features in {self.folder.parent}, "
                                   f"which cannot be written ({exc.strerror or exc}): set "
                                   "KERASMODELS_DATA_DIR to a writable folder") from None
            tmp = Path(tempfile.mkdtemp(prefix="kerasmodels-features-"))
            self.folder, self.temporary = tmp, True
        store = Store(tmp)
        try:
            yield store
            for writer in store.writers:
                writer.close()
            if not self.temporary:
                try:
                    os.rename(tmp, self.folder)
                except OSError:  # another process made it first: theirs is the same
                    if not self.folder.is_dir():
                        raise
        except BaseException:
            for writer in store.writers:
                writer.discard()
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            if tmp.exists() and not self.temporary:
                shutil.rmtree(tmp, ignore_errors=True)


__all__ = ["FEATURE_CACHE_VERSION", "FeatureCache"]
