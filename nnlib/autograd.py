"""A scalar autograd engine, small enough to read in one sitting: the chain rule as a computational graph.

Every :class:`Value` remembers the Values it was computed from and how to send a gradient back to them.
``root.backward()`` visits the graph from the output to the leaves and applies, at each node, the local
rule ``child.grad += ∂node/∂child · node.grad`` — backpropagation is nothing more.

nnlib's layers do the same thing with whole arrays; this class exists to *show* the graph (see
:func:`nnlib.viz.draw_graph`), not to train models.
"""

from __future__ import annotations

import math
from numbers import Real

from ._checks import InputError, check_real


class Value:
    """A scalar in a computational graph.

    Attributes:
        data: the forward value (float).
        grad: ∂root/∂self after ``root.backward()`` (float; 0.0 before).
        op: how the Value was computed ("" for a leaf, else "+", "*", "**2", "exp", "sigmoid", ...).
        children: the Values it was computed from.
        label: a name to show in drawings ("w5", "net_h1", ...).
    """

    __slots__ = ("data", "grad", "op", "children", "label", "_local_grads")  # name is a property

    def __init__(self, data, label: str = ""):
        self.data = check_real(data, "Value", "data")
        self.grad = 0.0
        self.op = ""
        self.children: tuple[Value, ...] = ()
        self.label = _check_label(label)
        self._local_grads: tuple[float, ...] = ()

    @classmethod
    def _result(cls, data: float, op: str, children: tuple[Value, ...], local_grads: tuple[float, ...]) -> Value:
        """A computed node: ``local_grads[i]`` is ∂data/∂children[i], fixed at forward time."""
        if not math.isfinite(data):
            raise InputError(f"Value: {op} of {', '.join(f'{c.data:g}' for c in children)} is not finite ({data})")
        out = cls.__new__(cls)
        out.data, out.grad, out.op, out.children, out.label = float(data), 0.0, op, children, ""
        out._local_grads = local_grads
        return out

    def named(self, label: str) -> Value:
        """Give this Value a label and return it, so a line can compute and name: ``(w1 * i1).named("p")``."""
        self.label = _check_label(label)
        return self

    @property
    def name(self) -> str:
        """What drawings call this Value: its label, else its operation, else (an unnamed constant such as the
        0.5 of ``0.5 * e ** 2``) its value, e.g. ``"0.5"``. Never empty."""
        return self.label or self.op or f"{self.data:g}"

    def __repr__(self) -> str:
        name = f"{self.label}=" if self.label else ""
        return f"Value({name}{self.data:.6g}, grad={self.grad:.6g})"

    # --- arithmetic: each operation records ∂out/∂input for every input -------------------------------------

    def __add__(self, other) -> Value:
        other = _as_value(other, "+")
        return Value._result(self.data + other.data, "+", (self, other), (1.0, 1.0))

    def __mul__(self, other) -> Value:
        other = _as_value(other, "*")
        return Value._result(self.data * other.data, "*", (self, other), (other.data, self.data))

    def __pow__(self, exponent) -> Value:
        k = check_real(exponent, "Value", "the exponent of **")
        if self.data == 0 and k < 1:
            raise InputError(f"Value: 0 ** {k:g} has no finite derivative; expected a non-zero base")
        if self.data < 0 and not k.is_integer():
            raise InputError(f"Value: ({self.data:g}) ** {k:g} is not real; expected an integer exponent")
        try:
            power, slope = self.data ** k, k * self.data ** (k - 1)
        except OverflowError:
            raise InputError(f"Value: {self.data:g} ** {k:g} overflows a float") from None
        return Value._result(power, f"**{k:g}", (self,), (slope,))

    def __sub__(self, other) -> Value:
        other = _as_value(other, "-")
        return Value._result(self.data - other.data, "-", (self, other), (1.0, -1.0))

    def __truediv__(self, other) -> Value:
        other = _as_value(other, "/")
        if other.data == 0:
            raise InputError("Value: division by zero; expected a non-zero divisor")
        return Value._result(self.data / other.data, "/", (self, other),
                             (1.0 / other.data, -self.data / other.data**2))

    def __neg__(self) -> Value:
        return Value._result(-self.data, "neg", (self,), (-1.0,))

    def __radd__(self, other) -> Value:
        return _as_value(other, "+") + self

    def __rmul__(self, other) -> Value:
        return _as_value(other, "*") * self

    def __rsub__(self, other) -> Value:
        return _as_value(other, "-") - self

    def __rtruediv__(self, other) -> Value:
        return _as_value(other, "/") / self

    def exp(self) -> Value:
        try:
            e = math.exp(self.data)
        except OverflowError:
            raise InputError(f"Value: exp({self.data:g}) overflows a float; expected an input below 709") from None
        return Value._result(e, "exp", (self,), (e,))

    def log(self) -> Value:
        if self.data <= 0:
            raise InputError(f"Value: log needs a positive input, got {self.data:g}")
        return Value._result(math.log(self.data), "log", (self,), (1.0 / self.data,))

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        return Value._result(t, "tanh", (self,), (1.0 - t * t,))

    def sigmoid(self) -> Value:
        s = _sigmoid(self.data)
        return Value._result(s, "sigmoid", (self,), (s * (1.0 - s),))

    def relu(self) -> Value:
        return Value._result(max(self.data, 0.0), "relu", (self,), (float(self.data > 0),))

    # --- the backward pass ---------------------------------------------------------------------------------

    def nodes(self) -> list[Value]:
        """Every Value this one depends on, itself last, in an order where children come before parents."""
        order, seen = [], set()
        stack = [(self, False)]
        while stack:  # iterative depth-first search: deep graphs must not hit Python's recursion limit
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((child, False) for child in reversed(node.children) if id(child) not in seen)
        return order

    def backward(self) -> None:
        """Fill ``.grad`` of every node with ∂self/∂node (previous gradients are reset, not accumulated)."""
        order = self.nodes()
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            node._send_grad()

    def _send_grad(self) -> None:
        """The chain rule at one node: each child gets ∂self/∂child · ∂root/∂self (summed over its uses)."""
        for child, local in zip(self.children, self._local_grads, strict=True):
            child.grad += local * self.grad

    def local_rule(self) -> str:
        """The chain-rule step this node applies during backward, as text (for lessons and widgets)."""
        if not self.children:
            return f"{self.name} is a leaf: its grad is what reached it"
        parts = [f"{child.name}.grad += {local:.6g} × {self.grad:.6g}"
                 for child, local in zip(self.children, self._local_grads, strict=True)]
        return f"{self.name} = {self.op}(…): " + "; ".join(parts)


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)  # the same value without overflowing exp(-x) for very negative x
    return e / (1.0 + e)


def _as_value(other, op: str) -> Value:
    if isinstance(other, Value):
        return other
    if isinstance(other, Real) and not isinstance(other, bool):
        return Value(other)
    raise TypeError(f"Value: cannot apply {op!r} to a {type(other).__name__}; expected a Value or a real number")


def _check_label(label) -> str:
    if not isinstance(label, str):
        raise TypeError(f"Value: label must be a str, got {type(label).__name__}")
    return label

