"""Datasets and batching: shapes, dtypes, labels, determinism, stratified splits, batches, errors."""


import numpy as np
import pytest

from nnlib import InputError
from nnlib.data import (
    batches,
    load_digits,
    make_moons,
    make_spirals,
    make_xor,
    one_hot,
    place_on_canvas,
    take_per_class,
    train_test_split,
)

GENERATORS = [
    (make_xor, {"n": 40, "noise": 0.1}, 40, {0, 1}),
    (make_spirals, {"n_per_class": 30, "n_classes": 4}, 120, {0, 1, 2, 3}),
    (make_moons, {"n": 51}, 51, {0, 1}),
]


@pytest.mark.parametrize(("make", "kwargs", "n", "labels"), GENERATORS, ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_generators_shapes_dtypes_and_labels(make, kwargs, n, labels, dtype):
    X, y = make(**kwargs, rng=0, dtype=dtype)
    assert X.shape == (n, 2) and X.dtype == dtype
    assert y.shape == (n,) and y.dtype == np.int64
    assert set(y.tolist()) == labels


@pytest.mark.parametrize(("make", "kwargs", "n", "labels"), GENERATORS, ids=lambda v: getattr(v, "__name__", ""))
def test_generators_are_deterministic_given_a_seed(make, kwargs, n, labels):
    first, again, other = make(**kwargs, rng=7), make(**kwargs, rng=np.random.default_rng(7)), make(**kwargs, rng=8)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])


def test_xor_default_is_the_truth_table():
    X, y = make_xor()
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y, [0, 1, 1, 0])


def test_noisy_xor_stays_near_its_corners():
    X, y = make_xor(n=400, noise=0.05, rng=0)
    corners, labels = make_xor()
    np.testing.assert_array_equal(y, np.tile(labels, 100))
    assert np.abs(X - np.tile(corners, (100, 1))).max() < 0.3


def test_moons_geometry_without_noise():
    X, y = make_moons(n=100, noise=0.0, dtype=np.float64)
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0)
    assert upper[:, 1].min() >= 0 and lower[:, 1].max() <= 0.5


def test_spiral_arms_have_radius_from_zero_to_one():
    X, y = make_spirals(n_per_class=50, n_classes=3, noise=0.0, dtype=np.float64)
    for k in range(3):
        r = np.hypot(*X[y == k].T)
        np.testing.assert_allclose(r, np.linspace(0, 1, 50), atol=1e-12)


@pytest.mark.parametrize("images", [False, True])
def test_load_digits_scaled_and_shaped(images):
    X, y = load_digits(images=images)
    assert X.shape == ((1797, 1, 8, 8) if images else (1797, 64)) and X.dtype == np.float32
    assert X.min() == 0.0 and X.max() == 1.0
    assert y.dtype == np.int64 and set(y.tolist()) == set(range(10))


def test_load_digits_without_sklearn_names_the_course_extra(hide_module):
    hide_module("sklearn")
    with pytest.raises(ImportError, match=r"nnlib\[course\]"):
        load_digits()


def test_stratified_split_keeps_class_proportions():
    y = np.repeat([0, 1, 2], [60, 30, 10])
    X = np.arange(100, dtype=np.float32)[:, None]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_fraction=0.2, rng=0)
    np.testing.assert_array_equal(np.bincount(y_test), [12, 6, 2])
    np.testing.assert_array_equal(np.bincount(y_train), [48, 24, 8])
    assert sorted(np.concatenate([X_train, X_test])[:, 0].tolist()) == list(range(100))
    np.testing.assert_array_equal(y[X_test[:, 0].astype(int)], y_test)


def test_unstratified_split_and_determinism():
    X, y = make_moons(n=40, rng=0)
    first = train_test_split(X, y, test_fraction=0.25, rng=3, stratify=False)
    again = train_test_split(X, y, test_fraction=0.25, rng=3, stratify=False)
    assert len(first[1]) == 10 and len(first[0]) == 30
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("n", "batch_size", "drop_last", "sizes"), [
    (10, 3, False, [3, 3, 3, 1]),
    (10, 3, True, [3, 3, 3]),
    (10, 10, False, [10]),
    (4, 8, False, [4]),
])
@pytest.mark.parametrize("shuffle", [False, True])
def test_batches_cover_every_sample_once(n, batch_size, drop_last, sizes, shuffle):
    X = np.arange(n, dtype=np.float32)[:, None]
    y = np.arange(n)
    pairs = list(batches(X, y, batch_size, rng=0, shuffle=shuffle, drop_last=drop_last))
    assert [len(xb) for xb, _ in pairs] == sizes
    seen = np.concatenate([yb for _, yb in pairs])
    assert all(np.array_equal(xb[:, 0], yb) for xb, yb in pairs)
    assert len(set(seen.tolist())) == len(seen) == sum(sizes)
    assert (seen.tolist() == list(range(sum(sizes)))) is (not shuffle)


