"""MLPerf Tiny's image models (mlcommons/tiny, ``benchmark/training/``), layer for layer:
MobileNetV1 for visual wake words (``visual_wake_words/vww_model.py``) and ResNet-8 for
CIFAR-10 (``image_classification/keras_model.py``).

>>> import kerasmodels as km
>>> km.build_model("mobilenet_v1", input_shape=(96, 96, 3), num_classes=2).count_params()
221794
>>> km.build_model("resnet8", input_shape=(32, 32, 3), num_classes=10).count_params()
78666
"""

from __future__ import annotations

from kerasmodels.architectures.common import ProblemSpec, check_units, model_input, output_head
from kerasmodels.architectures.kws import BN_MOMENTUM
from kerasmodels.architectures.registry import Family, register, register_family
from kerasmodels.errors import HyperparameterError

register_family(Family(
    "mobilenet", example="digits",
    search_space={"alpha": [0.125, 0.25, 0.5]}, task_layers=("logits",)))
register_family(Family(
    "resnet", example="digits",
    search_space={"filters": [8, 16, 26]}, task_layers=("logits",)))

# MobileNetV1's depthwise separable blocks: (stride of the depthwise, filters of the pointwise
# at width 1); the first convolution has 32 filters at width 1
MOBILENET_BLOCKS = ((1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512), (1, 512),
                    (1, 512), (1, 512), (1, 512), (1, 512), (2, 1024), (1, 1024))


def _images(spec: ProblemSpec, name: str) -> tuple[int, int]:
    if spec.vocab_size or len(spec.input_shape) != 3:
        raise HyperparameterError(f"{name} needs images of shape (height, width, channels); got "
                                  f"input shape {spec.input_shape}")
    return spec.input_shape[0], spec.input_shape[1]


def _conv_bn_relu(x, keras, filters, kernel, strides, decay, name, *, depthwise=False,
                  relu=True):
    """A convolution (he_normal, L2 on its kernel) and its batch norm, then ReLU."""
    if depthwise:
        x = keras.layers.DepthwiseConv2D(kernel, strides=strides, padding="same",
                                         depthwise_initializer="he_normal",
                                         depthwise_regularizer=decay, name=name)(x)
    else:
        x = keras.layers.Conv2D(filters, kernel, strides=strides, padding="same",
                                kernel_initializer="he_normal", kernel_regularizer=decay,
                                name=name)(x)
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x) if relu else x


@register("mobilenet_v1", family="mobilenet", epochs=20, batch_size=50, learning_rate=1e-3)
def mobilenet_v1(spec: ProblemSpec, *, alpha: float = 0.25, weight_decay: float = 1e-4):
    """MobileNetV1 at width ``alpha``: Conv 3x3 stride 2, 13 depthwise separable blocks,
    average pooling, classifier (MLPerf Tiny's visual wake words at 0.25: 221,794 parameters
    on 96x96x3 with 2 classes; the input size is the dataset's).

    As the reference: ReLU (not ReLU6), biases on every convolution, he_normal, L2 of 1e-4
    (kerasmodels' own); batch norms at momentum 0.9 (the reference keeps Keras' 0.99).
    """
    from kerasmodels.backend import keras
    from kerasmodels.regularizers import make_regularizer

    if not 0 < float(alpha) <= 4:
        raise HyperparameterError(f"alpha (the width multiplier) must be in (0, 4], got {alpha!r}")
    _images(spec, "mobilenet_v1")
    decay = make_regularizer("l2", weight_decay) if weight_decay else None
    inputs = model_input(spec)
    x = _conv_bn_relu(inputs, keras, max(1, int(32 * alpha)), 3, 2, decay, "conv")
    for i, (stride, filters) in enumerate(MOBILENET_BLOCKS):
        x = _conv_bn_relu(x, keras, None, 3, stride, decay, f"dw_{i}", depthwise=True)
        x = _conv_bn_relu(x, keras, max(1, int(filters * alpha)), 1, 1, decay, f"pw_{i}")
    x = keras.layers.AveragePooling2D(pool_size=tuple(x.shape[1:3]), name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    return keras.Model(inputs, output_head(x, spec), name="mobilenet_v1")


@register("resnet8", family="resnet", epochs=30, batch_size=32, learning_rate=1e-3)
def resnet8(spec: ProblemSpec, *, filters: int = 16, weight_decay: float = 1e-4):
    """ResNet-8: Conv 3x3 and three residual stacks of two 3x3 convolutions (``filters``,
    twice, four times; the last two stride 2 with a 1x1 convolution on the shortcut), average
    pooling, classifier (MLPerf Tiny's CIFAR-10 model: 78,666 parameters with 16 filters on
    32x32x3; the 2026 reference default is 26).
    """
    from kerasmodels.backend import keras
    from kerasmodels.regularizers import make_regularizer

    (filters,) = check_units("filters", filters)
    h, w = _images(spec, "resnet8")
    if min(h, w) < 4:
        raise HyperparameterError(f"resnet8: images of {h}x{w} are too small for its two "
                                  "stride-2 stacks; use at least 4x4")
    decay = make_regularizer("l2", weight_decay) if weight_decay else None
    inputs = model_input(spec)
    x = _conv_bn_relu(inputs, keras, filters, 3, 1, decay, "conv")
    for stack, (width, stride) in enumerate(((filters, 1), (2 * filters, 2), (4 * filters, 2))):
        y = _conv_bn_relu(x, keras, width, 3, stride, decay, f"stack_{stack}_a")
        y = _conv_bn_relu(y, keras, width, 3, 1, decay, f"stack_{stack}_b", relu=False)
        if stride != 1:
            x = keras.layers.Conv2D(width, 1, strides=stride, padding="same",
                                    kernel_initializer="he_normal", kernel_regularizer=decay,
                                    name=f"stack_{stack}_shortcut")(x)
        x = keras.layers.Add(name=f"stack_{stack}_add")([x, y])
        x = keras.layers.Activation("relu", name=f"stack_{stack}_relu")(x)
    x = keras.layers.AveragePooling2D(pool_size=min(x.shape[1:3]), name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    return keras.Model(inputs, output_head(x, spec), name="resnet8")
