"""nnlib.autograd.Value: every operation's local derivative, the chain rule over shared nodes, torch agreement."""

import math

import numpy as np
import pytest

from nnlib import InputError, Linear, Sigmoid, SquaredError, Value
from nnlib.gradcheck import numerical_gradient, relative_error

UNARY = {
    "exp": lambda v: v.exp(),
    "log": lambda v: v.log(),
    "tanh": lambda v: v.tanh(),
    "sigmoid": lambda v: v.sigmoid(),
    "relu": lambda v: v.relu(),
    "neg": lambda v: -v,
    "square": lambda v: v**2,
    "cube": lambda v: v**3,
    "sqrt": lambda v: v**0.5,
    "reciprocal": lambda v: 1 / v,
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "radd": lambda a, b: 2.5 + a * b,
    "rsub": lambda a, b: 2.5 - a * b,
    "rmul": lambda a, b: 2.5 * a - b,
    "rdiv": lambda a, b: 2.5 / (a + b),
    "shared": lambda a, b: a * a + a * b,  # a is used three times: its gradient must sum over the uses
}


def value_gradient(function, *xs):
    leaves = [Value(x) for x in xs]
    out = function(*leaves)
    out.backward()
    return out.data, np.array([leaf.grad for leaf in leaves])


def finite_difference(function, *xs):
    point = np.array(xs, dtype=np.float64)
    return numerical_gradient(lambda: function(*(Value(x) for x in point)).data, point)


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("x", [0.7, 1.9])
def test_unary_derivatives_match_finite_differences(name, x):
    _, grad = value_gradient(UNARY[name], x)
    assert relative_error(grad, finite_difference(UNARY[name], x)) < 1e-7


@pytest.mark.parametrize("name", BINARY)
def test_binary_derivatives_match_finite_differences(name):
    _, grad = value_gradient(BINARY[name], 0.8, -1.3)
    assert relative_error(grad, finite_difference(BINARY[name], 0.8, -1.3)) < 1e-7


def test_relu_derivative_is_zero_on_the_negative_side_and_at_zero():
    assert value_gradient(UNARY["relu"], -0.5)[1][0] == 0.0
    assert value_gradient(UNARY["relu"], 0.0)[1][0] == 0.0
    assert value_gradient(UNARY["relu"], 0.5)[1][0] == 1.0


def test_sigmoid_is_stable_far_from_zero():
    assert Value(-800.0).sigmoid().data == 0.0
    assert Value(800.0).sigmoid().data == 1.0


def test_backward_resets_instead_of_accumulating_across_calls():
    a = Value(3.0)
    out = a * a
    out.backward()
    out.backward()
    assert a.grad == 6.0


def test_nodes_are_in_forward_order_and_each_appears_once():
    a, b = Value(1.0, "a"), Value(2.0, "b")
    c = (a * b).named("c")
    d = (c + a).named("d")
    e = (d * c).named("e")
    order = e.nodes()
    assert len(order) == len({id(n) for n in order}) == 5
    assert order[-1] is e
    for node in order:
        assert all(order.index(child) < order.index(node) for child in node.children)


