"""Channel pruning: remove whole filters and units, so that the model gets faster, not only smaller.

Magnitude pruning zeroes weights and leaves every tensor its size (the same latency, and the
same raw bytes). This ranks the filters of Conv1D/Conv2D layers and the units of Dense layers
(the L1 norm of their weights, or the scale of the BatchNormalization that follows), removes
the lowest, and rebuilds a narrower model with the same graph and the surviving weights.

Channels are followed through the graph: activations, pooling, dropout, padding and
BatchNormalization keep them; a depthwise convolution keeps them too (its filters go with the
channels it reads); ``Flatten`` repeats them once per position; channels added together
(``Add``, ``Subtract``, ``Multiply``, ``Average``, ``Maximum``, ``Minimum``) are pruned together;
``Concatenate`` joins them. Channels that reach an output, a layer this walk does not know
(recurrent, attention, normalization over channels, reshapes) or a layer used twice keep their
width.

>>> import kerasmodels as km
>>> model = km.build_model("cnn", km.load_dataset("digits"))  # doctest: +SKIP
>>> narrow, report = prune_channels(model, keep=0.5)  # doctest: +SKIP
>>> report["layers"][0]  # doctest: +SKIP
{'layer': 'conv_0', 'before': 32, 'after': 16}
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kerasmodels._compat import producing_layer
from kerasmodels.backend import keras
from kerasmodels.errors import HyperparameterError

# layers that leave the channel axis as it is (values change, channels do not mix)
KEEP_CHANNELS = tuple(getattr(keras.layers, name) for name in (
    "Activation", "ReLU", "LeakyReLU", "ELU", "ThresholdedReLU", "Dropout", "SpatialDropout1D",
    "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "MaxPooling1D",
    "MaxPooling2D", "AveragePooling1D", "AveragePooling2D", "GlobalAveragePooling1D",
    "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "ZeroPadding1D",
    "ZeroPadding2D", "Cropping1D", "Cropping2D", "UpSampling1D", "UpSampling2D",
    "ActivityRegularization"))
ELEMENTWISE = tuple(getattr(keras.layers, name) for name in (
    "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"))


@dataclass
class Group:
    """Channels that must be kept or removed together."""

    width: int
    producers: list[str] = field(default_factory=list)  # layers whose outputs these are
    followers: list[str] = field(default_factory=list)  # per-channel weights: BN, depthwise
    frozen: str = ""  # why they keep their width


@dataclass(frozen=True)
class Space:
    """A tensor's last axis: segments of (group or None for fixed, width), repeated ``repeat``
    times (after a Flatten, once per position)."""

    segments: tuple[tuple[int | None, int], ...]
    repeat: int = 1

    @property
    def width(self) -> int:
        return sum(w for _, w in self.segments)


def is_producer(layer) -> bool:
    """A layer whose output channels are its own: Conv1D, Conv2D (not transposed, depthwise or
    grouped) and Dense."""
    return (isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Dense))
            and not isinstance(layer, (keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose,
                                       keras.layers.DepthwiseConv2D))
            and getattr(layer, "groups", 1) == 1)


class ChannelGraph:
    """Which channels of ``model`` can go, found by walking its layers in order."""

    def __init__(self, model):
        self.model = model
        self.groups: list[Group] = []
        self.parents: list[int] = []
        self.space: dict[str, Space | None] = {}  # layer name -> its output's channels
        self.input_space: dict[str, Space | None] = {}  # consumers' input channels
        self._walk()

    # union-find over groups
    def find(self, g: int) -> int:
        while self.parents[g] != g:
            self.parents[g] = self.parents[self.parents[g]]
            g = self.parents[g]
        return g

    def group(self, g: int) -> Group:
        return self.groups[self.find(g)]

    def _new(self, width: int, producer: str) -> Space:
        self.groups.append(Group(width, [producer]))
        self.parents.append(len(self.groups) - 1)
        return Space(((len(self.groups) - 1, width),))

    def _union(self, a: int, b: int) -> None:
        a, b = self.find(a), self.find(b)
        if a == b:
            return
        ga, gb = self.groups[a], self.groups[b]
        if ga.width != gb.width:
            self._freeze_group(a, "tied channels of different widths")
            self._freeze_group(b, "tied channels of different widths")
            return
        self.parents[b] = a
        ga.producers += gb.producers
        ga.followers += gb.followers
        ga.frozen = ga.frozen or gb.frozen

    def _freeze_group(self, g: int, reason: str) -> None:
        group = self.group(g)
        group.frozen = group.frozen or reason

    def freeze(self, space: Space | None, reason: str) -> None:
        for g, _ in space.segments if space else ():
            if g is not None:
                self._freeze_group(g, reason)

    def _inputs(self, layer) -> list[Space | None]:
        node = layer.inbound_nodes[0]
        inbound = node.inbound_layers
        inbound = inbound if isinstance(inbound, (list, tuple)) else [inbound]
        return [self.space.get(source.name) for source in inbound]

    def _walk(self) -> None:
        for layer in self.model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                self.space[layer.name] = None
                continue
            inputs: list[Space | None] = self._inputs(layer) if layer.inbound_nodes else [None]
            if len(layer.inbound_nodes) > 1:  # shared: one width for every use
                for space in inputs:
                    self.freeze(space, f"{layer.name} is used more than once")
                self.space[layer.name] = None
                continue
            self.input_space[layer.name] = inputs[0] if len(inputs) == 1 else None
            self.space[layer.name] = self._rule(layer, inputs)
        for tensor in self.model.outputs:
            self.freeze(self.space.get(producing_layer(tensor).name), "they are an output")

    def _rule(self, layer, inputs: list[Space | None]) -> Space | None:
        (space, *_) = inputs
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            if layer.depth_multiplier == 1 and space is not None and space.repeat == 1:
                self._follow(space, layer.name)
                return space
        elif is_producer(layer):
            if space is not None and space.repeat > 1 and not isinstance(layer,
                                                                         keras.layers.Dense):
                self.freeze(space, f"{layer.name} reads them flattened")
            width = layer.filters if hasattr(layer, "filters") else layer.units
            return self._new(width, layer.name)
        elif isinstance(layer, keras.layers.BatchNormalization):
            axis = layer.axis if isinstance(layer.axis, int) else layer.axis[0]
            if axis in (-1, len(layer.input_shape) - 1) and space is not None \
                    and space.repeat == 1:
                self._follow(space, layer.name)
                return space
        elif isinstance(layer, KEEP_CHANNELS):
            return space
        elif isinstance(layer, keras.layers.Flatten):
            if space is None:
                return None
            positions = int(np.prod(layer.input_shape[1:-1])) if len(layer.input_shape) > 2 else 1
            return Space(space.segments, space.repeat * positions)
        elif isinstance(layer, ELEMENTWISE):
            shapes = {(s.repeat, tuple(w for _, w in s.segments)) if s else None for s in inputs}
            if len(shapes) == 1 and None not in shapes and space is not None:
                for other in (s for s in inputs[1:] if s is not None):
                    for (a, _), (b, _) in zip(space.segments, other.segments, strict=True):
                        if a is not None and b is not None:
                            self._union(a, b)
                        elif a is not None:
                            self._freeze_group(a, "added to fixed channels")
                        elif b is not None:
                            self._freeze_group(b, "added to fixed channels")
                return space
        elif isinstance(layer, keras.layers.Concatenate) and layer.axis in (
                -1, len(layer.output_shape) - 1) and all(s is None or s.repeat == 1
                                                         for s in inputs):
            segments: list[tuple[int | None, int]] = []
            for s, shape in zip(inputs, layer.input_shape, strict=True):
                segments += list(s.segments) if s is not None else [(None, int(shape[-1]))]
            return Space(tuple(segments))
        for s in inputs:  # anything else: its inputs keep their width
            self.freeze(s, f"they feed {layer.name} ({type(layer).__name__})")
        return None

    def _follow(self, space: Space, name: str) -> None:
        for g, _ in space.segments:
            if g is not None:
                self.group(g).followers.append(name)

    def prunable(self) -> list[int]:
        """Root ids of the groups whose width can change."""
        roots = sorted({self.find(g) for g in range(len(self.groups))})
        return [g for g in roots if not self.groups[g].frozen]

    def indices(self, space: Space | None, kept: dict[int, np.ndarray], width: int) -> np.ndarray:
        """The surviving positions of a tensor's last axis (``width`` wide before pruning)."""
        if space is None:
            return np.arange(width)
        offset, chosen = 0, []
        for g, w in space.segments:
            root = self.find(g) if g is not None else None
            chosen.append(offset + (kept[root] if root in kept else np.arange(w)))
            offset += w
        one = np.concatenate(chosen)
        return np.concatenate([p * offset + one for p in range(space.repeat)])


