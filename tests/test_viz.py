"""nnlib.viz draws what it is asked to, rejects bad input clearly, and keeps matplotlib out of `import nnlib`."""

import subprocess
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from nnlib import InputError, Linear, Value  # noqa: E402
from nnlib.viz import draw_graph, draw_neuron, plot_alignment, plot_decision_boundary, plot_function  # noqa: E402

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
Y = np.array([0, 1, 1, 1])


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_import_nnlib_does_not_import_matplotlib():
    code = "import sys, nnlib; print('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


@pytest.mark.parametrize("predict", [
    lambda G: (G.sum(axis=1) > 0.5).astype(int),          # labels (M,)
    Linear(2, 3, rng=0),                                     # scores (M, C), an nnlib model, float32 grid
], ids=["labels", "model-scores"])
def test_decision_boundary_fills_the_plane_and_scatters_the_points(predict):
    ax = plot_decision_boundary(predict, X, Y, resolution=20, title="t")
    assert ax.get_title() == "t" and len(ax.collections) >= 2
    np.testing.assert_allclose(ax.collections[-1].get_offsets(), X)


def test_decision_boundary_draws_the_boundary_line_only_when_there_is_one():
    with_line = plot_decision_boundary(lambda G: (G[:, 0] > 0.5).astype(int), X, Y, resolution=20)
    constant = plot_decision_boundary(lambda G: np.zeros(len(G)), X, Y, resolution=20)
    assert len(with_line.collections) > len(constant.collections)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"X": np.ones((4, 3))}, r"X must have shape \(N, 2\)"),
    ({"y": np.ones(3)}, r"y must have shape \(4,\)"),
    ({"resolution": 0}, "resolution must be a positive integer"),
])
def test_decision_boundary_bad_input(kwargs, message):
    args = {"predict": lambda G: np.zeros(len(G)), "X": X, "y": Y, **kwargs}
    with pytest.raises(InputError, match=message):
        plot_decision_boundary(**args)


def test_plot_function_draws_model_and_target():
    x = np.linspace(-1, 1, 9)
    ax = plot_function(np.tanh, x, label="tanh", target=np.sin)
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["target", "tanh"]
    np.testing.assert_allclose(lines[1].get_ydata(), np.tanh(x))
    with pytest.raises(InputError, match="x must be 1-D, got shape"):
        plot_function(np.tanh, x[:, None])


def test_draw_neuron_labels_every_input():
    texts = [t.get_text() for t in draw_neuron(n_inputs=4).texts]
    assert all(f"$x_{i}$" in texts for i in range(1, 5)) and "$out$" in texts


def small_graph():
    w, x, b = Value(2.0, "w"), Value(3.0, "x"), Value(-1.0, "b")
    out = (w * x + b).named("net").sigmoid().named("out")
    out.backward()
    return out, w


def boxes(ax):
    return [t for t in ax.texts if t.get_text()]  # arrows are empty-text annotations


def box_texts(ax):
    return [t.get_text() for t in boxes(ax)]


def test_draw_graph_shows_every_node_with_value_and_gradient():
    out, w = small_graph()
    texts = box_texts(draw_graph(out))
    assert len(texts) == len(out.nodes()) == 6
    assert f"w\n2 | ∇ {w.grad:.4g}" in texts
    assert any(t.startswith("out (sigmoid)\n0.9933") for t in texts)
    assert all(t.endswith("∇ 0.006648") for t in texts if t.startswith("net"))


def test_draw_graph_hides_what_a_step_has_not_reached_and_highlights_one_node():
    out, w = small_graph()
    ax = draw_graph(out, show_data=[w], show_grad=[], highlight=w)
    texts = box_texts(ax)
    assert "w\n2 | ∇ ?" in texts and sum(t.count("?") for t in texts) == 2 * 6 - 1
    colours = [t.get_bbox_patch().get_facecolor() for t in boxes(ax)]
    assert sum(c == matplotlib.colors.to_rgba("orange") for c in colours) == 1


def test_draw_graph_places_inputs_left_of_what_uses_them():
    out, _ = small_graph()
    x_of = {t.get_text().split("\n")[0]: t.get_position()[0] for t in boxes(draw_graph(out))}
    assert x_of["w"] < x_of["*"] < x_of["net (+)"] < x_of["out (sigmoid)"]
    assert x_of["b"] == x_of["*"]  # a leaf sits just left of its first consumer, not at the far left


def test_draw_graph_refuses_what_is_not_a_value():
    with pytest.raises(TypeError, match="root must be an nnlib.autograd.Value"):
        draw_graph(3.0)


def test_plot_alignment_labels_both_sentences_and_shows_the_weights():
    weights = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    ax = plot_alignment(weights, ["the", "third", "of"], ["0", "3"], title="03")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["the", "third", "of"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "3"] and ax.get_title() == "03"
    np.testing.assert_array_equal(ax.images[0].get_array(), weights)
    with pytest.raises(InputError, match=r"plot_alignment: weights must have shape .* = \(2, 2\), got \(2, 3\)"):
        plot_alignment(weights, ["a", "b"], ["0", "3"])
