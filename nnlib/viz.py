"""Plotting helpers the lessons share. matplotlib is imported inside each function, never at ``import nnlib``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._checks import InputError, check_array, check_positive_int


def _axes(ax, figsize=(4.5, 4)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_decision_boundary(predict: Callable, X, y, ax=None, resolution: int = 200, title: str | None = None,
                           padding: float = 0.5):
    """Colour the plane by ``predict`` and scatter the labelled points on top.

    Args:
        predict: maps a grid of points (M, 2) to class labels (M,) or scores (M,) / (M, C).
            Scores of shape (M, C) are turned into labels with argmax; (M,) values are drawn as they are,
            with a 0.5 contour (the boundary of 0/1 labels or of probabilities).
        X: (N, 2) points; its dtype is also the grid's, so ``predict`` may be an nnlib model.
        y: (N,) integer labels.
        resolution: grid points along each axis.
        padding: margin around the data.

    Returns:
        The matplotlib Axes.
    """
    X = check_array(X, "plot_decision_boundary", name="X", shape=(None, 2))
    y = np.asarray(y)
    if y.shape != (len(X),):
        raise InputError(f"plot_decision_boundary: y must have shape ({len(X)},), got {y.shape}")
    resolution = check_positive_int(resolution, "plot_decision_boundary", "resolution")
    ax = _axes(ax)
    lo, hi = X.min(axis=0) - padding, X.max(axis=0) + padding
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([g0.ravel(), g1.ravel()]).astype(X.dtype)
    z = np.asarray(predict(grid))
    if z.ndim == 2 and z.shape[1] > 1:
        z = z.argmax(axis=1)
    z = z.reshape(g0.shape).astype(np.float64)
    ax.contourf(g0, g1, z, levels=20 if np.unique(z).size > 2 else [-0.5, 0.5, 1.5], cmap="RdBu", alpha=0.35)
    if z.min() < 0.5 < z.max():
        ax.contour(g0, g1, z, levels=[0.5], colors="k", linewidths=1.5)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu", vmin=0, vmax=max(1, int(y.max())), edgecolors="k", s=60,
               zorder=3)
    ax.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]), xlabel="$x_1$", ylabel="$x_2$")
    if title:
        ax.set_title(title)
    return ax


def plot_function(f: Callable, x, ax=None, *, label: str | None = None, target: Callable | None = None,
                  title: str | None = None, **style):
    """Plot ``f(x)`` for a 1-D grid ``x`` (M,), with an optional dashed ``target(x)`` to compare against.

    ``f`` receives ``x`` as it is given (reshape inside ``f`` if a model needs (M, 1)). Returns the Axes.
    """
    x = check_array(x, "plot_function", name="x", ndim=1)
    ax = _axes(ax, figsize=(5, 3.5))
    if target is not None:
        ax.plot(x, np.ravel(target(x)), "k--", lw=1, label="target")
    ax.plot(x, np.ravel(f(x)), label=label, **style)
    if label or target is not None:
        ax.legend()
    if title:
        ax.set_title(title)
    return ax


def draw_neuron(ax=None, n_inputs: int = 3, activation: str = "step"):
    """A diagram of one artificial neuron: inputs, weights, the sum with bias, the activation, the output."""
    import matplotlib.pyplot as plt

    n_inputs = check_positive_int(n_inputs, "draw_neuron", "n_inputs")
    ax = _axes(ax, figsize=(7, 3))
    ys = np.linspace(1, -1, n_inputs) if n_inputs > 1 else np.zeros(1)
    for i, y in enumerate(ys, start=1):
        ax.annotate("", xy=(2.6, 0), xytext=(0.3, y), arrowprops={"arrowstyle": "->", "color": "tab:blue"})
        ax.text(0.1, y, f"$x_{i}$", ha="right", va="center", fontsize=13)
        ax.text(1.4, 0.55 * y + 0.12, f"$w_{i}$", color="tab:blue", fontsize=12)
    ax.annotate("", xy=(2.75, 0.25), xytext=(2.75, 1.2), arrowprops={"arrowstyle": "->", "color": "tab:red"})
    ax.text(2.75, 1.3, "bias $b$", ha="center", color="tab:red", fontsize=12)
    ax.add_patch(plt.Circle((3, 0), 0.45, fc="lightyellow", ec="k"))
    ax.text(3, 0, r"$\Sigma$", ha="center", va="center", fontsize=18)
    ax.text(3, -0.7, r"$net=\sum_i w_i x_i + b$", ha="center", fontsize=11)
    ax.annotate("", xy=(4.4, 0), xytext=(3.45, 0), arrowprops={"arrowstyle": "->"})
    ax.add_patch(plt.Rectangle((4.4, -0.35), 1.2, 0.7, fc="lavender", ec="k"))
    ax.text(5.0, 0, activation, ha="center", va="center", fontsize=12)
    ax.annotate("", xy=(6.6, 0), xytext=(5.6, 0), arrowprops={"arrowstyle": "->"})
    ax.text(6.7, 0, "$out$", va="center", fontsize=13)
    ax.text(1.2, -1.45, "dendrites / synapses", ha="center", fontsize=9, style="italic", color="gray")
    ax.text(3.0, -1.45, "cell body", ha="center", fontsize=9, style="italic", color="gray")
    ax.text(6.0, -1.45, "axon", ha="center", fontsize=9, style="italic", color="gray")
    ax.set(xlim=(-0.5, 7.5), ylim=(-1.6, 1.6), aspect="equal")
    ax.axis("off")
    return ax


def _graph_columns(nodes: list) -> dict[int, int]:
    """Column of each node (keyed by id): computed nodes one right of their deepest child, leaves just left of
    their first consumer — so a constant used only at the end is drawn there, not at the far left."""
    column = {}
    for node in nodes:  # children come first
        column[id(node)] = 1 + max((column[id(c)] for c in node.children), default=-1)
    first_use: dict[int, int] = {}
    for node in nodes:
        for child in node.children:
            if not child.children:
                first_use[id(child)] = min(first_use.get(id(child), column[id(node)]), column[id(node)])
    column.update({key: used - 1 for key, used in first_use.items()})
    return column


def _graph_rows(nodes: list, column: dict[int, int], sweeps: int = 4) -> dict[int, float]:
    """Row of each node: within a column, nodes sorted by the mean row of their neighbours (barycentre sweeps)."""
    by_column: dict[int, list] = {}
    for node in nodes:
        by_column.setdefault(column[id(node)], []).append(node)
    parents: dict[int, list] = {id(n): [] for n in nodes}
    for node in nodes:
        for child in node.children:
            parents[id(child)].append(node)
    row = {id(n): float(i) for members in by_column.values() for i, n in enumerate(members)}
    height = max(len(m) for m in by_column.values())
    for _ in range(sweeps):
        for members in by_column.values():
            def centre(n):
                neighbours = [*n.children, *parents[id(n)]]
                return np.mean([row[id(m)] for m in neighbours]) if neighbours else row[id(n)]

            members.sort(key=centre)
            offset = (height - len(members)) / 2
            row.update({id(n): offset + i for i, n in enumerate(members)})
    return row


# The graph's figure: at most GRAPH_MAX_WIDTH inches at GRAPH_DPI, so JupyterLab shows it at (nearly) natural size in
# a 1400-pixel window, with labels GRAPH_FONT_PT * GRAPH_DPI / 72 ≈ 12.5 pixels tall.
GRAPH_DPI = 100
GRAPH_FONT_PT = 9
GRAPH_MAX_WIDTH = 10.0
SHORT_OPS = {"sigmoid": "σ"}  # a labelled node's operation, short enough for its box: "out_h1 (σ)"


def draw_graph(root, ax=None, *, show_data=None, show_grad=None, highlight=None):
    """Draw the computational graph of a :class:`nnlib.autograd.Value`, inputs on the left, ``root`` on the right.

    Each box shows the node's name (:attr:`Value.name`: label, operation, or a constant's value; a labelled
    result adds its operation, "out (σ)"), its forward value and its gradient ∇, one per line, at
    ``GRAPH_FONT_PT`` points in a figure at most ``GRAPH_MAX_WIDTH`` inches wide.

    Args:
        show_data, show_grad: ``None`` shows every node's value / gradient; otherwise a collection of the nodes
            whose value / gradient is shown, the others showing "?" (to step through a pass).
        highlight: a node to draw in orange (the one being computed).

    Returns:
        The matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    from .autograd import Value

    if not isinstance(root, Value):
        raise TypeError(f"draw_graph: root must be an nnlib.autograd.Value, got {type(root).__name__}")
    nodes = root.nodes()
    column = _graph_columns(nodes)
    row = _graph_rows(nodes, column)
    n_columns, n_rows = max(column.values()) + 1, max(row.values()) + 1
    if ax is None:
        size = (min(1.0 * n_columns + 0.6, GRAPH_MAX_WIDTH), min(0.62 * n_rows + 0.8, 14))
        _, ax = plt.subplots(figsize=size, dpi=GRAPH_DPI, layout="constrained")
    shown_data = None if show_data is None else {id(n) for n in show_data}
    shown_grad = None if show_grad is None else {id(n) for n in show_grad}
    position = {id(n): (2.0 * column[id(n)], -row[id(n)]) for n in nodes}
    for node in nodes:
        for child in node.children:
            ax.annotate("", xy=position[id(node)], xytext=position[id(child)],
                        arrowprops={"arrowstyle": "->", "color": "0.6", "shrinkA": 18, "shrinkB": 18})
    for node in nodes:
        data = f"{node.data:.4g}" if shown_data is None or id(node) in shown_data else "?"
        grad = f"{node.grad:.4g}" if shown_grad is None or id(node) in shown_grad else "?"
        colour = ("orange" if node is highlight else "honeydew" if node is root
                  else "aliceblue" if not node.children else "whitesmoke")
        name = f"{node.label} ({SHORT_OPS.get(node.op, node.op)})" if node.label and node.op else node.name
        ax.text(*position[id(node)], f"{name}\n{data}\n∇ {grad}", ha="center", va="center",
                fontsize=GRAPH_FONT_PT, linespacing=1.1,
                bbox={"boxstyle": "round,pad=0.25", "fc": colour, "ec": "0.4"}, zorder=3)
    ax.set(xlim=(-1.0, 2.0 * n_columns - 1.0), ylim=(-n_rows + 0.4, 0.6))
    ax.axis("off")
    return ax


