r"""Pure math: activations and their derivatives, softmax / log-softmax / logsumexp, convolution and attention.

Every ``*_prime`` is the derivative with respect to the pre-activation (the notes' :math:`net`), evaluated
elementwise. At a kink the derivative is the one PyTorch's autograd uses (``relu'(0) = 0``,
``leaky_relu'(0) = negative_slope``, ``elu'(0) = alpha``).

All functions are numerically stable by construction (no overflow, finite results for
:math:`|x| \le 1000` and beyond) and keep the input's dtype: float32 stays float32, float64 stays float64.
Integer and boolean inputs are converted to float64, as NumPy's ``np.exp`` would.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._checks import DTypeError, InputError, as_array, check_axis

__all__ = [
    "sigmoid", "sigmoid_prime", "tanh", "tanh_prime", "relu", "relu_prime", "leaky_relu", "leaky_relu_prime",
    "elu", "elu_prime", "softplus", "softplus_prime", "softmax", "log_softmax", "logsumexp", "softmax_backward",
    "conv_output_size", "pad2d", "sliding_windows", "im2col", "col2im", "conv2d_naive",
    "causal_mask", "scaled_dot_product_attention", "scaled_dot_product_attention_backward", "split_heads",
    "merge_heads", "sinusoidal_positions",
]


def _float_array(x, who: str) -> np.ndarray:
    """``x`` as a floating-point ndarray: floats unchanged, integers/booleans as float64, anything else refused."""
    if type(x) is not np.ndarray:  # the test alone: activations run at every step
        x = as_array(x, who, "x", "a real-valued array")
    if x.dtype.kind == "f":
        return x
    if x.dtype.kind in "iub":
        return x.astype(np.float64)
    raise DTypeError(f"{who}: expected a real-valued array, got dtype {x.dtype}")


# --- elementwise activations -----------------------------------------------------------------------

def sigmoid(x) -> np.ndarray:
    r"""The logistic function, the notes' :math:`out = 1 / (1 + e^{-net})`.

    .. math::
        \sigma(x) = \frac{1}{1 + e^{-x}} =
        \begin{cases} \dfrac{1}{1 + e^{-|x|}} & x \ge 0 \\[1ex] \dfrac{e^{-|x|}}{1 + e^{-|x|}} & x < 0 \end{cases}

    Only :math:`e^{-|x|} \le 1` is ever computed, so nothing overflows. Shapes: any → same.
    """
    x = _float_array(x, "sigmoid")
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1, z) / (1 + z)


def sigmoid_prime(x) -> np.ndarray:
    r"""Derivative of :func:`sigmoid`, as derived in the notes.

    .. math::
        \frac{d}{d\,net}\,(1 + e^{-net})^{-1} = \frac{e^{-net}}{(1 + e^{-net})^2} = a\,(1 - a),
        \qquad a = \sigma(net)

    Computed as :math:`e^{-|x|} / (1 + e^{-|x|})^2` (the derivative is even in :math:`x`), which cannot
    overflow and keeps full relative precision in the tails. Shapes: any → same.
    """
    x = _float_array(x, "sigmoid_prime")
    z = np.exp(-np.abs(x))
    return z / (1 + z) ** 2


def tanh(x) -> np.ndarray:
    r"""Hyperbolic tangent, :math:`\tanh(x) = (e^x - e^{-x}) / (e^x + e^{-x}) = 2\sigma(2x) - 1`.

    NumPy's ``np.tanh`` is already stable. Shapes: any → same.
    """
    return np.tanh(_float_array(x, "tanh"))


def tanh_prime(x) -> np.ndarray:
    r"""Derivative of :func:`tanh`.

    .. math::
        \frac{d}{dx} \tanh(x) = 1 - \tanh^2(x)

    Shapes: any → same.
    """
    t = np.tanh(_float_array(x, "tanh_prime"))
    return 1 - t * t


def relu(x) -> np.ndarray:
    r"""Rectified linear unit, :math:`\max(0, x)`. Shapes: any → same."""
    return np.maximum(_float_array(x, "relu"), 0)


def relu_prime(x) -> np.ndarray:
    r"""Derivative of :func:`relu`; 0 at the kink :math:`x = 0`, as in PyTorch.

    .. math::
        \frac{d}{dx} \max(0, x) = \begin{cases} 1 & x > 0 \\ 0 & x \le 0 \end{cases}

    Shapes: any → same.
    """
    x = _float_array(x, "relu_prime")
    return (x > 0).astype(x.dtype)


def leaky_relu(x, negative_slope: float = 0.01) -> np.ndarray:
    r"""Leaky ReLU; the notes' :math:`\max(0.1x, x)` is ``negative_slope=0.1``.

    .. math::
        f(x) = \begin{cases} x & x > 0 \\ \alpha x & x \le 0 \end{cases}, \qquad \alpha = \text{negative\_slope}

    Shapes: any → same.
    """
    x = _float_array(x, "leaky_relu")
    return np.where(x > 0, x, x * x.dtype.type(negative_slope))


def leaky_relu_prime(x, negative_slope: float = 0.01) -> np.ndarray:
    r"""Derivative of :func:`leaky_relu`; ``negative_slope`` at the kink, as in PyTorch.

    .. math::
        f'(x) = \begin{cases} 1 & x > 0 \\ \alpha & x \le 0 \end{cases}

    Shapes: any → same.
    """
    x = _float_array(x, "leaky_relu_prime")
    return np.where(x > 0, x.dtype.type(1), x.dtype.type(negative_slope))


def elu(x, alpha: float = 1.0) -> np.ndarray:
    r"""Exponential linear unit.

    .. math::
        f(x) = \begin{cases} x & x > 0 \\ \alpha\,(e^{x} - 1) & x \le 0 \end{cases}

    Computed with ``expm1(min(x, 0))``: the exponential never sees a positive argument (no overflow) and
    :math:`e^x - 1` keeps its precision near 0. Shapes: any → same.
    """
    x = _float_array(x, "elu")
    return np.where(x > 0, x, x.dtype.type(alpha) * np.expm1(np.minimum(x, 0)))


def elu_prime(x, alpha: float = 1.0) -> np.ndarray:
    r"""Derivative of :func:`elu`; :math:`\alpha` at the kink, as in PyTorch (1 for the default ``alpha``).

    .. math::
        f'(x) = \begin{cases} 1 & x > 0 \\ \alpha\,e^{x} & x \le 0 \end{cases}

    Shapes: any → same.
    """
    x = _float_array(x, "elu_prime")
    return np.where(x > 0, x.dtype.type(1), x.dtype.type(alpha) * np.exp(np.minimum(x, 0)))


def softplus(x) -> np.ndarray:
    r"""Softplus, a smooth ReLU.

    .. math::
        f(x) = \log(1 + e^{x}) = \max(x, 0) + \log\!\left(1 + e^{-|x|}\right)

    The right-hand form never exponentiates a positive number. Shapes: any → same.
    """
    x = _float_array(x, "softplus")
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def softplus_prime(x) -> np.ndarray:
    r"""Derivative of :func:`softplus`: the sigmoid.

    .. math::
        \frac{d}{dx} \log(1 + e^{x}) = \frac{e^{x}}{1 + e^{x}} = \sigma(x)

    Shapes: any → same.
    """
    return sigmoid(_float_array(x, "softplus_prime"))


# --- softmax family ---------------------------------------------------------------------------------

def _shifted(x, axis, who: str) -> tuple[np.ndarray, np.ndarray]:
    """``(x - m, m)`` with ``m = max(x, axis)`` kept as a broadcastable axis: every exponent becomes ≤ 0."""
    x = _float_array(x, who)
    axis = check_axis(x, axis, who)
    m = x.max(axis=axis, keepdims=True)
    return x - m, m


def softmax(x, axis: int = -1) -> np.ndarray:
    r"""Softmax along ``axis``: positive entries that sum to 1.

    .. math::
        \operatorname{softmax}(x)_i = \frac{e^{x_i}}{\sum_j e^{x_j}} = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}},
        \qquad m = \max_j x_j

    Shifting by the maximum changes nothing mathematically and makes every exponent ≤ 0.
    Shapes: any → same.
    """
    shifted, _ = _shifted(x, axis, "softmax")
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis: int = -1) -> np.ndarray:
    r"""Logarithm of :func:`softmax`, computed without ever taking ``log(0)``.

    .. math::
        \log \operatorname{softmax}(x)_i = (x_i - m) - \log \sum_j e^{x_j - m}

    Shapes: any → same.
    """
    shifted, _ = _shifted(x, axis, "log_softmax")
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def logsumexp(x, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    r"""Stable :math:`\log \sum_j e^{x_j}` along ``axis``.

    .. math::
        \operatorname{logsumexp}(x) = m + \log \sum_j e^{x_j - m}, \qquad m = \max_j x_j

    Shapes: ``x`` (..., n, ...) → ``x.shape`` without ``axis`` (kept with size 1 when ``keepdims``).
    """
    shifted, m = _shifted(x, axis, "logsumexp")
    out = m + np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def softmax_backward(s, grad_out, axis: int = -1) -> np.ndarray:
    r"""Vector-Jacobian product of softmax: dL/dx from the softmax output ``s`` and ``grad_out`` = dL/ds.

    The Jacobian :math:`\partial s_i / \partial x_j = s_i(\delta_{ij} - s_j)` is never formed:

    .. math::
        \frac{\partial L}{\partial x_j} = \sum_i g_i\, s_i (\delta_{ij} - s_j) = s_j \Big(g_j - \sum_i g_i s_i\Big)

    Shapes: ``s`` and ``grad_out`` any, identical → same.
    """
    s = _float_array(s, "softmax_backward")
    grad_out = _float_array(grad_out, "softmax_backward")
    if s.shape != grad_out.shape:
        raise InputError(f"softmax_backward: grad_out must have the softmax output's shape {s.shape}, "
                         f"got {grad_out.shape}")
    axis = check_axis(s, axis, "softmax_backward")
    return s * (grad_out - np.sum(grad_out * s, axis=axis, keepdims=True))


# --- convolution: output size, padding, im2col / col2im, the readable reference ---------------------

def as_pair(value, who: str, name: str, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints (height, width), each ≥ ``minimum``, as a tuple of two ints.

    The argument check of every convolution and pooling size: ``who`` and ``name`` go into the error message.
    """
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < minimum
                             for v in pair):
        raise InputError(f"{who}: {name} must be an int ≥ {minimum} or a pair of them (height, width), "
                         f"got {value!r}")
    return int(pair[0]), int(pair[1])


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0) -> int:
    r"""Length of a convolution's or pooling's output along one axis (cs231n's formula).

    .. math::
        H' = \left\lfloor \frac{H + 2\,\text{padding} - \text{kernel}}{\text{stride}} \right\rfloor + 1

    Raises when the padded input is shorter than the kernel (there would be no output at all).
    """
    for value, name, minimum in ((size, "size", 1), (kernel_size, "kernel_size", 1), (stride, "stride", 1),
                                 (padding, "padding", 0)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
            raise InputError(f"conv_output_size: {name} must be an int ≥ {minimum}, got {value!r}")
    if size + 2 * padding < kernel_size:
        raise InputError(f"conv_output_size: the kernel ({kernel_size}) is larger than the padded input "
                         f"({size} + 2·{padding} = {size + 2 * padding})")
    return (size + 2 * padding - kernel_size) // stride + 1


def _images(x, who: str, name: str = "x") -> np.ndarray:
    """``x`` as a float array of shape (N, C, H, W), or an error naming ``who`` (with the fix for one image)."""
    x = _float_array(x, who)
    if x.ndim != 4:
        raise InputError(f"{who}: {name} must have shape (N, C, H, W), got {x.shape}"
                         + (f" — one image? add the batch axis with {name}[None]" if x.ndim == 3 else ""))
    return x


def _check_fits(x_shape: tuple, kernel_size, padding, who: str) -> None:
    (kh, kw), (ph, pw), (h, w) = kernel_size, padding, x_shape[2:]
    if h + 2 * ph < kh or w + 2 * pw < kw:
        raise InputError(f"{who}: the kernel ({kh}×{kw}) is larger than the padded input ({h + 2 * ph}×{w + 2 * pw} "
                         f"from an input of shape {tuple(x_shape)})")


def pad2d(x: np.ndarray, padding, value: float = 0.0) -> np.ndarray:
    """Pad the last two axes: x (N, C, H, W) → (N, C, H + 2·ph, W + 2·pw); ``x`` itself when padding is 0.

    ``padding`` is an int or a pair (ph, pw) of ints ≥ 0.
    """
    x = _images(x, "pad2d")
    ph, pw = as_pair(padding, "pad2d", "padding", minimum=0)
    if ph == pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def sliding_windows(x: np.ndarray, kernel_size, stride=1, padding=0, pad_value: float = 0.0) -> np.ndarray:
    r"""Every kernel-sized window of the padded input, as a strided view (no copy after padding).

    x (N, C, H, W) → (N, C, H', W', KH, KW): ``[n, c, i, j]`` is the window under output pixel (i, j), and
    ``[n, c, i, j, p, q]`` is :math:`x^{\text{pad}}_{n,\,c,\,i s + p,\,j s + q}`; the padding holds ``pad_value``.
    """
    kernel_size = as_pair(kernel_size, "sliding_windows", "kernel_size")
    (sh, sw), padding = as_pair(stride, "sliding_windows", "stride"), as_pair(padding, "sliding_windows", "padding", 0)
    x = _images(x, "sliding_windows")
    _check_fits(x.shape, kernel_size, padding, "sliding_windows")
    windows = np.lib.stride_tricks.sliding_window_view(pad2d(x, padding, pad_value), kernel_size, axis=(2, 3))
    return windows[:, :, ::sh, ::sw]


def im2col(x: np.ndarray, kernel_size, stride=1, padding=0) -> np.ndarray:
    r"""Unfold every receptive field into a column, so that a convolution becomes one matrix product.

    x (N, C, H, W) → cols (N, C·KH·KW, H'·W'), ordered like a weight (C_out, C, KH, KW) reshaped to
    (C_out, C·KH·KW): then ``weight.reshape(C_out, -1) @ cols`` is the convolution, shaped (N, C_out, H'·W').
    """
    kernel_size, stride = as_pair(kernel_size, "im2col", "kernel_size"), as_pair(stride, "im2col", "stride")
    padding = as_pair(padding, "im2col", "padding", minimum=0)
    x = _images(x, "im2col")
    _check_fits(x.shape, kernel_size, padding, "im2col")
    windows = sliding_windows(x, kernel_size, stride, padding)
    n, c, oh, ow, kh, kw = windows.shape
    return windows.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow)


