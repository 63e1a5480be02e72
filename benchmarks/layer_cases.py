"""Layer benchmarks: one forward and one backward pass (float32, input gradient included) on each side.

nnlib runs each layer twice: on its fast kernels (the default) and on the reference code the lessons teach
(``nnlib.use_fast_kernels(False)``), so the price of readability is in the table.

Each builder returns :class:`~harness.Case` objects for full-size shapes, or tiny ones with ``smoke=True``
(CI runs those once, so that the scripts cannot rot).
"""

from __future__ import annotations

import numpy as np
from harness import Case

import nnlib


def _first(output):
    """The main output of a layer: the output sequence of a recurrent layer's (output, state) pair."""
    return output[0] if isinstance(output, tuple) else output


def _layer_case(name: str, layer: nnlib.Module, twin, x: np.ndarray, note: str = "") -> Case:
    """Time ``layer`` forward + backward, on its fast kernels and on its reference, against the torch module
    ``twin`` on the same input."""
    import torch

    grad_out = np.random.default_rng(1).standard_normal(_first(layer(x)).shape).astype(np.float32)
    x_torch = torch.tensor(x, requires_grad=True)
    grad_torch = torch.tensor(grad_out)

    def run_nnlib():
        layer.zero_grad()
        layer(x)
        return layer.backward(grad_out)

    def run_reference():
        with nnlib.use_fast_kernels(False):
            return run_nnlib()

    def run_torch():
        x_torch.grad = None
        twin.zero_grad(set_to_none=True)
        _first(twin(x_torch)).backward(grad_torch)
        return x_torch.grad

    return Case(name, run_nnlib, run_torch, "torch", note, reference=run_reference)


def dense_cases(smoke: bool = False) -> list[Case]:
    """Linear 784→512 on a batch of 256, and the three bare NumPy matmuls its forward + backward consist of."""
    import torch

    batch, n_in, n_out = (4, 6, 5) if smoke else (256, 784, 512)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, n_in)).astype(np.float32)
    layer = nnlib.Linear(n_in, n_out, rng=0)
    weight, grad_out = layer.weight.data, rng.standard_normal((batch, n_out)).astype(np.float32)

    def bare_matmuls():  # y = x W, dW = xᵀ δ, dx = δ Wᵀ: the floor any implementation pays
        return x @ weight, x.T @ grad_out, grad_out @ weight.T

    note = f"batch {batch}, {n_in}→{n_out}"
    linear = _layer_case("Linear", layer, torch.nn.Linear(n_in, n_out), x, note)
    floor = Case(BARE_MATMULS, bare_matmuls, linear.peer, "torch", "the 3 products alone, NumPy's BLAS")
    return [linear, floor]


BARE_MATMULS = "Linear's 3 bare matmuls"


def conv_cases(smoke: bool = False) -> list[Case]:
    """Conv2d 1→16 on 28×28 and 16→32 on 14×14 (3×3, padding 1), MaxPool2d 2×2 on 16×28×28, and
    :func:`strided_conv_cases`; batch 64."""
    import torch

    batch = 2 if smoke else 64
    rng = np.random.default_rng(0)
    cases = []
    for c_in, c_out, size in ((1, 16, 28), (16, 32, 14)):
        x = rng.standard_normal((batch, c_in, size, size)).astype(np.float32)
        layer = nnlib.Conv2d(c_in, c_out, 3, padding=1, rng=0)
        twin = torch.nn.Conv2d(c_in, c_out, 3, padding=1)
        cases.append(_layer_case(f"Conv2d {c_in}→{c_out} on {size}×{size}", layer, twin, x,
                                 f"batch {batch}, 3×3, padding 1"))
    x = rng.standard_normal((batch, 16, 28, 28)).astype(np.float32)
    cases.append(_layer_case("MaxPool2d 2×2", nnlib.MaxPool2d(2), torch.nn.MaxPool2d(2), x,
                             f"batch {batch}, 16×28×28"))
    return cases + strided_conv_cases(smoke)


