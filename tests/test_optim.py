"""Optimizers: PyTorch's exact update rules, in-place updates, frozen parameters, hyper-parameter errors."""

import numpy as np
import pytest

import nnlib
from nnlib import SGD, Adam, AdamW, InputError, Linear, Parameter, RMSprop, use_fast_kernels
from nnlib.optim import Optimizer, RMSProp

SHAPES = [(3, 4), (4,)]
CONFIGS = [
    (SGD, {"lr": 0.1}),
    (SGD, {"lr": 0.1, "momentum": 0.9}),
    (SGD, {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    (SGD, {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    (SGD, {"lr": 0.1, "weight_decay": 0.01}),
    (SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.05}),
    (Adam, {}),
    (Adam, {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6}),
    (Adam, {"lr": 0.01, "weight_decay": 0.1}),
    (AdamW, {}),
    (AdamW, {"lr": 0.01, "weight_decay": 0.1, "betas": (0.8, 0.99)}),
    (AdamW, {"lr": 0.01, "weight_decay": 0.0}),
    (RMSprop, {}),
    (RMSprop, {"lr": 0.005, "alpha": 0.9, "eps": 1e-6}),
    (RMSprop, {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.01}),
    (RMSprop, {"lr": 0.01, "centered": True}),
    (RMSprop, {"lr": 0.01, "centered": True, "momentum": 0.5}),
]


def make_params(rng, dtype=np.float64):
    return [Parameter(rng.standard_normal(shape).astype(dtype), f"p{i}") for i, shape in enumerate(SHAPES)]


@pytest.mark.parametrize(("cls", "kwargs"), CONFIGS, ids=lambda c: c.__name__ if isinstance(c, type) else str(c))
def test_matches_pytorch_over_ten_steps(torch, rng, cls, kwargs, kernel_path):
    params = make_params(rng)
    ours = cls(params, **kwargs)
    twins = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    theirs = getattr(torch.optim, cls.__name__)(twins, **kwargs)
    for _ in range(10):
        for p, t in zip(params, twins, strict=True):
            g = rng.standard_normal(p.shape)
            p.grad[...] = g
            t.grad = torch.tensor(g)
        ours.step()
        theirs.step()
    for p, t in zip(params, twins, strict=True):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=0, atol=1e-6)


@pytest.mark.parametrize(("cls", "kwargs"), CONFIGS[1:2] + CONFIGS[-1:])
def test_updates_in_place_keeping_dtype_and_state_per_parameter(rng, cls, kwargs):
    params = make_params(rng, np.float32)
    arrays = [p.data for p in params]
    opt = cls(params, **kwargs)
    for p in params:
        p.grad[...] = 1.0
    opt.step()
    assert all(p.data is a and p.dtype == np.float32 for p, a in zip(params, arrays, strict=True))
    assert len(opt.state) == len(params)
    assert all(s[k].shape == p.shape for s, p in zip(opt.state, params, strict=True) for k in s if k != "step")


ADAMS = [c for c in CONFIGS if issubclass(c[0], Adam)]


FROZEN_STEPS = range(12, 15)  # the first parameter is frozen for these steps, then thawed


def _adam_run(cls, kwargs, dtype, paths, grads, monkeypatch):
    """Adam over len(paths) steps, step i on the fast kernel if paths[i] else on the reference rule, with the first
    parameter frozen during FROZEN_STEPS; returns (params, optimizer, how many steps took the fused kernel)."""
    params = make_params(np.random.default_rng(0), dtype)
    opt = cls(params, **kwargs)
    fused_steps = []
    kernel = nnlib.optim.adam_step_all
    monkeypatch.setattr(nnlib.optim, "adam_step_all", lambda *a: fused_steps.append(1) or kernel(*a))
    for step, (fast, step_grads) in enumerate(zip(paths, grads, strict=True)):
        params[0].requires_grad = step not in FROZEN_STEPS
        for p, g in zip(params, step_grads, strict=True):
            p.grad[...] = g
        with use_fast_kernels(fast):
            opt.step()
    return params, opt, len(fused_steps)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("cls", "kwargs"), ADAMS)
def test_adam_fast_kernel_equals_the_reference_rule_bit_for_bit(rng, cls, kwargs, dtype, monkeypatch):
    """20 steps through a freeze and a thaw: the fused kernel (all trainable, same step count), the reference rule
    per parameter, and the two taking turns give the same weights and the same optimizer state, bit for bit."""
    grads = [[rng.standard_normal(shape).astype(dtype) for shape in SHAPES] for _ in range(20)]
    runs = {name: _adam_run(cls, kwargs, dtype, paths, grads, monkeypatch) for name, paths in
            (("fast", [True] * 20), ("reference", [False] * 20), ("alternating", [True, False] * 10))}
    # the kernel runs until the freeze; after it the step counts differ and the rule runs per parameter
    assert (runs["fast"][2], runs["alternating"][2], runs["reference"][2]) == (12, 6, 0)
    fast_params, fast_opt, _ = runs["fast"]
    for name in ("reference", "alternating"):
        params, opt, _ = runs[name]
        for p, q, state, fast_state in zip(params, fast_params, opt.state, fast_opt.state, strict=True):
            np.testing.assert_array_equal(p.data, q.data, err_msg=name)
            assert state.keys() == fast_state.keys() == {"step", "exp_avg", "exp_avg_sq"}
            assert state["step"] == fast_state["step"]
            for key in ("exp_avg", "exp_avg_sq"):
                assert state[key].shape == p.shape
                np.testing.assert_array_equal(state[key], fast_state[key], err_msg=f"{name} {key}")
    assert [s["step"] for s in fast_opt.state] == [20 - len(FROZEN_STEPS), 20]


def test_adam_state_views_the_flat_buffers_when_the_dtypes_agree(rng):
    opt = Adam(make_params(rng, np.float32))
    assert all(np.shares_memory(s["exp_avg"], opt.flat_moments.exp_avg) and
               np.shares_memory(s["exp_avg_sq"], opt.flat_moments.exp_avg_sq) for s in opt.state)
    mixed = Adam([Parameter(np.zeros(2), "w64"), Parameter(np.zeros(2, np.float32), "b32")])
    assert mixed.flat_moments is None and [s["exp_avg"].dtype for s in mixed.state] == [np.float64, np.float32]


@pytest.mark.parametrize(("cls", "kwargs"), ADAMS)
def test_adam_counts_steps_per_parameter_through_freezing_like_pytorch(torch, rng, cls, kwargs, kernel_path):
    """Frozen for three steps, a parameter keeps its step count (PyTorch skips a parameter without a gradient);
    after it thaws the counts differ and the parameters are updated one by one — still PyTorch's numbers."""
    params = make_params(rng)
    ours = cls(params, **kwargs)
    twins = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    theirs = getattr(torch.optim, cls.__name__)(twins, **kwargs)
    for step in range(8):
        params[0].requires_grad = not 2 <= step < 5
        for p, t in zip(params, twins, strict=True):
            g = rng.standard_normal(p.shape)
            p.grad[...] = g
            t.grad = torch.tensor(g) if p.requires_grad else None
        ours.step()
        theirs.step()
    assert [s["step"] for s in ours.state] == [5, 8]
    for p, t in zip(params, twins, strict=True):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=0, atol=1e-6)