def col2im(cols: np.ndarray, x_shape: tuple, kernel_size, stride=1, padding=0) -> np.ndarray:
    """The adjoint of :func:`im2col`: add every column back onto the pixels it was read from.

    cols (N, C·KH·KW, H'·W') → (N, C, H, W). A pixel read by several windows receives the sum of their
    entries — exactly dL/dx when ``cols`` holds dL/d(cols). Loops over the KH·KW kernel offsets only.
    """
    (kh, kw), (sh, sw) = as_pair(kernel_size, "col2im", "kernel_size"), as_pair(stride, "col2im", "stride")
    ph, pw = as_pair(padding, "col2im", "padding", minimum=0)
    if len(x_shape) != 4 or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1 for v in x_shape):
        raise InputError(f"col2im: x_shape must be the image batch's shape (N, C, H, W), got {x_shape!r}")
    n, c, h, w = x_shape
    _check_fits(x_shape, (kh, kw), (ph, pw), "col2im")
    oh, ow = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
    cols = _float_array(cols, "col2im")
    if cols.shape != (n, c * kh * kw, oh * ow):
        raise InputError(f"col2im: cols must have shape (N, C·KH·KW, H'·W') = {(n, c * kh * kw, oh * ow)} for an "
                         f"input of shape {tuple(x_shape)}, got {cols.shape}")
    cols = cols.reshape(n, c, kh, kw, oh, ow)
    padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for p in range(kh):
        for q in range(kw):
            padded[:, :, p:p + sh * oh:sh, q:q + sw * ow:sw] += cols[:, :, p, q]
    return padded[:, :, ph:ph + h, pw:pw + w]


