"""nnlib.viz draws what it is asked to, rejects bad input clearly, and keeps matplotlib out of `import nnlib`."""

import subprocess
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from nnlib import InputError, Linear, Value, viz  # noqa: E402
from nnlib.layers.conv import Conv2d  # noqa: E402
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
    assert f"w\n2\n∇ {w.grad:.4g}" in texts
    assert any(t.startswith("out (σ)\n0.9933") for t in texts)
    assert all(t.endswith("∇ 0.006648") for t in texts if t.startswith("net"))


def test_draw_graph_hides_what_a_step_has_not_reached_and_highlights_one_node():
    out, w = small_graph()
    ax = draw_graph(out, show_data=[w], show_grad=[], highlight=w)
    texts = box_texts(ax)
    assert "w\n2\n∇ ?" in texts and sum(t.count("?") for t in texts) == 2 * 6 - 1
    colours = [t.get_bbox_patch().get_facecolor() for t in boxes(ax)]
    assert sum(c == matplotlib.colors.to_rgba("orange") for c in colours) == 1


def test_draw_graph_places_inputs_left_of_what_uses_them():
    out, _ = small_graph()
    x_of = {t.get_text().split("\n")[0]: t.get_position()[0] for t in boxes(draw_graph(out))}
    assert x_of["w"] < x_of["*"] < x_of["net (+)"] < x_of["out (σ)"]
    assert x_of["b"] == x_of["*"]  # a leaf sits just left of its first consumer, not at the far left


def test_draw_graph_refuses_what_is_not_a_value():
    with pytest.raises(TypeError, match="root must be an nnlib.autograd.Value"):
        draw_graph(3.0)


# --- the lessons' figures and widgets (issue 24: lesson cells call one line) ------------------------------------


def squared_error_graph():
    """0.5 * (t - y) ** 2 with an unnamed constant 0.5, as lesson 03's E_o1."""
    y, t = Value(0.75, "y"), Value(0.01, "t")
    error = (0.5 * (t - y) ** 2).named("E")
    error.backward()
    return error


def test_an_unnamed_constant_is_named_by_its_value_and_every_node_has_a_name():
    error = squared_error_graph()
    assert Value(0.5).name == "0.5" and Value(2.0, "w").name == "w"
    assert all(node.name for node in error.nodes())
    assert "0.5" in {node.name for node in error.nodes()}


def test_graph_labels_are_legible_at_natural_size():
    """Labels at least 10 px tall in the PNG, in a figure JupyterLab shows unshrunk in a 1400-px window."""
    ax = draw_graph(squared_error_graph())
    width, _ = ax.figure.get_size_inches()
    assert ax.figure.dpi == viz.GRAPH_DPI and width <= viz.GRAPH_MAX_WIDTH
    assert all(t.get_fontsize() * viz.GRAPH_DPI / 72 >= 10 for t in boxes(ax))


def test_the_stepper_names_every_node_in_every_step():
    error = squared_error_graph()
    steps = viz.graph_pass_steps(error)
    assert steps == sum(bool(n.children) for n in error.nodes()) + len(error.nodes())
    titles = [viz.draw_graph_step(error, step).get_title(loc="left") for step in range(steps)]
    plt.close("all")
    assert titles[0].startswith("step 0 of") and "forward:" in titles[0]
    assert titles[-1].startswith(f"step {steps - 1} of {steps - 1}\nbackward: ∂E/∂")
    assert not any("∂E/∂ " in title or "(=" in title or ", =" in title for title in titles), titles
    with pytest.raises(InputError, match=rf"step must be in 0 .. {steps - 1}"):
        viz.draw_graph_step(error, steps)


def test_step_through_graph_is_a_slider_over_every_step():
    error = squared_error_graph()
    widget = viz.step_through_graph(error)
    slider = widget.children[0]
    assert (slider.min, slider.max) == (0, viz.graph_pass_steps(error) - 1)


PARAMS_222 = dict(w1=0.15, w2=0.20, w3=0.25, w4=0.30, b1=0.35, w5=0.40, w6=0.45, w7=0.50, w8=0.55, b2=0.60)


def test_draw_222_network_writes_every_weight_on_its_edge():
    texts = [t.get_text() for t in viz.draw_222_network(PARAMS_222).texts]
    assert all(f"{name}={value:.2f}" in texts for name, value in PARAMS_222.items())
    assert {"i1", "i2", "h1", "h2", "o1", "o2"} <= set(texts)
    with pytest.raises(InputError, match="params lacks b2, w8"):
        viz.draw_222_network({k: v for k, v in PARAMS_222.items() if k not in ("w8", "b2")})


