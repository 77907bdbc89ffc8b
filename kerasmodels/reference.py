"""NumPy reference implementations of the training chapter's formulas: the test oracles.

Each optimizer updates a list of float64 arrays in place, with the same formulas (and the
same constants) as ``kerasmodels.optimizers``. ``linear_regression`` is the chapter's
example done right.

>>> import numpy as np
>>> from kerasmodels import reference as ref
>>> X, y = ref.chapter_data()
>>> w, b = ref.linear_regression(X, y, method="batch", learning_rate=0.1, iterations=2000)
>>> np.allclose([w, b], ref.least_squares(X, y), atol=1e-3)
True
"""

from __future__ import annotations

import numpy as np

from kerasmodels.errors import HyperparameterError, UnknownNameError


class GradientDescent:
    """w <- w - lr g; momentum: v <- mu v - lr g, w <- w + v; Nesterov: w <- w + mu v - lr g."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False):
        self.lr, self.mu, self.nesterov, self.v = learning_rate, momentum, nesterov, None

    def step(self, params, grads):
        if self.v is None:
            self.v = [np.zeros_like(p) for p in params]
        for p, g, v in zip(params, grads, self.v, strict=True):
            if not self.mu:
                p -= self.lr * g
                continue
            v[...] = self.mu * v - self.lr * g
            p += self.mu * v - self.lr * g if self.nesterov else v


class RMSprop:
    """s <- rho s + (1-rho) g^2; [a <- rho a + (1-rho) g]; step = lr g / sqrt(s [- a^2] + eps)."""

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
        self.lr, self.rho, self.mu, self.eps, self.centered = learning_rate, rho, momentum, epsilon, centered
        self.state = None

    def step(self, params, grads):
        if self.state is None:
            self.state = [[np.zeros_like(p) for _ in range(3)] for p in params]
        for p, g, (s, a, m) in zip(params, grads, self.state, strict=True):
            s[...] = self.rho * s + (1 - self.rho) * g * g
            if self.centered:
                a[...] = self.rho * a + (1 - self.rho) * g
            denominator = s - a * a + self.eps if self.centered else s + self.eps
            step = self.lr * g / np.sqrt(denominator)
            if self.mu:
                m[...] = self.mu * m + step
                step = m
            p -= step


class Adam:
    """m <- b1 m + (1-b1) g; v <- b2 v + (1-b2) g^2; w <- w - lr sqrt(1-b2^t)/(1-b1^t) m/(sqrt(v)+eps)."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=0.0):
        self.lr, self.b1, self.b2, self.eps = learning_rate, beta_1, beta_2, epsilon
        self.amsgrad, self.wd, self.t, self.state = amsgrad, weight_decay, 0, None

    def step(self, params, grads):
        if self.state is None:
            self.state = [[np.zeros_like(p) for _ in range(3)] for p in params]
        self.t += 1
        alpha = self.lr * np.sqrt(1 - self.b2**self.t) / (1 - self.b1**self.t)
        for p, g, (m, v, v_max) in zip(params, grads, self.state, strict=True):
            if self.wd:
                p -= self.lr * self.wd * p  # decoupled weight decay (AdamW)
            m[...] = self.b1 * m + (1 - self.b1) * g
            v[...] = self.b2 * v + (1 - self.b2) * g * g
            denominator = v
            if self.amsgrad:
                v_max[...] = np.maximum(v_max, v)
                denominator = v_max
            p -= alpha * m / (np.sqrt(denominator) + self.eps)


def AdamW(learning_rate=0.001, weight_decay=0.004, **kwargs) -> Adam:  # noqa: N802
    """Adam with decoupled weight decay: w <- w - lr * lambda * w before each Adam step."""
    return Adam(learning_rate, weight_decay=weight_decay, **kwargs)


def l1_penalty(weights, strength: float) -> float:
    """strength * sum |w|; its (sub)gradient is strength * sign(w)."""
    return float(strength * sum(np.abs(w).sum() for w in weights))


def l2_penalty(weights, strength: float) -> float:
    """strength * sum w^2; its gradient is 2 * strength * w."""
    return float(strength * sum((w * w).sum() for w in weights))


def l1_gradient(w, strength: float):
    return strength * np.sign(w)


