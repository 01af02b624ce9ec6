"""Numerical gradient checking: centered differences, and the relative error to judge them by.

An analytic backward pass (dx, dw, db of a layer) is checked by comparing it, entry by entry,
with a numerical gradient of the same scalar loss. This follows the "gradient checks" of the
CS231n notes (https://cs231n.github.io/neural-networks-3/#gradcheck), whose assignments do it
with `eval_numerical_gradient` and `rel_error`, as EECS 498 does with `compute_numeric_gradient`:

- use the centered difference `(f(x + h) - f(x - h)) / (2h)`: its error is O(h**2), the
  one-sided difference's O(h);
- use float64 and `h` near 1e-5: a smaller `h` loses the difference to rounding (about
  `eps * |f| / h`), a larger one to curvature (about `h**2 * |f'''|`);
- compare with the relative error, not the absolute one. The notes' rule of thumb: above 1e-2
  the gradient is probably wrong, 1e-4 to 1e-2 is suspicious, below 1e-7 it is right (objectives
  with kinks, such as a ReLU, may sit near 1e-4 and still be right).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["numerical_gradient", "relative_error"]


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray,
                       h: float = 1e-5) -> np.ndarray:
    """Gradient of the scalar function `f` at `x` by centered differences, entry by entry.

    For every index `i`: `(f(x + h e_i) - f(x - h e_i)) / (2 h)`, where `e_i` is 1 at `i`.
    `x` is changed in place while `f` is evaluated (so `f` may close over `x` or over a tensor
    that shares its memory, as `torch.from_numpy(x)` does) and restored before returning,
    also when `f` raises. Costs `2 * x.size` calls of `f`.

    Args:
        f: takes `x` and returns a scalar (a float, a 0-d array or a 0-d tensor).
        x: floating-point array of any shape `S`; use float64 (float32 keeps about 7 digits,
            and the difference of two nearly equal losses loses most of them).
        h: the step, > 0; 1e-5 suits float64.

    Returns:
        float64 array of shape `S`, the gradient of `f` at `x`.

    Raises:
        ValueError: `x` is not a floating-point NumPy array, `h` is not positive, or `f`
            returns more than one number.
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"x must be a floating-point NumPy array (float64), got "
                         f"{type(x).__name__} {getattr(x, 'dtype', '')}".rstrip())
    if not h > 0:
        raise ValueError(f"h must be positive, got {h}")

    def value() -> float:
        out = f(x)
        if np.ndim(out) != 0:
            raise ValueError(f"f must return a scalar, got shape {np.shape(out)}")
        return float(out)

    grad = np.zeros(x.shape, dtype=np.float64)
    for i in np.ndindex(x.shape):
        kept = x[i]
        try:
            x[i] = kept + h
            plus = value()
            x[i] = kept - h
            minus = value()
        finally:
            x[i] = kept  # restored exactly: the same float is written back
        grad[i] = (plus - minus) / (2 * h)
    return grad


def relative_error(a, b) -> float:
    """Largest entrywise relative error `|a - b| / max(1e-8, |a| + |b|)`, as CS231n's `rel_error`.

    The 1e-8 floor keeps entries where both are (nearly) 0 from dividing by zero: there the
    error is the absolute difference over 1e-8. Two equal arrays give 0, opposite signs give 1.

    Args:
        a, b: arrays (or tensors, or numbers) of the same shape.

    Returns:
        a float in [0, 1]; 0.0 for empty arrays.

    Raises:
        ValueError: the shapes differ.
    """
    a = np.asarray(a.detach().cpu() if hasattr(a, "detach") else a, dtype=np.float64)
    b = np.asarray(b.detach().cpu() if hasattr(b, "detach") else b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))
