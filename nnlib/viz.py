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


def draw_graph(root, ax=None, *, show_data=None, show_grad=None, highlight=None):
    """Draw the computational graph of a :class:`nnlib.autograd.Value`, inputs on the left, ``root`` on the right.

    Each box shows the node's label (or operation), its forward value and its gradient.

    Args:
        show_data, show_grad: ``None`` shows every node's value / gradient; otherwise a collection of the nodes
            whose value / gradient is shown, the others showing "?" (to step through a pass).
        highlight: a node to draw in orange (the one being computed).

    Returns:
        The matplotlib Axes.
    """
    from .autograd import Value

    if not isinstance(root, Value):
        raise TypeError(f"draw_graph: root must be an nnlib.autograd.Value, got {type(root).__name__}")
    nodes = root.nodes()
    column = _graph_columns(nodes)
    row = _graph_rows(nodes, column)
    n_columns, n_rows = max(column.values()) + 1, max(row.values()) + 1
    ax = _axes(ax, figsize=(min(2.0 * n_columns + 1, 20), min(0.6 * n_rows + 1, 14)))
    shown_data = None if show_data is None else {id(n) for n in show_data}
    shown_grad = None if show_grad is None else {id(n) for n in show_grad}
    position = {id(n): (2.0 * column[id(n)], -row[id(n)]) for n in nodes}
    for node in nodes:
        for child in node.children:
            ax.annotate("", xy=position[id(node)], xytext=position[id(child)],
                        arrowprops={"arrowstyle": "->", "color": "0.6", "shrinkA": 22, "shrinkB": 22})
    for node in nodes:
        data = f"{node.data:.4g}" if shown_data is None or id(node) in shown_data else "?"
        grad = f"{node.grad:.4g}" if shown_grad is None or id(node) in shown_grad else "?"
        name = node.label or node.op
        if node.label and node.op:
            name += f" ({node.op})"
        colour = ("orange" if node is highlight else "honeydew" if node is root
                  else "aliceblue" if not node.children else "whitesmoke")
        ax.text(*position[id(node)], f"{name}\n{data} | ∇ {grad}", ha="center", va="center", fontsize=7,
                bbox={"boxstyle": "round,pad=0.3", "fc": colour, "ec": "0.4"}, zorder=3)
    ax.set(xlim=(-1.2, 2.0 * n_columns - 0.8), ylim=(-n_rows, 1))
    ax.axis("off")
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