def graph_pass_steps(root) -> int:
    """How many steps :func:`draw_graph_step` has for ``root``: its computed nodes (forward), then all nodes
    (backward)."""
    nodes = root.nodes()
    return sum(bool(node.children) for node in nodes) + len(nodes)


def draw_graph_step(root, step: int):
    """Step ``step`` (0 .. :func:`graph_pass_steps` − 1) of the forward-then-backward pass through ``root``'s graph.

    The forward steps reveal the computed nodes' values in topological order, the backward steps each node's
    gradient in reverse order; the current node is orange and the title states the rule it applies, e.g.
    ``backward: ∂E/∂w5 = 0.0822``. ``root.backward()`` must have run. Returns the Axes.
    """
    nodes = root.nodes()
    computed = [node for node in nodes if node.children]
    leaves = [node for node in nodes if not node.children]
    n_steps = len(computed) + len(nodes)
    if not 0 <= step < n_steps:
        raise InputError(f"draw_graph_step: step must be in 0 .. {n_steps - 1} for this graph, got {step}")
    if step < len(computed):
        node = computed[step]
        shown_data, shown_grad = leaves + computed[:step + 1], []
        operands = ", ".join(f"{child.name}={child.data:.6g}" for child in node.children)
        rule = f"forward: {node.name} = {node.op}({operands}) = {node.data:.6g}"
    else:
        visited = nodes[::-1][:step - len(computed) + 1]
        node, shown_data, shown_grad = visited[-1], nodes, visited
        rule = f"backward: ∂{root.name}/∂{node.name} = {node.grad:.6g}. " + node.local_rule()
    ax = draw_graph(root, show_data=shown_data, show_grad=shown_grad, highlight=node)
    ax.set_title(f"step {step} of {n_steps - 1}\n{rule}", fontsize=GRAPH_FONT_PT + 1, loc="left", wrap=True)
    return ax