def test_draw_unrolled_rnn_draws_one_state_per_step():
    texts = [t.get_text() for t in viz.draw_unrolled_rnn(T=3).texts]
    assert [f"$h_{t}$" in texts for t in range(4)] == [True] * 4 and "$x_4$" not in texts
    with pytest.raises(InputError, match="T must be a positive integer"):
        viz.draw_unrolled_rnn(T=0)


def test_kernel_text_and_parse_kernel_round_trip_fractions():
    kernel = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]]) / 9
    assert viz.kernel_text(kernel) == "1/9 2/9 1/9; 0 0 0; -1/9 -2/9 -1/9"
    np.testing.assert_allclose(viz.parse_kernel(viz.kernel_text(kernel)), kernel)
    np.testing.assert_array_equal(viz.parse_kernel("1, 0; 0 -1"), [[1, 0], [0, -1]])


@pytest.mark.parametrize(("text", "message"), [
    ("1 0; 1", "every row needs the same number of entries"),
    ("", "every row needs the same number of entries"),
    ("1 a; 0 0", "write numbers or fractions"),
    ("1/0", "write numbers or fractions"),
])
def test_parse_kernel_names_what_it_cannot_read(text, message):
    with pytest.raises(InputError, match=f"parse_kernel: cannot read {text!r}.*{message}"):
        viz.parse_kernel(text)


def test_show_feature_map_shows_what_conv2d_computes():
    image = np.arange(36, dtype=np.float64).reshape(6, 6)
    fig = viz.show_feature_map(image, "0 0 0; 0 2 0; 0 0 0")
    shown = fig.axes[1].images[0].get_array()
    np.testing.assert_allclose(shown, 2 * image)
    conv = Conv2d(1, 1, (1, 2), padding=(0, 1), bias=False, dtype=np.float64)  # "same" padding of a 1×2 kernel
    conv.weight.data[0, 0] = [[1, -1]]
    fig = viz.show_feature_map(image, "1 -1")
    np.testing.assert_allclose(fig.axes[1].images[0].get_array(), conv(image[None, None])[0, 0])
    assert "1×2 kernel (weights sum to 0)" in fig.axes[1].get_title()


def test_kernel_editor_fills_the_text_field_from_the_preset_menu():
    presets = {"identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]]), "blur": np.ones((3, 3)) / 9}
    editor = viz.kernel_editor(np.zeros((5, 5)), presets)
    menu, interactive = editor.children
    text_box = interactive.children[0]
    assert text_box.value == "0 0 0; 0 1 0; 0 0 0"
    menu.value = "blur"
    assert text_box.value == "1/9 1/9 1/9; 1/9 1/9 1/9; 1/9 1/9 1/9"
    with pytest.raises(InputError, match="start 'sharpen' is not a preset; choose one of identity, blur"):
        viz.kernel_editor(np.zeros((5, 5)), presets, start="sharpen")
    with pytest.raises(InputError, match="presets is empty"):
        viz.kernel_editor(np.zeros((5, 5)), {})


def test_attention_heat_map_writes_every_weight_legibly():
    weights = np.array([[0.9, 0.1], [0.25, 0.75]])
    ax = viz.plot_attention_weights(weights, ["a", "b"], ["c", "d"], title="t")
    numbers = [t for t in ax.texts if t.get_text()]
    assert [t.get_text() for t in numbers] == ["0.90", "0.10", "0.25", "0.75"]
    assert all(t.get_fontsize() >= 10 for t in numbers)
    with pytest.raises(InputError, match=r"weights has shape \(2, 2\), expected \(2, 3\)"):
        viz.plot_attention_weights(weights, ["a", "b"], ["c", "d", "e"])


def test_plot_against_length_draws_one_line_per_label():
    ax = viz.plot_against_length([16, 32], {16: (1, 2), 32: (4, 4)}, "bytes", "memory", labels=("A", "B"))
    assert [line.get_label() for line in ax.get_lines()] == ["A", "B"]
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), [1, 4])
    with pytest.raises(InputError, match=r"no entry for T = \[32\]"):
        viz.plot_against_length([16, 32], {16: (1, 2)}, "bytes", "memory")


def test_plot_alignment_labels_both_sentences_and_shows_the_weights():
    weights = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    ax = plot_alignment(weights, ["the", "third", "of"], ["0", "3"], title="03")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["the", "third", "of"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "3"] and ax.get_title() == "03"
    np.testing.assert_array_equal(ax.images[0].get_array(), weights)
    with pytest.raises(InputError, match=r"plot_alignment: weights must have shape .* = \(2, 2\), got \(2, 3\)"):
        plot_alignment(weights, ["a", "b"], ["0", "3"])
