"""The slides' 2-2-2 worked example (Mazur), number by number, through nnlib's layers and through autograd Values.

Every published number of lesson 03 is asserted here, to the published digits, so the lesson's claims do not rest
on printed output alone; and nnlib's backward is compared with the notes' δ-rule matrix form on a random batch.
"""

import numpy as np
import pytest

from nnlib import SGD, Linear, Sequential, Sigmoid, SquaredError, fit
from nnlib.autograd import Value
from nnlib.exercises.lesson03 import HIDDEN_WEIGHTS as HIDDEN
from nnlib.exercises.lesson03 import OUTPUT_WEIGHTS as OUTPUT
from nnlib.exercises.lesson03 import SLIDES as PARAMS
from nnlib.exercises.lesson03 import SLIDES_INPUTS as INPUTS
from nnlib.exercises.lesson03 import SLIDES_TARGETS as TARGETS
from nnlib.exercises.lesson03 import layers_222
from nnlib.functional import sigmoid

ETA = 0.5
PUBLISHED_NEW = {"w1": "0.149780716", "w2": "0.19956143", "w3": "0.24975114", "w4": "0.29950229",
                 "w5": "0.35891648", "w6": "0.408666186", "w7": "0.511301270", "w8": "0.561370121"}
PUBLISHED_FORWARD = {"out_h1": "0.593269992", "out_o1": "0.75136507", "E_total": "0.298371109"}
PUBLISHED_DE_DW5 = "0.082167041"
PUBLISHED_ERROR_AFTER_10000 = "0.0000351085"


def agrees(value, published: str) -> bool:
    """``value`` rounds to the published decimal string (to its number of decimals)."""
    return abs(float(value) - float(published)) <= 0.5 * 10.0 ** -len(published.split(".")[1])


def slides_model(train_biases=False):
    hidden, output = layers_222(PARAMS)  # w1 (i1 -> h1) is hidden.weight[0, 0]: nnlib's weight is (in, out)
    hidden.bias.requires_grad = output.bias.requires_grad = train_biases
    return Sequential(hidden, Sigmoid(), output, Sigmoid())


X, T = np.array([INPUTS]), np.array([TARGETS])


@pytest.fixture
def stepped():
    """The model after one forward, backward and SGD(lr=0.5) step with frozen biases; and its forward values."""
    model, loss = slides_model(), SquaredError()
    out_h = model[1](model[0](X))
    out_o = model[3](model[2](out_h))
    forward = {"out_h1": out_h[0, 0], "out_o1": out_o[0, 0], "E_total": loss(out_o, T)}
    model.backward(loss.backward())
    grad_w5 = model[2].weight.grad[OUTPUT["w5"]]
    SGD(model.parameters(), lr=ETA).step()
    return model, forward, grad_w5


@pytest.mark.parametrize("name", PUBLISHED_FORWARD)
def test_nnlib_forward_pass_gives_the_published_values(stepped, name):
    _, forward, _ = stepped
    assert agrees(forward[name], PUBLISHED_FORWARD[name]), (name, forward[name])


def test_nnlib_gradient_of_w5_is_published(stepped):
    assert agrees(stepped[2], PUBLISHED_DE_DW5)


@pytest.mark.parametrize("name", PUBLISHED_NEW)
def test_one_sgd_step_gives_the_published_new_weights(stepped, name):
    model = stepped[0]
    layer, index = (model[0], HIDDEN[name]) if name in HIDDEN else (model[2], OUTPUT[name])
    assert agrees(layer.weight.data[index], PUBLISHED_NEW[name]), (name, layer.weight.data[index])


def test_published_example_keeps_the_biases(stepped):
    model = stepped[0]
    assert np.array_equal(model[0].bias.data, [0.35, 0.35]) and np.array_equal(model[2].bias.data, [0.60, 0.60])