def step_through_graph(root):
    """A slider over the steps of :func:`draw_graph_step`: both passes through ``root``'s graph, node by node.

    Shows the slider and the figure, and returns the ipywidgets ``interact`` widget (a cell ends with
    ``_ = step_through_graph(E)``, or it would be shown twice).
    """
    import matplotlib.pyplot as plt
    from ipywidgets import IntSlider, interact

    def show(step=0):
        draw_graph_step(root, step)
        plt.show()

    slider = IntSlider(value=0, min=0, max=graph_pass_steps(root) - 1, continuous_update=False)
    return interact(show, step=slider).widget


# --- the lessons' figures ------------------------------------------------------------------------------------------

NETWORK_222 = {"w1": ("i1", "h1"), "w2": ("i2", "h1"), "w3": ("i1", "h2"), "w4": ("i2", "h2"),
               "w5": ("h1", "o1"), "w6": ("h2", "o1"), "w7": ("h1", "o2"), "w8": ("h2", "o2"),
               "b1": ("b1", "h2"), "b2": ("b2", "o2")}


def draw_222_network(params: dict, ax=None):
    """Lesson 03's 2-2-2 network (inputs left, outputs right) with each weight written on its edge.

    Args:
        params: the ten numbers ``w1`` … ``w8``, ``b1``, ``b2`` by name (``w1``: i1 → h1, ``w2``: i2 → h1,
            ``w3``: i1 → h2, ``w4``: i2 → h2, ``w5``: h1 → o1, ``w6``: h2 → o1, ``w7``: h1 → o2, ``w8``: h2 → o2;
            ``b1`` is shared by h1 and h2, ``b2`` by o1 and o2).

    Returns:
        The matplotlib Axes.
    """
    missing = sorted(set(NETWORK_222) - set(params))
    if missing:
        raise InputError(f"draw_222_network: params lacks {', '.join(missing)}; give all of "
                         f"{', '.join(NETWORK_222)} by name")
    ax = _axes(ax, figsize=(7, 3.6))
    at = {"i1": (0, 1), "i2": (0, 0), "h1": (1, 1), "h2": (1, 0), "o1": (2, 1), "o2": (2, 0),
          "b1": (0.55, -0.7), "b2": (1.55, -0.7)}
    arrow = {"arrowstyle": "->", "color": "0.5", "shrinkB": 16}
    for name, (start, end) in NETWORK_222.items():
        (x0, y0), (x1, y1) = at[start], at[end]
        ax.annotate("", (x1, y1), (x0, y0), arrowprops=arrow)
        ax.text(x0 + 0.3 * (x1 - x0), y0 + 0.3 * (y1 - y0), f"{name}={params[name]:.2f}", fontsize=9,
                ha="center", bbox={"fc": "white", "ec": "none", "pad": 0.5})
    ax.annotate("", at["h1"], at["b1"], arrowprops=arrow)
    ax.annotate("", at["o1"], at["b2"], arrowprops=arrow)
    for name, xy in at.items():
        ax.text(*xy, name, ha="center", va="center", fontsize=11,
                bbox={"boxstyle": "circle", "fc": "lightyellow" if name[0] == "b" else "aliceblue"})
    ax.set(xlim=(-0.3, 2.3), ylim=(-1.0, 1.3))
    ax.axis("off")
    return ax


