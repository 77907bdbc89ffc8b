"""``anomaly:<folder>``: anomaly detection from WAV recordings of a machine, in the layout of
DCASE 2020 Task 2 (ToyADMOS, MIMII), which MLPerf Tiny's anomaly detection trains on::

    ToyCar/
        train/normal_id_01_00000000.wav     normal sounds only: what the model learns
        test/normal_id_01_00000000.wav      normal and anomalous sounds: what it is judged on
        test/anomaly_id_01_00000000.wav

A folder without ``train/`` and ``test/`` holds ``normal_*.wav`` and ``anomaly_*.wav`` files
(in it or any folder below). Each recording becomes log-mel frames stacked 5 at a time
(``kerasmodels.audio.FrameParams``: 640 values at 128 mel bands); every vector of a
recording carries its recording's label (0 normal, 1 anomaly) and split. Training sees normal
vectors only; validation and test hold both, and a run is ranked by the ROC AUC of its
reconstruction error (``kerasmodels.tasks``). AUC here is over vectors; the reference averages a
recording's vectors first (an AUC over recordings).

Example:
    >>> import kerasmodels as km
    >>> ds = km.load_dataset("machines")  # doctest: +SKIP
    >>> ds.task, ds.input_shape  # doctest: +SKIP
    ('anomaly', (640,))
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from kerasmodels.audio import FrameParams, read_wav, wav_rate
from kerasmodels.data.dataset import Dataset, content_sha256
from kerasmodels.data.features import FeatureCache
from kerasmodels.data.stream import check_stream
from kerasmodels.errors import DatasetError
from kerasmodels.tasks import ANOMALY, NORMAL

PREFIXES = {"normal_": NORMAL, "anomaly_": ANOMALY}
SPLIT_VERSION = 1  # a change to how recordings are split is a new version (the feature cache)
FLAT_TRAIN_SHARE = 0.6  # of a flat folder's normal recordings, the share trained on
LAYOUT_FIX = ("name them normal_*.wav and anomaly_*.wav (DCASE's layout: train/normal_*.wav, "
              "test/normal_*.wav, test/anomaly_*.wav)")


def frame_function(params: FrameParams):
    """A ``tf.function`` from one recording's samples ``(n,)`` float32 to its input vectors
    ``(vectors, params.size)``."""
    import tensorflow as tf

    mel = tf.signal.linear_to_mel_weight_matrix(
        params.mel_bins, params.fft_length // 2 + 1, params.sample_rate, params.lower_hz,
        params.top_hz)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def vectors(samples):
        stft = tf.signal.stft(samples, params.fft_length, params.hop_length, params.fft_length,
                              window_fn=tf.signal.hann_window)
        power = tf.tensordot(tf.square(tf.abs(stft)), mel, 1)
        log_mel = 10.0 * tf.math.log(power + 1e-12) / tf.math.log(10.0)
        stacked = tf.signal.frame(log_mel, params.frames, 1, axis=0)
        return tf.reshape(stacked, [-1, params.size])

    return vectors


def recording_vectors(files: list[Path], params: FrameParams) -> Iterator[np.ndarray]:
    """Each recording's input vectors, one recording at a time (a DatasetError names a file
    too short for one)."""
    from tqdm.auto import tqdm

    function = frame_function(params)
    for f in tqdm(files, desc="reading sound", unit="recording", disable=len(files) < 500):
        samples = read_wav(f, params.sample_rate)
        if params.vectors(len(samples)) < 1:
            raise DatasetError(f"{f.name} is {len(samples) / params.sample_rate:.3f} s long: a "
                               f"vector needs {params.frames} frames, at least "
                               f"{(params.fft_length + (params.frames - 1) * params.hop_length) / params.sample_rate:.3f} s"
                               ": remove it")
        yield function(samples).numpy()


def load_anomaly_folder(folder: str | Path, *, val_fraction: float = 1 / 3, seed: int = 0,
                        name: str | None = None, stream: bool = False,
                        **frame_options) -> Dataset:
    """WAV recordings of one machine as an anomaly-detection dataset.

    Args:
        folder: DCASE's layout (``train/`` normal, ``test/`` both), or a folder of
            ``normal_*.wav`` and ``anomaly_*.wav`` files.
        val_fraction: the share of the test recordings (of each label) kept for validation,
            where the sweep and the search choose; the rest is the test split. In a folder
            without ``train/``, 60% of the normal recordings are for training, and the other
            normal recordings and the anomalous ones are split the same way.
        seed: the split (by recording, from a hash of its name and the seed).
        name: the dataset's name (``anomaly:<folder>`` by default).
        stream: read the cached vectors a batch at a time from disk rather than into memory
            (``kerasmodels.data.features``), for sets larger than memory.
        **frame_options: ``kerasmodels.audio.FrameParams`` fields (``mel_bins``,
            ``frames``, ``fft_length``, ``hop_length``, ...).

    Returns:
        A ``kerasmodels.data.Dataset`` with ``task="anomaly"``: vectors
        ``(n, frames * mel_bins)``, labels 0 (normal) and 1 (anomaly).

    Raises:
        DatasetError: a missing folder, no normal recordings, no anomalous ones to judge on,
            recordings at different sample rates, a WAV file named neither ``normal_`` nor
            ``anomaly_``, a file that is not mono 16-bit PCM.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DatasetError(f"anomaly folder {root} does not exist: check the path after "
                           "'anomaly:'")
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or \
            not 0 < val_fraction < 1:
        raise DatasetError(f"val_fraction must be a fraction in (0, 1), got {val_fraction!r}")
    try:
        params = FrameParams(**frame_options)
    except TypeError as exc:
        raise DatasetError(f"anomaly folders take val_fraction, seed, name and the frame "
                           f"parameters of FrameParams: {exc}") from None
    splits = _split(root, float(val_fraction), seed)
    _check_rates([f for files in splits.values() for f, _ in files], params)
    every = sorted(f for files in splits.values() for f, _ in files)
    sha256 = content_sha256(root, every)
    options = {"val_fraction": val_fraction, "seed": seed, **frame_options}
    check_stream(stream)
    def make(store) -> None:
        for part, files in splits.items():
            out = store.split(part, (params.size,))
            for (_, label), vectors in zip(files, recording_vectors(
                    [f for f, _ in files], params), strict=True):
                out.append(vectors, np.full(len(vectors), label, "int64"))

    arrays = FeatureCache(sha256, {**options, "split": SPLIT_VERSION},
                          params.to_preprocessing()).load_or_make(stream, make)
    if stream:
        options = {**options, "stream": True}
    counts = {part: (sum(1 for _, label in files if label == NORMAL),
                     sum(1 for _, label in files if label == ANOMALY))
              for part, files in splits.items()}
    return Dataset(
        name or f"anomaly:{root}", arrays["train"], arrays["val"], arrays["test"],
        task="anomaly", preprocessing=params.to_preprocessing(),
        description=f"{len(every)} recordings from {root} (normal/anomalous: " + ", ".join(
            f"{part} {n}/{a}" for part, (n, a) in counts.items()) + f"), {params.frames}x"
            f"{params.mel_bins} log-mel frames per vector",
        options=options, sha256=sha256,
    )


