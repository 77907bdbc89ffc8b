"""Turn what a person gives (an image file, a drawing, typed tokens, a recorded word) into one
model input.

The run's manifest says how its dataset was preprocessed; these functions apply the same
steps, so a photo of a digit or a canvas drawing reaches the model like a test example.

>>> import numpy as np
>>> prep = {"kind": "image", "image_size": [8, 8], "color": "grayscale",
...         "input_range": [0, 16], "scale": 1 / 16, "offset": 0.0, "background": "black"}
>>> drawing = np.zeros((64, 64), "uint8"); drawing[8:56, 28:36] = 255   # a white "1" on black
>>> image_input(drawing, prep, (8, 8, 1)).shape
(8, 8, 1)
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import numpy as np

from kerasmodels.errors import InputShapeError, UploadError

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 25_000_000


def read_image(source: bytes | str | Path | np.ndarray):
    """A PIL image from bytes, a path or an array, or an UploadError that says why not."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(source, np.ndarray):
        array = source
        if array.dtype != np.uint8:
            array = np.clip(array * (255 if array.max() <= 1 else 1), 0, 255).astype("uint8")
        return Image.fromarray(array.squeeze() if array.ndim == 3 and array.shape[-1] == 1
                               else array)
    content = Path(source).read_bytes() if isinstance(source, (str, Path)) else bytes(source)
    if len(content) > MAX_UPLOAD_BYTES:
        raise UploadError(f"the file is {len(content) / 2**20:.1f} MB; images up to "
                          f"{MAX_UPLOAD_BYTES // 2**20} MB are accepted: resize it first")
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        image = Image.open(io.BytesIO(content))  # reads the header only
        check_pixels(image.size)
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise UploadError(f"the file is not an image this tool can read ({type(exc).__name__}): "
                          "upload a PNG, JPEG, BMP or GIF") from None
    return image


def check_pixels(size: tuple[int, int]) -> None:
    """Refuse an image larger than MAX_PIXELS before it is decoded (a 160 KB PNG can hold
    7000x7000 pixels: 14 s and 800 MB to decode)."""
    width, height = size
    if width * height > MAX_PIXELS:
        raise UploadError(f"the image is {width}x{height} pixels; images up to "
                          f"{MAX_PIXELS // 1_000_000} million pixels are accepted: resize it first")


def image_input(source: bytes | str | Path | np.ndarray, preprocessing: dict[str, Any],
                input_shape: tuple[int, ...]) -> np.ndarray:
    """One model input from an image, preprocessed as the run's dataset was.

    Colour and size follow the dataset; for data with bright ink on black (digits) a dark
    drawing on light paper is inverted, and the ink is cropped to its bounding box and
    centred, as the dataset's digits are. The Playground's uploads and drawings come through
    here.

    Args:
        source: an image file's bytes, its path, or an array of pixels (0..1 or 0..255).
        preprocessing: the run's dataset ``preprocessing`` (``kind`` ``"image"``).
        input_shape: the model's input shape, without the batch axis.

    Returns:
        One example, ``input_shape`` in float32, scaled as the dataset's arrays are.

    Raises:
        InputShapeError: the model does not take images (it names what it takes).
        UploadError: not an image this tool can read, over 10 MB, or too many pixels.

    Examples:
        >>> import numpy as np
        >>> import kerasmodels as km
        >>> digits = km.load_dataset("digits")
        >>> stroke = np.ones((64, 64)); stroke[8:56, 30:34] = 0   # a dark "1" on white paper
        >>> x = km.image_input(stroke, digits.preprocessing, digits.input_shape)
        >>> x.shape, float(x.min()), float(x.max())
        ((8, 8, 1), 0.0, 1.0)
    """
    if preprocessing.get("kind") != "image":
        raise InputShapeError(f"this model takes {preprocessing.get('kind', 'non-image')} "
                              "input, not an image: type tokens or numbers instead")
    image = read_image(source)
    h, w = preprocessing["image_size"]
    gray = preprocessing.get("color") == "grayscale"
    image = image.convert("L" if gray else "RGB")
    pixels = np.asarray(image, "float32") / 255.0
    if preprocessing.get("background") == "black":
        luminance = pixels if gray else pixels.mean(-1)
        if luminance.mean() > 0.5:  # dark ink on light paper
            pixels = 1.0 - pixels
            luminance = 1.0 - luminance
        pixels = _centre_ink(pixels, luminance)
    from PIL import Image

    resized = Image.fromarray((pixels * 255).astype("uint8")).resize((w, h), Image.Resampling.BOX)
    pixels = np.asarray(resized, "float32") / 255.0
    if preprocessing.get("background") == "black" and pixels.max() > 0:
        pixels = pixels / pixels.max()  # a thin stroke averages to grey: ink is full intensity
    low, high = preprocessing.get("input_range", [0, 255])
    values = (pixels * (high - low) + low) * preprocessing.get("scale", 1.0) + \
        preprocessing.get("offset", 0.0)
    return values.reshape(input_shape).astype("float32")