def draw_unrolled_rnn(T: int = 4, ax=None):
    """A recurrent cell folded (one cell with a loop) and unrolled over ``T`` steps: T copies sharing
    :math:`W_{ih}`, :math:`W_{hh}` and :math:`b`. Returns the Axes."""
    T = check_positive_int(T, "draw_unrolled_rnn", "T")
    ax = _axes(ax, figsize=(1.7 * T + 3.4, 2.8))
    state = {"boxstyle": "round,pad=0.35", "fc": "lightyellow", "ec": "k"}
    node = {"ha": "center", "va": "center", "fontsize": 13}

    def arrow(start, end, label, color, **style):
        ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "->", "color": color, "lw": 1.5, **style})
        ax.text((start[0] + end[0]) / 2 + 0.08, (start[1] + end[1]) / 2 + 0.12, label, color=color, fontsize=11)

    ax.text(0, 1, "$h_t$", bbox=state, **node)
    ax.text(0, 0, "$x_t$", **node)
    arrow((0, 0.2), (0, 0.72), "$W_{ih}$", "tab:blue")
    arrow((0.3, 1.2), (-0.3, 1.2), "", "tab:red", connectionstyle="arc3,rad=1.8")
    ax.text(0, 1.75, "$W_{hh}$", color="tab:red", ha="center", fontsize=11)
    ax.text(1.0, 1, "unroll\n$\\Longrightarrow$", ha="center", va="center", fontsize=11)
    for t in range(T + 1):
        cx = 2.2 + 1.7 * t
        ax.text(cx, 1, f"$h_{t}$", bbox=state, **node)
        if t:
            ax.text(cx, 0, f"$x_{t}$", **node)
            arrow((cx, 0.2), (cx, 0.72), "$W_{ih}$", "tab:blue")
            arrow((cx - 1.4, 1), (cx - 0.35, 1), "$W_{hh}$", "tab:red")
    ax.set(xlim=(-0.6, 3.0 + 1.7 * T), ylim=(-0.4, 2.0), title="the same $W_{ih}$, $W_{hh}$, $b$ at every step")
    ax.axis("off")
    return ax


