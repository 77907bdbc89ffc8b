"""Built-in datasets that need no network: digits, regression, sequences, text, diabetes."""

from __future__ import annotations

import numpy as np

from kerasmodels.data.dataset import Dataset, split
from kerasmodels.errors import check_positive


def digits(seed: int = 0, image_size: tuple[int, int] | None = None, channels: int = 1
           ) -> Dataset:
    """scikit-learn's 1,797 handwritten digits as 8x8x1 images scaled to [0, 1]; resized to
    ``image_size`` (bilinear) and repeated to ``channels`` (1 or 3) when asked: digits at
    24x24x3 are the shape of the architecture chapter's CNN."""
    from sklearn.datasets import load_digits

    if channels not in (1, 3):
        from kerasmodels.errors import HyperparameterError

        raise HyperparameterError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}")
    raw = load_digits()
    images = raw.images
    if image_size is not None:
        from PIL import Image

        height, width = (int(v) for v in image_size)
        check_positive("image_size", min(height, width), integer=True)
        images = np.stack([np.asarray(Image.fromarray(image.astype("float32"), mode="F")
                                      .resize((width, height), Image.Resampling.BILINEAR))
                           for image in images])
    x = (images / 16.0).astype("float32")[..., None]
    x = np.repeat(x, channels, axis=-1) if channels == 3 else x
    y = raw.target.astype("int64")
    labels = [str(i) for i in range(10)]
    train, val, test = split(x, y, seed=seed)
    return Dataset(
        "digits",
        train,
        val,
        test,
        task="classification",
        num_classes=len(labels),
        labels=labels,
        preprocessing={
            "kind": "image",
            "image_size": list(x.shape[1:3]),
            "color": "grayscale" if channels == 1 else "rgb",
            "input_range": [0, 16],
            "scale": 1 / 16,
            "offset": 0.0,
            "background": "black",
            "note": "pixel intensity 0..16 (ink is bright) divided by 16",
        },
        description=f"scikit-learn handwritten digits (UCI), {x.shape[1]}x{x.shape[2]} "
                    f"{'grayscale' if channels == 1 else 'RGB'}, 10 classes",
        options={"seed": seed, **({"image_size": list(image_size)} if image_size else {}),
                 **({"channels": channels} if channels != 1 else {})},
    )


def regression(n: int = 100, noise: float = 0.5, seed: int = 0) -> Dataset:
    """The gradient-descent chapter's problem: y = 3x + 2 + noise, x ~ N(0, 1).

    With the defaults the points are exactly the chapter's (``np.random.seed(0)``).
    """
    check_positive("n", n, integer=True)
    check_positive("noise", noise, allow_zero=True)
    rs = np.random.RandomState(seed)
    x = rs.randn(n, 1)
    y = 3 * x + 2 + rs.randn(n, 1) * noise
    train, val, test = split(x.astype("float32"), y.astype("float32"), seed=seed, stratify=False)
    return Dataset(
        "regression",
        train,
        val,
        test,
        task="regression",
        preprocessing={"kind": "tabular", "features": ["x"], "mean": [0.0], "std": [1.0]},
        description=f"y = 3x + 2 + N(0, {noise}^2), {n} points (the training chapter's example)",
        options={"n": n, "noise": noise, "seed": seed},
    )


def diabetes(seed: int = 0) -> Dataset:
    """scikit-learn's diabetes regression (10 standardized features), target standardized."""
    from sklearn.datasets import load_diabetes

    raw = load_diabetes()
    x = raw.data.astype("float32")
    mean, std = float(raw.target.mean()), float(raw.target.std())
    y = ((raw.target - mean) / std).astype("float32")[:, None]
    train, val, test = split(x, y, seed=seed, stratify=False)
    return Dataset(
        "diabetes",
        train,
        val,
        test,
        task="regression",
        preprocessing={
            "kind": "tabular",
            "features": list(raw.feature_names),
            "target_mean": mean,
            "target_std": std,
            "note": "features as scikit-learn ships them; target = (y - target_mean) / target_std",
        },
        description="scikit-learn diabetes progression, 442 patients, 10 features",
        options={"seed": seed},
    )


