"""Sound for keyword spotting: WAV files in, fixed-length clips out, and the feature parameters
a model is trained with. numpy and the standard library only (``wave`` reads the file), so a
device (``kerasmodels.edge.EdgeModel``) reads sound as training did.

The features themselves (MFCCs or log-mel energies) are computed by
``kerasmodels.data.audio`` with ``tf.signal``, and exported as a ``.tflite`` of their own
(``features.tflite`` beside every export) that LiteRT runs where TensorFlow is absent.

Example:
    >>> import numpy as np
    >>> from kerasmodels.audio import FeatureParams, fit_length
    >>> params = FeatureParams()          # MLPerf Tiny's keyword spotting: 49 x 10 MFCCs
    >>> params.shape
    (49, 10, 1)
    >>> fit_length(np.ones(8000, "float32"), 16000).shape
    (16000,)
"""

from __future__ import annotations

import wave
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from kerasmodels.errors import DatasetError

SAMPLE_RATE = 16_000  # Speech Commands' rate, and what every clip is resampled to
FEATURE_KINDS = ("mfcc", "log_mel")
MAX_WAV_SECONDS = 600  # longer files (a background noise recording is minutes) are refused
SAMPLE_WIDTHS = {2: ("<i2", 2 ** 15), 4: ("<i4", 2 ** 31)}  # bytes -> numpy dtype, full scale


def check_mel_bands(lower_hz: float, upper_hz: float, sample_rate: int) -> None:
    """A DatasetError unless the mel bands lie between 0 Hz and half the sample rate."""
    if not 0 <= lower_hz < upper_hz <= sample_rate / 2:
        raise DatasetError(f"mel bands from {lower_hz} to {upper_hz} Hz: they must lie below "
                           f"half the sample rate ({sample_rate / 2:g} Hz)")


