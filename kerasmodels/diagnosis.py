"""What is wrong with a classifier whose outputs look wrong: one that predicts one class.

A model that collapsed to one class (measured: Keras' MobileNetV2 trained 8 epochs with
BatchNormalization's default momentum 0.99 predicts one class for all 397 test digits) makes
every check downstream look broken: its int8 file "agrees" with it on 0%, because its
outputs are nearly equal and quantization reorders them. The cause is the model, and the
message says so.

>>> import numpy as np
>>> collapse_message(np.tile([0.1, 0.9], (50, 1)), np.arange(50) % 2, ["cat", "dog"])[:40]
"the model itself predicts 'dog' for 100%"
"""

from __future__ import annotations

import numpy as np

COLLAPSE_SHARE = 0.9  # a classifier that gives one class to this share of a split has collapsed


def collapse_message(outputs: np.ndarray, y: np.ndarray | None = None,
                     labels: list[str] | None = None, split: str = "the split") -> str | None:
    """Why a classifier that predicts one class for ``COLLAPSE_SHARE`` or more of ``split``
    behaves so, or None for one that does not (or has fewer than 3 classes to choose from
    and a real majority).

    Args:
        outputs: the model's outputs on the split, one row per example.
        y: the split's labels (its accuracy is given when known).
        labels: the class names.
        split: what the split is called in the message.

    Returns:
        One sentence naming the class, its share, the accuracy and the usual causes, or None.
    """
    predicted = np.asarray(outputs).argmax(-1)
    if predicted.size == 0:
        return None
    counts = np.bincount(predicted, minlength=np.asarray(outputs).shape[-1])
    top = int(counts.argmax())
    share = counts[top] / predicted.size
    if share < COLLAPSE_SHARE:
        return None
    if y is not None and (np.asarray(y) == top).mean() >= COLLAPSE_SHARE:
        return None  # the split is mostly that class: predicting it is right
    name = labels[top] if labels and top < len(labels) else str(top)
    accuracy = f" (accuracy {(predicted == np.asarray(y)).mean():.4f})" if y is not None else ""
    return (f"the model itself predicts {name!r} for {share:.0%} of {split}{accuracy}: it has "
            "collapsed to one class. That usually means too few training steps for "
            "BatchNormalization's moving statistics (Keras' default momentum 0.99 needs "
            "hundreds of steps: use 0.9, or train longer) or inputs at another scale than the "
            "model was trained on; its quantized files then disagree with it by chance")


__all__ = ["COLLAPSE_SHARE", "collapse_message"]