def test_adam_with_parameters_of_two_dtypes_keeps_each_dtype(torch, rng):
    params = [Parameter(rng.standard_normal((3, 2)), "w64"),
              Parameter(rng.standard_normal(2).astype(np.float32), "b32")]
    ours = Adam(params, lr=0.01)
    twins = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    theirs = torch.optim.Adam(twins, lr=0.01)
    for _ in range(4):
        for p, t in zip(params, twins, strict=True):
            g = rng.standard_normal(p.shape).astype(p.dtype)
            p.grad[...] = g
            t.grad = torch.tensor(g)
        ours.step()
        theirs.step()
    assert [p.dtype for p in params] == [np.float64, np.float32]
    for p, t in zip(params, twins, strict=True):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=0, atol=1e-6)


def test_plain_sgd_is_the_notes_rule(rng):
    w = Parameter(rng.standard_normal(5), "w")
    w.grad[...] = rng.standard_normal(5)
    expected = w.data - 0.5 * w.grad
    SGD([w], lr=0.5).step()
    np.testing.assert_array_equal(w.data, expected)


@pytest.mark.parametrize(("cls", "kwargs"), CONFIGS)
def test_frozen_parameters_are_untouched(rng, cls, kwargs):
    layer = Linear(3, 2, rng=0, dtype=np.float64)
    layer.weight.requires_grad = False
    frozen = layer.weight.data.copy()
    opt = cls(layer.parameters(), **kwargs)
    for p in layer.parameters():
        p.grad[...] = rng.standard_normal(p.shape)
    bias = layer.bias.data.copy()
    opt.step()
    np.testing.assert_array_equal(layer.weight.data, frozen)
    assert not np.array_equal(layer.bias.data, bias)


