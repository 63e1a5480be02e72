"""Parameter, Module and Sequential: the three classes every layer is built from.

The contract, shared with every layer in :mod:`nnlib.layers`:

* ``forward(x)`` computes the output and caches on ``self`` what ``backward`` needs;
* ``backward(grad_out)`` takes dL/d(output), ACCUMULATES (``+=``) dL/d(parameter) into each
  ``Parameter.grad`` whose ``requires_grad`` is true, and returns dL/d(input);
* ``zero_grad()`` resets the accumulated gradients, ``train()`` / ``eval()`` switch modes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from ._checks import InputError


class Parameter:
    """A trainable array with its gradient.

    Attributes:
        data: the values, any shape.
        grad: dL/d(data), same shape and dtype as ``data``; layers accumulate into it.
        name: the attribute name inside its layer (``"weight"``, ``"bias"``).
        requires_grad: when false, backward leaves ``grad`` untouched and optimizers skip it.
    """

    def __init__(self, data, name: str = "", requires_grad: bool = True):
        self.data = np.asarray(data)
        if self.data.dtype.kind != "f":
            raise InputError(f"Parameter {name!r}: data must be floating point, got dtype {self.data.dtype}")
        self.grad = np.zeros_like(self.data)
        self.name = name
        self.requires_grad = requires_grad

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if not isinstance(flag, (bool, np.bool_)):
            raise InputError(f"Parameter {self.name!r}: requires_grad must be True or False, got {flag!r}")
        self._requires_grad = bool(flag)

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    def zero_grad(self) -> None:
        self.grad.fill(0)

    def __repr__(self) -> str:
        frozen = "" if self.requires_grad else ", requires_grad=False"
        return f"Parameter({self.name!r}, shape={self.shape}, dtype={self.dtype}{frozen})"


class LoadResult(NamedTuple):
    """What :meth:`Module.load_state_dict` with ``strict=False`` left out: parameter names, sorted."""

    missing: list[str]
    unexpected: list[str]


class Module:
    """Base class of every layer and model. Subclasses implement ``forward`` and ``backward``."""

    training: bool = True
    _cache = None

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, grad_out):
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # --- the tree of sub-modules and parameters -------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct sub-modules, in the order they were assigned (lists of modules count too)."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, Module):
                        yield f"{name}.{i}", item

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """``("0.weight", Parameter)`` pairs, depth first, each parameter once (shared ones too)."""
        seen: set[int] = set()
        for name, param in self._named_parameters_with_duplicates(prefix):
            if id(param) not in seen:
                seen.add(id(param))
                yield name, param

    def _named_parameters_with_duplicates(self, prefix: str):
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
        for name, child in self.named_children():
            yield from child._named_parameters_with_duplicates(f"{prefix}{name}.")

    def parameters(self) -> list[Parameter]:
        return [param for _, param in self.named_parameters()]

    def modules(self) -> Iterator[Module]:
        """This module and every sub-module, depth first."""
        yield self
        for _, child in self.named_children():
            yield from child.modules()

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.size for p in self.parameters() if p.requires_grad or not trainable_only)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (``False``) or unfreeze (``True``) every parameter of this module; returns the module.

        A frozen parameter keeps its values: backward still passes dL/d(input) through the layer but leaves the
        parameter's ``grad`` alone, and every optimizer, penalty and clipping function skips it.
        """
        for param in self.parameters():
            param.requires_grad = requires_grad
        return self

    # --- state -------------------------------------------------------------------------------
    def zero_grad(self) -> None:
        for param in self.parameters():
            param.zero_grad()

    def train(self, mode: bool = True) -> Module:
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter's values, keyed by its dotted name."""
        return {name: param.data.copy() for name, param in self.named_parameters()}

    def load_state_dict(self, state: dict, strict: bool = True) -> LoadResult:
        """Copy values into the parameters, matched by name; shapes and dtypes must match exactly.

        With ``strict=True`` the names must match too. With ``strict=False`` only the names both sides share are
        loaded (e.g. a pretrained feature extractor into a model with a new head), and the returned
        :class:`LoadResult` lists the ``missing`` and ``unexpected`` names. A shared name with the wrong shape or
        dtype is an error either way. Nothing is modified unless everything checks, so a failed load leaves the
        model as it was.
        """
        who = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, dict):
            raise InputError(f"{who}: state must be a dict of {{name: array}} (as state_dict() returns), "
                             f"got {type(state).__name__}")
        params = dict(self.named_parameters())
        result = LoadResult(sorted(set(params) - set(state)), sorted(set(state) - set(params)))
        if strict and (result.missing or result.unexpected):
            raise InputError(f"{who}: names do not match; missing {result.missing or 'none'}, "
                             f"unexpected {result.unexpected or 'none'} (strict=False loads the shared names only)")
        shared = {name: (param, np.asarray(state[name])) for name, param in params.items() if name in state}
        for name, (param, value) in shared.items():
            if value.shape != param.shape or value.dtype != param.dtype:
                raise InputError(f"{who}: parameter {name!r} expects shape {param.shape} and dtype {param.dtype}, "
                                 f"got shape {value.shape} and dtype {value.dtype}")
        for param, value in shared.values():
            param.data[...] = value
        return result

    # --- forward/backward bookkeeping ----------------------------------------------------------
    def _saved(self):
        """What ``forward`` cached for ``backward``; a clear error if forward has not run."""
        if self._cache is None:
            raise RuntimeError(f"{self}.backward called before forward: run the forward pass first")
        return self._cache

    def extra_repr(self) -> str:
        """The constructor arguments shown by ``repr`` (override in layers)."""
        return ""

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({name}): " + repr(child).replace("\n", "\n  ") for name, child in children]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


class Sequential(Module):
    """Layers applied in order; backward runs them in reverse.

    ``Sequential(Linear(2, 2), Sigmoid(), Linear(2, 2), Sigmoid())`` is the 2-2-2 network of the notes;
    its parameters are named ``"0.weight"``, ``"0.bias"``, ``"2.weight"``, ``"2.bias"``.
    """

    def __init__(self, *layers: Module):
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise InputError(f"Sequential: argument {i} must be a Module, got {type(layer).__name__}")
        self.layers = list(layers)

    def named_children(self):
        for i, layer in enumerate(self.layers):
            yield str(i), layer

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def backward(self, grad_out):
        for layer in reversed(self.layers):
            grad_out = layer.backward(grad_out)
        return grad_out

    def append(self, layer: Module) -> Sequential:
        if not isinstance(layer, Module):
            raise InputError(f"Sequential.append: expected a Module, got {type(layer).__name__}")
        self.layers.append(layer)
        return self

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(*self.layers[index])
        return self.layers[index]

    def __setitem__(self, index: int, layer: Module) -> None:
        if not isinstance(layer, Module):
            raise InputError(f"Sequential: item {index} must be a Module, got {type(layer).__name__}")
        self.layers[index] = layer

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)