def importance(graph: ChannelGraph, g: int) -> np.ndarray:
    """Per-channel score of group ``g``: the scale of the BatchNormalization layers that follow
    it when there are any, else the L1 norm of its producers' filters, each layer's scores
    divided by their mean so that layers count alike."""
    group = graph.groups[g]
    model = graph.model
    scales = [np.abs(model.get_layer(name).gamma.numpy()) for name in group.followers
              if isinstance(model.get_layer(name), keras.layers.BatchNormalization)
              and model.get_layer(name).scale]
    if not scales:
        scales = [np.abs(model.get_layer(name).kernel.numpy()).reshape(-1, group.width).sum(0)
                  for name in group.producers]
    return sum(s / max(float(s.mean()), 1e-12) for s in scales)


def plan(model, keep: float | dict[str, float]) -> tuple[ChannelGraph, dict[int, np.ndarray]]:
    """The graph of ``model`` and, per prunable group, the channels that stay (sorted)."""
    graph = ChannelGraph(model)
    fractions = keep if isinstance(keep, dict) else {}
    producers = {name for g in graph.prunable() for name in graph.groups[g].producers}
    unknown = sorted(set(fractions) - {layer.name for layer in model.layers})
    if unknown:
        raise HyperparameterError(f"keep names layers the model does not have: {unknown}; its "
                                  f"prunable layers: {sorted(producers)}")
    for name, value in [("keep", keep)] if not isinstance(keep, dict) else fractions.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            raise HyperparameterError(f"{name if name == 'keep' else f'keep[{name!r}]'} must be "
                                      f"a fraction in (0, 1], got {value!r}")
    kept = {}
    for g in graph.prunable():
        group = graph.groups[g]
        asked = [fractions[p] for p in group.producers if p in fractions]
        fraction = max(asked) if asked else (1.0 if isinstance(keep, dict) else float(keep))
        count = max(1, round(fraction * group.width))
        scores = importance(graph, g)
        kept[g] = np.sort(np.argsort(-scores, kind="stable")[:count])
    return graph, kept


