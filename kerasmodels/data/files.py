"""A user's own files: ``csv:<path>`` (a target column) and ``images:<folder>`` (class folders)."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from kerasmodels.data.dataset import Dataset, content_sha256, split
from kerasmodels.data.stream import check_stream
from kerasmodels.errors import DatasetError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def load_csv(path: str, *, target: str | None = None, task: str | None = None,
             seed: int = 0) -> Dataset:
    """Numeric feature columns, standardized on the training split, and a ``target`` column.

    A non-numeric target, or an integer one with at most 20 values, is a classification
    (string labels become classes in sorted order); anything else is a regression.
    """
    import pandas as pd

    file = Path(path)
    if not file.is_file():
        raise DatasetError(f"CSV file {file} does not exist: check the path after 'csv:'")
    try:
        frame = pd.read_csv(file)
    except Exception as exc:
        raise DatasetError(f"cannot read {file} as CSV ({type(exc).__name__}: {exc})") from None
    if target is None:
        raise DatasetError(f"{file.name}: say which column to predict with target=<column> "
                           f"(--target in the CLI); columns: {', '.join(map(str, frame.columns))}")
    if target not in frame.columns:
        raise DatasetError(f"{file.name} has no column {target!r}: choose the target from "
                           f"{', '.join(map(str, frame.columns))}")
    before = len(frame)
    frame = frame.dropna()
    if len(frame) < before:
        warnings.warn(f"{file.name}: dropped {before - len(frame)} rows with missing values", stacklevel=2)
    features = [c for c in frame.columns if c != target]
    if not features:
        raise DatasetError(f"{file.name} has no feature columns besides the target {target!r}")
    bad = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        raise DatasetError(f"{file.name}: feature columns {bad} are not numeric: encode them as "
                           "numbers or drop them")
    x = frame[features].to_numpy("float32")
    infinite = [c for c, ok in zip(features, np.isfinite(x).all(0), strict=True) if not ok]
    if infinite:
        raise DatasetError(f"{file.name}: columns {infinite} hold infinite values (or values too "
                           "large for float32): replace or drop those rows")
    column = frame[target]
    numeric = pd.api.types.is_numeric_dtype(column)
    if task is None:
        few = numeric and np.all(np.mod(column, 1) == 0) and column.nunique() <= 20
        task = "classification" if (not numeric or few) else "regression"
    if task == "classification":
        values = column.to_numpy() if numeric else column.astype(str).to_numpy()
        classes = np.unique(values)
        labels = [str(int(v)) if numeric and float(v).is_integer() else str(v) for v in classes]
        y = np.searchsorted(classes, values).astype("int64")
        if len(labels) < 2:
            raise DatasetError(f"{file.name}: target {target!r} has a single class: nothing to learn")
    elif task == "regression":
        if not numeric:
            raise DatasetError(f"{file.name}: target {target!r} is not numeric, so it cannot be a regression")
        labels, y = None, column.to_numpy("float32")[:, None]
        if not np.isfinite(y).all():
            raise DatasetError(f"{file.name}: target {target!r} holds infinite values: replace "
                               "or drop those rows")
    else:
        raise DatasetError(f"task must be 'classification' or 'regression', got {task!r}")
    train, val, test = split(x, y, seed=seed, stratify=task == "classification")
    mean, std = train[0].mean(0), train[0].std(0) + 1e-7
    train, val, test = [((a - mean) / std, b) for a, b in (train, val, test)]
    return Dataset(
        f"csv:{file}", train, val, test, task=task,
        num_classes=len(labels) if labels else None, labels=labels,
        preprocessing={"kind": "tabular", "features": features, "mean": mean.tolist(),
                       "std": std.tolist(), "note": "x = (x - mean) / std, per feature"},
        description=f"{file.name}: {len(frame)} rows, {len(features)} features, target {target!r}",
        options={"target": target, "task": task, "seed": seed},
        sha256=content_sha256(file),
    )


def load_image_folder(folder: str | Path, *, image_size=(32, 32), color: str = "rgb",
                      seed: int = 0, stream: bool = False) -> Dataset:
    """One sub-folder per class, every image resized to ``image_size`` and scaled to [0, 1].

    ``folder`` may also be a ``.zip`` of class folders: it is unpacked beside itself.

    Args:
        folder: the class folders (``person/``, ``non_person/``: Visual Wake Words' layout).
        image_size: ``(height, width)`` every image is resized to.
        color: ``"rgb"`` or ``"grayscale"``.
        seed: the split.
        stream: decode each split once into a file of the data folder
            (``kerasmodels.data.data_dir``, keyed by the images' content and these
            options) and read it back a batch at a time, for folders larger than memory
            (``kerasmodels.data.stream``); the same split and the same rows as without.

    Raises:
        DatasetError: a missing folder, fewer than two classes, an unreadable image, a bad
            size or color.
    """
    root = Path(folder)
    check_stream(stream)
    if root.suffix.lower() == ".zip":
        with tempfile.TemporaryDirectory(prefix="kerasmodels-zip-") as unpacked:
            data = load_image_folder(unpack_zip(root, Path(unpacked)), image_size=image_size,
                                     color=color, seed=seed, stream=stream)
        data.name, data.sha256 = f"images:{root}", content_sha256(root)
        data.description = data.description.replace(unpacked, str(root))
        return data
    return _load_image_folder(root, image_size=image_size, color=color, seed=seed,
                              stream=stream)


def _image_classes(root: Path) -> dict[str, list[Path]]:
    if not root.is_dir():
        raise DatasetError(f"image folder {root} does not exist: check the path after 'images:'")
    classes = {}
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if files:
            classes[sub.name] = files
    if not classes:
        raise DatasetError(f"{root} holds no images: put them in one sub-folder per class "
                           f"({', '.join(sorted(IMAGE_SUFFIXES))})")
    if len(classes) < 2:
        raise DatasetError(f"{root} has images of a single class ({next(iter(classes))}): "
                           "add a sub-folder for each class, at least two")
    return classes


def read_image(file: Path, size: tuple[int, int], color: str) -> np.ndarray:
    """One image file as float32 ``(h, w, channels)`` in [0, 1]; a DatasetError naming the
    file when it is not a readable image or too large."""
    from PIL import Image, UnidentifiedImageError

    from kerasmodels.errors import UploadError
    from kerasmodels.inputs import MAX_PIXELS, check_pixels

    h, w = size
    mode = "L" if color == "grayscale" else "RGB"
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(file) as im:
            check_pixels(im.size)
            arr = np.asarray(im.convert(mode).resize((w, h)), "float32") / 255.0
    except UploadError as exc:
        raise DatasetError(f"{file.name}: {exc}") from None
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise DatasetError(f"{file.name} is not a readable image "
                           f"({type(exc).__name__}): remove or replace it") from None
    return arr[..., None] if mode == "L" else arr


STREAM_VERSION = 1  # a change to how images are decoded or split is a new version


def _load_image_folder(root: Path, *, image_size, color: str, seed: int,
                       stream: bool = False) -> Dataset:
    if color not in ("rgb", "grayscale"):
        raise DatasetError(f"color must be 'rgb' or 'grayscale', got {color!r}")
    try:
        h, w = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise DatasetError(f"image_size must be (height, width), got {image_size!r}") from None
    if not (0 < h <= MAX_SIDE and 0 < w <= MAX_SIDE):
        raise DatasetError(f"image_size must be between 1x1 and {MAX_SIDE}x{MAX_SIDE}, got "
                           f"{image_size!r}: models for the edge take small images")
    classes = _image_classes(root)
    files = [f for names in classes.values() for f in names]
    labels = np.array([i for i, names in enumerate(classes.values()) for _ in names], "int64")
    sha256 = content_sha256(root, files)
    if stream:
        train, val, test = _streamed(files, labels, sha256, (h, w), color, seed)
    else:
        x = np.stack([read_image(f, (h, w), color) for f in files])
        train, val, test = split(x, labels, seed=seed)
    options: dict[str, Any] = {"image_size": [h, w], "color": color, "seed": seed}
    return Dataset(
        f"images:{root}", train, val, test, task="classification",
        num_classes=len(classes), labels=list(classes),
        preprocessing={"kind": "image", "image_size": [h, w], "color": color,
                       "input_range": [0, 255], "scale": 1 / 255, "offset": 0.0},
        description=f"{len(files)} images of {len(classes)} classes from {root}"
                    + (", streamed from disk" if stream else ""),
        options={**options, "stream": True} if stream else options,
        sha256=sha256,
    )


def _streamed(files: list[Path], labels: np.ndarray, sha256: str, size: tuple[int, int],
              color: str, seed: int):
    """The splits of ``split`` (the same seeded cut of the same order), each decoded once
    into ``<data dir>/images/<key>/<split>.npy`` and opened as a memory map."""
    import hashlib
    import json

    from kerasmodels.data.dataset import data_dir
    from kerasmodels.data.stream import open_rows, write_rows

    key = json.dumps([STREAM_VERSION, sha256, list(size), color, seed])
    folder = data_dir() / "images" / hashlib.sha256(key.encode()).hexdigest()[:32]
    parts = split(np.arange(len(files)), labels, seed=seed)
    channels = 1 if color == "grayscale" else 3
    out = []
    for name, (indices, y) in zip(("train", "val", "test"), parts, strict=True):
        path = folder / f"{name}.npy"
        if not path.is_file():
            rows = (read_image(files[i], size, color) for i in indices)
            write_rows(path, len(indices), (*size, channels), _progress(rows, len(indices),
                                                                        f"decoding {name}"))
        out.append((open_rows(path), y))
    return out


def _progress(rows, total: int, what: str):
    """``rows`` with a bar on stderr when there are many."""
    if total < 2000:
        return rows
    from tqdm.auto import tqdm

    return tqdm(rows, total=total, desc=what, unit="image")


MAX_UNPACKED_BYTES = 512 * 1024 * 1024
MAX_ZIP_ENTRIES = 20_000
MAX_SIDE = 1024  # the largest image side a dataset may ask for


def extract_zip(archive: Path, target: Path, error: type[Exception] = DatasetError) -> None:
    """Unpack the zip ``archive`` into ``target``, refusing (with ``error``) paths that leave
    it, links, more than ``MAX_ZIP_ENTRIES`` entries and more than ``MAX_UNPACKED_BYTES``."""
    import stat
    import zipfile

    try:
        with zipfile.ZipFile(archive) as z:
            infos = z.infolist()
            if len(infos) > MAX_ZIP_ENTRIES:
                raise error(f"{archive.name} has {len(infos)} entries; up to "
                            f"{MAX_ZIP_ENTRIES} are accepted: use a smaller set")
            members = [m for m in infos if not m.is_dir()]
            if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
                raise error(f"{archive.name} unpacks to more than "
                            f"{MAX_UNPACKED_BYTES // 2**20} MB: use a smaller set")
            for member in members:
                name = Path(member.filename)
                if name.is_absolute() or ".." in name.parts or "\\" in member.filename:
                    raise error(f"{archive.name} has an unsafe path {member.filename!r}")
                if stat.S_ISLNK(member.external_attr >> 16):
                    raise error(f"{archive.name} holds a link {member.filename!r}: "
                                "zip the files themselves")
            z.extractall(target, members=members)
    except zipfile.BadZipFile as exc:
        raise error(f"{archive.name} is a damaged zip file ({exc})") from None


def unpack_zip(archive: str | Path, target: Path) -> Path:
    """Unpack a zip of class folders into ``target`` and return the folder that holds the class
    folders. Paths leaving the folder, links, too many entries and zip bombs are refused."""
    import zipfile

    archive = Path(archive)
    if not archive.is_file():
        raise DatasetError(f"zip file {archive} does not exist: check the path after 'images:'")
    if not zipfile.is_zipfile(archive):
        raise DatasetError(f"{archive.name} is not a zip file: zip one sub-folder per class")
    extract_zip(archive, target)
    children = [p for p in target.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))]
    if len(children) == 1 and not any(p.is_file() for p in children[0].iterdir()
                                      if p.suffix.lower() in IMAGE_SUFFIXES):
        return children[0]  # the zip holds one top folder around the class folders
    return target