def kernel_text(kernel) -> str:
    """A (KH, KW) kernel as text rows: ``[[1, 0, -1], [2, 0, -2]]`` → ``"1 0 -1; 2 0 -2"`` (fractions as 1/9)."""
    from fractions import Fraction

    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 2:
        raise InputError(f"kernel_text: kernel must be 2-D (KH, KW), got shape {kernel.shape}")
    return "; ".join(" ".join(str(Fraction(float(v)).limit_denominator(100)) for v in row) for row in kernel)


def parse_kernel(text: str) -> np.ndarray:
    """``"1 0 -1; 2 0 -2; 1 0 -1"`` → a (KH, KW) float64 array: rows split on ``;``, entries on spaces or commas,
    fractions such as ``1/9`` allowed. Raises :class:`nnlib.InputError` naming what cannot be read."""
    from fractions import Fraction

    rows = [row.replace(",", " ").split() for row in str(text).split(";")]
    if not rows[0] or len({len(row) for row in rows}) != 1:
        raise InputError(f"parse_kernel: cannot read {text!r}: every row needs the same number of entries, "
                         "rows separated by ';', e.g. 1 0 -1; 2 0 -2; 1 0 -1")
    try:
        return np.array([[float(Fraction(entry)) for entry in row] for row in rows])
    except (ValueError, ZeroDivisionError) as err:
        raise InputError(f"parse_kernel: cannot read {text!r}: {err}; write numbers or fractions such as 1/9") \
            from None


