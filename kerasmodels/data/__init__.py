"""Datasets: built-in (offline), online (keras.datasets) and a user's own files.

>>> import kerasmodels as km
>>> ds = km.load_dataset("digits")
>>> ds.input_shape, ds.num_classes
((8, 8, 1), 10)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kerasmodels.data import builtin
from kerasmodels.data.dataset import Dataset, holdout, split
from kerasmodels.errors import DatasetError, UnknownNameError


def _speech(**options) -> Dataset:
    """Ten command words spoken by espeak-ng, 49x10 MFCCs (Speech Commands' 12-class task)."""
    from kerasmodels.data.speech import speech

    return speech(**options)


def _machines(**options) -> Dataset:
    """A machine's hum, normal and with faults: anomaly detection (MLPerf Tiny's 640 inputs)."""
    from kerasmodels.data.machines import machines

    return machines(**options)


BUILTIN: dict[str, Callable[..., Dataset]] = {
    "digits": builtin.digits,
    "regression": builtin.regression,
    "sequences": builtin.sequences,
    "text": builtin.text,
    "diabetes": builtin.diabetes,
    "speech": _speech,
    "machines": _machines,
}
ONLINE = ("mnist", "fashion_mnist", "cifar10", "imdb")
FILE_PREFIXES = ("csv:", "images:", "audio:", "anomaly:")
DEFAULT_DATASET = "digits"


def dataset_names() -> list[str]:
    """Every dataset name ``load_dataset`` accepts, besides the folder and file prefixes.

    Returns:
        The built-in names (made on this machine) and the downloadable ones; ``csv:<path>``,
        ``images:<folder>``, ``audio:<folder>`` and ``anomaly:<folder>`` are accepted too.

    Examples:
        >>> import kerasmodels as km
        >>> km.dataset_names()[:4]
        ['digits', 'regression', 'sequences', 'text']
    """
    return [*BUILTIN, *ONLINE]


def load_dataset(name: str | Dataset = DEFAULT_DATASET, **options: Any) -> Dataset:
    """Load a dataset by name with fixed, seeded train/val/test splits.

    Args:
        name: ``digits`` (default: scikit-learn's 8x8 handwritten digits), ``regression``,
            ``sequences``, ``text``, ``diabetes``, ``speech`` (command words spoken by
            espeak-ng), ``machines`` (a generated machine's hum, anomaly detection);
            ``mnist``, ``fashion_mnist``, ``cifar10``, ``imdb`` (downloaded, or ``path=`` a local
            copy); ``csv:<path>`` (with ``target=<column>``), ``images:<folder>`` (a folder per
            class), ``audio:<folder>`` (WAV clips in Speech Commands' layout) or
            ``anomaly:<folder>`` (WAV recordings in DCASE's layout). A Dataset passes through.
        **options: the loader's options: ``classes=[...]`` keeps those classes of any
            classification dataset (relabelled in that order); ``image_size=(h, w)`` and
            ``channels`` or ``color`` for images; ``keywords=[...]`` and ``features`` for audio;
            ``stream=True`` reads the splits from disk a batch at a time.

    Returns:
        The Dataset, the same splits for the same name and options on every machine.

    Raises:
        UnknownNameError: a name that is no dataset (the closest one suggested).
        DatasetError: a file or folder that cannot be read as asked, an unknown option or a
            bad value (the reason and the fix named).

    Examples:
        >>> import kerasmodels as km
        >>> ds = km.load_dataset("digits")
        >>> ds.input_shape, ds.num_classes, len(ds.train[0]), len(ds.val[0]), len(ds.test[0])
        ((8, 8, 1), 10, 1167, 270, 360)
        >>> km.load_dataset("digits", classes=[5, 6, 7, 8, 9]).labels
        ['5', '6', '7', '8', '9']
    """
    if isinstance(name, Dataset):
        return name
    classes = options.pop("classes", None)
    if classes is not None:
        return _load(name, options).select_classes(classes)
    return _load(name, options)


def _load(name: str, options: dict) -> Dataset:
    if not isinstance(name, str):
        raise DatasetError(f"dataset must be a name or a Dataset, got {type(name).__name__}")
    try:
        if name in BUILTIN:
            return BUILTIN[name](**options)
        if name in ONLINE:
            from kerasmodels.data.online import load_online

            return load_online(name, **options)
        if name.startswith("csv:"):
            from kerasmodels.data.files import load_csv

            return load_csv(name[4:], **options)
        if name.startswith("images:"):
            from kerasmodels.data.files import load_image_folder

            return load_image_folder(name[7:], **options)
        if name.startswith("audio:"):
            from kerasmodels.data.audio import load_audio_folder

            return load_audio_folder(name[6:], **options)
        if name.startswith("anomaly:"):
            from kerasmodels.data.anomaly import load_anomaly_folder

            return load_anomaly_folder(name[8:], **options)
    except TypeError as exc:
        if "unexpected keyword" in str(exc):
            raise DatasetError(f"dataset {name!r} does not take that option: {exc}") from None
        raise
    raise UnknownNameError("dataset", name, [*dataset_names(), "csv:<path>", "images:<folder>",
                                                "audio:<folder>", "anomaly:<folder>"])


__all__ = ["Dataset", "DatasetError", "dataset_names", "holdout", "load_dataset", "split"]
