"""Recurrent network: stacked LSTM, GRU or simple RNN cells, as in the architecture chapter
(hidden 8, 2 layers), read forwards or in both directions."""

from __future__ import annotations

from kerasmodels.architectures.common import (
    ProblemSpec,
    as_sequence,
    check_units,
    model_input,
    output_head,
)
from kerasmodels.architectures.registry import Family, register, register_family
from kerasmodels.errors import HyperparameterError

register_family(Family("rnn", example="sequences",
                       search_space={"hidden_size": [4, 8, 16, 32], "num_layers": [1, 2, 3]}))

CELLS = {"lstm": "LSTM", "gru": "GRU", "simple": "SimpleRNN"}


def _rnn(spec: ProblemSpec, cell: str, hidden_size: int, num_layers: int, embed_dim: int, name,
         bidirectional: bool = False):
    from kerasmodels.backend import keras

    if cell not in CELLS:
        raise HyperparameterError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
    if not isinstance(bidirectional, bool):
        raise HyperparameterError(f"bidirectional must be True or False, got {bidirectional!r}")
    (hidden_size,) = check_units("hidden_size", hidden_size)
    (num_layers,) = check_units("num_layers", num_layers)
    (embed_dim,) = check_units("embed_dim", embed_dim)
    inputs = model_input(spec)
    if spec.vocab_size:
        x = keras.layers.Embedding(spec.vocab_size, embed_dim, mask_zero=True,
                                   name="embedding")(inputs)
    else:
        x = as_sequence(inputs, spec, name)
    layer = getattr(keras.layers, CELLS[cell])
    for i in range(num_layers):
        recurrent = layer(hidden_size, return_sequences=i < num_layers - 1, name=f"{cell}_{i}")
        x = (keras.layers.Bidirectional(recurrent, name=f"bidirectional_{i}") if bidirectional
             else recurrent)(x)
    return keras.Model(inputs, output_head(x, spec), name=name)


@register("rnn", family="rnn", epochs=40, batch_size=32, learning_rate=1e-2)
def rnn(spec: ProblemSpec, *, cell: str = "lstm", hidden_size: int = 8, num_layers: int = 2,
        embed_dim: int = 16, bidirectional: bool = False):
    """Stacked LSTM/GRU/simple RNN reading the sequence; the last state feeds the classifier.

    ``cell`` is ``lstm``, ``gru`` or ``simple``; ``bidirectional`` reads the sequence both
    ways (twice the units). Tokens go through an Embedding(embed_dim) first; images are read
    row by row.
    """
    return _rnn(spec, cell, hidden_size, num_layers, embed_dim, "rnn", bidirectional)


@register("rnn_small", family="rnn", small_of="rnn", epochs=40, batch_size=32,
          learning_rate=1e-2)
def rnn_small(spec: ProblemSpec, *, cell: str = "gru", hidden_size: int = 4, num_layers: int = 1,
              embed_dim: int = 8, bidirectional: bool = False):
    """A small recurrent network (one GRU of 4 units): a student for distillation."""
    return _rnn(spec, cell, hidden_size, num_layers, embed_dim, "rnn_small", bidirectional)