def conv2d_naive(x, weight, bias=None, stride=1, padding=0) -> np.ndarray:
    r"""The convolution layer written as its definition: one loop per index. Slow; for reading and testing.

    .. math::
        y_{n,o,i,j} = b_o + \sum_{c}\sum_{p}\sum_{q} w_{o,c,p,q}\; x^{\text{pad}}_{n,\,c,\,i s + p,\,j s + q}

    Like every deep-learning library this is a cross-correlation: the kernel is not flipped.
    Shapes: x (N, C, H, W), weight (C_out, C, KH, KW), bias (C_out,) or None → y (N, C_out, H', W').
    """
    x, weight = _images(x, "conv2d_naive"), _float_array(weight, "conv2d_naive")
    (sh, sw), padding = as_pair(stride, "conv2d_naive", "stride"), as_pair(padding, "conv2d_naive", "padding", 0)
    n, c, h, w = x.shape
    if weight.ndim != 4 or weight.shape[1] != c:
        raise InputError(f"conv2d_naive: weight must have shape (C_out, {c}, KH, KW) for an input with {c} channels, "
                         f"got {weight.shape}")
    c_out, _, kh, kw = weight.shape
    if bias is not None and np.shape(bias) != (c_out,):
        raise InputError(f"conv2d_naive: bias must have shape ({c_out},), one per output channel, got {np.shape(bias)}")
    _check_fits(x.shape, (kh, kw), padding, "conv2d_naive")
    xp = pad2d(x, padding)
    oh, ow = conv_output_size(h, kh, sh, padding[0]), conv_output_size(w, kw, sw, padding[1])
    y = np.zeros((n, c_out, oh, ow), dtype=np.result_type(x, weight))
    for b in range(n):
        for o in range(c_out):
            for i in range(oh):
                for j in range(ow):
                    patch = xp[b, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    y[b, o, i, j] = np.sum(patch * weight[o]) + (0 if bias is None else bias[o])
    return y


# --- attention -------------------------------------------------------------------------------------------------

def causal_mask(length: int, key_length: int | None = None) -> np.ndarray:
    """Boolean (length, key_length) mask, True where query i may attend to key j, i.e. j ≤ i (no peeking ahead)."""
    key_length = length if key_length is None else key_length
    for value, name in ((length, "length"), (key_length, "key_length")):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise InputError(f"causal_mask: {name} must be a positive integer, got {value!r}")
    return np.tril(np.ones((length, key_length), dtype=bool))


def scaled_dot_product_attention(q, k, v, mask=None) -> tuple[np.ndarray, np.ndarray]:
    r"""Attention: every query takes a softmax-weighted average of the values, weighted by query–key similarity.

    .. math::
        A = \operatorname{softmax}\Big(\frac{Q K^\top}{\sqrt{d_k}}\Big), \qquad \text{output} = A V

    Dividing by :math:`\sqrt{d_k}` keeps the scores' variance near 1 whatever :math:`d_k` (a dot product of two
    random unit-variance vectors has variance :math:`d_k`), so the softmax does not saturate.

    Args:
        q: (..., T_q, d_k); k: (..., T_k, d_k); v: (..., T_k, d_v); the leading axes (batch, heads) broadcast.
        mask: boolean, broadcastable to (..., T_q, T_k); True where a query may attend to a key (PyTorch's
            ``F.scaled_dot_product_attention`` convention). Masked scores get weight exactly 0.

    Returns:
        ``(output (..., T_q, d_v), weights A (..., T_q, T_k))`` — each row of A sums to 1.
    """
    q, k, v = (_float_array(a, "scaled_dot_product_attention") for a in (q, k, v))
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise InputError(f"scaled_dot_product_attention: q (..., T_q, d_k), k (..., T_k, d_k) and v (..., T_k, d_v) "
                         f"must agree on d_k and T_k, got q {q.shape}, k {k.shape}, v {v.shape}")
    scores = q @ np.swapaxes(k, -1, -2)
    scores *= 1 / np.sqrt(q.shape[-1])
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype != bool:
            raise DTypeError(f"scaled_dot_product_attention: mask must be boolean (True = may attend), "
                             f"got dtype {mask.dtype}")
        try:
            allowed = np.broadcast_to(mask, scores.shape)
        except ValueError:
            raise InputError(f"scaled_dot_product_attention: mask of shape {mask.shape} does not broadcast to the "
                             f"scores' shape (..., T_q, T_k) = {scores.shape}") from None
        if not allowed.any(axis=-1).all():
            raise InputError("scaled_dot_product_attention: some query may attend to no key at all (a mask row "
                             "is all False); its weights would be 0/0")
        scores = np.where(allowed, scores, -np.inf)
    weights = softmax(scores, axis=-1)
    return weights @ v, weights


def scaled_dot_product_attention_backward(grad_out, q, k, v, weights) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""dL/dq, dL/dk, dL/dv of :func:`scaled_dot_product_attention`, given its weights A and dL/d(output) G.

    .. math::
        \frac{\partial L}{\partial V} = A^\top G, \qquad
        \frac{\partial L}{\partial A} = G V^\top, \qquad
        \frac{\partial L}{\partial S} = A \odot \Big(\frac{\partial L}{\partial A}
            - \operatorname{rowsum}\big(\tfrac{\partial L}{\partial A} \odot A\big)\Big),

        \frac{\partial L}{\partial Q} = \frac{1}{\sqrt{d_k}} \frac{\partial L}{\partial S} K, \qquad
        \frac{\partial L}{\partial K} = \frac{1}{\sqrt{d_k}} \Big(\frac{\partial L}{\partial S}\Big)^\top Q

    (S are the scaled scores; the softmax step is :func:`softmax_backward`. Masked entries have A = 0, so they
    receive no gradient.) Shapes: as in the forward; returns arrays shaped like q, k and v.
    """
    if np.shape(weights)[-2:] != (q.shape[-2], k.shape[-2]) or np.shape(grad_out)[-2:] != (q.shape[-2], v.shape[-1]):
        raise InputError("scaled_dot_product_attention_backward: weights must be the forward's (..., T_q, T_k) = "
                         f"(..., {q.shape[-2]}, {k.shape[-2]}) and grad_out (..., T_q, d_v) = (..., {q.shape[-2]}, "
                         f"{v.shape[-1]}), got {np.shape(weights)} and {np.shape(grad_out)}")
    grad_v = np.swapaxes(weights, -1, -2) @ grad_out
    grad_scores = softmax_backward(weights, grad_out @ np.swapaxes(v, -1, -2))
    grad_scores *= 1 / np.sqrt(q.shape[-1])
    return grad_scores @ k, np.swapaxes(grad_scores, -1, -2) @ q, grad_v


def split_heads(x: np.ndarray, num_heads: int) -> np.ndarray:
    """(N, T, E) → (N, h, T, E/h): head j gets features j·E/h … (j+1)·E/h − 1 of every step.

    The reshape splits the feature axis (N, T, h, E/h), the transpose brings the heads forward; reshaping straight to
    (N, h, T, E/h) would mix steps and heads.
    """
    if np.ndim(x) != 3:
        raise InputError(f"split_heads: x must have shape (N, T, E), got {np.shape(x)}")
    n, t, e = x.shape
    if isinstance(num_heads, bool) or not isinstance(num_heads, numbers.Integral) or num_heads < 1 or e % num_heads:
        raise InputError(f"split_heads: num_heads must be a positive integer dividing E = {e}, got {num_heads!r}")
    return x.reshape(n, t, num_heads, e // num_heads).transpose(0, 2, 1, 3)


def merge_heads(x: np.ndarray) -> np.ndarray:
    """The inverse of :func:`split_heads`: (N, h, T, E/h) → (N, T, E), the heads' features side by side."""
    if np.ndim(x) != 4:
        raise InputError(f"merge_heads: x must have shape (N, h, T, E/h), as split_heads returns, got {np.shape(x)}")
    n, _, t, _ = x.shape
    return x.transpose(0, 2, 1, 3).reshape(n, t, -1)


def sinusoidal_positions(length: int, d_model: int, dtype=np.float64) -> np.ndarray:
    r"""The sinusoidal positional encoding of "Attention is all you need", (length, d_model).

    .. math::
        PE_{t, 2i} = \sin\big(t / 10000^{2i/d}\big), \qquad PE_{t, 2i+1} = \cos\big(t / 10000^{2i/d}\big)

    Each pair of features is a clock at its own frequency, from one turn per 2π positions down to one per
    10000·2π; for every offset k, :math:`PE_{t+k}` is a fixed rotation of :math:`PE_t`.
    """
    for value, name in ((length, "length"), (d_model, "d_model")):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise InputError(f"sinusoidal_positions: {name} must be a positive integer, got {value!r}")
    angles = np.arange(length)[:, None] / 10000 ** (np.arange(0, d_model, 2) / d_model)
    positions = np.empty((length, d_model))
    positions[:, 0::2] = np.sin(angles)
    positions[:, 1::2] = np.cos(angles[:, :d_model // 2])
    return positions.astype(dtype)
