"""The one place that selects tf_keras (Keras 2) and imports TensorFlow.

tfmot only works with Keras 2, so the package uses ``tf_keras`` everywhere. Every module
takes ``tf`` and ``keras`` from here, which guarantees the environment is set before
TensorFlow is first imported and keeps ``import kerasmodels`` free of TensorFlow.

>>> from kerasmodels.backend import keras, tf
>>> keras.__name__.startswith("tf_keras")
True
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def _import_quietly():
    """Import TensorFlow with its C++ start-up chatter (written before absl is set up) muted."""
    if "tensorflow" in sys.modules:
        import tensorflow
        import tf_keras

        return tensorflow, tf_keras
    from kerasmodels.logs import native_shown, quiet_native

    with quiet_native():
        import tensorflow
        import tf_keras

        tensorflow.config.list_physical_devices()  # device probing logs CUDA noise once
    if not native_shown():
        tensorflow.get_logger().setLevel("ERROR")
    return tensorflow, tf_keras


tf, keras = _import_quietly()
# random layers (dropout) draw from tf.random.Generator objects, whose state is a variable that
# checkpoints hold: a resumed run continues their streams instead of restarting them
keras.backend.experimental.enable_tf_random_generator()

CPU_DEVICES_ENV = "KERASMODELS_CPU_DEVICES"  # e.g. 2: MirroredStrategy over 2 logical CPUs


def split_cpu(devices: int) -> None:
    """Split the CPU into ``devices`` logical devices (before TensorFlow initialises them)."""
    from kerasmodels.errors import DistributionError

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(devices)])
    except RuntimeError:
        raise DistributionError(f"{CPU_DEVICES_ENV}={devices} came too late: TensorFlow had "
                                "already set up its devices; set it before starting Python")\
            from None


if os.environ.get(CPU_DEVICES_ENV):
    split_cpu(int(os.environ[CPU_DEVICES_ENV]))

__all__ = ["keras", "tf"]
