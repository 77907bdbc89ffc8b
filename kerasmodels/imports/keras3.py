"""Keras 3 models rebuilt as tf_keras models, layer by layer, from their config and weights.

tfmot (pruning, clustering, QAT) only takes tf_keras models, and the TFLite and ONNX paths of
kerasmodels are tf_keras paths. The layers edge models are made of exist in both, with the
same weights in the same order; :func:`rebuild` translates each layer's config (dropping
options that are at Keras 3's default, refusing the others by name), calls the new layers in
the order of the Keras 3 graph (Sequential and functional, nested models, shared layers,
residual branches) and copies the weights. :func:`kerasmodels.imports.import_model` then
checks the rebuilt model against the original on the dataset.

>>> import keras
>>> from kerasmodels.imports.keras3 import rebuild
>>> original = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu6")])
>>> [type(layer).__name__ for layer in rebuild(original).layers]
['Dense', 'ReLU']
"""

from __future__ import annotations

import inspect
from typing import Any

from kerasmodels.backend import keras as tf_keras
from kerasmodels.errors import UnsupportedLayerError

# the layers rebuilt; every other one is refused by name
LAYERS = (
    "InputLayer", "Dense", "Conv1D", "Conv2D", "DepthwiseConv2D", "SeparableConv2D",
    "BatchNormalization", "LayerNormalization", "Activation", "ReLU", "Softmax", "LeakyReLU",
    "Add", "Concatenate", "Multiply", "Average", "Subtract",
    "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D",
    "GlobalMaxPooling2D", "Flatten", "Reshape", "Dropout", "ZeroPadding2D", "Rescaling",
    "Normalization", "Embedding", "LSTM", "GRU", "MultiHeadAttention",
)
MODELS = ("Functional", "Sequential", "Model")
# Keras 3 activations tf_keras knows under another name, or as a layer of its own
RENAMED_ACTIVATIONS = {"silu": "swish"}
ACTIVATION_LAYERS = {"relu6": lambda name: tf_keras.layers.ReLU(max_value=6.0, name=name),
                     "leaky_relu": lambda name: tf_keras.layers.LeakyReLU(0.2, name=name)}
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


def is_keras3(model) -> bool:
    """Whether ``model`` is a Keras 3 model (``import keras``), not a tf_keras one."""
    return any(cls.__module__.split(".")[0] == "keras" and cls.__name__ in ("Model", "Layer")
               for cls in type(model).__mro__)


def unsupported_layers(config: Any) -> list[str]:
    """The class names of layers in a Keras 3 model config that :func:`rebuild` cannot
    rebuild, each with its layer name (``['Lambda (layer "scale")']``)."""
    found = []
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, (list, tuple)):
            stack.extend(node)
        elif isinstance(node, dict):
            module = node.get("module")
            layer_like = isinstance(node.get("class_name"), str) and isinstance(
                node.get("config"), dict) and (module is None or "layers" in str(module)
                                               or module in ("keras", "keras.models"))
            if layer_like and "name" in node["config"] and node["class_name"] not in (
                    *LAYERS, *MODELS) and not _is_dtype_policy(node):
                found.append(f"{node['class_name']} (layer {node['config']['name']!r})")
            stack.extend(node.values())
    return sorted(set(found))


def _is_dtype_policy(node: dict) -> bool:
    return "Policy" in node["class_name"]


def check_supported(config: Any, source: str = "the model") -> None:
    """An UnsupportedLayerError naming every layer of ``config`` outside ``LAYERS``."""
    refused = unsupported_layers(config)
    if refused:
        raise UnsupportedLayerError(
            f"{source} has {', '.join(refused)}, which kerasmodels cannot rebuild for tf_keras "
            f"(it rebuilds {', '.join(LAYERS[1:])}, and Sequential or functional models of "
            "them): replace the layer, or import a tf_keras model")


def rebuild(model) -> Any:
    """A tf_keras model with the same graph, layer names and weights as Keras 3 ``model``."""
    check_supported(model_config(model), f"model {model.name!r}")
    copies: list[tuple[Any, list]] = []
    rebuilt = _rebuild_model(model, copies)
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


def _rebuild_model(model, copies: list):
    kind = type(model).__name__
    if kind == "Sequential":
        spec = model.inputs[0]
        x = inputs = tf_keras.Input(batch_shape=tuple(spec.shape), dtype=spec.dtype,
                                    name=_input_name(model))
        for layer in model.layers:
            x = _call_all(_layers_for(layer, copies), [x], {})
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
            if name not in built:
                built[name] = _layers_for(model.get_layer(name), copies)
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


def _input_name(model) -> str:
    layer = getattr(model.inputs[0], "_keras_history", [None])[0]
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


def _layers_for(layer, copies: list) -> list:
    """The tf_keras layer(s) for one Keras 3 layer (two when its activation is a layer in
    tf_keras); the weights are copied once the graph is built."""
    kind = type(layer).__name__
    if kind in MODELS:
        return [_rebuild_model(layer, copies)]
    if kind not in LAYERS:
        raise UnsupportedLayerError(f"layer {layer.name!r} is a {kind}, which kerasmodels cannot "
                                    "rebuild for tf_keras: replace it")
    config, extra = translate_config(layer)
    if kind == "Activation" and config["activation"] in ACTIVATION_LAYERS:
        return [ACTIVATION_LAYERS[config["activation"]](layer.name)]
    made = [getattr(tf_keras.layers, kind)(**config), *extra]
    if layer.weights:
        copies.append((layer, made))
    return made


def translate_config(layer) -> tuple[dict[str, Any], list]:
    """``layer``'s config for the tf_keras class of the same name, and any layer that must
    follow it (an activation tf_keras has only as a layer)."""
    kind = type(layer).__name__
    target = getattr(tf_keras.layers, kind)
    accepted = _parameters(target)
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
        elif key.endswith("constraint") and value is not None:
            raise UnsupportedLayerError(f"layer {layer.name!r} has a {key}: tf_keras models "
                                        "imported from Keras 3 take none; remove it")
        elif key == "activation" and kind != "Activation" and value in ACTIVATION_LAYERS:
            extra.append(ACTIVATION_LAYERS[value](f"{layer.name}_{value}"))
            value = "linear"
        if key == "activation":
            value = _activation(layer, value)
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
    if not isinstance(value, str):
        raise UnsupportedLayerError(f"layer {layer.name!r} has an activation that is not a "
                                    "Keras activation: use one by name")
    value = RENAMED_ACTIVATIONS.get(value, value)
    if value not in ACTIVATION_LAYERS and not callable(getattr(tf_keras.activations, value, None)):
        raise UnsupportedLayerError(f"layer {layer.name!r} uses the activation {value!r}, which "
                                    "tf_keras does not have: use relu, relu6, gelu, swish, "
                                    "sigmoid, tanh or softmax")
    return value


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


__all__ = ["LAYERS", "check_supported", "is_keras3", "model_config", "rebuild",
           "translate_config", "unsupported_layers"]
