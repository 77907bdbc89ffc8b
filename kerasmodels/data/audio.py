"""``audio:<folder>``: keyword spotting from class folders of WAV files (Speech Commands' layout),
and the features a model hears, computed with ``tf.signal``.

A folder in Speech Commands' layout::

    speech_commands/
        yes/0a7c2a8d_nohash_0.wav     one folder per word; <speaker>_nohash_<n>.wav
        no/...
        _background_noise_/*.wav      long recordings, mixed into training clips
        validation_list.txt           optional: the clips of each split (paths as above);
        testing_list.txt              without them a seeded split keeps each speaker in one

With ``keywords=[...]`` (or ``"speech_commands"``: yes, no, up, down, left, right, on, off,
stop, go) the other words become ``_unknown_`` and clips of background noise ``_silence_``, as
Speech Commands' 12-class task defines them.

Example:
    >>> import kerasmodels as km
    >>> ds = km.load_dataset("speech")  # doctest: +SKIP
    >>> ds.input_shape, ds.labels[:3]  # doctest: +SKIP
    ((49, 10, 1), ['down', 'go', 'left'])
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np

from kerasmodels.audio import FeatureParams, fit_length, read_wav
from kerasmodels.data.dataset import Dataset, content_sha256
from kerasmodels.data.features import FeatureCache
from kerasmodels.data.stream import check_stream
from kerasmodels.errors import DatasetError

BACKGROUND = "_background_noise_"
SILENCE, UNKNOWN = "_silence_", "_unknown_"
VALIDATION_LIST, TESTING_LIST = "validation_list.txt", "testing_list.txt"
SPEECH_COMMANDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
CHUNK = 512  # clips read and turned into features at a time (memory stays flat)


def feature_function(params: FeatureParams):
    """A ``tf.function`` from clips ``(batch, clip_samples)`` float32 to features
    ``(batch, *params.shape)``. Made of ops TFLite's builtins hold (RFFT2D, a mel matrix and
    the DCT as constant matmuls), so ``feature_model`` converts it as it is."""
    import tensorflow as tf

    mel = tf.signal.linear_to_mel_weight_matrix(
        params.mel_bins, params.fft_length // 2 + 1, params.sample_rate, params.lower_hz,
        params.upper_hz)
    dct = (tf.signal.mfccs_from_log_mel_spectrograms(tf.eye(params.mel_bins))
           [:, :params.coefficients] if params.features == "mfcc" else None)

    @tf.function(input_signature=[tf.TensorSpec([None, params.clip_samples], tf.float32)])
    def features(clips):
        peak = tf.reduce_max(tf.abs(clips), axis=-1, keepdims=True)
        clips = clips / tf.maximum(peak, 1e-9)
        stft = tf.signal.stft(clips, params.frame_length, params.frame_step, params.fft_length,
                              window_fn=tf.signal.hann_window)
        energies = tf.tensordot(tf.abs(stft), mel, 1)
        out = tf.math.log(energies + params.log_offset)
        if dct is not None:
            out = tf.tensordot(out, dct, 1)
        return tf.expand_dims(out, -1)

    return features


def compute_features(clips: np.ndarray, params: FeatureParams) -> np.ndarray:
    """Features of clips ``(n, clip_samples)``: what the model is trained and evaluated on."""
    function = feature_function(params)
    out = [function(clips[i:i + CHUNK]).numpy() for i in range(0, len(clips), CHUNK)]
    return np.concatenate(out) if out else np.zeros((0, *params.shape), "float32")


def probe_sound(preprocessing: dict) -> np.ndarray:
    """``probe_clips`` for a run of an audio dataset (its recorded ``preprocessing``):
    what a format that takes sound is fed where the splits hold features."""
    return probe_clips(FeatureParams.from_preprocessing(preprocessing))


def probe_clips(params: FeatureParams, noise: int = 24) -> np.ndarray:
    """Seeded sounds to check a file that takes sound against training's features: ``noise``
    clips of uniform noise at several loudnesses, and tones from 200 Hz to 3.5 kHz."""
    rs = np.random.RandomState(0)
    t = np.arange(params.clip_samples) / params.sample_rate
    loud = np.geomspace(0.05, 1.0, noise)[:, None]
    tones = [np.sin(2 * np.pi * f * t) for f in (300, 1000, 3000)]
    tones += [np.sin(2 * np.pi * f * t) * np.hanning(len(t)) for f in np.geomspace(200, 3500, 13)]
    return np.concatenate([rs.uniform(-1, 1, (noise, params.clip_samples)) * loud,
                           np.stack(tones)]).astype("float32")


def feature_model(params: FeatureParams) -> bytes:
    """The features as a ``.tflite`` of their own (float32 clips in, features out), which
    LiteRT runs on a phone or a Raspberry Pi: ``features.tflite`` beside every export."""
    import tensorflow as tf

    from kerasmodels.logs import quiet_native

    function = feature_function(params)
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [function.get_concrete_function()], function)
    with quiet_native():
        return converter.convert()


def load_audio_folder(folder: str | Path, *, keywords: list[str] | str | None = None,
                      features: str = "mfcc", augment: int = 1, time_shift_ms: float = 100.0,
                      background_volume: float = 0.1, background_frequency: float = 0.8,
                      silence_percentage: float = 10.0, unknown_percentage: float = 10.0,
                      seed: int = 0, name: str | None = None, stream: bool = False) -> Dataset:
    """Class folders of WAV clips as MFCC (or log-mel) features, split by speaker.

    Args:
        folder: the folder of word folders (Speech Commands' layout, module docstring).
        keywords: the words to tell apart (a list, or ``"yes,no"``); the others become
            ``_unknown_`` and background noise ``_silence_``. ``"speech_commands"``: Speech
            Commands' ten. None: every word folder is a class.
        features: ``"mfcc"`` (MLPerf Tiny's 49x10) or ``"log_mel"`` (49x40).
        augment: training copies of every training clip shifted in time and mixed with
            background noise (0: the clips as recorded only).
        time_shift_ms: the largest shift, either way.
        background_volume: the loudest background mixed in (a fraction of full scale).
        background_frequency: the share of augmented clips that get background noise.
        silence_percentage: ``_silence_`` clips, as a percentage of each split's words.
        unknown_percentage: ``_unknown_`` clips, likewise.
        seed: the split (without lists), the augmentation and the samples.
        name: the dataset's name (``audio:<folder>`` by default).
        stream: read the cached features a batch at a time from disk rather than into
            memory (``kerasmodels.data.features``), for sets larger than memory.

    Returns:
        A ``kerasmodels.data.Dataset`` of features ``(n, frames, coefficients, 1)``;
        its ``preprocessing`` holds the feature parameters (``FeatureParams``).

    Raises:
        DatasetError: a missing folder, fewer than two classes, an unknown keyword, a file that
            is not a mono 16-bit WAV (named), a list naming a missing file.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DatasetError(f"audio folder {root} does not exist: check the path after 'audio:'")
    params = FeatureParams(features=features)
    _check_options(augment, time_shift_ms, background_volume, background_frequency,
                   silence_percentage, unknown_percentage)
    words = _word_files(root)
    classes, word_class = _classes(root, words, keywords)
    splits = _split(root, words, seed)
    mixing = {"augment": augment, "time_shift_ms": time_shift_ms,
              "background_volume": background_volume,
              "background_frequency": background_frequency}
    options = {"keywords": list(keywords) if isinstance(keywords, (list, tuple)) else keywords,
               "features": features, **mixing, "silence_percentage": silence_percentage,
               "unknown_percentage": unknown_percentage, "seed": seed}
    every = [f for part in splits.values() for f in part]
    sha256 = content_sha256(root, sorted([*every, *root.glob(f"{BACKGROUND}/*.wav"),
                                          *root.glob("*_list.txt")]))
    check_stream(stream)

    def make(store) -> None:  # the background recordings are read only to compute features
        background = [read_wav(f, params.sample_rate)
                      for f in sorted((root / BACKGROUND).glob("*.wav"))]
        rs = np.random.RandomState(seed)
        for part in ("train", "val", "test"):
            files, labels, known = _labelled(splits[part], word_class, classes,
                                             unknown_percentage, rs)
            silent = int(round(known * silence_percentage / 100)) if SILENCE in classes else 0
            _features(files, labels, silent, classes, background, params, rs,
                      mixing if part == "train" else None, store.split(part, params.shape))

    arrays = FeatureCache(sha256, options, params.to_preprocessing()).load_or_make(stream, make)
    if stream:
        options = {**options, "stream": True}
    return Dataset(
        name or f"audio:{root}", arrays["train"], arrays["val"], arrays["test"],
        task="classification", num_classes=len(classes), labels=classes,
        preprocessing=params.to_preprocessing(),
        description=f"{len(every)} clips of {len(words)} words from {root}, "
                    f"{params.shape[0]}x{params.shape[1]} {params.features}",
        options=options, sha256=sha256,
    )


def _check_options(augment, time_shift_ms, background_volume, background_frequency,
                   silence_percentage, unknown_percentage) -> None:
    if isinstance(augment, bool) or not isinstance(augment, int) or not 0 <= augment <= 10:
        raise DatasetError(f"augment must be a whole number of copies, 0 to 10, got {augment!r}")
    for what, value, high in (("time_shift_ms", time_shift_ms, 500),
                              ("background_volume", background_volume, 1),
                              ("background_frequency", background_frequency, 1),
                              ("silence_percentage", silence_percentage, 100),
                              ("unknown_percentage", unknown_percentage, 100)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= high:
            raise DatasetError(f"{what} must be a number from 0 to {high}, got {value!r}")


def _word_files(root: Path) -> dict[str, list[Path]]:
    """Each word folder's WAV files; anything else in a word folder is refused by name."""
    words = {}
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        files = []
        for file in sorted(p for p in sub.iterdir() if p.is_file() and not p.name.startswith(".")):
            if file.suffix.lower() != ".wav":
                raise DatasetError(f"{sub.name}/{file.name} is not a WAV file: word folders hold "
                                   "only .wav clips; move it out")
            files.append(file)
        if files:
            words[sub.name] = files
    if len(words) < 2:
        found = f"only {next(iter(words))!r}" if words else "none"
        raise DatasetError(f"{root} needs a folder of WAV clips per word, at least two "
                           f"(found {found})")
    return words


def _classes(root: Path, words: dict[str, list[Path]], keywords) -> tuple[list[str], dict]:
    """The class names and each word's class (None: the word is not used)."""
    if keywords is None:
        return list(words), {w: w for w in words}
    if keywords == "speech_commands":
        keywords = list(SPEECH_COMMANDS)
    elif isinstance(keywords, str):  # the CLI's keywords=yes,no
        keywords = [k.strip() for k in keywords.strip("[]").split(",") if k.strip()]
    if not keywords or not all(isinstance(k, str) for k in keywords):
        raise DatasetError(f"keywords must be a list of words or 'speech_commands', got "
                           f"{keywords!r}")
    missing = [k for k in keywords if k not in words]
    if missing:
        raise DatasetError(f"{root} has no folder for {', '.join(map(repr, missing))}: choose "
                           f"keywords from {', '.join(words)}")
    kept = sorted(keywords)
    return [*kept, SILENCE, UNKNOWN], {w: (w if w in kept else UNKNOWN) for w in words}


def speaker(file: Path) -> str:
    """The speaker of a clip named ``<speaker>_nohash_<n>.wav`` (else the clip itself)."""
    return re.sub(r"_nohash_.*$", "", file.stem)


def _split(root: Path, words: dict[str, list[Path]], seed: int) -> dict[str, list[Path]]:
    every = [f for files in words.values() for f in files]
    lists = {part: root / name for part, name in (("val", VALIDATION_LIST), ("test", TESTING_LIST))}
    if any(p.is_file() for p in lists.values()):
        chosen: dict[str, set[Path]] = {}
        for part, path in lists.items():
            names = path.read_text().split() if path.is_file() else []
            inside = root.resolve()
            for n in names:
                if not (root / n).resolve().is_relative_to(inside):
                    raise DatasetError(f"{path.name} names {n!r}, outside {root}: list paths "
                                       "relative to the folder, as word/file.wav")
                if not (root / n).is_file():
                    raise DatasetError(f"{path.name} lists {n!r}, which is not in {root}: fix "
                                       "the list or restore the file")
            chosen[part] = {(root / n).resolve() for n in names}
        resolved = {f: f.resolve() for f in every}
        return {"val": [f for f in every if resolved[f] in chosen["val"]],
                "test": [f for f in every if resolved[f] in chosen["test"]],
                "train": [f for f in every if resolved[f] not in chosen["val"] | chosen["test"]]}
    # no lists: each speaker in one split (a seeded hash of the speaker, as Speech Commands does)
    out: dict[str, list[Path]] = {"train": [], "val": [], "test": []}
    for file in every:
        digest = hashlib.sha1(f"{seed}:{speaker(file)}".encode()).hexdigest()
        share = int(digest[:8], 16) / 0xFFFFFFFF
        out["test" if share < 0.2 else "val" if share < 0.35 else "train"].append(file)
    if not out["test"] or not out["val"]:
        raise DatasetError(f"{root} has too few speakers to hold some out for validation and "
                           "testing: add clips, or write validation_list.txt and testing_list.txt")
    return out


def _labelled(files: list[Path], word_class: dict, classes: list[str], unknown_percentage: float,
              rs: np.random.RandomState) -> tuple[list[Path], list[int], int]:
    """The split's clips and labels, ``_unknown_`` words sampled to their percentage of the
    keywords' clips, and how many clips are keywords."""
    known = [f for f in files if word_class[f.parent.name] != UNKNOWN]
    unknown = [f for f in files if word_class[f.parent.name] == UNKNOWN]
    if unknown:
        keep = min(len(unknown), int(round(len(known) * unknown_percentage / 100)))
        unknown = [unknown[i] for i in sorted(rs.choice(len(unknown), keep, replace=False))]
    picked = known + unknown
    return picked, [classes.index(word_class[f.parent.name]) for f in picked], len(known)


def _features(files: list[Path], labels: list[int], silent: int, classes: list[str],
              background: list[np.ndarray], params: FeatureParams, rs: np.random.RandomState,
              mixing: dict[str, Any] | None, out) -> None:
    """Read, fit, augment (training) and featurize the split a chunk at a time, each chunk
    appended to ``out`` (a ``kerasmodels.data.features.SplitWriter``)."""
    from tqdm.auto import tqdm

    n = params.clip_samples
    jobs: list[tuple[Path | None, int]] = list(zip(files, labels, strict=True))
    if silent:
        jobs += [(None, classes.index(SILENCE))] * silent
    bar = tqdm(total=len(jobs), desc="reading sound", unit="clip", disable=len(jobs) < 2000)
    for start in range(0, len(jobs), CHUNK):
        chunk = jobs[start:start + CHUNK]
        clips = np.stack([peak(fit_length(read_wav(f, params.sample_rate), n)) if f is not None
                          else _silence(background, n, rs) for f, _ in chunk])
        labels_ = np.array([y for _, y in chunk], "int64")
        copies = [clips]
        if mixing:
            copies += [_augment(clips, background, params, rs, mixing)
                       for _ in range(mixing["augment"])]
        for c in copies:
            out.append(compute_features(c, params), labels_)
        bar.update(len(chunk))
    bar.close()


def peak(clip: np.ndarray) -> np.ndarray:
    """``clip`` scaled so its loudest sample is at full scale (silence stays silent)."""
    top = float(np.abs(clip).max()) if clip.size else 0.0
    return clip / top if top > 0 else clip


def _silence(background: list[np.ndarray], n: int, rs: np.random.RandomState) -> np.ndarray:
    if not background:
        return np.zeros(n, "float32")
    return _noise(background, n, rs) * rs.uniform(0, 1)


def _noise(background: list[np.ndarray], n: int, rs: np.random.RandomState) -> np.ndarray:
    source = background[rs.randint(len(background))]
    if len(source) <= n:
        return fit_length(source, n)
    start = rs.randint(0, len(source) - n)
    return source[start:start + n]


def _augment(clips: np.ndarray, background: list[np.ndarray], params: FeatureParams,
             rs: np.random.RandomState, mixing: dict[str, Any]) -> np.ndarray:
    """Clips shifted by up to ``time_shift_ms`` and mixed with background noise."""
    n = params.clip_samples
    most = int(params.sample_rate * mixing["time_shift_ms"] / 1000)
    out = np.empty_like(clips)
    for i, clip in enumerate(clips):
        shifted = fit_length(clip, n, rs.randint(-most, most + 1) if most else 0)
        if background and rs.uniform() < mixing["background_frequency"]:
            shifted = shifted + _noise(background, n, rs) * rs.uniform(0, mixing["background_volume"])
        out[i] = np.clip(shifted, -1, 1)
    return out


__all__ = ["BACKGROUND", "SILENCE", "SPEECH_COMMANDS", "UNKNOWN", "compute_features",
           "feature_function", "feature_model", "load_audio_folder", "speaker"]
