"""Datasets: built-in (offline), online (keras.datasets) and a user's own files.

>>> import kerasmodels as km
>>> ds = km.load_dataset("digits")
>>> ds.input_shape, ds.num_classes
((8, 8, 1), 10)
"""

from __future__ import annotations

from collections.abc import Callable

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
    """Every dataset name ``load_dataset`` accepts (plus ``csv:<path>``, ``images:<folder>``,
    ``audio:<folder>`` and ``anomaly:<folder>``)."""
    return [*BUILTIN, *ONLINE]


def load_dataset(name: str | Dataset = DEFAULT_DATASET, **options) -> Dataset:
    """Load a dataset by name with fixed, seeded train/val/test splits.

    Names: ``digits`` (default), ``regression``, ``sequences``, ``text``, ``diabetes``;
    ``mnist``, ``fashion_mnist``, ``cifar10``, ``imdb`` (download, or ``path=`` a local copy);
    ``csv:<path>`` with ``target=<column>``; ``images:<folder>`` with ``image_size=(h, w)``
    and ``color="rgb"|"grayscale"``; ``speech`` (command words synthesized with espeak-ng)
    and ``audio:<folder>`` (WAV clips in Speech Commands' layout, ``keywords=[...]``; see
    :func:`kerasmodels.data.audio.load_audio_folder`); ``machines`` (a generated machine's
    hum) and ``anomaly:<folder>`` (WAV recordings in DCASE's layout, anomaly detection; see
    :func:`kerasmodels.data.anomaly.load_anomaly_folder`). ``classes=[...]`` keeps only those classes of any
    classification dataset (see :meth:`Dataset.select_classes`). A Dataset passes through.
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