def test_a_deep_graph_does_not_hit_the_recursion_limit():
    x = Value(0.5)
    y = x
    for _ in range(5000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad == 1.0


def test_local_rule_describes_the_chain_rule_step():
    w, x = Value(2.0, "w"), Value(3.0, "x")
    out = (w * x).named("p")
    out.backward()
    assert out.local_rule() == "p = *(…): w.grad += 3 × 1; x.grad += 2 × 1"
    assert w.local_rule() == "w is a leaf: its grad is what reached it"
    assert repr(out) == "Value(p=6, grad=1)"


def network_222(i1, i2, t1, t2, w, b1, b2):
    """The 2-2-2 network of the slides as a Value graph; returns E_total."""
    out_h1 = (w[0] * i1 + w[1] * i2 + b1).sigmoid()
    out_h2 = (w[2] * i1 + w[3] * i2 + b1).sigmoid()
    out_o1 = (w[4] * out_h1 + w[5] * out_h2 + b2).sigmoid()
    out_o2 = (w[6] * out_h1 + w[7] * out_h2 + b2).sigmoid()
    return 0.5 * (t1 - out_o1) ** 2 + 0.5 * (t2 - out_o2) ** 2


def test_the_slides_network_matches_nnlib_layers():
    w = [Value(x) for x in (0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55)]
    b1, b2 = Value(0.35), Value(0.60)
    error = network_222(0.05, 0.10, 0.01, 0.99, w, b1, b2)
    error.backward()

    hidden, output = Linear(2, 2, dtype=np.float64), Linear(2, 2, dtype=np.float64)
    hidden.weight.data[:] = [[0.15, 0.25], [0.20, 0.30]]  # weight[i, j]: input i -> neuron j
    output.weight.data[:] = [[0.40, 0.50], [0.45, 0.55]]
    hidden.bias.data[:], output.bias.data[:] = 0.35, 0.60
    act_h, act_o, loss = Sigmoid(), Sigmoid(), SquaredError()
    value = loss(act_o(output(act_h(hidden(np.array([[0.05, 0.10]]))))), np.array([[0.01, 0.99]]))
    hidden.backward(act_h.backward(output.backward(act_o.backward(loss.backward()))))

    assert math.isclose(error.data, value, rel_tol=1e-14)
    assert math.isclose(error.data, 0.298371109, abs_tol=5e-10)
    assert np.allclose([v.grad for v in w[:4]], hidden.weight.grad.T.ravel(), rtol=1e-12)
    assert np.allclose([v.grad for v in w[4:]], output.weight.grad.T.ravel(), rtol=1e-12)
    assert math.isclose(b1.grad, hidden.bias.grad.sum(), rel_tol=1e-12)  # one bias shared by both neurons
    assert math.isclose(b2.grad, output.bias.grad.sum(), rel_tol=1e-12)


def test_gradients_agree_with_torch(torch):
    xs = (0.3, -1.2, 2.0)

    def expression(a, b, c, lib_tanh, lib_exp):
        return lib_tanh(a * b + c) / (1 + lib_exp(-a)) - (b - c) ** 2 * a

    data, grad = value_gradient(lambda a, b, c: expression(a, b, c, Value.tanh, Value.exp), *xs)
    leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    out = expression(*leaves, torch.tanh, torch.exp)
    out.backward()
    assert math.isclose(data, out.item(), rel_tol=1e-14)
    assert np.allclose(grad, [t.grad.item() for t in leaves], rtol=1e-12)


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda: Value("1.0"), InputError, "data must be a finite real number"),
    (lambda: Value(float("nan")), InputError, "data must be a finite real number"),
    (lambda: Value(True), InputError, "data must be a finite real number"),
    (lambda: Value(1.0, label=3), TypeError, "label must be a str"),
    (lambda: Value(1.0) + "2", TypeError, "expected a Value or a real number"),
    (lambda: Value(1.0) * np.array([1.0, 2.0]), TypeError, "expected a Value or a real number"),
    (lambda: Value(1.0) / 0, InputError, "division by zero"),
    (lambda: Value(0.0).log(), InputError, "log needs a positive input"),
    (lambda: Value(800.0).exp(), InputError, "overflows"),
    (lambda: Value(-2.0) ** 0.5, InputError, "expected an integer exponent"),
    (lambda: Value(0.0) ** -1, InputError, "expected a non-zero base"),
    (lambda: Value(1e200) ** 2, InputError, "overflows"),
    (lambda: Value(1e300) * 1e300, InputError, "is not finite"),
    (lambda: Value(2.0) ** Value(2.0), InputError, r"the exponent of \*\* must be a finite real number"),
])
def test_bad_input_is_refused_with_a_clear_message(make, error, message):
    with pytest.raises(error, match=message):
        make()
