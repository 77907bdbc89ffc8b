"""The built-in ``speech`` dataset: Speech Commands' ten command words spoken by Debian's
``espeak-ng`` over its voices, speeds and pitches, in Speech Commands' exact layout (16 kHz,
16-bit mono clips of 1 s, ``_background_noise_/``, ``validation_list.txt`` and
``testing_list.txt`` by speaker), so the ``audio:`` loader reads it as it reads the real set.

There is no network here: it stands in for Speech Commands. It is made once (about 20 s; the
set-up script makes it) into ``$KERASMODELS_DATA_DIR/speech-v1`` (``~/.cache/kerasmodels`` by
default), written into a temporary folder and renamed, so an interrupted synthesis leaves
nothing half-made.

Example:
    >>> from kerasmodels.data.speech import speech_folder
    >>> speech_folder().name  # doctest: +SKIP
    'speech-v1'
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from kerasmodels.audio import SAMPLE_RATE, fit_length, read_wav, write_wav
from kerasmodels.data.audio import BACKGROUND, SPEECH_COMMANDS, TESTING_LIST, VALIDATION_LIST
from kerasmodels.data.dataset import Dataset, data_dir
from kerasmodels.errors import DatasetError

VERSION = "speech-v1"  # a change to what is synthesized is a new folder
# Speech Commands' auxiliary words: the `_unknown_` class of the 12-class task
AUXILIARY = ("bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow")
VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan",
          "en-gb-x-gbcwmd", "en-029")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
SPEEDS = (120, 150, 180, 210)  # words per minute
PITCHES = (25, 40, 55, 70)  # espeak-ng's 0..99
TAKES = {"keyword": 2, "auxiliary": 1}  # clips per speaker and word
NOISE_SECONDS = 30


def speech_folder(progress: bool = True, make: bool = True) -> Path:
    """The built-in speech folder, synthesized with espeak-ng the first time.

    Args:
        progress: show a bar while synthesizing.
        make: synthesize it when it is missing (False: raise instead).

    Raises:
        DatasetError: espeak-ng is not installed (the message says how to install it), or
            the folder is missing and ``make`` is False.
    """
    folder = data_dir() / VERSION
    if (folder / TESTING_LIST).is_file():
        return folder
    if not make:
        raise DatasetError(f"the built-in speech dataset is not made yet ({folder})")
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise DatasetError("the built-in speech dataset is synthesized with espeak-ng, which is "
                           "not installed: apt-get install espeak-ng (scripts/setup.sh does)")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{VERSION}-", dir=folder.parent))
    try:
        _synthesize(tmp, espeak, progress)
        os.rename(tmp, folder)
    except OSError:
        if not (folder / TESTING_LIST).is_file():  # else another process made it first
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def speakers() -> list[tuple[str, str]]:
    """Every (voice, variant) pair: espeak-ng's English voices times its voice variants."""
    return [(voice, variant) for voice in VOICES for variant in VARIANTS]


def _speaker_id(voice: str, variant: str) -> str:
    return hashlib.sha1(f"{voice}+{variant}".encode()).hexdigest()[:8]


def _synthesize(root: Path, espeak: str, progress: bool) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tqdm.auto import tqdm

    rs = np.random.RandomState(0)
    jobs = []
    for kind, words in (("keyword", SPEECH_COMMANDS), ("auxiliary", AUXILIARY)):
        for word in words:
            (root / word).mkdir()
            for voice, variant in speakers():
                for take in range(TAKES[kind]):
                    jobs.append((word, voice, variant, take, int(rs.choice(SPEEDS)),
                                 int(rs.choice(PITCHES)), int(rs.randint(0, 4000))))
    with ThreadPoolExecutor(os.cpu_count() or 2) as pool, \
            tqdm(total=len(jobs), desc="synthesizing speech (espeak-ng)", unit="clip",
                 disable=not progress) as bar:
        for _ in pool.map(lambda job: _say(root, espeak, *job), jobs):
            bar.update()
    _write_noise(root / BACKGROUND)
    _write_lists(root)


def _say(root: Path, espeak: str, word: str, voice: str, variant: str, take: int, speed: int,
         pitch: int, offset: int) -> None:
    """One clip: espeak-ng's WAV (22,050 Hz) resampled to 16 kHz, placed in a 1 s clip."""
    target = root / word / f"{_speaker_id(voice, variant)}_nohash_{take}.wav"
    with tempfile.NamedTemporaryFile(suffix=".wav", dir=root) as raw:
        subprocess.run([espeak, "-v", f"{voice}+{variant}", "-s", str(speed), "-p", str(pitch),
                        "-w", raw.name, word], check=True, capture_output=True, timeout=60)
        samples = read_wav(raw.name, SAMPLE_RATE)
    voiced = np.flatnonzero(np.abs(samples) > 0.02)
    if len(voiced):
        samples = samples[voiced[0]:voiced[-1] + 1]
    room = max(0, SAMPLE_RATE - len(samples))
    write_wav(target, fit_length(samples, SAMPLE_RATE, min(offset, room)), SAMPLE_RATE)


def _write_noise(folder: Path) -> None:
    """Generated background recordings: white, pink and brown noise, and a mains hum."""
    folder.mkdir()
    rs = np.random.RandomState(1)
    n = NOISE_SECONDS * SAMPLE_RATE
    white = rs.randn(n)
    spectrum = np.fft.rfft(rs.randn(n))
    freqs = np.maximum(np.fft.rfftfreq(n, 1 / SAMPLE_RATE), 1.0)
    pink = np.fft.irfft(spectrum / np.sqrt(freqs), n)
    brown = np.fft.irfft(spectrum / freqs, n)
    t = np.arange(n) / SAMPLE_RATE
    hum = sum(np.sin(2 * np.pi * 50 * k * t) / k for k in (1, 2, 3)) + 0.3 * rs.randn(n)
    for name, noise in (("white_noise", white), ("pink_noise", pink), ("brown_noise", brown),
                        ("hum", hum)):
        write_wav(folder / f"{name}.wav", 0.5 * noise / np.abs(noise).max(), SAMPLE_RATE)


def _write_lists(root: Path) -> None:
    """Validation and testing lists by speaker: each voice-and-variant in one split."""
    ids = sorted(_speaker_id(*s) for s in speakers())
    rs = np.random.RandomState(2)
    order = [ids[i] for i in rs.permutation(len(ids))]
    test, val = set(order[:len(ids) // 5]), set(order[len(ids) // 5:len(ids) * 7 // 20])
    lists: dict[str, list[str]] = {VALIDATION_LIST: [], TESTING_LIST: []}
    for file in sorted(root.glob("*/*_nohash_*.wav")):
        who = file.name.split("_nohash_")[0]
        name = f"{file.parent.name}/{file.name}"
        if who in test:
            lists[TESTING_LIST].append(name)
        elif who in val:
            lists[VALIDATION_LIST].append(name)
    for list_name, names in lists.items():
        (root / list_name).write_text("".join(f"{n}\n" for n in names))


def speech(keywords: list[str] | str | None = "speech_commands", **options) -> Dataset:
    """The built-in speech dataset: Speech Commands' 12-class task by default (the ten words,
    ``_silence_`` and ``_unknown_``) as MLPerf Tiny's 49x10 MFCCs; ``options`` as
    ``kerasmodels.data.audio.load_audio_folder`` takes them."""
    from kerasmodels.data.audio import load_audio_folder

    return load_audio_folder(speech_folder(), keywords=keywords, name="speech", **options)

__all__ = ["AUXILIARY", "speech", "speech_folder", "speakers"]
