"""L1/L2 penalties: values, gradients (finite differences, torch), which parameters they touch, fit integration."""

import numpy as np
import pytest

from nnlib import SGD, InputError, L1Penalty, L2Penalty, Linear, MSELoss, ReLU, Sequential, fit
from nnlib.gradcheck import numerical_gradient, relative_error


def model(seed=0):
    return Sequential(Linear(3, 4, rng=seed, dtype=np.float64), ReLU(), Linear(4, 2, rng=seed + 1, dtype=np.float64))


def weights(net):
    return [p for name, p in net.named_parameters() if name.endswith("weight")]


@pytest.mark.parametrize("penalty", [L2Penalty(0.3), L1Penalty(0.3), L2Penalty(0.1, include_biases=True)])
def test_gradient_matches_finite_differences(penalty):
    net = model()
    net.zero_grad()
    penalty.backward(net)
    for p in penalty.penalised(net):
        numeric = numerical_gradient(lambda: penalty(net), p.data)
        assert relative_error(p.grad, numeric) < 1e-7


def test_values_are_the_notes_formulas():
    net = model()
    w = np.concatenate([p.data.ravel() for p in weights(net)])
    assert np.isclose(L2Penalty(0.5)(net), 0.25 * np.sum(w**2))
    assert np.isclose(L1Penalty(0.5)(net), 0.5 * np.sum(np.abs(w)))


def test_biases_and_frozen_parameters_are_left_alone_by_default():
    net = model()
    net[0].weight.requires_grad = False
    names = [n for n, p in net.named_parameters() if any(p is q for q in L2Penalty(1.0).penalised(net))]
    assert names == ["2.weight"]
    assert len(L2Penalty(1.0, include_biases=True).penalised(net)) == 3


def test_l1_subgradient_at_zero_is_zero():
    net = Sequential(Linear(2, 1, dtype=np.float64))
    net[0].weight.data[:] = [[0.0], [-2.0]]
    net.zero_grad()
    L1Penalty(0.1).backward(net)
    np.testing.assert_array_equal(net[0].weight.grad, [[0.0], [-0.1]])


def test_l2_with_plain_sgd_is_weight_decay():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(32, 3)), rng.normal(size=(32, 2))
    with_penalty, with_decay = model(), model()
    fit(with_penalty, MSELoss(), SGD(with_penalty.parameters(), lr=0.1), X, y, epochs=3, rng=0,
        penalty=L2Penalty(0.05, include_biases=True))
    fit(with_decay, MSELoss(), SGD(with_decay.parameters(), lr=0.1, weight_decay=0.05), X, y, epochs=3, rng=0)
    for a, b in zip(with_penalty.parameters(), with_decay.parameters(), strict=True):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12)


def test_proximal_l1_soft_thresholds_to_exact_zeros():
    net = Sequential(Linear(4, 1, dtype=np.float64))
    net[0].weight.data[:] = [[0.05], [-0.05], [0.3], [-0.3]]
    L1Penalty(1.0, proximal=True).after_step(net, lr=0.1)
    np.testing.assert_allclose(net[0].weight.data.ravel(), [0.0, 0.0, 0.2, -0.2])
    net.zero_grad()
    L1Penalty(1.0, proximal=True).backward(net)  # the proximal form adds no gradient
    assert not net[0].weight.grad.any()


def test_fit_with_penalties_shrinks_and_sparsifies_weights_but_records_the_data_loss():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 3)), rng.normal(size=(64, 2))
    plain, l2, l1 = model(), model(), model()
    histories = {}
    for name, net, penalty in [("plain", plain, None), ("l2", l2, L2Penalty(0.5)),
                               ("l1", l1, L1Penalty(0.1, proximal=True))]:
        histories[name] = fit(net, MSELoss(), SGD(net.parameters(), lr=0.05), X, y, epochs=100, rng=0,
                              penalty=penalty)

    def norm(net):
        return np.sqrt(sum(np.sum(p.data**2) for p in weights(net)))

    def zeros(net):
        return sum(int(np.sum(p.data == 0)) for p in weights(net))

    assert norm(l2) < 0.8 * norm(plain)
    assert zeros(l1) >= 10 and zeros(plain) == 0  # of 20 weights
    final = MSELoss()(plain(X), y)
    assert np.isclose(histories["plain"]["loss"][-1], final, rtol=0.1)  # the data loss, no penalty term


def test_torch_agrees_on_the_gradient(torch):
    net = model()
    net.zero_grad()
    L2Penalty(0.2).backward(net)
    L1Penalty(0.3).backward(net)
    for p in weights(net):
        t = torch.tensor(p.data, requires_grad=True)
        (0.1 * (t**2).sum() + 0.3 * t.abs().sum()).backward()
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: L2Penalty(-1.0), "L2Penalty: strength must be a number >= 0"),
    (lambda: L1Penalty(float("nan")), "L1Penalty: strength must be a number >= 0"),
    (lambda: L2Penalty(0.1, include_biases=1), "include_biases must be True or False"),
    (lambda: L1Penalty(0.1, proximal="yes"), "proximal must be True or False"),
    (lambda: L2Penalty(0.1)(np.zeros(3)), "expected an nnlib Module, got ndarray"),
])
def test_bad_arguments_are_refused(make, message):
    with pytest.raises(InputError, match=message):
        make()


def test_fit_refuses_something_that_is_not_a_penalty():
    net = model()
    with pytest.raises(InputError, match=r"penalty must be an nnlib Penalty \(e.g. L2Penalty\(1e-4\)\) or None, got"):
        fit(net, MSELoss(), SGD(net.parameters(), lr=0.1), np.zeros((4, 3)), np.zeros((4, 2)), penalty=0.01)
