"""Layer benchmarks: one forward and one backward pass (float32, input gradient included) on each side.

Each builder returns :class:`~harness.Case` objects for full-size shapes, or tiny ones with ``smoke=True``
(CI runs those once, so that the scripts cannot rot).
"""

from __future__ import annotations

import numpy as np
from harness import Case

import nnlib


def _layer_case(name: str, layer: nnlib.Module, twin, x: np.ndarray, note: str = "") -> Case:
    """Time ``layer`` forward + backward against the torch module ``twin`` on the same input."""
    import torch

    grad_out = np.random.default_rng(1).standard_normal(layer(x).shape).astype(np.float32)
    x_torch = torch.tensor(x, requires_grad=True)
    grad_torch = torch.tensor(grad_out)

    def run_nnlib():
        layer.zero_grad()
        layer(x)
        return layer.backward(grad_out)

    def run_torch():
        x_torch.grad = None
        twin.zero_grad(set_to_none=True)
        twin(x_torch).backward(grad_torch)
        return x_torch.grad

    return Case(name, run_nnlib, run_torch, "torch", note)


def conv_cases(smoke: bool = False) -> list[Case]:
    """Conv2d 1→16 on 28×28 and 16→32 on 14×14 (3×3, padding 1), MaxPool2d 2×2 on 16×28×28; batch 64."""
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
    return cases


CASES = {"conv": conv_cases}
# The targets of issue 9 (ratio nnlib/torch, 1 thread).
TARGETS = {"Conv2d 1→16 on 28×28": 1.0, "Conv2d 16→32 on 14×14": 1.5, "MaxPool2d 2×2": 0.5}
