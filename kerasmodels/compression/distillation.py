"""Knowledge distillation: a small student learns from the teacher's softened logits.

loss = alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T))
       + (1 - alpha) * cross_entropy(y, softmax(student))

The T^2 keeps the soft term's gradients on the scale of the hard term's as T grows (Hinton et
al., 2015).
"""

from __future__ import annotations

from kerasmodels.backend import keras, tf
from kerasmodels.errors import HyperparameterError

LOGITS = "logits"


def logits_of(model):
    """The model up to its ``logits`` layer (every classifier of the registry has one); for
    any other classifier, the log of its probabilities, which softmax maps back to the same
    distribution at every temperature (logits are only defined up to a constant)."""
    try:
        return keras.Model(model.inputs, model.get_layer(LOGITS).output)
    except ValueError:
        log_probabilities = LogProbabilities(name="log_probabilities")(model.outputs[0])
        return keras.Model(model.inputs, log_probabilities)


class LogProbabilities(keras.layers.Layer):
    """``log(p)``, with ``p`` kept above float32's smallest normal value."""

    def call(self, probabilities):
        return tf.math.log(tf.maximum(probabilities, 1e-30))


class Distiller(keras.Model):
    """Trains ``student`` (a logits model) against a frozen ``teacher`` (a logits model)."""

    def __init__(self, student, teacher, temperature: float = 4.0, alpha: float = 0.7):
        super().__init__()
        self.student, self.teacher = student, teacher
        self.teacher.trainable = False
        self.temperature, self.alpha = float(temperature), float(alpha)
        self.hard = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy]

    def distillation_loss(self, y, student_logits, teacher_logits):
        t = self.temperature
        soft_teacher = tf.nn.softmax(teacher_logits / t)
        log_soft_student = tf.nn.log_softmax(student_logits / t)
        kl = tf.reduce_sum(soft_teacher * (tf.math.log(soft_teacher + 1e-12) - log_soft_student),
                           axis=-1)
        soft = tf.reduce_mean(kl) * t * t
        return self.alpha * soft + (1 - self.alpha) * self.hard(y, student_logits)

    def train_step(self, data):
        x, y = data
        teacher_logits = self.teacher(x, training=False)
        with tf.GradientTape() as tape:
            student_logits = self.student(x, training=True)
            loss = self.distillation_loss(y, student_logits, teacher_logits)
        grads = tape.gradient(loss, self.student.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.student.trainable_variables, strict=True))
        self.loss_tracker.update_state(loss)
        self.accuracy.update_state(y, student_logits)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, y = data
        student_logits = self.student(x, training=False)
        loss = self.distillation_loss(y, student_logits, self.teacher(x, training=False))
        self.loss_tracker.update_state(loss)
        self.accuracy.update_state(y, student_logits)
        return {m.name: m.result() for m in self.metrics}


def distill(teacher_model, data, *, student, temperature: float = 4.0, alpha: float = 0.7,
            epochs: int = 25, learning_rate: float = 2e-3, batch_size: int = 32, seed: int = 0):
    """Train the ``student`` model from ``teacher_model``; returns (student, report, history)."""
    from kerasmodels.errors import check_positive
    from kerasmodels.modeling import seed_everything
    from kerasmodels.optimizers import make_optimizer

    if data.task != "classification":
        raise HyperparameterError("distillation needs a classification dataset")
    check_positive("temperature", temperature)
    if not 0 <= alpha <= 1:
        raise HyperparameterError(f"alpha must be in [0, 1], got {alpha!r}")
    seed_everything(seed)
    from kerasmodels.compression.common import fit_callbacks, fit_history
    from kerasmodels.modeling import clone
    from kerasmodels.resume import fit_arguments

    # a clone: freezing the teacher would otherwise freeze the parent run's own layers
    distiller = Distiller(logits_of(student), logits_of(clone(teacher_model)), temperature, alpha)
    distiller.compile(optimizer=make_optimizer("adam", learning_rate))
    history = distiller.fit(**fit_arguments(data.train, data.val, batch_size=batch_size,
                                            epochs=epochs, seed=seed),
                            epochs=epochs, verbose=0, callbacks=fit_callbacks(epochs))
    report = {"student_params": int(student.count_params()),
              "teacher_params": int(teacher_model.count_params()),
              "temperature": temperature, "alpha": alpha, "epochs": epochs}
    return student, report, fit_history(history, learning_rate)

