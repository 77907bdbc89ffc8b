"""Adam and AdamW (decoupled weight decay)."""

from __future__ import annotations

from kerasmodels.backend import keras, tf
from kerasmodels.errors import HyperparameterError
from kerasmodels.optimizers.base import FormulaOptimizer, check_unit_interval


@keras.saving.register_keras_serializable(package="kerasmodels")
class Adam(FormulaOptimizer):
    """Adam (Kingma & Ba, 2015) with bias correction, optionally AMSGrad.

    m <- b1 * m + (1 - b1) * g;      v <- b2 * v + (1 - b2) * g^2
    (AMSGrad: v_max <- max(v_max, v), used in place of v)
    alpha_t = lr * sqrt(1 - b2^t) / (1 - b1^t)        (the bias corrections, folded in)
    w <- w - alpha_t * m / (sqrt(v) + eps)

    This is the paper's "efficient" form (section 2), the one Keras uses; it equals
    lr * m_hat / (sqrt(v_hat) + eps_hat) with eps_hat = eps * sqrt(1 - b2^t).

    >>> Adam(1e-3, amsgrad=True).get_config()["amsgrad"]
    True
    """

    def __init__(self, learning_rate=0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, name: str = "Adam", **kwargs):
        check_unit_interval("beta_1", beta_1)
        check_unit_interval("beta_2", beta_2)
        if not epsilon > 0:
            raise HyperparameterError(f"epsilon must be > 0, got {epsilon!r}")
        super().__init__(learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, bool(amsgrad)

    def create_slots(self, var_list):
        self.add_slots(var_list, "m", "v", *(["v_max"] if self.amsgrad else []))

    def update_step(self, gradient, variable):
        dtype = variable.dtype
        lr, t = self.lr_for(variable), tf.cast(self.iterations + 1, dtype)
        b1, b2 = self.beta_1, self.beta_2  # python floats, so 1 - b is exact before the cast
        self.decay_weights(variable, lr)
        m, v = self.slot("m", variable), self.slot("v", variable)
        if isinstance(gradient, tf.IndexedSlices):  # decay every row, add where g != 0
            m.assign_add(-m * (1 - b1))
            m.scatter_add(tf.IndexedSlices(gradient.values * (1 - b1), gradient.indices))
            v.assign_add(-v * (1 - b2))
            v.scatter_add(tf.IndexedSlices(tf.square(gradient.values) * (1 - b2), gradient.indices))
        else:
            m.assign_add((gradient - m) * (1 - b1))
            v.assign_add((tf.square(gradient) - v) * (1 - b2))
        if self.amsgrad:
            v_max = self.slot("v_max", variable)
            v_max.assign(tf.maximum(v_max, v))
            v = v_max
        b1_t, b2_t = tf.pow(tf.constant(b1, dtype), t), tf.pow(tf.constant(b2, dtype), t)
        alpha = lr * tf.sqrt(1 - b2_t) / (1 - b1_t)
        variable.assign_sub(m * alpha / (tf.sqrt(v) + self.epsilon))

    def decay_weights(self, variable, lr) -> None:
        """No weight decay in Adam (AdamW overrides this)."""

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


@keras.saving.register_keras_serializable(package="kerasmodels")
class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, 2019): Adam plus weight decay decoupled from the gradient.

    w <- w - lr * lambda * w,   then the Adam step above (g does not include lambda * w).

    >>> AdamW(1e-3, weight_decay=0.01).get_config()["weight_decay"]
    0.01
    """

    def __init__(self, learning_rate=0.001, weight_decay: float = 0.004, name: str = "AdamW",
                 **kwargs):
        if not isinstance(weight_decay, (int, float)) or weight_decay < 0:
            raise HyperparameterError(f"weight_decay must be >= 0, got {weight_decay!r}")
        super().__init__(learning_rate, name=name, **kwargs)
        self.decoupled_weight_decay = float(weight_decay)

    def decay_weights(self, variable, lr) -> None:
        if self.decoupled_weight_decay and self._use_weight_decay(variable):
            variable.assign_sub(variable * tf.constant(self.decoupled_weight_decay, variable.dtype) * lr)

    def get_config(self):
        return {**super().get_config(), "weight_decay": self.decoupled_weight_decay}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        weight_decay = config.pop("weight_decay", 0.004)
        if "learning_rate" in config and isinstance(config["learning_rate"], dict):
            config["learning_rate"] = keras.optimizers.schedules.deserialize(
                config["learning_rate"], custom_objects=custom_objects)
        return cls(weight_decay=weight_decay, **config)
