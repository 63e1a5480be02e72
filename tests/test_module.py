"""Parameter, Module and Sequential: the tree of parameters, modes, state and their errors."""

import numpy as np
import pytest

from nnlib import InputError, Linear, Module, Parameter, Sequential


def mlp(dtype=np.float64):
    return Sequential(Linear(3, 4, rng=0, dtype=dtype), Sequential(Linear(4, 2, rng=1, dtype=dtype)))


class Twice(Module):
    """A module holding a list of sub-modules and one parameter shared by both."""

    def __init__(self):
        self.blocks = [Linear(2, 2, rng=0, dtype=np.float64), Linear(2, 2, rng=1, dtype=np.float64)]
        self.blocks[1].weight = self.blocks[0].weight


def test_named_parameters_follow_pytorch_dotted_names():
    assert [name for name, _ in mlp().named_parameters()] == ["0.weight", "0.bias", "1.0.weight", "1.0.bias"]


def test_lists_of_modules_are_found_and_shared_parameters_counted_once():
    names = [name for name, _ in Twice().named_parameters()]
    assert names == ["blocks.0.weight", "blocks.0.bias", "blocks.1.bias"]


def test_num_parameters_counts_frozen_only_when_asked():
    model = mlp()
    assert model.num_parameters() == 3 * 4 + 4 + 4 * 2 + 2
    model[0].weight.requires_grad = False
    assert model.num_parameters(trainable_only=True) == 4 + 4 * 2 + 2


def test_train_and_eval_reach_every_submodule():
    model = mlp().eval()
    assert not any(m.training for m in model.modules())
    assert all(m.training for m in model.train().modules())


def test_zero_grad_clears_accumulated_gradients(rng):
    model = mlp()
    model(rng.standard_normal((5, 3)))
    model.backward(np.ones((5, 2)))
    assert any(np.any(p.grad) for p in model.parameters())
    model.zero_grad()
    assert not any(np.any(p.grad) for p in model.parameters())


def test_state_dict_round_trip_copies_values():
    source, target = mlp(), Sequential(Linear(3, 4, rng=5, dtype=np.float64),
                                       Sequential(Linear(4, 2, rng=6, dtype=np.float64)))
    state = source.state_dict()
    target.load_state_dict(state)
    state["0.weight"][...] = 0  # the dict is a copy: changing it touches neither model
    for (_, a), (_, b) in zip(source.named_parameters(), target.named_parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)
        assert np.any(a.data)


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.pop("0.bias"), r"missing \['0.bias'\]"),
    (lambda s: s.update(extra=np.zeros(1)), r"unexpected \['extra'\]"),
    (lambda s: s.update({"0.weight": np.zeros((4, 3))}), r"'0.weight' expects shape \(3, 4\)"),
    (lambda s: s.update({"0.weight": np.zeros((3, 4), np.float32)}), r"'0.weight' .* dtype float32"),
])
def test_load_state_dict_rejects_mismatches_and_changes_nothing(edit, message):
    model = mlp()
    before = model.state_dict()
    state = mlp().state_dict()
    edit(state)
    with pytest.raises(InputError, match=message):
        model.load_state_dict(state)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_non_strict_load_fills_the_shared_names_and_reports_the_rest():
    model, source = mlp(), Sequential(Linear(3, 4, rng=7, dtype=np.float64), Linear(4, 9, rng=8, dtype=np.float64))
    head = model.state_dict()["1.0.weight"]
    state = source.state_dict()
    result = model.load_state_dict(state, strict=False)
    assert result.missing == ["1.0.bias", "1.0.weight"] and result.unexpected == ["1.bias", "1.weight"]
    np.testing.assert_array_equal(model[0].weight.data, state["0.weight"])
    np.testing.assert_array_equal(model.state_dict()["1.0.weight"], head)
    assert model.load_state_dict(mlp().state_dict()) == ([], [])


def test_non_strict_load_still_refuses_a_shared_name_with_another_shape():
    model = mlp()
    before = model.state_dict()
    state = {"0.bias": np.zeros(4), "1.0.weight": np.zeros((4, 10))}
    with pytest.raises(InputError, match=r"parameter '1.0.weight' expects shape \(4, 2\) .* got shape \(4, 10\)"):
        model.load_state_dict(state, strict=False)
    assert np.any(model[0].bias.data) and np.array_equal(model[0].bias.data, before["0.bias"])


@pytest.mark.parametrize("state", [[("0.weight", np.zeros((3, 4)))], None, "model.npz"])
def test_load_state_dict_needs_a_dict(state):
    with pytest.raises(InputError, match=r"Sequential.load_state_dict: state must be a dict of \{name: array\}"):
        mlp().load_state_dict(state)


def test_sequential_backward_chains_in_reverse(rng):
    first, second = Linear(3, 4, rng=0, dtype=np.float64), Linear(4, 2, rng=1, dtype=np.float64)
    x, g = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    model = Sequential(first, second)
    model(x)
    expected = g @ second.weight.data.T @ first.weight.data.T
    np.testing.assert_allclose(model.backward(g), expected)


def test_sequential_indexing_slicing_and_append():
    model = mlp()
    assert isinstance(model[0], Linear) and len(model[:1]) == 1
    model.append(Linear(2, 1, rng=0, dtype=np.float64))
    assert len(model) == 3 and [type(m) for m in model][2] is Linear


@pytest.mark.parametrize("bad", [lambda: Sequential(Linear(2, 2), "relu"), lambda: Sequential().append(3)])
def test_sequential_accepts_only_modules(bad):
    with pytest.raises(InputError, match="Module"):
        bad()


def test_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match=r"^Linear\(.*\): backward called before forward"):
        Linear(2, 2).backward(np.ones((1, 2), np.float32))


def test_parameter_requires_floating_data_and_has_matching_grad():
    p = Parameter(np.ones((2, 3), np.float32), "w")
    assert p.grad.shape == p.shape and p.grad.dtype == np.float32 and not p.grad.any()
    with pytest.raises(InputError, match="floating point"):
        Parameter(np.ones(3, dtype=int), "w")


def test_repr_shows_the_tree():
    text = repr(mlp())
    assert "(0): Linear(in_features=3, out_features=4" in text and "(1): Sequential(" in text
