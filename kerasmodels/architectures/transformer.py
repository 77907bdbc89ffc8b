"""Transformer encoder: embedding, sinusoidal positions, self-attention blocks, pooled head.

Built from standard Keras layers (MultiHeadAttention, LayerNormalization, Dense) so tfmot can
see and compress the dense parts. The only custom layer is ``PositionalEncoding``.
Unlike the chapter's sketch, the attention mask is the padding mask (from token id 0), not
the source sequence itself.
"""

from __future__ import annotations

from kerasmodels.architectures.common import (
    ProblemSpec,
    as_sequence,
    check_rate,
    check_units,
    model_input,
    output_head,
)
from kerasmodels.architectures.registry import Family, register, register_family
from kerasmodels.errors import HyperparameterError

register_family(Family("transformer", example="text", pretrains=True,
                       search_space={"d_model": [16, 32, 64], "num_layers": [1, 2, 3]}))


def encoder_block(x, *, d_model: int, num_heads: int, ff_dim: int, dropout: float, name: str,
                  causal: bool = False):
    """Post-norm encoder block: x + MHA(x) -> LayerNorm -> x + FFN(x) -> LayerNorm.

    ``causal`` lets each position attend only to itself and earlier ones (next-token
    pretraining); the weights are the same either way, so a causal encoder fine-tunes as a
    bidirectional one.
    """
    from kerasmodels.backend import keras

    attn = keras.layers.MultiHeadAttention(num_heads, d_model // num_heads, dropout=dropout,
                                           name=f"{name}_attention")(
        x, x, use_causal_mask=causal)
    x = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{name}_norm_1")(
        keras.layers.Add(name=f"{name}_residual_1")([x, attn]))
    ff = keras.layers.Dense(ff_dim, activation="relu", name=f"{name}_ff_1")(x)
    ff = keras.layers.Dense(d_model, name=f"{name}_ff_2")(ff)
    if dropout:
        ff = keras.layers.Dropout(dropout, name=f"{name}_dropout")(ff)
    return keras.layers.LayerNormalization(epsilon=1e-6, name=f"{name}_norm_2")(
        keras.layers.Add(name=f"{name}_residual_2")([x, ff]))


def _transformer(spec: ProblemSpec, d_model, num_heads, ff_dim, num_layers, dropout, name,
                 causal=False):
    from kerasmodels.architectures.layers import PositionalEncoding
    from kerasmodels.backend import keras

    d_model, num_heads, ff_dim, num_layers = check_units(
        "d_model, num_heads, ff_dim and num_layers", (d_model, num_heads, ff_dim, num_layers))
    dropout = check_rate("dropout", dropout)
    if d_model % num_heads:
        raise HyperparameterError(f"d_model ({d_model}) must be divisible by num_heads ({num_heads})")
    inputs = model_input(spec)
    if spec.vocab_size:
        x = keras.layers.Embedding(spec.vocab_size, d_model, mask_zero=True,
                                   name="embedding")(inputs)
    else:
        x = keras.layers.Dense(d_model, name="projection")(as_sequence(inputs, spec, name))
    length = spec.input_shape[0]
    x = PositionalEncoding(length, name="positional_encoding")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    for i in range(num_layers):
        x = encoder_block(x, d_model=d_model, num_heads=num_heads, ff_dim=ff_dim,
                          dropout=dropout, name=f"block_{i}", causal=bool(causal))
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    return keras.Model(inputs, output_head(x, spec), name=name)


@register("transformer", family="transformer", epochs=15, batch_size=32, learning_rate=1e-3)
def transformer(spec: ProblemSpec, *, d_model: int = 32, num_heads: int = 4, ff_dim: int = 64,
                num_layers: int = 2, dropout: float = 0.1, causal: bool = False):
    """Transformer encoder classifier: num_layers blocks of num_heads-head self-attention."""
    return _transformer(spec, d_model, num_heads, ff_dim, num_layers, dropout, "transformer",
                        causal)


@register("transformer_small", family="transformer", small_of="transformer", epochs=30,
          batch_size=32, learning_rate=2e-3)
def transformer_small(spec: ProblemSpec, *, d_model: int = 16, num_heads: int = 2,
                      ff_dim: int = 32, num_layers: int = 1, dropout: float = 0.0,
                      causal: bool = False):
    """A small transformer (one block, d_model 16): a student for distillation."""
    return _transformer(spec, d_model, num_heads, ff_dim, num_layers, dropout,
                        "transformer_small", causal)
