"""Keras 3 models rebuilt as tf_keras models, layer by layer, from their config and weights.

tfmot (pruning, clustering, QAT) only takes tf_keras models, and the TFLite and ONNX paths of
kerasmodels are tf_keras paths. Every layer class that Keras 3 and tf_keras both have is
rebuilt by rule, not from a list: ``translate_config`` carries each option over (renamed
where tf_keras names it otherwise), drops what the weights make moot (initializers) and the
options Keras 3 added when they are at their defaults, and names any other option it cannot
carry. What tf_keras lacks has an exact equivalent (``ACTIVATIONS``,
``EQUIVALENT_LAYERS``): ``hard_silu`` and Keras 3's ``hard_sigmoid`` (``relu6(x + 3) / 6``,
not tf_keras' ``0.2x + 0.5``), ``silu``, ``relu6``, ``leaky_relu``, ``log_softmax``, ...,
ConvNeXt's layer scale, stochastic depth at inference. The new layers are called in the order
of the Keras 3 graph (Sequential and functional, nested models, shared layers, residual
branches) and the weights copied. ``kerasmodels.imports.import_model`` then checks the
rebuilt model against the original on the dataset. A layer that still cannot be rebuilt is
named with its class and what to do: a class of your own is rebuilt with the tf_keras class
you name in ``custom_objects``, or the model goes through Keras 3's
``model.export(path, format="tf_saved_model")`` and the graph import.

>>> import keras
>>> from kerasmodels.imports.keras3 import rebuild
>>> original = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu6")])
>>> [type(layer).__name__ for layer in rebuild(original).layers]
['Dense', 'ReLU']
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from kerasmodels._compat import producing_layer
from kerasmodels.backend import keras as tf_keras
from kerasmodels.errors import UnsupportedLayerError

MODELS = ("Functional", "Sequential", "Model")
# layers whose behaviour is code, not a config: never rebuilt
CODE_LAYERS = ("Lambda", "TFSMLayer", "TorchModuleWrapper", "JaxLayer", "FlaxLayer")
GRAPH_ADVICE = ("or export it with Keras 3's model.export(path, format='tf_saved_model') and "
                "import that folder (a graph: export and benchmark work, recipes that change "
                "layers do not)")


def _kerasmodels_layer(name: str):
    from kerasmodels.architectures import layers

    return getattr(layers, name)


def _activation_layer(function: str) -> Callable[[str], Any]:
    return lambda name: _kerasmodels_layer("Keras3Activation")(function, name=name)


# Keras 3 activations by what tf_keras does with them: a name tf_keras knows, or a layer that
# follows the layer whose activation it was (every other name is tf_keras' own, the same)
ACTIVATIONS: dict[str, str | Callable[[str], Any]] = {
    "silu": "swish",
    "relu6": lambda name: tf_keras.layers.ReLU(max_value=6.0, name=name),
    "leaky_relu": lambda name: tf_keras.layers.LeakyReLU(0.2, name=name),
    **{function: _activation_layer(function) for function in (
        "hard_sigmoid", "hard_silu", "hard_swish", "log_softmax", "log_sigmoid", "hard_tanh",
        "celu", "glu", "squareplus", "soft_shrink", "hard_shrink", "tanh_shrink", "sparse_plus",
        "sparse_sigmoid")},
}
# Keras 3 layers tf_keras lacks, and the tf_keras layer that computes the same at inference,
# made from the Keras 3 layer's config
EQUIVALENT_LAYERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "LayerScale": lambda config: _kerasmodels_layer("LayerScale")(
        config["init_values"], config["projection_dim"], name=config["name"]),
    # ConvNeXt's: it drops whole residual branches in training only, the identity at inference
    "StochasticDepth": lambda config: tf_keras.layers.Activation("linear",
                                                                 name=config["name"]),
    # Keras 3's random augmentations: they change images in training only
    **{kind: lambda config: tf_keras.layers.Activation("linear", name=config["name"])
       for kind in ("AugMix", "CutMix", "MixUp", "RandAugment", "RandomColorDegeneration",
                    "RandomColorJitter", "RandomElasticTransform", "RandomErasing",
                    "RandomGaussianBlur", "RandomGrayscale", "RandomHue", "RandomInvert",
                    "RandomPerspective", "RandomPosterization", "RandomSaturation",
                    "RandomSharpness", "RandomShear")},
}
# config entries never carried over: weights are copied, so initializers do not matter
DROPPED = ("initializer",)
KERAS_TENSOR = "__keras_tensor__"
# Keras 3 options tf_keras names otherwise
RENAMED_OPTIONS = {("LeakyReLU", "negative_slope"): "alpha"}
# Keras 3 options tf_keras lacks that some layers take through **kwargs, at their defaults
KERAS3_DEFAULTS = {"rms_scaling": False, "use_cudnn": "auto", "flash_attention": None,
                   "lora_rank": None, "lora_alpha": None, "quantization_config": None,
                   "synchronized": False, "use_gate": False, "sliding_window": None,
                   "zero_output_for_mask": False}


def rebuildable(kind: str, custom_objects: dict[str, Any] | None = None) -> bool:
    """Whether a Keras 3 layer class ``kind`` is rebuilt: a model, a class tf_keras has too,
    one with an equivalent, or one you name in ``custom_objects``."""
    if kind in (custom_objects or {}) or kind in MODELS or kind in EQUIVALENT_LAYERS:
        return True
    return kind not in CODE_LAYERS and isinstance(getattr(tf_keras.layers, kind, None), type)


def why_not(kind: str, name: str, module: str | None) -> str:
    """What a layer ``rebuildable`` refuses is, and what the user can do."""
    layer = f"layer {name!r} ({kind})"
    if kind in CODE_LAYERS:
        return (f"{layer} runs Python code that a file cannot carry safely: rebuild it with "
                f"Keras layers, {GRAPH_ADVICE}")
    if module is None or module.split(".")[0] in ("keras", "tf_keras"):
        return (f"{layer} is a Keras 3 layer tf_keras has no equivalent of: replace it, "
                f"{GRAPH_ADVICE}")
    return (f"{layer} is a class of your own (module {module}): pass custom_objects="
            f"{{'{kind}': <a tf_keras class>}} to rebuild it with a tf_keras class you trust, "
            f"{GRAPH_ADVICE}")


def is_keras3(model) -> bool:
    """Whether ``model`` is a Keras 3 model (``import keras``), not a tf_keras one."""
    return any(cls.__module__.split(".")[0] == "keras" and cls.__name__ in ("Model", "Layer")
               for cls in type(model).__mro__)


def unsupported_layers(config: Any, custom_objects: dict[str, Any] | None = None) -> list[str]:
    """What each layer of a Keras 3 model config that ``rebuild`` cannot rebuild is, and
    what to do (``why_not``)."""
    found = []
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, (list, tuple)):
            stack.extend(node)
        elif isinstance(node, dict):
            module = node.get("module")
            layer_like = isinstance(node.get("class_name"), str) and isinstance(
                node.get("config"), dict) and "name" in node["config"] and not any(
                part in str(module) for part in ("initializers", "regularizers",
                                                 "constraints", "optimizers", "losses"))
            if layer_like and is_op(node) and node["class_name"] not in OPS:
                found.append(f"op {node['config']['name']!r} (keras.ops."
                             f"{node['class_name'].lower()}) has no tf_keras layer: use a "
                             f"Keras layer for it, {GRAPH_ADVICE}")
            elif layer_like and not is_op(node) and not _is_dtype_policy(node) and \
                    not rebuildable(node["class_name"], custom_objects):
                found.append(why_not(node["class_name"], node["config"]["name"], module))
            stack.extend(node.values())
    return sorted(set(found))


def _is_dtype_policy(node: dict) -> bool:
    return "Policy" in node["class_name"]


def check_supported(config: Any, source: str = "the model",
                    custom_objects: dict[str, Any] | None = None) -> None:
    """An UnsupportedLayerError naming every layer of ``config`` that cannot be rebuilt, each
    with what to do."""
    refused = unsupported_layers(config, custom_objects)
    if refused:
        raise UnsupportedLayerError(f"{source} cannot be rebuilt for tf_keras: "
                                    + "; ".join(refused))


def rebuild(model, custom_objects: dict[str, Any] | None = None) -> Any:
    """A tf_keras model with the same graph, layer names and weights as Keras 3 ``model``.

    Args:
        model: a Sequential or functional Keras 3 model.
        custom_objects: ``{class name: tf_keras class}`` for layers of your own: each is built
            with ``from_config`` of its Keras 3 config and given its weights.

    Returns:
        The tf_keras model (uncompiled).

    Raises:
        UnsupportedLayerError: a layer that cannot be rebuilt (named, with what to do), or an
            option tf_keras' class lacks set away from its default.
    """
    check_supported(model_config(model), f"model {model.name!r}", custom_objects)
    copies: list[tuple[Any, list]] = []
    rebuilt = _rebuild_model(model, copies, custom_objects or {})
    for original, layers in copies:
        _copy_weights(original, layers[0])
    return rebuilt


def model_config(model) -> dict:
    """``{"class_name", "config"}`` of a Sequential or functional model (either Keras); a
    subclassed model (Keras raises NotImplementedError for its config) or an object that is no
    model: a clear error."""
    if not callable(getattr(model, "get_config", None)) or not hasattr(model, "layers"):
        raise UnsupportedLayerError(f"expected a Sequential or functional Keras model, got "
                                    f"{type(model).__name__}")
    try:
        return {"class_name": type(model).__name__, "config": model.get_config()}
    except NotImplementedError:
        raise UnsupportedLayerError(
            f"{model.name} is a subclassed Keras model (class {type(model).__name__}): its graph "
            "is Python code, not a config. Build it with the functional API or Sequential") from None


def _rebuild_model(model, copies: list, custom_objects: dict[str, Any]):
    kind = type(model).__name__
    if kind == "Sequential":
        spec = model.inputs[0]
        x = inputs = tf_keras.Input(batch_shape=tuple(spec.shape), dtype=spec.dtype,
                                    name=_input_name(model))
        for layer in model.layers:
            x = _call_all(_layers_for(layer, copies, custom_objects), [x], {})
        return tf_keras.Model(inputs, x, name=model.name)
    if kind not in MODELS:
        raise UnsupportedLayerError(f"{model.name} is a {kind}: import a Sequential or "
                                    "functional Keras model")
    config = model_config(model)["config"]
    tensors: dict[tuple[str, int, int], Any] = {}
    pending = [(entry, i, node) for entry in config["layers"]
               for i, node in enumerate(entry.get("inbound_nodes") or [None])]
    built: dict[str, list] = {}
    while pending:
        waiting = []
        for entry, index, node in pending:
            name = entry["config"]["name"] if entry["class_name"] == "InputLayer" else entry["name"]
            if entry["class_name"] == "InputLayer":
                layer_config = entry["config"]
                tensors[(name, 0, 0)] = tf_keras.Input(
                    batch_shape=tuple(layer_config["batch_shape"]),
                    dtype=layer_config.get("dtype", "float32"), name=name)
                continue
            try:
                args = _resolve(node.get("args", []), tensors)
                kwargs = _resolve(node.get("kwargs", {}), tensors)
            except KeyError:
                waiting.append((entry, index, node))
                continue
            if is_op(entry):  # x + 3.0, x * (1 / 6): an op of keras.ops, not a layer
                outputs = op_layer(entry, args)(_tensors(args))
            else:
                if name not in built:
                    built[name] = _layers_for(model.get_layer(name), copies, custom_objects)
                outputs = _call_all(built[name], args, kwargs)
            for t, tensor in enumerate(outputs if isinstance(outputs, (list, tuple)) else [outputs]):
                tensors[(name, index, t)] = tensor
        if len(waiting) == len(pending):
            names = ", ".join(sorted({entry["name"] for entry, _, _ in waiting}))
            raise UnsupportedLayerError(f"{model.name}: the inputs of {names} are not in the "
                                        "graph; save the model again with Keras 3")
        pending = waiting

    def pick(refs):
        refs = refs if refs and isinstance(refs[0], (list, tuple)) else [refs]
        picked = [tensors[tuple(ref)] for ref in refs]
        return picked[0] if len(picked) == 1 else picked

    return tf_keras.Model(pick(config["input_layers"]), pick(config["output_layers"]),
                          name=model.name)


# keras.ops in a functional graph (Keras 3 writes ``x + 3.0`` as an op node): two tensors
# become the tf_keras merge layer, a tensor and a number a Rescaling (x * scale + offset)
OPS = {"Add": (tf_keras.layers.Add, lambda c, first: (1.0, c)),
       "Subtract": (tf_keras.layers.Subtract, lambda c, first: (1.0, -c) if first else (-1.0, c)),
       "Multiply": (tf_keras.layers.Multiply, lambda c, first: (c, 0.0)),
       "Divide": (None, lambda c, first: (1.0 / c, 0.0) if first else None),
       "TrueDivide": (None, lambda c, first: (1.0 / c, 0.0) if first else None)}


def is_op(node: dict) -> bool:
    return str(node.get("module", "")).startswith("keras.src.ops")


def _tensors(args: list) -> Any:
    found = [a for a in args if not isinstance(a, (int, float))]
    return found[0] if len(found) == 1 else found


def op_layer(entry: dict, args: list):
    """The tf_keras layer that computes a keras.ops node of the graph (``OPS``)."""
    kind, name = entry["class_name"], entry["name"]
    merge, affine = OPS.get(kind, (None, None))
    numbers = [a for a in args if isinstance(a, (int, float)) and not isinstance(a, bool)]
    if affine is not None and len(args) == 2 and len(numbers) == 1:
        factors = affine(float(numbers[0]), not isinstance(args[0], (int, float)))
        if factors is not None:
            return tf_keras.layers.Rescaling(factors[0], offset=factors[1], name=name)
    if merge is not None and not numbers:
        return merge(name=name)
    raise UnsupportedLayerError(
        f"the graph applies keras.ops.{kind.lower()} ({name!r}) to "
        f"{', '.join(type(a).__name__ for a in args)}: tf_keras has no layer for that; use a "
        f"Keras layer for it, {GRAPH_ADVICE}")


def _input_name(model) -> str:
    layer = producing_layer(model.inputs[0])
    return getattr(layer, "name", None) or f"{model.name}_input"


def _resolve(value, tensors):
    """Replace Keras 3's ``__keras_tensor__`` references with the rebuilt tensors."""
    if isinstance(value, dict):
        if value.get("class_name") == KERAS_TENSOR:
            return tensors[tuple(value["config"]["keras_history"])]
        return {k: _resolve(v, tensors) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_resolve(v, tensors) for v in value]
    return value


