"""RMSprop: divide the step by a running root-mean-square of the gradients."""

from __future__ import annotations

from kerasmodels.backend import keras, tf
from kerasmodels.optimizers.base import FormulaOptimizer, check_unit_interval


@keras.saving.register_keras_serializable(package="kerasmodels")
class RMSprop(FormulaOptimizer):
    """RMSprop (Hinton, 2012), optionally centered and with momentum.

    s <- rho * s + (1 - rho) * g^2
    centered:  a <- rho * a + (1 - rho) * g;   d = s - a^2 + eps,   else d = s + eps
    step = lr * g / sqrt(d)
    momentum:  m <- mu * m + step;  w <- w - m,   else w <- w - step

    >>> RMSprop(1e-3, rho=0.9, centered=True).get_config()["centered"]
    True
    """

    def __init__(self, learning_rate=0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, name: str = "RMSprop", **kwargs):
        check_unit_interval("rho", rho)
        check_unit_interval("momentum", momentum, closed=True)
        super().__init__(learning_rate, name=name, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, bool(centered)

    def create_slots(self, var_list):
        self.add_slots(var_list, "mean_square")
        if self.centered:
            self.add_slots(var_list, "mean_gradient")
        if self.momentum:
            self.add_slots(var_list, "momentum")

    def update_step(self, gradient, variable):
        lr, rho = self.lr_for(variable), self.rho
        if isinstance(gradient, tf.IndexedSlices):  # rows without gradient see g = 0
            gradient = tf.convert_to_tensor(gradient)
        s = self.slot("mean_square", variable)
        s.assign(rho * s + (1 - rho) * tf.square(gradient))
        if self.centered:
            a = self.slot("mean_gradient", variable)
            a.assign(rho * a + (1 - rho) * gradient)
            denominator = s - tf.square(a) + self.epsilon
        else:
            denominator = s + self.epsilon
        step = lr * gradient * tf.math.rsqrt(denominator)
        if self.momentum:
            m = self.slot("momentum", variable)
            m.assign(tf.constant(self.momentum, variable.dtype) * m + step)
            step = m
        variable.assign_sub(step)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}