def value_graph():
    v = {name: Value(value, name) for name, value in PARAMS.items()}
    i1, i2 = INPUTS
    out_h1 = (v["w1"] * i1 + v["w2"] * i2 + v["b1"]).sigmoid()
    out_h2 = (v["w3"] * i1 + v["w4"] * i2 + v["b1"]).sigmoid()
    out_o1 = (v["w5"] * out_h1 + v["w6"] * out_h2 + v["b2"]).sigmoid()
    out_o2 = (v["w7"] * out_h1 + v["w8"] * out_h2 + v["b2"]).sigmoid()
    E_total = 0.5 * (TARGETS[0] - out_o1) ** 2 + 0.5 * (TARGETS[1] - out_o2) ** 2
    E_total.backward()
    return {"out_h1": out_h1, "out_o1": out_o1, "E_total": E_total}, v


def test_autograd_values_give_every_published_number():
    forward, params = value_graph()
    for name, published in PUBLISHED_FORWARD.items():
        assert agrees(forward[name].data, published), name
    assert agrees(params["w5"].grad, PUBLISHED_DE_DW5)
    for name, published in PUBLISHED_NEW.items():
        assert agrees(params[name].data - ETA * params[name].grad, published), name


def test_autograd_gradients_equal_nnlib_backward_with_shared_biases_summed():
    _, params = value_graph()
    model, loss = slides_model(train_biases=True), SquaredError()
    loss(model(X), T)
    model.backward(loss.backward())
    for name, index in HIDDEN.items():
        assert np.isclose(params[name].grad, model[0].weight.grad[index], rtol=1e-12, atol=0)
    for name, index in OUTPUT.items():
        assert np.isclose(params[name].grad, model[2].weight.grad[index], rtol=1e-12, atol=0)
    assert np.isclose(params["b1"].grad, model[0].bias.grad.sum(), rtol=1e-12, atol=0)
    assert np.isclose(params["b2"].grad, model[2].bias.grad.sum(), rtol=1e-12, atol=0)


def test_ten_thousand_steps_reproduce_the_published_error_with_frozen_biases():
    model = slides_model(train_biases=False)
    history = fit(model, SquaredError(), SGD(model.parameters(), lr=ETA), X, T, epochs=10_000, batch_size=1, rng=0,
                  progress=False)
    error = history["loss"][-1]  # measured in the forward pass of step 10,000, before its update
    assert 3.4e-5 <= error <= 3.6e-5
    assert agrees(error, PUBLISHED_ERROR_AFTER_10000)
    assert np.array_equal(model[0].bias.data, [0.35, 0.35])


def delta_rule_changes(X, T, W1, b1, W2, b2):
    """The notes' δ rules in matrix form: −∂E/∂W1, −∂E/∂b1, −∂E/∂W2, −∂E/∂b2 for E = Σ ½(T − A_o)²."""
    A_h = sigmoid(X @ W1 + b1)
    A_o = sigmoid(A_h @ W2 + b2)
    delta_out = (T - A_o) * A_o * (1 - A_o)
    delta_h = (delta_out @ W2.T) * A_h * (1 - A_h)
    return X.T @ delta_h, delta_h.sum(axis=0), A_h.T @ delta_out, delta_out.sum(axis=0)


def test_nnlib_backward_equals_the_delta_rule_matrix_form_on_a_3_4_2_batch(rng):
    hidden, output = Linear(3, 4, rng=0, dtype=np.float64), Linear(4, 2, rng=1, dtype=np.float64)
    model, loss = Sequential(hidden, Sigmoid(), output, Sigmoid()), SquaredError()
    Xb, Tb = rng.normal(size=(6, 3)), rng.uniform(size=(6, 2))
    loss(model(Xb), Tb)
    model.backward(loss.backward())
    changes = delta_rule_changes(Xb, Tb, hidden.weight.data, hidden.bias.data, output.weight.data, output.bias.data)
    grads = [hidden.weight.grad, hidden.bias.grad, output.weight.grad, output.bias.grad]
    for change, grad in zip(changes, grads, strict=True):
        assert change.shape == grad.shape
        np.testing.assert_allclose(grad, -change, rtol=1e-12, atol=1e-15)