def _call_all(layers: list, args: list, kwargs: dict):
    outputs = layers[0](*args, **kwargs)
    for layer in layers[1:]:  # a split-off activation
        outputs = layer(outputs)
    return outputs


def _layers_for(layer, copies: list, custom_objects: dict[str, Any]) -> list:
    """The tf_keras layer(s) for one Keras 3 layer (two when its activation is a layer in
    tf_keras); the weights are copied once the graph is built."""
    kind = type(layer).__name__
    if kind in MODELS:
        return [_rebuild_model(layer, copies, custom_objects)]
    if not rebuildable(kind, custom_objects):
        raise UnsupportedLayerError(why_not(kind, layer.name, type(layer).__module__))
    if kind in custom_objects:  # yours, trusted by name
        config, extra = translate_config(layer, custom_objects[kind])
        made = [custom_objects[kind].from_config(config), *extra]
    elif kind in EQUIVALENT_LAYERS:
        made = [EQUIVALENT_LAYERS[kind](layer.get_config())]
    else:
        config, extra = translate_config(layer)
        if kind == "Activation" and not isinstance(ACTIVATIONS.get(config["activation"]),
                                                   (str, type(None))):
            return [ACTIVATIONS[config["activation"]](layer.name)]  # type: ignore[operator]
        made = [getattr(tf_keras.layers, kind)(**config), *extra]
    if layer.weights:
        copies.append((layer, made))
    return made