def sequences(n: int = 2000, length: int = 20, seed: int = 0) -> Dataset:
    """Sequence classification that needs memory.

    Each sequence is ``length`` steps of 2 features: a noisy value and a marker that is 1 at
    one step in the first quarter. The label says whether the value at the marked step was
    positive, so the model must find the marker and remember that value to the end.
    """
    check_positive("n", n, integer=True)
    check_positive("length", length, integer=True)
    if length < 4:
        from kerasmodels.errors import HyperparameterError

        raise HyperparameterError(f"length must be >= 4 for sequences, got {length}")
    rs = np.random.RandomState(seed)
    values = rs.uniform(-1, 1, size=(n, length)).astype("float32")
    marks = np.zeros((n, length), "float32")
    where = rs.randint(0, max(1, length // 4), size=n)
    marks[np.arange(n), where] = 1.0
    x = np.stack([values, marks], axis=-1)
    y = (values[np.arange(n), where] > 0).astype("int64")
    train, val, test = split(x, y, seed=seed)
    return Dataset(
        "sequences",
        train,
        val,
        test,
        task="classification",
        num_classes=2,
        labels=["negative", "positive"],
        preprocessing={"kind": "sequence", "features": ["value", "marker"], "length": length},
        description=f"{n} sequences of {length} steps: sign of the marked early value",
        options={"n": n, "length": length, "seed": seed},
    )


TEXT_SIGNALS = ("A", "B")


def text(n: int = 3000, length: int = 32, vocab_size: int = 64, seed: int = 0,
         context: float = 0.0) -> Dataset:
    """Token sequences whose label depends on two tokens far apart, and on their order.

    Token 0 is padding, 1 and 2 are the signal words ``A`` and ``B``, the rest are filler.
    One signal word stands somewhere in the first half, one in the second half; the label is
    the pair (first, second): ``A..A``, ``A..B``, ``B..A`` or ``B..B``. Counting words cannot
    tell ``A..B`` from ``B..A``: the model needs positions, hence the positional encoding.

    ``context`` (0 to 1) gives the words around each signal word a topic, as in real text: with
    that probability each of the two words after ``A`` comes from A's eight topic words (and
    likewise for ``B``). Unlabelled text then carries structure a model can pretrain on.
    """
    check_positive("n", n, integer=True)
    check_positive("length", length, integer=True)
    check_positive("vocab_size", vocab_size, integer=True)
    if vocab_size < 8 or length < 4:
        from kerasmodels.errors import HyperparameterError

        raise HyperparameterError("text needs vocab_size >= 8 and length >= 4")
    rs = np.random.RandomState(seed)
    x = rs.randint(3, vocab_size, size=(n, length)).astype("int32")
    half = length // 2
    first = rs.randint(0, 2, size=n)
    second = rs.randint(0, 2, size=n)
    first_at, second_at = rs.randint(0, half, size=n), rs.randint(half, length, size=n)
    x[np.arange(n), first_at] = first + 1
    x[np.arange(n), second_at] = second + 1
    if context:
        if not 0 <= context <= 1 or vocab_size < 20:
            from kerasmodels.errors import HyperparameterError

            raise HyperparameterError("context must be in [0, 1] (and vocab_size >= 20)")
        for at, signal in ((first_at, first), (second_at, second)):
            for offset in (1, 2):
                pos = at + offset
                ok = (pos < length) & (rs.random_sample(n) < context)
                ok &= ~np.isin(x[np.arange(n), np.minimum(pos, length - 1)], (1, 2))
                topic = 3 + 8 * signal + rs.randint(0, 8, size=n)
                rows = np.where(ok)[0]
                x[rows, pos[rows]] = topic[rows]
    y = (first * 2 + second).astype("int64")
    labels = [f"{TEXT_SIGNALS[a]}..{TEXT_SIGNALS[b]}" for a in (0, 1) for b in (0, 1)]
    vocab = ["<pad>", *TEXT_SIGNALS] + [f"w{i}" for i in range(3, vocab_size)]
    train, val, test = split(x, y, seed=seed)
    return Dataset(
        "text",
        train,
        val,
        test,
        task="classification",
        num_classes=4,
        labels=labels,
        vocab_size=vocab_size,
        preprocessing={"kind": "tokens", "length": length, "vocab": vocab, "pad_id": 0},
        description=f"{n} token sequences of {length}: which signal words, in which order",
        options={"n": n, "length": length, "vocab_size": vocab_size, "seed": seed,
                 **({"context": context} if context else {})},
    )
