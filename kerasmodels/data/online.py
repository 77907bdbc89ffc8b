"""keras.datasets loaders (mnist, fashion_mnist, cifar10, imdb).

Without ``path`` they download through ``keras.datasets`` (cached in ``~/.keras/datasets``)
and fail fast with a clear message when there is no network. With ``path`` they read a
local copy in the same format keras downloads: ``mnist.npz``, the four fashion-mnist
``*-ubyte.gz`` files, the ``cifar-10-batches-py`` folder, ``imdb.npz``.

Two of those formats are pickles (cifar's batches, imdb's object arrays), and unpickling runs
whatever code the file names. A local copy is someone else's file, and its path may come from a
manifest, so it is read by ``NumpyOnlyUnpickler``: numbers, strings, lists, dicts and numpy
arrays, nothing that can be called.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import socket
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from kerasmodels.data.dataset import Dataset, holdout
from kerasmodels.errors import DatasetError

ONLINE = ("mnist", "fashion_mnist", "cifar10", "imdb")

FASHION_LABELS = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                  "sneaker", "bag", "ankle boot"]  # fmt: skip
CIFAR_LABELS = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                "ship", "truck"]  # fmt: skip


def load_online(name: str, *, path: str | None = None, seed: int = 0, val_fraction=0.1,
                num_words: int = 10000, maxlen: int = 200, limit: int | None = None) -> Dataset:
    """Load one of ``ONLINE``; see the module docstring for ``path``."""
    raw = _read_local(name, Path(path), num_words) if path else _download(name, num_words)
    (x_train, y_train), (x_test, y_test) = raw
    if limit:
        x_train, y_train, x_test, y_test = x_train[:limit], y_train[:limit], x_test[:limit], y_test[:limit]
    y_train, y_test = np.asarray(y_train).reshape(-1).astype("int64"), np.asarray(y_test).reshape(-1).astype("int64")
    extra: dict[str, Any] = {}
    if name == "imdb":
        x_train, x_test = _pad(x_train, maxlen), _pad(x_test, maxlen)
        prep = {"kind": "tokens", "length": maxlen, "pad_id": 0, "num_words": num_words,
                "note": "keras imdb word ids (1 = start, 2 = out of vocabulary, 3+ words)"}
        labels, extra = ["negative", "positive"], {"vocab_size": num_words}
    else:
        x_train, x_test = _images(x_train), _images(x_test)
        h, w, c = x_train.shape[1:]
        prep = {"kind": "image", "image_size": [h, w], "color": "grayscale" if c == 1 else "rgb",
                "input_range": [0, 255], "scale": 1 / 255, "offset": 0.0}
        labels = {"mnist": [str(i) for i in range(10)], "fashion_mnist": FASHION_LABELS,
                  "cifar10": CIFAR_LABELS}[name]
    # keras ships train and test; carve a seeded validation split out of train.
    (xt, yt), (xv, yv) = holdout(x_train, y_train, val_fraction, seed=seed)
    return Dataset(name, (xt, yt), (xv, yv), (x_test, y_test), task="classification",
                   num_classes=len(labels), labels=labels, preprocessing=prep,
                   description=f"keras.datasets.{name}", options={"seed": seed, "path": path},
                   **extra)


def _download(name: str, num_words: int):
    from kerasmodels.backend import keras

    module = getattr(keras.datasets, name)
    kwargs = {"num_words": num_words} if name == "imdb" else {}
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(20)
    try:
        return module.load_data(**kwargs)
    except Exception as exc:  # urllib, socket and keras wrap network failures differently
        raise DatasetError(
            f"could not download {name} through keras.datasets ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:160] if str(exc) else 'no detail'}). No network? Put "
            f"the keras file in {os.path.expanduser('~/.keras/datasets')} or pass "
            f"path=<local copy>, or use a built-in dataset such as 'digits'"
        ) from None
    finally:
        socket.setdefaulttimeout(previous)


def _read_local(name: str, path: Path, num_words: int):
    if not path.exists():
        raise DatasetError(f"{name}: local copy {path} does not exist; pass the path of the keras file")
    try:
        if name in ("mnist", "imdb"):
            arrays = read_npz(path, ("x_train", "y_train", "x_test", "y_test"))
            data = (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
            if name == "imdb":
                return tuple((_clip_words(x, num_words), y) for x, y in data)
            return data
        if name == "fashion_mnist":
            def read(stem, offset):
                with gzip.open(path / stem, "rb") as f:
                    return np.frombuffer(f.read(), np.uint8, offset=offset)

            y_train, y_test = read("train-labels-idx1-ubyte.gz", 8), read("t10k-labels-idx1-ubyte.gz", 8)
            x_train = read("train-images-idx3-ubyte.gz", 16).reshape(len(y_train), 28, 28)
            x_test = read("t10k-images-idx3-ubyte.gz", 16).reshape(len(y_test), 28, 28)
            return (x_train, y_train), (x_test, y_test)
        if name == "cifar10":
            def batch(file):
                with open(path / file, "rb") as f:
                    d = NumpyOnlyUnpickler(f, encoding="bytes").load()
                return d[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), np.array(d[b"labels"])

            missing = [f"data_batch_{i}" for i in range(1, 6)
                       if not (path / f"data_batch_{i}").exists()]
            if missing:  # a partial copy would train on a silently smaller, skewed dataset
                raise DatasetError(f"cifar10: {path} lacks {', '.join(missing)}; copy the whole "
                                   "cifar-10-batches-py folder")
            parts = [batch(f"data_batch_{i}") for i in range(1, 6)]
            x_test, y_test = batch("test_batch")
            return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])), (x_test, y_test)
    except DatasetError:
        raise
    except Exception as exc:
        raise DatasetError(f"{name}: cannot read the local copy {path} ({type(exc).__name__}: {exc}); "
                           "it must be in the format keras.datasets downloads") from None
    raise DatasetError(f"no local reader for {name}")


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickle plain data and numpy arrays; any other global (a function, a class) is an error.

    >>> NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(np.arange(3)))).load()
    array([0, 1, 2])
    """

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
               ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"the file asks to call {module}.{name}, which a data "
                                     "file never needs: refused")


def read_npz(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Arrays of a ``.npz``; object arrays (imdb's lists of word ids) through the safe
    unpickler instead of ``allow_pickle=True``."""
    out = {}
    with zipfile.ZipFile(path) as archive:
        for key in keys:
            with archive.open(f"{key}.npy") as member:
                stream = io.BytesIO(member.read())
            version = np.lib.format.read_magic(stream)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, _fortran, dtype = read_header(stream)
            if dtype.hasobject:
                array = NumpyOnlyUnpickler(stream).load()
            else:
                stream.seek(0)
                array = np.lib.format.read_array(stream, allow_pickle=False)
            out[key] = np.asarray(array).reshape(shape)
    return out


def _clip_words(seqs, num_words):
    return np.array([[w if w < num_words else 2 for w in s] for s in seqs], dtype=object)


def _pad(seqs, maxlen: int) -> np.ndarray:
    out = np.zeros((len(seqs), maxlen), "int32")
    for i, s in enumerate(seqs):
        s = list(s)[-maxlen:]
        if s:
            out[i, -len(s):] = s
    return out


def _images(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, "float32") / 255.0
    return x[..., None] if x.ndim == 3 else x