def translate_config(layer, target: type | None = None) -> tuple[dict[str, Any], list]:
    """``layer``'s config for ``target`` (the tf_keras class of the same name by default),
    and any layer that must follow it (an activation tf_keras has only as a layer)."""
    kind = type(layer).__name__
    accepted = _parameters(target or getattr(tf_keras.layers, kind))
    defaults = {**KERAS3_DEFAULTS, **{name: p.default for name, p in inspect.signature(
        type(layer).__init__).parameters.items() if p.default is not p.empty}}
    config, extra = {}, []
    for key, value in layer.get_config().items():
        if key == "dtype":
            value = value.get("config", {}).get("name", "float32") if isinstance(value, dict) \
                else value
        elif key.endswith(DROPPED):
            continue
        elif key.endswith("regularizer"):
            value = _regularizer(layer, key, value)
        elif key.endswith("constraint"):
            value = _constraint(layer, key, value)
        elif key == "activation":
            value = _activation(layer, value)
            follow = ACTIVATIONS.get(value)
            if kind != "Activation" and follow is not None and not isinstance(follow, str):
                extra.append(follow(f"{layer.name}_{value}"))
                value = "linear"
            elif isinstance(follow, str):
                value = follow
        key = RENAMED_OPTIONS.get((kind, key), key)
        if key in accepted or key in ("name", "trainable", "dtype"):
            config[key] = value
        elif key not in defaults or not _same(value, defaults[key]):
            raise UnsupportedLayerError(
                f"layer {layer.name!r} ({kind}) sets {key}={value!r}, which tf_keras's {kind} "
                "does not have: leave it at its default to import the model")
    return config, extra