def known_fields(cls, prep: dict[str, Any]) -> dict[str, Any]:
    """The entries of a ``preprocessing`` record that are fields of the dataclass ``cls``."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in prep.items() if k in names}


@dataclass(frozen=True)
class FeatureParams:
    """How a second of sound becomes the model's input; recorded in the run's manifest and in
    every export's ``labels.json`` (``preprocessing``), so a device computes the same features.

    The defaults are MLPerf Tiny's keyword-spotting reference (``kws_util.py``): clips of 1 s
    at 16 kHz, peak-normalized, 30 ms Hann windows every 20 ms (an FFT of 512), 40 mel bands
    from 20 Hz to 4 kHz, the log of their magnitudes plus 1e-6, then the first 10 MFCCs:
    49 frames x 10 coefficients.

    Attributes:
        features: ``"mfcc"`` or ``"log_mel"`` (the log-mel energies, ``mel_bins`` of them).
        sample_rate: samples per second every clip is resampled to.
        clip_ms: the clip length; shorter clips are padded with silence, longer ones cut.
        window_ms: the analysis window.
        stride_ms: the step between windows.
        mel_bins: mel bands.
        lower_hz: the lowest mel band's lower edge.
        upper_hz: the highest mel band's upper edge.
        coefficients: MFCCs kept (``"mfcc"`` only).
        log_offset: added before the log.
    """

    features: str = "mfcc"
    sample_rate: int = SAMPLE_RATE
    clip_ms: int = 1000
    window_ms: float = 30.0
    stride_ms: float = 20.0
    mel_bins: int = 40
    lower_hz: float = 20.0
    upper_hz: float = 4000.0
    coefficients: int = 10
    log_offset: float = 1e-6

    def __post_init__(self):
        if self.features not in FEATURE_KINDS:
            raise DatasetError(f"features must be one of {', '.join(FEATURE_KINDS)}, got "
                               f"{self.features!r}")
        if not 0 < self.window_ms <= self.clip_ms or not 0 < self.stride_ms <= self.window_ms:
            raise DatasetError(f"window_ms ({self.window_ms}) and stride_ms ({self.stride_ms}) "
                               f"must satisfy 0 < stride <= window <= clip ({self.clip_ms} ms)")
        check_mel_bands(self.lower_hz, self.upper_hz, self.sample_rate)
        if self.features == "mfcc" and not 0 < self.coefficients <= self.mel_bins:
            raise DatasetError(f"coefficients must be 1..mel_bins ({self.mel_bins}), got "
                               f"{self.coefficients}")

    @property
    def clip_samples(self) -> int:
        return int(self.sample_rate * self.clip_ms / 1000)

    @property
    def frame_length(self) -> int:
        return int(self.sample_rate * self.window_ms / 1000)

    @property
    def frame_step(self) -> int:
        return int(self.sample_rate * self.stride_ms / 1000)

    @property
    def fft_length(self) -> int:
        """The smallest power of two that holds a window (tf.signal.stft's default)."""
        return 1 << (self.frame_length - 1).bit_length()

    @property
    def frames(self) -> int:
        return 1 + (self.clip_samples - self.frame_length) // self.frame_step

    @property
    def shape(self) -> tuple[int, int, int]:
        """The model's input: (frames, coefficients or mel bins, 1)."""
        width = self.coefficients if self.features == "mfcc" else self.mel_bins
        return (self.frames, width, 1)

    def to_preprocessing(self) -> dict[str, Any]:
        """The dataset's ``preprocessing`` entry (what the manifest and ``labels.json`` hold)."""
        return {"kind": "audio", **asdict(self), "frame_length": self.frame_length,
                "frame_step": self.frame_step, "fft_length": self.fft_length,
                "window": "hann", "normalize": "peak",
                "note": "samples / max|samples|, |STFT| -> mel -> log(x + log_offset)"
                        + (" -> DCT-II (orthonormal), first coefficients" if
                           self.features == "mfcc" else "")}

    @classmethod
    def from_preprocessing(cls, prep: dict[str, Any]) -> FeatureParams:
        """The parameters a ``preprocessing`` entry recorded (the inverse of
        ``to_preprocessing``)."""
        return cls(**known_fields(cls, prep))


@dataclass(frozen=True)
class FrameParams:
    """How a machine recording becomes anomaly-detection inputs; recorded in the run's
    ``preprocessing`` like ``FeatureParams``.

    The defaults are MLPerf Tiny's anomaly-detection reference (``baseline.yaml``): 16 kHz,
    an FFT of 1024 samples (Hann window) every 512, the power spectrum on 128 mel bands,
    ``10 * log10(x + eps)``, then 5 consecutive frames stacked into one vector of 640 values
    (frame-major, as ``common.file_to_vector_array``), one vector per frame step. Unlike
    librosa, frames are not centred (no padding at the ends) and the mel filters are HTK's
    (``tf.signal``).

    Attributes:
        sample_rate: samples per second (files at another rate are refused, not resampled).
        fft_length: the window and FFT length in samples.
        hop_length: the step between windows in samples.
        mel_bins: mel bands, from ``lower_hz`` to ``upper_hz`` (half the rate by default).
        frames: consecutive frames stacked into one input vector.
        lower_hz: the lowest band's lower edge.
        upper_hz: the highest band's upper edge (0: half the sample rate).
    """

    sample_rate: int = SAMPLE_RATE
    fft_length: int = 1024
    hop_length: int = 512
    mel_bins: int = 128
    frames: int = 5
    lower_hz: float = 0.0
    upper_hz: float = 0.0

    def __post_init__(self):
        for what in ("sample_rate", "fft_length", "hop_length", "mel_bins", "frames"):
            value = getattr(self, what)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise DatasetError(f"{what} must be a positive whole number, got {value!r}")
        check_mel_bands(self.lower_hz, self.top_hz, self.sample_rate)

    @property
    def top_hz(self) -> float:
        return self.upper_hz or self.sample_rate / 2

    @property
    def size(self) -> int:
        """Values in one input vector: ``frames * mel_bins``."""
        return self.frames * self.mel_bins

    def vectors(self, samples: int) -> int:
        """Input vectors a recording of ``samples`` samples gives."""
        spectra = 1 + (samples - self.fft_length) // self.hop_length if samples >= \
            self.fft_length else 0
        return max(0, spectra - self.frames + 1)

    def to_preprocessing(self) -> dict[str, Any]:
        return {"kind": "machine_sound", **asdict(self), "window": "hann", "power": 2.0,
                "note": "|STFT|^2 -> mel -> 10 log10(x + 1e-12) -> frames stacked "
                        "(frame-major)"}

    @classmethod
    def from_preprocessing(cls, prep: dict[str, Any]) -> FrameParams:
        return cls(**known_fields(cls, prep))


def wav_rate(path: str | Path) -> int:
    """The sample rate a WAV file declares (its samples are not read); a DatasetError naming
    the file when it is not a WAV file."""
    try:
        with wave.open(str(path), "rb") as w:
            return int(w.getframerate())
    except (wave.Error, EOFError) as exc:
        raise DatasetError(f"{Path(path).name} is not a PCM WAV file ({exc}): convert it to "
                           "16-bit mono WAV") from None
    except OSError as exc:
        raise DatasetError(f"{path} cannot be read ({exc.strerror or exc})") from None


def read_wav(path: str | Path | BinaryIO, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The samples of a mono 16- or 32-bit PCM WAV file as float32 in [-1, 1], resampled to
    ``sample_rate`` (scipy's polyphase filter) when the file has another rate.

    Raises:
        DatasetError: not a WAV file, no samples, more than one channel, 8-bit or 24-bit
            samples, longer than ``MAX_WAV_SECONDS``; each message names the file and the fix.
    """
    source: str | BinaryIO = str(path) if isinstance(path, (str, Path)) else path
    path = Path(path) if isinstance(path, (str, Path)) else Path(getattr(path, "name", None)
                                                                 or "the sound")
    try:
        with wave.open(source, "rb") as w:
            channels, width, rate, count = (w.getnchannels(), w.getsampwidth(), w.getframerate(),
                                            w.getnframes())
            if channels != 1:
                raise DatasetError(f"{path.name} has {channels} channels: keyword spotting reads "
                                   "mono; mix it down (e.g. sox in.wav -c 1 out.wav)")
            if width not in SAMPLE_WIDTHS:
                raise DatasetError(f"{path.name} holds {8 * width}-bit samples: save it as 16-bit "
                                   "PCM (e.g. sox in.wav -b 16 out.wav)")
            if count == 0:
                raise DatasetError(f"{path.name} holds no samples: remove it or record it again")
            if count > MAX_WAV_SECONDS * rate:
                raise DatasetError(f"{path.name} lasts {count / rate:.0f} s; up to "
                                   f"{MAX_WAV_SECONDS} s are read: cut it")
            raw = w.readframes(count)
    except (wave.Error, EOFError) as exc:
        raise DatasetError(f"{path.name} is not a PCM WAV file ({exc}): convert it to 16-bit "
                           "mono WAV") from None
    except OSError as exc:
        raise DatasetError(f"{path} cannot be read ({exc.strerror or exc})") from None
    dtype, full_scale = SAMPLE_WIDTHS[width]
    samples = np.frombuffer(raw, dtype).astype("float32") / full_scale
    return resample(samples, rate, sample_rate)


def resample(samples: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """``samples`` at ``rate`` Hz, resampled to ``target`` Hz (scipy.signal.resample_poly)."""
    if rate == target:
        return np.asarray(samples, "float32")
    from math import gcd

    try:
        from scipy.signal import resample_poly
    except ImportError:
        raise DatasetError(f"sound at {rate} Hz needs scipy to resample to {target} Hz: "
                           f"pip install scipy, or record at {target} Hz") from None
    g = gcd(int(rate), int(target))
    return resample_poly(samples, target // g, rate // g).astype("float32")


def fit_length(samples: np.ndarray, length: int, offset: int = 0) -> np.ndarray:
    """``samples`` cut or padded with zeros to ``length``, shifted by ``offset`` samples
    (positive: later in the clip)."""
    samples = np.asarray(samples, "float32")
    out = np.zeros(length, "float32")
    start, source = max(offset, 0), max(-offset, 0)
    n = max(0, min(length - start, len(samples) - source))
    out[start:start + n] = samples[source:source + n]
    return out


def loudest(samples: np.ndarray, length: int) -> np.ndarray:
    """The ``length`` samples of ``samples`` with the most energy (a word in a longer
    recording); shorter sound is padded with silence."""
    samples = np.asarray(samples, "float32")
    if len(samples) <= length:
        return fit_length(samples, length)
    energy = np.concatenate([[0.0], np.cumsum(samples.astype("float64") ** 2)])
    window = energy[length:] - energy[:-length]
    start = int(np.argmax(window))
    return samples[start:start + length]


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write float samples in [-1, 1] as a mono 16-bit PCM WAV file."""
    pcm = (np.clip(np.asarray(samples, "float32"), -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())


def as_clips(raw, params: FeatureParams) -> np.ndarray:
    """Raw sound as a batch of clips ``(n, clip_samples)``: a WAV path, a list of paths, WAV
    bytes, one clip of samples, or a batch of clips. Each is padded to the clip length, or cut
    to its loudest clip when longer (``loudest``)."""
    import io

    if isinstance(raw, (str, Path)):
        return as_clips([raw], params)
    if isinstance(raw, (bytes, bytearray)):
        return as_clips([io.BytesIO(raw)], params)
    if isinstance(raw, (list, tuple)) and raw and (isinstance(raw[0], (str, Path))
                                                   or hasattr(raw[0], "read")):
        return np.stack([loudest(read_wav(r, params.sample_rate), params.clip_samples)
                         for r in raw])
    x = np.asarray(raw, "float32")
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2:
        raise DatasetError(f"sound must be a WAV file, samples (n,) or clips (batch, n); got "
                           f"shape {x.shape}")
    return np.stack([loudest(c, params.clip_samples) for c in x])


__all__ = ["FEATURE_KINDS", "SAMPLE_RATE", "FeatureParams", "FrameParams", "as_clips", "fit_length", "loudest",
           "read_wav", "resample", "wav_rate", "write_wav"]