def l2_gradient(w, strength: float):
    return 2 * strength * w


# -- the chapter's linear regression ---------------------------------------------------------

def chapter_data(n: int = 100, noise: float = 0.5, seed: int = 0):
    """The chapter's data: ``np.random.seed(0); X = randn(100, 1); y = 3X + 2 + 0.5 randn``."""
    rs = np.random.RandomState(seed)
    X = rs.randn(n, 1)
    y = 3 * X + 2 + rs.randn(n, 1) * noise
    return X, y


def least_squares(X, y) -> tuple[float, float]:
    """The closed-form solution (w, b) of min mean((X w + b - y)^2)."""
    A = np.hstack([X, np.ones_like(X)])
    (w, b), *_ = np.linalg.lstsq(A, y.ravel(), rcond=None)
    return float(w), float(b)


def mse(X, y, w: float, b: float) -> float:
    return float(np.mean((X.ravel() * w + b - y.ravel()) ** 2))


def mse_gradient(X, y, w: float, b: float) -> tuple[float, float]:
    """dL/dw = 2 mean((Xw + b - y) X), dL/db = 2 mean(Xw + b - y)."""
    error = X.ravel() * w + b - y.ravel()
    return float(2 * np.mean(error * X.ravel())), float(2 * np.mean(error))


def chapter_linear_regression(X, y, alpha=0.01, iterations=1000, seed=0):
    """The chapter's snippet as printed: it steps *up* the gradient and never uses b in the
    prediction, so it cannot converge (kept to show why; see ``linear_regression``)."""
    rs = np.random.RandomState(seed)
    w, b = rs.randn(2, 1)
    for _ in range(iterations):
        grad_w = np.mean((y - X.dot(w[:, None]).ravel()[:, None]) * X)
        grad_b = np.mean(y - X.dot(w[:, None]).ravel()[:, None])
        w -= alpha * grad_w
        b -= alpha * grad_b
    return float(w[0]), float(b[0])


METHODS = ("batch", "sgd", "minibatch")


def linear_regression(X, y, method: str = "batch", learning_rate: float = 0.1,
                      iterations: int = 1000, batch_size: int | None = None, seed: int = 0,
                      optimizer=None, decay: float = 0.0, return_path: bool = False):
    """Fit y = w x + b by gradient descent on the mean squared error.

    ``batch``: every step uses all points; ``sgd``: one random point per step; ``minibatch``:
    ``batch_size`` random points per step (an epoch's worth of shuffled batches at a time).
    ``optimizer`` (one of this module's classes) replaces plain gradient descent. ``decay``
    lowers the rate as lr / (1 + decay * t): with a constant rate, SGD only wanders around the
    optimum (its noise floor is proportional to lr); a decaying one converges (Robbins-Monro).
    Returns ``(w, b)``, or ``(w, b, path)`` with the (w, b) after every step.
    """
    if method not in METHODS:
        raise UnknownNameError("method", method, METHODS)
    if not learning_rate > 0:
        raise HyperparameterError(f"learning_rate must be > 0, got {learning_rate!r}")
    if iterations < 1:
        raise HyperparameterError(f"iterations must be >= 1, got {iterations!r}")
    if decay < 0:
        raise HyperparameterError(f"decay must be >= 0, got {decay!r}")
    n = len(X)
    size = {"batch": n, "sgd": 1, "minibatch": batch_size or 16}[method]
    if not 1 <= size <= n:
        raise HyperparameterError(f"batch_size must be in [1, {n}], got {size}")
    rs = np.random.RandomState(seed)
    opt = optimizer or GradientDescent(learning_rate)
    params = [np.zeros(1), np.zeros(1)]
    order, cursor, path = rs.permutation(n), 0, []
    for t in range(iterations):
        opt.lr = learning_rate / (1 + decay * t)
        if cursor + size > n:
            order, cursor = rs.permutation(n), 0
        idx = order[cursor:cursor + size]
        cursor += size
        gw, gb = mse_gradient(X[idx], y[idx], params[0][0], params[1][0])
        opt.step(params, [np.array([gw]), np.array([gb])])
        if return_path:
            path.append((float(params[0][0]), float(params[1][0])))
    w, b = float(params[0][0]), float(params[1][0])
    return (w, b, path) if return_path else (w, b)
