"""nnlib.pretrained: the committed weights, the recipe that makes them, and transfer beating scratch at small data."""

import subprocess
import sys

import numpy as np
import pytest

from nnlib import InputError, Linear, accuracy, io
from nnlib.data import load_digits, take_per_class
from nnlib.pretrained import (
    METHODS,
    N_FEATURES,
    SOURCE_DIGITS,
    TARGET_DIGITS,
    WEIGHTS,
    adapt,
    digits_cnn,
    load_digits_cnn,
    pretrain,
    scanned_digits,
)


def test_committed_weights_match_the_architecture_and_classify_the_source_task():
    state = io.load_state(WEIGHTS)
    assert {name: value.shape for name, value in state.items()} == {
        name: p.shape for name, p in digits_cnn().named_parameters()}
    X, y = scanned_digits(SOURCE_DIGITS, rng=123)
    assert accuracy(load_digits_cnn()(X), y) > 0.97
    assert WEIGHTS.stat().st_size < 40_000


def test_a_head_of_another_shape_is_refused_naming_the_parameter():
    model = digits_cnn(n_classes=10)
    with pytest.raises(InputError, match=r"parameter '7.weight' expects shape \(288, 10\).* got shape \(288, 5\)"):
        io.load(model, WEIGHTS)
    head = {name: p.data.copy() for name, p in model.named_parameters()}
    extractor = {k: v for k, v in io.load_state(WEIGHTS).items() if not k.startswith("7.")}
    assert model.load_state_dict(extractor, strict=False).missing == ["7.bias", "7.weight"]
    np.testing.assert_array_equal(model[-1].weight.data, head["7.weight"])
    np.testing.assert_array_equal(model[0].weight.data, extractor["0.weight"])


def test_scanned_digits_relabel_in_the_order_given_and_keep_each_digit_whole():
    images, digits = load_digits(images=True)
    X, y = scanned_digits((9, 5), copies=2, rng=0)
    assert X.shape == (2 * np.isin(digits, (5, 9)).sum(), 1, 12, 12) and X.dtype == np.float32
    assert np.bincount(y).tolist() == [2 * np.sum(digits == 9), 2 * np.sum(digits == 5)]    # 9 → label 0, 5 → 1
    originals = np.concatenate([images[np.isin(digits, (5, 9))]] * 2)
    # each canvas holds its digit whole: the ink adds up, and the noise (σ = 0.1 over 144 pixels) moves the sum by ~1.2
    assert np.all(np.abs(X.sum(axis=(1, 2, 3)) - originals.sum(axis=(1, 2, 3))) < 6)
    np.testing.assert_array_equal(scanned_digits((9, 5), copies=2, rng=0)[0], X)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: scanned_digits((5, 5)), r"digits must be distinct digits 0..9, got \[5, 5\]"),
    (lambda: scanned_digits((3, 10)), "distinct digits 0..9"),
    (lambda: scanned_digits(()), "distinct digits 0..9"),
    (lambda: scanned_digits((1, 2), copies=0), "copies must be a positive integer"),
    (lambda: adapt("finetune", np.zeros((5, 1, 12, 12), np.float32), np.zeros(5, int)),
     r"method must be one of \('scratch', 'frozen', 'fine-tune'\), got 'finetune'"),
])
def test_bad_arguments_are_refused(call, match):
    with pytest.raises(InputError, match=match):
        call()


def test_missing_weights_point_to_make_pretrained(tmp_path):
    with pytest.raises(FileNotFoundError, match="run `make pretrained`"):
        load_digits_cnn(tmp_path / "none.npz")


def test_the_recipe_is_deterministic_and_the_command_writes_loadable_weights(tmp_path):
    (first, accuracy_first), (second, _) = pretrain(copies=1, epochs=1), pretrain(copies=1, epochs=1)
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items(), strict=True):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert 0 <= accuracy_first <= 1
    out = tmp_path / "weights.npz"
    done = subprocess.run([sys.executable, "-m", "nnlib.pretrained", "--out", str(out), "--copies", "1",
                           "--epochs", "1"], capture_output=True, text=True, timeout=300, check=True)
    assert "held-out source accuracy" in done.stdout and str(out) in done.stdout
    for (name, a), (_, b) in zip(load_digits_cnn(out).state_dict().items(), first.state_dict().items(), strict=True):
        np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.fixture(scope="module")
def target():
    """Digits 5–9 scanned: a pool of 100 labelled images per class, the other ~396 images for testing."""
    X, y = scanned_digits(TARGET_DIGITS, rng=5)
    pool = take_per_class(y, 100, rng=0)
    test = np.setdiff1d(np.arange(len(y)), pool)
    return X, y, pool, test


@pytest.mark.slow
def test_transfer_beats_training_from_scratch_with_ten_examples_per_class(target):
    X, y, pool, test = target
    mean = {}
    for method in METHODS:
        scores = []
        for seed in range(3):
            labelled = pool[take_per_class(y[pool], 10, rng=seed)]
            scores.append(accuracy(adapt(method, X[labelled], y[labelled], rng=seed)(X[test]), y[test]))
        mean[method] = np.mean(scores)
    assert mean["frozen"] > mean["scratch"] + 0.04, mean
    assert mean["fine-tune"] > mean["scratch"] + 0.04, mean


def test_adapt_freezes_the_extractor_for_frozen_and_unfreezes_it_for_fine_tuning(target):
    X, y, pool, _ = target
    labelled = pool[take_per_class(y[pool], 2, rng=0)]
    pretrained = load_digits_cnn().state_dict()
    frozen, tuned = (adapt(m, X[labelled], y[labelled], steps=5) for m in ("frozen", "fine-tune"))
    assert frozen.num_parameters(trainable_only=True) == N_FEATURES * 5 + 5
    assert isinstance(frozen[-1], Linear) and not frozen.training
    for name, value in frozen[:-1].state_dict().items():
        np.testing.assert_array_equal(value, pretrained[name], err_msg=name)
    assert tuned.num_parameters(trainable_only=True) == tuned.num_parameters()
    assert not np.array_equal(tuned[0].weight.data, pretrained["0.weight"])


def test_fine_tuning_without_the_head_first_stage_trains_every_layer_from_the_random_head(target):
    X, y, pool, _ = target
    labelled = pool[take_per_class(y[pool], 2, rng=0)]
    tuned = adapt("fine-tune", X[labelled], y[labelled], steps=5)
    rough = adapt("fine-tune", X[labelled], y[labelled], steps=5, head_first=False, fine_tune_lr=1e-2)
    assert rough.num_parameters(trainable_only=True) == rough.num_parameters()
    assert not np.array_equal(rough[0].weight.data, tuned[0].weight.data)