def _parameters(cls) -> set[str]:
    names = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            names |= set(inspect.signature(init).parameters)
    return names - {"self", "kwargs", "args"}


def _same(value, default) -> bool:
    if default is inspect.Parameter.empty:
        return False
    if isinstance(value, (list, tuple)) and isinstance(default, (list, tuple)):
        return list(value) == list(default)
    return value == default


def _activation(layer, value):
    """A Keras 3 activation's name, checked: tf_keras has it, or ``ACTIVATIONS`` says
    what it becomes."""
    if not isinstance(value, str):
        raise UnsupportedLayerError(f"layer {layer.name!r} has an activation that is not a "
                                    "Keras activation: use one by name")
    if value not in ACTIVATIONS and not callable(getattr(tf_keras.activations, value, None)):
        known = sorted({*ACTIVATIONS, *(n for n in dir(tf_keras.activations)
                                        if not n.startswith("_") and n not in (
                                            "get", "serialize", "deserialize"))})
        raise UnsupportedLayerError(f"layer {layer.name!r} uses the activation {value!r}, "
                                    "which has no tf_keras equivalent here: use one of "
                                    f"{', '.join(known)}")
    return value


def _constraint(layer, key: str, value):
    """A weight constraint by name (it only acts in training), or None."""
    if value is None:
        return None
    name = value.get("class_name") if isinstance(value, dict) else None
    if not isinstance(name, str) or not isinstance(getattr(tf_keras.constraints, name, None),
                                                   type):
        raise UnsupportedLayerError(f"layer {layer.name!r} has a {name or value!r} {key}, which "
                                    "tf_keras does not have: remove it to import the model")
    return {"class_name": name, "config": value.get("config", {})}


def _regularizer(layer, key: str, value):
    if value is None:
        return None
    name = value.get("class_name") if isinstance(value, dict) else None
    if name not in ("L1", "L2", "L1L2"):
        raise UnsupportedLayerError(f"layer {layer.name!r} has a {name or value!r} {key}: only "
                                    "L1, L2 and L1L2 regularizers are carried over")
    return {"class_name": name, "config": value.get("config", {})}


def _copy_weights(original, rebuilt) -> None:
    weights = original.get_weights()
    expected = [tuple(w.shape) for w in rebuilt.weights]
    got = [tuple(w.shape) for w in weights]
    if expected != got:
        raise UnsupportedLayerError(
            f"layer {original.name!r} ({type(original).__name__}) holds weights of shapes {got}, "
            f"but its tf_keras rebuild has {expected}: this layer cannot be carried over")
    rebuilt.set_weights(weights)
    if hasattr(rebuilt, "finalize_state"):  # Normalization: its mean/variance from the state
        rebuilt.finalize_state()


__all__ = ["ACTIVATIONS", "EQUIVALENT_LAYERS", "check_supported", "is_keras3", "model_config",
           "rebuild", "rebuildable", "translate_config", "unsupported_layers"]
