"""Datasets larger than memory: each split decoded once into a ``.npy`` file on disk, then read
back a batch at a time.

A streamed split is a read-only ``numpy.memmap`` of that file, so every consumer that slices it
(calibration takes a sample, the Playground one example) works unchanged; training and
evaluation never map it whole: ``read_rows`` reads the rows a batch needs with ``pread``
(through the page cache, not into the process), so the process's resident memory stays that of
a few batches however large the split. The same seeded split as the in-memory path, the same
rows in the same order: a model trained either way gets the same weights.

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "train.npy"
    >>> write_rows(path, 3, (2,), (np.full(2, i, "float32") for i in range(3)))
    >>> read_rows(open_rows(path), np.array([2, 0])).tolist()
    [[2.0, 2.0], [0.0, 0.0]]
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np


def check_stream(stream) -> None:
    """A DatasetError unless ``stream`` is True or False (a loader's option)."""
    if not isinstance(stream, bool):
        from kerasmodels.errors import DatasetError

        raise DatasetError(f"stream must be True or False, got {stream!r}")


def on_disk(x) -> bool:
    """Whether ``x`` is a streamed split (a memory map of a file written by ``write_rows``)."""
    return isinstance(x, np.memmap)


class RowWriter:
    """Rows appended a chunk at a time to a ``.npy`` file whose length is known only at the end
    (memory stays that of a chunk): written beside ``path`` and renamed by ``close``, so a
    killed process leaves no half-written split.

    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.npy"
    >>> with RowWriter(path, (2,)) as rows:
    ...     rows.append(np.zeros((3, 2)))
    ...     rows.append(np.ones((1, 2)))
    >>> np.load(path).shape
    (4, 2)
    """

    def __init__(self, path: str | Path, row_shape: tuple[int, ...], dtype: str = "float32"):
        self.path, self.row_shape, self.dtype = Path(path), tuple(row_shape), np.dtype(dtype)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self.raw = tempfile.mkstemp(suffix=".rows", dir=self.path.parent)
        self.file = os.fdopen(fd, "wb")
        self.count = 0

    def append(self, rows: np.ndarray) -> None:
        rows = np.ascontiguousarray(rows, self.dtype).reshape(-1, *self.row_shape)
        self.file.write(rows.tobytes())  # written, not mapped: mapped pages would count as
        self.count += len(rows)          # this process's resident memory

    def close(self) -> None:
        """The ``.npy`` file: its header, then the rows (copied a block at a time)."""
        import shutil

        self.file.close()
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                  "shape": (self.count, *self.row_shape)}
        fd, tmp = tempfile.mkstemp(suffix=".npy", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as out, open(self.raw, "rb") as rows:
                np.lib.format.write_array_header_1_0(out, header)
                shutil.copyfileobj(rows, out, 1 << 22)
            os.replace(tmp, self.path)
        finally:
            Path(tmp).unlink(missing_ok=True)
            Path(self.raw).unlink(missing_ok=True)

    def discard(self) -> None:
        self.file.close()
        Path(self.raw).unlink(missing_ok=True)

    def __enter__(self) -> RowWriter:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.discard()


def write_rows(path: str | Path, count: int, row_shape: tuple[int, ...],
               rows: Iterable[np.ndarray], dtype: str = "float32") -> None:
    """Write ``count`` rows of ``row_shape`` as a ``.npy`` file, one row at a time
    (``RowWriter``); a ValueError when ``rows`` holds another number of rows."""
    with RowWriter(path, row_shape, dtype) as writer:
        for row in rows:
            writer.append(np.asarray(row)[None])
        if writer.count != count:
            raise ValueError(f"{writer.count} rows written, {count} expected")


def open_rows(path: str | Path) -> np.memmap:
    """The split written at ``path``, mapped read-only (nothing is read until used)."""
    return np.load(path, mmap_mode="r")


def read_rows(x: np.ndarray, indices) -> np.ndarray:
    """Rows ``indices`` of a streamed split, read with ``pread`` in file order and returned in
    the order asked (the file is not mapped into the process: its pages stay in the page
    cache, outside the process's resident memory)."""
    indices = np.asarray(indices, "int64").reshape(-1)
    row_bytes = int(np.prod(x.shape[1:], dtype="int64")) * x.dtype.itemsize
    out = np.empty((len(indices), *x.shape[1:]), x.dtype)
    order = np.argsort(indices, kind="stable")
    filename, offset = getattr(x, "filename", None), getattr(x, "offset", 0)
    if filename is None:
        raise ValueError("read_rows reads a split written by write_rows (a file's memory map)")
    fd = os.open(filename, os.O_RDONLY)
    try:
        for position in order:
            raw = os.pread(fd, row_bytes, offset + int(indices[position]) * row_bytes)
            out[position] = np.frombuffer(raw, x.dtype).reshape(x.shape[1:])
    finally:
        os.close(fd)
    return out


def batches(x, y, batch_size: int, order=None):
    """A ``tf.data.Dataset`` of ``(x, y)`` batches of a split in ``order`` (all rows in order by
    default), streamed rows read with ``read_rows``, in-memory ones gathered."""
    import tensorflow as tf

    n = len(x)
    order = np.arange(n) if order is None else np.asarray(order, "int64")
    indices = tf.data.Dataset.from_tensor_slices(order).batch(batch_size)
    return indices.map(lambda i: (rows_of(x, i), rows_of(y, i)),
                       num_parallel_calls=tf.data.AUTOTUNE,
                       deterministic=True).prefetch(tf.data.AUTOTUNE)


def validation_batches(val, batch_size: int):
    """``val`` for ``model.fit``'s ``validation_data``: the arrays, or a streamed split's
    batches."""
    return batches(val[0], val[1], batch_size) if on_disk(val[0]) else val


def rows_of(array, indices):
    """Rows ``indices`` (a tensor) of ``array`` as a tensor: read from disk for a streamed
    split, gathered from memory otherwise."""
    import tensorflow as tf

    if not on_disk(array):
        return tf.gather(tf.constant(array), indices)
    rows = tf.numpy_function(lambda i: read_rows(array, i), [indices],
                             tf.as_dtype(array.dtype))
    rows.set_shape([None, *array.shape[1:]])
    return rows


__all__ = ["RowWriter", "batches", "check_stream", "on_disk", "open_rows", "read_rows", "rows_of", "validation_batches", "write_rows"]
