"""Gradient descent with optional (Nesterov) momentum."""

from __future__ import annotations

from kerasmodels.backend import keras, tf
from kerasmodels.optimizers.base import FormulaOptimizer, check_unit_interval


@keras.saving.register_keras_serializable(package="kerasmodels")
class GradientDescent(FormulaOptimizer):
    """Gradient descent: full-batch, stochastic or mini-batch depending on the batch size.

    Plain:      w <- w - lr * g
    Momentum:   v <- mu * v - lr * g;   w <- w + v
    Nesterov:   v <- mu * v - lr * g;   w <- w + mu * v - lr * g

    >>> import kerasmodels.optimizers as O
    >>> O.GradientDescent(0.1, momentum=0.9, nesterov=True).get_config()["nesterov"]
    True
    """

    def __init__(self, learning_rate=0.01, momentum: float = 0.0, nesterov: bool = False,
                 name: str = "GradientDescent", **kwargs):
        check_unit_interval("momentum", momentum, closed=True)
        super().__init__(learning_rate, name=name, **kwargs)
        self.momentum, self.nesterov = momentum, bool(nesterov)

    def create_slots(self, var_list):
        if self.momentum:
            self.add_slots(var_list, "velocity")

    def update_step(self, gradient, variable):
        lr = self.lr_for(variable)
        if not self.momentum:
            if isinstance(gradient, tf.IndexedSlices):
                variable.scatter_add(tf.IndexedSlices(-lr * gradient.values, gradient.indices))
            else:
                variable.assign_add(-lr * gradient)
            return
        mu = tf.constant(self.momentum, variable.dtype)  # tf.cast would round 0.9 to float32 first
        v = self.slot("velocity", variable)
        if isinstance(gradient, tf.IndexedSlices):
            step = tf.IndexedSlices(-lr * gradient.values, gradient.indices)
            v.assign(mu * v)
            v.scatter_add(step)
            if self.nesterov:
                variable.scatter_add(step)
                variable.assign_add(mu * v)
            else:
                variable.assign_add(v)
        else:
            v.assign(mu * v - lr * gradient)
            variable.assign_add(mu * v - lr * gradient if self.nesterov else v)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