def strided_conv_cases(smoke: bool = False) -> list[Case]:
    """Conv2d 16→32 with stride 2 on 28×28 → 14×14 (3×3, padding 1), batch 64."""
    import torch

    batch = 2 if smoke else 64
    x = np.random.default_rng(0).standard_normal((batch, 16, 28, 28)).astype(np.float32)
    layer = nnlib.Conv2d(16, 32, 3, stride=2, padding=1, rng=0)
    twin = torch.nn.Conv2d(16, 32, 3, stride=2, padding=1)
    return [_layer_case(STRIDED_CONV, layer, twin, x, f"batch {batch}, 3×3, padding 1, 28×28 → 14×14")]


STRIDED_CONV = "Conv2d 16→32 with stride 2"


def recurrent_cases(smoke: bool = False) -> list[Case]:
    """RNN (tanh), LSTM and GRU over T=50 steps, batch 32, 16 inputs, 64 hidden units; BPTT over every step."""
    import torch

    batch, steps, inputs, hidden = (2, 3, 4, 5) if smoke else (32, 50, 16, 64)
    x = np.random.default_rng(0).standard_normal((batch, steps, inputs)).astype(np.float32)
    note = f"T={steps}, N={batch}, I={inputs}, H={hidden}"
    return [_layer_case(cls.__name__, cls(inputs, hidden, rng=0), getattr(torch.nn, cls.__name__)(
        inputs, hidden, batch_first=True), x, note) for cls in (nnlib.RNN, nnlib.LSTM, nnlib.GRU)]


def _self_attention_case(name: str, batch: int, steps: int, dim: int, heads: int) -> Case:
    """MultiHeadAttention(dim, heads) on a self-attention input (batch, steps, dim), against nn.MultiheadAttention
    with need_weights=False (its fast path)."""
    import torch

    x = np.random.default_rng(0).standard_normal((batch, steps, dim)).astype(np.float32)

    class SelfAttention(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.attention = torch.nn.MultiheadAttention(dim, heads, batch_first=True)

        def forward(self, x):
            return self.attention(x, x, x, need_weights=False)[0]

    return _layer_case(name, nnlib.MultiHeadAttention(dim, heads, rng=0), SelfAttention(), x,
                       f"N={batch}, T={steps}, d={dim}, {heads} heads, self-attention")


def attention_cases(smoke: bool = False) -> list[Case]:
    """Self-attention, d=64, 4 heads: N=32, T=64, and N=16 at T=256, where the score matrices (N·h·T² numbers) no
    longer fit in cache (one forward + backward on the reference code then takes about 0.06 s)."""
    dim, heads = (8, 2) if smoke else (64, 4)
    return [_self_attention_case("MultiHeadAttention", *((2, 3) if smoke else (32, 64)), dim, heads),
            _self_attention_case(LONG_ATTENTION, *((2, 5) if smoke else (16, 256)), dim, heads)]


LONG_ATTENTION = "MultiHeadAttention T=256"


CASES = {"dense": dense_cases, "conv": conv_cases, "recurrent": recurrent_cases, "attention": attention_cases}
# Targets, ratio nnlib/torch per thread count: issue 25's where it set one, issue 9's (1 thread) elsewhere.
TARGETS = {
    1: {"Linear": 1.0, "Conv2d 1→16 on 28×28": 1.0, "Conv2d 16→32 on 14×14": 1.0, STRIDED_CONV: 1.2,
        "MaxPool2d 2×2": 0.5, "RNN": 0.6, "GRU": 0.6, "LSTM": 1.2, "MultiHeadAttention": 1.0, LONG_ATTENTION: 1.2},
    2: {"Linear": 1.0, "Conv2d 16→32 on 14×14": 1.2, STRIDED_CONV: 1.3, "LSTM": 1.0, "MultiHeadAttention": 1.2,
        LONG_ATTENTION: 1.3},
}