def narrower(model, graph: ChannelGraph, kept: dict[int, np.ndarray]):
    """``model``'s graph with the kept widths (fresh weights)."""
    widths = {name: len(kept[g]) for g in kept for name in graph.groups[g].producers}
    config = model.get_config()
    for entry in config["layers"]:
        layer_config = entry["config"]
        if layer_config.get("name") in widths:
            layer_config["filters" if "filters" in layer_config else "units"] = \
                widths[layer_config["name"]]
    try:
        return type(model).from_config(config)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise HyperparameterError(f"{model.name} cannot be rebuilt narrower ({first})") from None


def prune_channels(model, keep: float | dict[str, float] = 0.5):
    """A narrower copy of ``model`` keeping ``keep`` of each prunable layer's channels (a
    fraction, or ``{layer name: fraction}``, the others kept whole), with the surviving
    weights; and the report: channels per layer before and after, parameters and
    multiply-adds before and after."""
    graph, kept = plan(model, keep)
    narrow = narrower(model, graph, kept)
    producer_group = {name: g for g in kept for name in graph.groups[g].producers}
    follower_group = {name: g for g in kept for name in graph.groups[g].followers}
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights or isinstance(layer, keras.layers.InputLayer):
            continue
        target = narrow.get_layer(layer.name)
        if is_producer(layer):  # its filters read the input's survivors, its own survive
            kernel, *rest = weights
            rows = graph.indices(graph.input_space.get(layer.name), kept, kernel.shape[-2])
            out = kept.get(producer_group.get(layer.name, -1), np.arange(kernel.shape[-1]))
            weights = [kernel[..., rows, :][..., out], *(w[out] for w in rest)]
        elif layer.name in follower_group:
            index = kept[follower_group[layer.name]]
            weights = [w[:, :, index, :] if w.ndim == 4 else w[index] for w in weights]
        target.set_weights(weights)
    order = {layer.name: i for i, layer in enumerate(model.layers)}
    layers = [{"layer": name, "before": graph.groups[g].width, "after": len(kept[g])}
              for g in kept for name in graph.groups[g].producers]
    report = {"keep": keep, "layers": sorted(layers, key=lambda r: order[r["layer"]]),
              "params_before": int(model.count_params()), "params": int(narrow.count_params()),
              "multiply_adds_before": multiply_adds(model), "multiply_adds": multiply_adds(narrow),
              "fixed": {graph.groups[g].producers[0]: graph.groups[g].frozen
                        for g in {graph.find(g) for g in range(len(graph.groups))}
                        if graph.groups[g].frozen and graph.groups[g].producers}}
    return narrow, report


