"""The built-in ``machines`` dataset: a generated stand-in for MLPerf Tiny's anomaly-detection
task (ToyADMOS' toy car, which cannot be downloaded here), in DCASE's layout.

A normal recording is a machine's hum: a fundamental near 110 Hz with 24 harmonics falling
off with their order, a slow wobble of its pitch and loudness (the machine's load), and noise
at 12 to 24 dB below it. An anomalous recording is the same machine with one fault:

- ``shifted``: the fundamental 5-10% off (a motor running too fast or too slow),
- ``whine``: an added tone between 2 and 5 kHz (a dry bearing),
- ``clicks``: short bursts 4 to 12 times a second (something loose).

Each recording lasts ``SECONDS``, at 16 kHz, seeded by its number: the same files on every
machine. They are written once into ``<data dir>/machines-v1`` (a temporary folder renamed)
and read by the ``anomaly:`` loader, as a user's recordings would be.

Example:
    >>> import kerasmodels as km
    >>> ds = km.load_dataset("machines")  # doctest: +SKIP
    >>> ds.task, ds.input_shape  # doctest: +SKIP
    ('anomaly', (640,))
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from kerasmodels.audio import SAMPLE_RATE, write_wav
from kerasmodels.data.dataset import Dataset, data_dir

VERSION = "machines-v1"  # a change to what is generated is a new folder
SECONDS = 2.0
COUNTS = {"train": 120, "test_normal": 45, "test_anomaly": 45}
FAULTS = ("shifted", "whine", "clicks")


def machines_folder() -> Path:
    """The built-in machine recordings, generated the first time (about 2 s)."""
    folder = data_dir() / VERSION
    if (folder / "test").is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{VERSION}-", dir=folder.parent))
    try:
        _generate(tmp)
        os.rename(tmp, folder)
    except OSError:
        if not (folder / "test").is_dir():  # else another process made it first
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def recording(number: int, fault: str | None = None) -> np.ndarray:
    """Recording ``number`` of the machine, with ``fault`` (one of ``FAULTS``) or normal."""
    rs = np.random.RandomState(number)
    n = int(SECONDS * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    f0 = 110.0 * (1 + rs.uniform(-0.01, 0.01))
    if fault == "shifted":
        f0 *= 1 + rs.choice([-1, 1]) * rs.uniform(0.05, 0.10)
    wobble = 1 + 0.004 * np.sin(2 * np.pi * rs.uniform(0.3, 1.0) * t + rs.uniform(0, 6.3))
    phase = 2 * np.pi * np.cumsum(f0 * wobble) / SAMPLE_RATE
    hum = sum(np.sin(k * phase + rs.uniform(0, 6.3)) / k ** 1.1 for k in range(1, 25))
    hum *= 1 + 0.1 * np.sin(2 * np.pi * rs.uniform(0.5, 2.0) * t)
    hum /= np.abs(hum).max()
    if fault == "whine":
        hum += rs.uniform(0.05, 0.12) * np.sin(2 * np.pi * rs.uniform(2000, 5000) * t)
    elif fault == "clicks":
        rate, burst = rs.uniform(4, 12), int(0.004 * SAMPLE_RATE)
        envelope = np.exp(-np.arange(burst) / (burst / 4))
        for start in (np.arange(0, SECONDS, 1 / rate) * SAMPLE_RATE).astype(int):
            end = min(start + burst, n)
            hum[start:end] += rs.uniform(0.3, 0.6) * envelope[:end - start] * rs.randn(end - start)
    noise = np.cumsum(rs.randn(n)) * 0.02 + rs.randn(n)  # white with a little brown
    noise *= 10 ** (-rs.uniform(12, 24) / 20) / np.std(noise)
    sound = hum + noise
    return (0.5 * sound / np.abs(sound).max()).astype("float32")


def _generate(root: Path) -> None:
    for part in ("train", "test"):
        (root / part).mkdir()
    number = 0
    for i in range(COUNTS["train"]):
        write_wav(root / "train" / f"normal_id_00_{i:08d}.wav", recording(number))
        number += 1
    for i in range(COUNTS["test_normal"]):
        write_wav(root / "test" / f"normal_id_00_{i:08d}.wav", recording(number))
        number += 1
    for i in range(COUNTS["test_anomaly"]):
        fault = FAULTS[i % len(FAULTS)]
        write_wav(root / "test" / f"anomaly_id_00_{i:08d}.wav", recording(number, fault))
        number += 1


def machines(**options) -> Dataset:
    """The built-in machine recordings as an anomaly-detection dataset (MLPerf Tiny's 640
    values per vector); ``options`` as ``kerasmodels.data.anomaly.load_anomaly_folder``
    takes them."""
    from kerasmodels.data.anomaly import load_anomaly_folder

    return load_anomaly_folder(machines_folder(), name="machines", **options)


__all__ = ["FAULTS", "machines", "machines_folder", "recording"]