def show_feature_map(image, kernel: str = "1 0 -1; 2 0 -2; 1 0 -1"):
    """A (H, W) ``image`` beside its feature map under ``kernel`` (text, see :func:`parse_kernel`), with "same"
    zero padding, as :class:`nnlib.Conv2d` computes it. Returns the figure."""
    import matplotlib.pyplot as plt

    from .layers.conv import Conv2d

    image = check_array(image, "show_feature_map", name="image", ndim=2)
    weights = parse_kernel(kernel)
    conv = Conv2d(1, 1, weights.shape, padding=(weights.shape[0] // 2, weights.shape[1] // 2), bias=False,
                  dtype=np.float64)
    conv.weight.data[0, 0] = weights
    fig, (ax_in, ax_out) = plt.subplots(1, 2, figsize=(11, 5.5), layout="constrained")
    ax_in.imshow(image, cmap="gray")
    ax_in.set_title("input")
    shown = ax_out.imshow(conv(image.astype(np.float64)[None, None])[0, 0], cmap="gray")
    fig.colorbar(shown, ax=ax_out, shrink=0.8)
    kh, kw = weights.shape
    ax_out.set_title(f"feature map of a {kh}×{kw} kernel (weights sum to {round(weights.sum(), 6) + 0.0:g})")
    for ax in (ax_in, ax_out):
        ax.axis("off")
    return fig


def kernel_editor(image, presets: dict, start: str | None = None):
    """A kernel editor over ``image`` (H, W): a preset menu, a text field for any kernel, and
    :func:`show_feature_map` redrawn on Enter. A kernel that cannot be read prints why instead of a figure.

    Args:
        presets: {name: (KH, KW) kernel}; ``start`` names the first shown (default: the first preset).

    Returns:
        The ipywidgets VBox of the controls and the figure, already shown (a cell ends with ``_ = kernel_editor(…)``).
    """
    import matplotlib.pyplot as plt
    from IPython.display import display
    from ipywidgets import Dropdown, Text, VBox, interactive

    if not presets:
        raise InputError("kernel_editor: presets is empty; give at least one {name: kernel}")
    start = next(iter(presets)) if start is None else start
    if start not in presets:
        raise InputError(f"kernel_editor: start {start!r} is not a preset; choose one of {', '.join(presets)}")

    def show(kernel):
        try:
            show_feature_map(image, kernel)
        except InputError as err:
            print(f"Cannot read the kernel: {err}")
            return
        plt.show()

    box = Text(value=kernel_text(presets[start]), description="kernel", continuous_update=False)
    preset = Dropdown(options=list(presets), value=start, description="preset")
    preset.observe(lambda change: setattr(box, "value", kernel_text(presets[change["new"]])), names="value")
    editor = VBox([preset, interactive(show, kernel=box)])
    display(editor)
    return editor


def plot_attention_weights(weights, queries, keys, ax=None, title: str = ""):
    """Heat map of attention weights (T_q, T_k), the tokens as tick labels and each weight written in its cell
    (legible: 10 pt, white on dark cells). Returns the Axes."""
    weights = check_array(weights, "plot_attention_weights", name="weights", ndim=2)
    if weights.shape != (len(queries), len(keys)):
        raise InputError(f"plot_attention_weights: weights has shape {weights.shape}, expected "
                         f"({len(queries)}, {len(keys)}) = (len(queries), len(keys))")
    ax = _axes(ax, figsize=(6, 5.5))
    ax.imshow(weights, cmap="Blues", vmin=0, vmax=1)
    ax.set(xticks=range(len(keys)), yticks=range(len(queries)), xlabel="key", ylabel="query", title=title)
    ax.set_xticklabels(keys, rotation=45)
    ax.set_yticklabels(queries)
    for (i, j), a in np.ndenumerate(weights):
        ax.text(j, i, f"{a:.2f}", ha="center", va="center", fontsize=10, color="white" if a > 0.5 else "black")
    return ax


def plot_against_length(lengths, values: dict, ylabel: str, title: str, labels=("multi-head attention", "LSTM"),
                        ax=None):
    """Log–log plot of ``values`` = {T: (one value per label)} against the sequence lengths ``lengths``
    (x axis base 2, one marked line per label). Returns the Axes."""
    lengths = list(lengths)
    missing = [T for T in lengths if T not in values]
    if missing:
        raise InputError(f"plot_against_length: values has no entry for T = {missing}; give one per length")
    ax = _axes(ax, figsize=(6, 3.8))
    for column, (label, marker) in enumerate(zip(labels, "os^v", strict=False)):
        ax.plot(lengths, [values[T][column] for T in lengths], marker + "-", label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(lengths, [str(T) for T in lengths])
    ax.set(xlabel="sequence length T", ylabel=ylabel, title=title)
    ax.legend()
    return ax


def plot_alignment(weights, source_tokens, target_tokens, ax=None, title: str | None = None):
    """Heat map of attention weights: which source token each output token read (a translation's *alignment*).

    Args:
        weights: (T, S) attention weights, rows summing to 1 — e.g. a decoder's cross-attention for one sentence,
            averaged over its heads.
        source_tokens: the S source tokens (column labels); target_tokens: the T output tokens (row labels).

    Returns:
        The matplotlib Axes.
    """
    weights = check_array(weights, "plot_alignment", name="weights", ndim=2)
    if weights.shape != (len(target_tokens), len(source_tokens)):
        raise InputError(f"plot_alignment: weights must have shape (len(target_tokens), len(source_tokens)) = "
                         f"({len(target_tokens)}, {len(source_tokens)}), got {weights.shape}")
    ax = _axes(ax, figsize=(0.55 * len(source_tokens) + 1.8, 0.4 * len(target_tokens) + 1.2))
    ax.imshow(weights, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(source_tokens)), [str(t) for t in source_tokens], rotation=60, ha="right")
    ax.set_yticks(range(len(target_tokens)), [str(t) for t in target_tokens])
    ax.set(xlabel="source (encoder)", ylabel="output (decoder)")
    if title:
        ax.set_title(title)
    return ax