def test_zero_grad_and_shared_parameters_updated_once(rng):
    w = Parameter(np.ones(3), "w")
    opt = SGD([w, w], lr=1.0)
    w.grad[...] = 1.0
    opt.step()
    np.testing.assert_array_equal(w.data, np.zeros(3))
    opt.zero_grad()
    np.testing.assert_array_equal(w.grad, np.zeros(3))


def test_lr_can_be_changed_between_steps():
    w = Parameter(np.ones(2), "w")
    opt = SGD([w], lr=1.0)
    opt.lr = 0.25
    w.grad[...] = 4.0
    opt.step()
    np.testing.assert_array_equal(w.data, np.zeros(2))


@pytest.mark.parametrize(("cls", "kwargs", "match"), [
    (SGD, {"lr": 0.0}, "SGD: lr must be"),
    (SGD, {"lr": -1.0}, "SGD: lr must be"),
    (SGD, {"lr": float("nan")}, "SGD: lr must be"),
    (SGD, {"lr": "0.1"}, "SGD: lr must be"),
    (SGD, {"lr": True}, "SGD: lr must be"),
    (SGD, {"lr": 0.1, "momentum": -0.1}, "momentum"),
    (SGD, {"lr": 0.1, "dampening": 2.0}, "dampening"),
    (SGD, {"lr": 0.1, "weight_decay": -1e-4}, "weight_decay"),
    (SGD, {"lr": 0.1, "nesterov": True}, "nesterov=True needs momentum > 0"),
    (SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True}, "dampening = 0"),
    (SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": 1}, "nesterov must be True or False"),
    (Adam, {"lr": 0}, "Adam: lr must be"),
    (Adam, {"betas": (0.9, 1.0)}, r"Adam: betas\[1\]"),
    (Adam, {"betas": (-0.1, 0.999)}, r"Adam: betas\[0\]"),
    (Adam, {"betas": 0.9}, "Adam: betas must be a pair"),
    (Adam, {"eps": -1e-8}, "Adam: eps"),
    (Adam, {"weight_decay": -1.0}, "Adam: weight_decay"),
    (AdamW, {"weight_decay": float("inf")}, "AdamW: weight_decay"),
    (RMSprop, {"alpha": 1.0}, "RMSprop: alpha must be a number in"),
    (RMSprop, {"eps": -1.0}, "RMSprop: eps"),
    (RMSprop, {"momentum": -0.5}, "RMSprop: momentum"),
    (RMSprop, {"weight_decay": -0.5}, "RMSprop: weight_decay"),
    (RMSprop, {"centered": "yes"}, "RMSprop: centered must be True or False"),
])
def test_bad_hyper_parameters_are_rejected(cls, kwargs, match):
    with pytest.raises(InputError, match=match):
        cls([Parameter(np.zeros(2), "w")], **kwargs)


@pytest.mark.parametrize(("params", "match"), [
    ([], "empty list of parameters"),
    ([np.zeros(3)], r"params\[0\] must be a Parameter, got ndarray"),
    (Parameter(np.zeros(2), "w"), "got a single Parameter"),
    (3, "must be an iterable of Parameters"),
])
def test_bad_parameter_lists_are_rejected(params, match):
    with pytest.raises(InputError, match=match):
        SGD(params, lr=0.1)


def test_base_class_needs_an_update_rule():
    with pytest.raises(NotImplementedError, match="Optimizer does not implement _update"):
        Optimizer([Parameter(np.zeros(1), "w")], lr=0.1).step()


def test_repr_names_hyper_parameters():
    assert repr(Adam([Parameter(np.zeros(1), "w")])) == \
        "Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0, 1 parameters)"


def test_adamw_decay_is_decoupled_from_the_adaptive_step():
    """With a zero gradient Adam's L2 term is rescaled to a full lr-sized step; AdamW shrinks by (1 - lr·λ)."""
    def after_one_step(cls):
        w = Parameter(np.array([10.0, 0.001]), "w")
        cls([w], lr=0.1, weight_decay=0.5).step()
        return w.data

    np.testing.assert_allclose(after_one_step(AdamW), [10.0 * 0.95, 0.001 * 0.95])
    np.testing.assert_allclose(after_one_step(Adam), [10.0 - 0.1, 0.001 - 0.1], rtol=1e-4)


def test_rmsprop_has_the_notes_spelling_too():
    assert RMSProp is RMSprop
