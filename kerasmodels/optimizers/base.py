"""What the optimizers share: hyperparameter checks and per-variable slots."""

from __future__ import annotations

from kerasmodels.backend import keras, tf
from kerasmodels.errors import HyperparameterError, check_positive


def check_unit_interval(name: str, value, *, closed: bool = False) -> None:
    """``value`` in [0, 1) (or [0, 1] when ``closed``), unless it is a schedule or tensor."""
    if not isinstance(value, (int, float)):
        return
    if not (0.0 <= value <= 1.0 if closed else 0.0 <= value < 1.0):
        raise HyperparameterError(f"{name} must be in [0, 1{']' if closed else ')'}, got {value!r}")


class FormulaOptimizer(keras.optimizers.Optimizer):
    """A tf_keras optimizer whose ``update_step`` is written from the textbook formula.

    Subclasses call ``add_slots`` in ``create_slots`` and ``slot`` in ``update_step``; the
    base class gives them learning-rate schedules, gradient clipping, sparse-gradient
    de-duplication, ``jit_compile``, tf.distribute and ``.keras`` serialization.
    """

    def __init__(self, learning_rate, name: str, jit_compile: bool = True, **kwargs):
        if isinstance(learning_rate, (int, float)):  # a schedule checks its own
            check_positive("learning_rate", learning_rate)
        super().__init__(name=name, jit_compile=jit_compile, **kwargs)
        self._learning_rate = self._build_learning_rate(learning_rate)

    def build(self, var_list):
        super().build(var_list)
        if getattr(self, "_built", False):
            return
        self._built = True
        self.create_slots(var_list)

    def create_slots(self, var_list) -> None:
        """Add the optimizer's state with ``add_slots`` (none for plain gradient descent)."""

    def add_slots(self, var_list, *names: str) -> None:
        """One zero-initialized slot variable per model variable for each name."""
        self._slots = getattr(self, "_slots", {})
        for slot_name in names:
            self._slots[slot_name] = [
                self.add_variable_from_reference(model_variable=v, variable_name=slot_name)
                for v in var_list
            ]

    def slot(self, slot_name: str, variable) -> tf.Variable:
        return self._slots[slot_name][self._index_dict[self._var_key(variable)]]

    def lr_for(self, variable):
        return tf.cast(self.learning_rate, variable.dtype)

    def get_config(self):
        return {**super().get_config(),
                "learning_rate": self._serialize_hyperparameter(self._learning_rate)}