def _label(file: Path) -> int:
    for prefix, label in PREFIXES.items():
        if file.name.startswith(prefix):
            return label
    raise DatasetError(f"{file.name} is named neither normal_* nor anomaly_*: {LAYOUT_FIX}")


def _share(file: Path, seed: int) -> float:
    """A number in [0, 1) fixed by the recording's name and the seed."""
    digest = hashlib.sha256(f"{seed}:{file.name}".encode()).hexdigest()
    return int(digest[:8], 16) / 2 ** 32


def _ordered(files: list[tuple[Path, int]], label: int, seed: int) -> list[tuple[Path, int]]:
    """``label``'s recordings in an order fixed by their names and the seed."""
    return sorted((item for item in files if item[1] == label),
                  key=lambda item: (_share(item[0], seed), item[0].name))


def _cut(files: list[tuple[Path, int]], fraction: float) -> int:
    """Where the first ``fraction`` of ``files`` ends: at least one on each side of two."""
    return min(max(round(len(files) * fraction), 1), len(files) - 1) if len(files) > 1 else \
        len(files)


def _split(root: Path, val_fraction: float, seed: int) -> dict[str, list[tuple[Path, int]]]:
    """``(file, label)`` of each split, by recording; each label's share exact."""
    if (root / "train").is_dir() and (root / "test").is_dir():
        train = [(f, _label(f)) for f in sorted((root / "train").rglob("*.wav"))]
        if any(label == ANOMALY for _, label in train):
            raise DatasetError(f"{root / 'train'} holds anomaly_* recordings: the model learns "
                               "normal sounds only; move them to test/")
        judged = [(f, _label(f)) for f in sorted((root / "test").rglob("*.wav"))]
    else:  # the flat layout: FLAT_TRAIN_SHARE of the normal recordings are trained on
        files = [(f, _label(f)) for f in sorted(root.rglob("*.wav"))]
        normal = _ordered(files, NORMAL, seed)
        cut = _cut(normal, FLAT_TRAIN_SHARE) if len(normal) > 2 else len(normal)
        train = normal[:cut]
        judged = normal[cut:] + [item for item in files if item[1] == ANOMALY]
    val, test = [], []
    for label in (NORMAL, ANOMALY):
        ordered = _ordered(judged, label, seed + 1)
        cut = _cut(ordered, val_fraction)
        val += ordered[:cut]
        test += ordered[cut:]
    splits = {"train": train, "val": val, "test": test}
    if not any(label == NORMAL for _, label in train):
        raise DatasetError(f"{root} has no normal recordings to learn from: {LAYOUT_FIX}")
    for part in ("val", "test"):
        labels = {label for _, label in splits[part]}
        if labels != {NORMAL, ANOMALY}:
            missing = "anomalous" if ANOMALY not in labels else "normal"
            raise DatasetError(f"{root}'s {part} split has no {missing} recordings: judging a "
                               f"detector needs both; add recordings ({LAYOUT_FIX})")
    return splits


def _check_rates(files: list[Path], params: FrameParams) -> None:
    """Every recording at ``params.sample_rate``: the frames of another rate span other
    frequencies, and resampling a machine's sound changes what is normal."""
    rates: dict[int, Path] = {}
    for f in files:
        rates.setdefault(wav_rate(f), f)
    if len(rates) > 1 or params.sample_rate not in rates:
        found = ", ".join(f"{rate} Hz ({f.name})" for rate, f in sorted(rates.items()))
        raise DatasetError(f"the recordings are at {found}; anomaly detection reads them at "
                           f"{params.sample_rate} Hz: resample every file to one rate (e.g. "
                           f"sox in.wav -r {params.sample_rate} out.wav), or pass "
                           "sample_rate= with the rate they share")


__all__ = ["PREFIXES", "frame_function", "load_anomaly_folder", "recording_vectors"]