def _centre_ink(pixels: np.ndarray, luminance: np.ndarray) -> np.ndarray:
    """Crop to the ink's bounding box and pad it to a square: the longer side fills the frame,
    as in the digits dataset (UCI's bitmaps are size-normalised that way)."""
    rows, cols = np.where(luminance > 0.2)
    if not len(rows):
        return pixels
    crop = pixels[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    side = max(crop.shape[:2])
    square = np.zeros((side, side, *crop.shape[2:]), "float32")
    top, left = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    square[top:top + crop.shape[0], left:left + crop.shape[1]] = crop
    return square


def token_input(text: str, preprocessing: dict[str, Any], input_shape: tuple[int, ...],
                dtype: str = "int32") -> np.ndarray:
    """One model input from typed tokens (words of the vocabulary or ids) or numbers.

    Token models are padded with the pad id or cut to their length; sequence models take
    exactly as many numbers as their input holds.

    Args:
        text: tokens or numbers separated by spaces or commas.
        preprocessing: the run's dataset ``preprocessing`` (``kind`` ``"tokens"`` or numbers).
        input_shape: the model's input shape, without the batch axis.
        dtype: the input's dtype (token ids are integers).

    Returns:
        One example of ``input_shape``.

    Raises:
        InputShapeError: empty text, an unknown word, an id outside the vocabulary, or the
            wrong count of numbers (what the model takes named).

    Examples:
        >>> import kerasmodels as km
        >>> text = km.load_dataset("text")
        >>> x = km.token_input("5 12 7", text.preprocessing, text.input_shape)
        >>> x.shape, x[:4].tolist()
        ((32,), [5, 12, 7, 0])
    """
    parts = [p for p in re.split(r"[\s,;]+", text.strip()) if p]
    if not parts:
        raise InputShapeError("type some tokens or numbers, separated by spaces or commas")
    size = int(np.prod(input_shape))
    if preprocessing.get("kind") == "tokens":
        vocab = preprocessing.get("vocab") or []
        index = {word: i for i, word in enumerate(vocab)}
        ids = []
        for part in parts:
            if part in index:
                ids.append(index[part])
            elif part.lstrip("-").isdigit():
                ids.append(int(part))
            else:
                known = ", ".join(vocab[:8]) + (" ..." if len(vocab) > 8 else "")
                raise InputShapeError(f"unknown token {part!r}: use ids or words of the "
                                      f"vocabulary ({known})")
        limit = len(vocab) or preprocessing.get("num_words")
        if limit and any(not 0 <= i < limit for i in ids):
            raise InputShapeError(f"token ids must be in [0, {limit}), got {ids}")
        ids = (ids + [preprocessing.get("pad_id", 0)] * size)[:size]
        return np.array(ids, dtype).reshape(input_shape)
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise InputShapeError(f"expected numbers, got {text[:40]!r}") from None
    if len(values) != size:
        raise InputShapeError(f"this model takes {size} numbers (shape {tuple(input_shape)}), "
                              f"got {len(values)}")
    return np.array(values, "float32").reshape(input_shape)


__all__ = ["MAX_UPLOAD_BYTES", "image_input", "read_image", "token_input"]


def sound_input(source: bytes | str | Path | np.ndarray,
                preprocessing: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """One keyword spotter's input from sound: WAV bytes, a WAV path, or samples at the
    recorded rate; a recording longer than the clip is cut to its loudest clip.

    Args:
        source: WAV bytes (an upload, a microphone recording), a path, or float samples.
        preprocessing: the run's dataset ``preprocessing`` (``kind`` ``"audio"``: the
            feature parameters, ``kerasmodels.audio.FeatureParams``).

    Returns:
        ``(features, clip)``: the model's input ``(frames, coefficients, 1)``, computed as
        training computed it, and the clip of samples it was computed from.

    Raises:
        UploadError: not a model that takes sound, or not a mono 16-bit PCM WAV (the reason).

    Examples:
        >>> import numpy as np
        >>> import kerasmodels as km
        >>> from kerasmodels.audio import FeatureParams
        >>> prep = FeatureParams().to_preprocessing()
        >>> tone = np.sin(np.arange(16_000) * 2 * np.pi * 440 / 16_000)
        >>> features, clip = km.sound_input(tone, prep)
        >>> features.shape, clip.shape
        ((49, 10, 1), (16000,))
    """
    from kerasmodels.audio import FeatureParams, as_clips
    from kerasmodels.errors import DatasetError

    if preprocessing.get("kind") != "audio":
        raise UploadError(f"this model takes {preprocessing.get('kind') or 'arrays'}, not sound")
    if isinstance(source, (bytes, bytearray)) and len(source) > MAX_UPLOAD_BYTES:
        raise UploadError(f"the sound is {len(source) / 2**20:.1f} MB; up to "
                          f"{MAX_UPLOAD_BYTES // 2**20} MB are accepted: cut it first")
    params = FeatureParams.from_preprocessing(preprocessing)
    try:
        clips = as_clips(source, params)
    except DatasetError as exc:
        raise UploadError(str(exc)) from None
    from kerasmodels.data.audio import compute_features

    return compute_features(clips[:1], params)[0], clips[0]