def test_batches_order_comes_from_rng():
    X, y = np.zeros((20, 1)), np.arange(20)
    order = [np.concatenate([yb for _, yb in batches(X, y, 4, rng=seed)]) for seed in (1, 1, 2)]
    np.testing.assert_array_equal(order[0], order[1])
    assert not np.array_equal(order[0], order[2])


def test_one_hot():
    np.testing.assert_array_equal(one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    assert one_hot(np.array([[1]]), 2, dtype=np.float64).shape == (1, 1, 2)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: make_xor(n=0), "make_xor: n must be a positive integer"),
    (lambda: make_xor(noise=-0.1), "make_xor: noise must be a number >= 0"),
    (lambda: make_xor(dtype=np.int32), "make_xor: dtype must be float32 or float64"),
    (lambda: make_spirals(n_per_class=2.5), "n_per_class must be a positive integer"),
    (lambda: make_spirals(n_classes=1), "n_classes must be at least 2"),
    (lambda: make_spirals(noise=float("nan")), "noise must be a number >= 0"),
    (lambda: make_moons(n=1), "make_moons: n must be at least 2"),
    (lambda: train_test_split(np.zeros((4, 1)), np.zeros(3, int)), "same number of samples, got 4 and 3"),
    (lambda: train_test_split(np.zeros((4, 1)), np.zeros(4, int), test_fraction=1.0), "strictly between 0 and 1"),
    (lambda: train_test_split(np.zeros((4, 1)), np.zeros(4)), "stratify=True needs 1-D integer class labels"),
    (lambda: train_test_split(np.zeros((2, 1)), np.arange(2), test_fraction=0.1), "empty test set"),
    (lambda: batches(np.zeros((4, 1)), np.zeros(5), 2), "same number of samples, got 4 and 5"),
    (lambda: batches(np.zeros((4, 1)), np.zeros(4), 0), "batch_size must be a positive integer"),
    (lambda: batches(np.float32(1.0), np.zeros(4), 2), "X must be an array with one row per sample"),
    (lambda: one_hot(np.array([0, 3]), 3), r"labels must lie in 0..2"),
    (lambda: one_hot(np.array([0.0]), 3), "integer class labels"),
    (lambda: place_on_canvas(np.zeros((2, 8, 8)), 12), r"images must be a float array \(N, C, h, w\)"),
    (lambda: place_on_canvas(np.zeros((2, 1, 8, 8), int), 12), "got shape .* and dtype int"),
    (lambda: place_on_canvas(np.zeros((2, 1, 8, 9)), 8), "a 8×9 image does not fit on a 8×8 canvas; use size ≥ 9"),
    (lambda: place_on_canvas(np.zeros((2, 1, 8, 8)), 12, noise=-1), "noise must be a number ≥ 0"),
    (lambda: take_per_class(np.repeat([0, 1], [5, 2]), 3), "class 1 has 2 samples, fewer than n_per_class=3"),
    (lambda: take_per_class(np.zeros(4), 1), "y must be 1-D integer class labels"),
    (lambda: take_per_class(np.zeros(4, int), 0), "n_per_class must be a positive integer"),
])
def test_bad_arguments_are_rejected(call, match):
    with pytest.raises(InputError, match=match):
        call()


def test_place_on_canvas_moves_each_image_whole_to_a_random_place():
    images = np.random.default_rng(0).random((200, 2, 3, 4), dtype=np.float32)
    canvas = place_on_canvas(images, 6, rng=1)
    assert canvas.shape == (200, 2, 6, 6) and canvas.dtype == np.float32
    corners = set()
    for image, placed in zip(images, canvas, strict=True):
        rows, cols = np.nonzero(placed[0])
        top, left = rows.min(), cols.min()
        np.testing.assert_array_equal(placed[:, top:top + 3, left:left + 4], image)
        assert placed.sum() == pytest.approx(image.sum(), rel=1e-6)
        corners.add((top, left))
    assert corners == {(r, c) for r in range(4) for c in range(3)}     # every position is used
    np.testing.assert_array_equal(place_on_canvas(images, 6, rng=1), canvas)


def test_place_on_canvas_adds_noise_of_the_given_spread():
    canvas = place_on_canvas(np.zeros((50, 1, 2, 2)), 20, noise=0.3, rng=0)
    assert canvas.std() == pytest.approx(0.3, rel=0.02) and abs(canvas.mean()) < 0.01


def test_take_per_class_draws_n_of_each_class_class_by_class():
    y = np.repeat([3, 1, 2], [10, 4, 7])
    index = take_per_class(y, 4, rng=0)
    np.testing.assert_array_equal(y[index], np.repeat([1, 2, 3], 4))
    assert len(set(index)) == 12
    assert not np.array_equal(take_per_class(y, 4, rng=1), index)
    np.testing.assert_array_equal(take_per_class(y, 4, rng=0), index)


def test_rng_must_be_a_seed_or_generator():
    with pytest.raises(TypeError, match="make_moons: expected None, an int seed"):
        make_moons(rng="seed")