def multiply_adds(model) -> int:
    """Multiply-adds of one example through ``model``: convolutions, dense layers, recurrent
    cells and attention (the rest is small next to them), inside tfmot's wrappers too."""
    total = 0
    for wrapper in model.layers:
        if hasattr(wrapper, "layers") and isinstance(wrapper, keras.Model):
            total += multiply_adds(wrapper)
            continue
        try:
            inputs, outputs = wrapper.input_shape, wrapper.output_shape
        except (AttributeError, RuntimeError):
            continue
        layer = getattr(wrapper, "layer", wrapper)  # tfmot's wrappers hold the layer
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            total += int(np.prod(outputs[1:]) * np.prod(layer.kernel_size))
        elif isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D)):
            total += int(np.prod(outputs[1:]) * np.prod(layer.kernel_size) * inputs[-1]
                         // getattr(layer, "groups", 1))
        elif isinstance(layer, keras.layers.Dense):
            total += int(np.prod(inputs[1:]) * layer.units)
        elif isinstance(layer, (keras.layers.LSTM, keras.layers.GRU, keras.layers.SimpleRNN)):
            gates = {keras.layers.LSTM: 4, keras.layers.GRU: 3}.get(type(layer), 1)
            steps, features = inputs[1] or 1, inputs[-1]
            total += int(steps * gates * (features + layer.units) * layer.units)
        elif isinstance(layer, keras.layers.MultiHeadAttention):
            # called as layer(query, value): Keras reports the query's shape alone
            query = inputs[0] if isinstance(inputs[0], (list, tuple)) else inputs
            steps, width = query[1] or 1, query[-1]
            config = layer.get_config()
            inner = config["num_heads"] * config["key_dim"]
            total += int(4 * steps * width * inner + 2 * steps * steps * inner)
    return total


def channel_prune(model, data, *, keep: float | dict[str, float] = 0.5, epochs: int = 8,
                  learning_rate: float = 1e-3, distill: bool = False, batch_size: int = 32,
                  seed: int = 0):
    """The recipe: prune ``model``'s channels to ``keep`` and fine-tune for ``epochs``
    (``distill=True``: learning from ``model``'s outputs as well as the labels)."""
    from kerasmodels.compression.common import fine_tune
    narrow, report = prune_channels(model, keep)
    if distill:
        from kerasmodels.compression.distillation import distill as distill_into

        narrow, distilled, history = distill_into(model, data, student=narrow, epochs=epochs,
                                                  learning_rate=learning_rate,
                                                  batch_size=batch_size, seed=seed)
        report["distilled"] = {k: distilled[k] for k in ("temperature", "alpha")}
    else:
        history = fine_tune(narrow, data, epochs=epochs, learning_rate=learning_rate,
                            batch_size=batch_size, seed=seed)
    report["epochs"] = epochs
    return narrow, report, history


def narrower_copy(model, width: float = 0.5):
    """The same graph as ``model`` with ``width`` of the channels channel pruning can remove
    (``kerasmodels.compression.channels``), with fresh weights: the default student of a
    model the registry did not build.

    >>> narrower_copy(km.build_model("mlp", km.load_dataset("digits"))).count_params()  # doctest: +SKIP
    """
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not 0 < width < 1:
        raise HyperparameterError(f"width must be in (0, 1), got {width!r}")
    graph, kept = plan(model, width)
    if not kept:
        raise HyperparameterError(f"{model.name} has no channels that can be narrowed: pass "
                                  "student= an architecture name or a Keras model")
    return narrower(model, graph, kept)


__all__ = ["ChannelGraph", "channel_prune", "multiply_adds", "narrower_copy", "plan",
           "prune_channels"]

