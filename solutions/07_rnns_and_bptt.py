# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # Lesson 07 — Recurrent networks and backpropagation through time
#
# Text, speech, prices and sensor readings arrive as **sequences**, one step after another, and what comes next
# depends on what came before. The networks of the previous lessons map one fixed-size input to one output and
# forget it at once. A **recurrent neural network** (RNN) reads a sequence step by step and carries a **hidden
# state** from each step to the next: a memory. This lesson builds one, unrolls it in time, derives how it learns —
# **backpropagation through time** (BPTT) — and measures the problem that derivation reveals: gradients that
# **vanish** or **explode** over many steps. Then it puts RNNs to work: a network that writes text, and one that
# forecasts a noisy signal.
#
# ## Learning goals
#
# By the end of this lesson you can
#
# 1. say what an RNN is — a network with **recurrent connections** that give it a memory of previous inputs — and
#    name its uses: language modelling and text generation, time-series prediction, speech recognition, machine
#    translation;
# 2. compute one step $h_t = \tanh(x_t W_{ih} + h_{t-1} W_{hh} + b)$ and **unroll** the recurrence into a deep
#    feed-forward network whose layers **share their weights**;
# 3. derive BPTT: $\partial L / \partial h_k$ as a sum over time of **products of Jacobians**
#    $\operatorname{diag}(1 - h_j^2)\, W_{hh}^\top$, the one-step recursion, and
#    $\partial L / \partial W_{hh} = \sum_t h_{t-1}^\top \delta_t$ — check them against nnlib and finite
#    differences, and **build an RNN layer with full BPTT** that trains like nnlib's;
# 4. measure **vanishing and exploding gradients** and explain them with the **spectral radius** of $W_{hh}$ and the
#    activation's derivative;
# 5. apply the notes' remedies — **gradient clipping** (by norm or by value; you write the global-norm one), **ReLU**,
#    the **gates** of LSTM and GRU — and explain **truncated BPTT**; derive $\operatorname{Var}(y) = n
#    \operatorname{Var}(w) \operatorname{Var}(x)$ and choose a weight **initialization** (Xavier, He) that keeps the
#    variance through 20 layers;
# 6. train a character-level **language model** that writes text, and an RNN **forecaster** that beats a naive
#    baseline.

# %%
import matplotlib.pyplot as plt
import numpy as np
from ipywidgets import Dropdown, FloatSlider, IntSlider, interact

from nnlib import (
    GRU,
    LSTM,
    RNN,
    SGD,
    Adam,
    CrossEntropyLoss,
    Embedding,
    Linear,
    MSELoss,
    Parameter,
    ReLU,
    SequenceModel,
    Tanh,
    TrainingDivergedError,
    clip_grad_norm,
    clip_grad_value,
    evaluate,
    fit,
    grad_norm,
    gradcheck,
    numerical_gradient,
    relative_error,
)
from nnlib.data import batches, make_noisy_sine
from nnlib.exercises import (
    check_bptt_step,
    check_clip_grad_norm,
    check_rnn_layer,
    check_rnn_step,
    check_temperature_softmax,
    check_truncated_bptt,
)
from nnlib.functional import softmax
from nnlib.layers.recurrent import RNNCache
from nnlib.viz import draw_unrolled_rnn

np.set_printoptions(precision=4, suppress=True)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Recurrent neural networks: memory through recurrent connections
#
# The notes define them in one sentence: *Recurrent Neural Networks (RNNs) are a class of neural networks designed
# to handle sequential data by maintaining a memory of previous inputs through recurrent connections.*
#
# A sequence $x_1, x_2, \dots, x_T$ — characters, words, audio frames, daily prices — may have any length $T$. An
# RNN reads it one step at a time and keeps a **hidden state** $h_t$, a vector of $H$ numbers that summarises
# everything it has seen so far. At every step **the same cell** combines the new input with the previous state:
#
# $$net_t = x_t W_{ih} + h_{t-1} W_{hh} + b, \qquad h_t = \tanh(net_t), \qquad t = 1, \dots, T,$$
#
# starting from $h_0 = 0$. The notation is nnlib's (and this course's): **row vectors** times $(in, out)$ matrices —
# $x_t$ is $(1, I)$, or $(N, I)$ for a batch of $N$ sequences, $h_t$ is $(1, H)$, $W_{ih}$ is $(I, H)$, $b$ is $(H,)$,
# and $W_{hh}$, $(H, H)$, holds the **recurrent connections**: the weights from the state to itself. (nnlib, like
# PyTorch, keeps two biases `bias_ih` and `bias_hh`; only their sum $b$ matters.) A prediction can be read from
# every state, $y_t = h_t W_{hy} + c$, or from the last one only.
#
# ### What RNNs are used for (notes §3.1)
#
# * **Natural language processing — language modelling and text generation.** A language model predicts the next
#   character or word from the ones before it; drawing from its prediction and feeding the draw back in writes new
#   text (section 6 trains one).
# * **Time-series prediction — e.g. stock-price forecasting.** The state summarises the recent history, and the next
#   value is predicted from it (section 7 forecasts a noisy sine).
# * **Speech recognition — converting audio to text.** A sequence of short audio frames goes in, a sequence of
#   characters or words comes out.
# * **Machine translation — translating sentences between languages.** One RNN reads the source sentence into its
#   state (the *encoder*), a second one writes the translation from it (the *decoder*); attention and the
#   transformer grew out of this setting.
#
# `nnlib.RNN` is this layer, batch-first: it reads $x$ of shape $(N, T, I)$ and returns every state, $(N, T, H)$,
# and the last one, $h_T$ $(N, H)$. The same weights read a sequence of any length:

# %%
rnn = RNN(input_size=3, hidden_size=4, rng=0, dtype=np.float64)
for name, param in rnn.named_parameters():
    print(f"{name:9s} {param.shape}")
x = np.random.default_rng(1).normal(size=(2, 5, 3))        # N = 2 sequences, T = 5 steps, I = 3 features
out, h_n = rnn(x)
longer, _ = rnn(np.random.default_rng(2).normal(size=(2, 12, 3)))
print("T = 5: out", out.shape, "h_n", h_n.shape, "| T = 12: out", longer.shape)
assert np.array_equal(out[:, -1], h_n) and longer.shape == (2, 12, 4)

# %% [markdown] slideshow={"slide_type": "subslide"}
# The memory at work: change **only the first input** $x_1$ of each sequence and watch every later state change.
# An MLP fed with $x_T$ alone could not notice. Note how the change fades step after step — the memory is short,
# a first hint of section 4.

# %%
x_changed = x.copy()
x_changed[:, 0] += 1.0
change = np.abs(rnn(x_changed)[0] - out).max(axis=(0, 2))    # largest change of h_t, for t = 1 … 5
print("max |change of h_t| for t = 1..5:", change.round(4))
assert np.all(change > 0)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 7.1 — one step of the recurrence
#
# Write `rnn_step(x_t, h_prev, W_ih, W_hh, b)`: for a batch of inputs `x_t` $(N, I)$ and previous states `h_prev`
# $(N, H)$, return the new states $h_t = \tanh(x_t W_{ih} + h_{t-1} W_{hh} + b)$, shape $(N, H)$. Mind the layout:
# row vectors on the left of the matrices.

# %%
def rnn_step(x_t, h_prev, W_ih, W_hh, b):
    """h_t (N, H) from x_t (N, I), h_prev (N, H), W_ih (I, H), W_hh (H, H), b (H,)."""
    ### BEGIN SOLUTION
    return np.tanh(x_t @ W_ih + h_prev @ W_hh + b)
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_rnn_step(rnn_step)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Unrolling: a deep network with shared weights
#
# Draw one copy of the cell per time step and the loop disappears: the RNN **unrolled** over $T$ steps is a
# feed-forward network $T$ layers deep. Layer $t$ takes the input $x_t$ and the output $h_{t-1}$ of layer $t - 1$ —
# and every layer uses **the same** $W_{ih}$, $W_{hh}$ and $b$.

# %% jupyter={"source_hidden": true}
draw_unrolled_rnn(T=4)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The forward pass of the unrolled network is a plain loop. By hand, with NumPy, on the sequences of section 1 —
# it must give exactly what `nnlib.RNN` computed:

# %%
W_ih, W_hh = rnn.weight_ih.data, rnn.weight_hh.data
b = rnn.bias_ih.data + rnn.bias_hh.data
h = np.zeros((2, 4))                                         # h_0
states = []
for t in range(x.shape[1]):
    h = np.tanh(x[:, t] @ W_ih + h @ W_hh + b)               # one layer of the unrolled network
    states.append(h)
by_hand = np.stack(states, axis=1)                           # (N, T, H)
print(f"h_5 of the first sequence, by hand: {by_hand[0, -1]}\n                        nnlib.RNN: {out[0, -1]}")
assert np.allclose(by_hand, out, rtol=0, atol=1e-14)

# %% [markdown] slideshow={"slide_type": "subslide"}
# nnlib's forward keeps every state of its **last** call in `rnn.cache`, the named tuple `RNNCache(x, hs)` that its
# backward reads (and then lets go). `rnn.cache.hs` holds the states time-major: `hs[0]` is $h_0$, `hs[t]` is
# $h_t$ — the same numbers:

# %%
rnn(x)
hs = rnn.cache.hs
print("stored states:", hs.shape, "(T + 1, N, H)")
assert np.array_equal(hs[0], np.zeros((2, 4))) and np.allclose(hs[1:].transpose(1, 0, 2), by_hand)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Why share the weights?** The same rule applies at every position of a sequence (what follows "th" does not depend
# on where in the text it stands), so it is learned once from all positions. The number of parameters does not grow
# with $T$: the RNN above has $I H + H^2 + 2H = 36$ weights whatever the length, while an MLP reading a window of
# $T$ inputs at once needs $T \cdot I \cdot H$ input weights for its first layer alone, and a fixed $T$.

# %%
n_rnn = sum(p.size for p in rnn.parameters())
for length in [5, 50, 500]:
    print(f"T = {length:3d}: RNN {n_rnn} parameters, first layer of an MLP over the window {length * 3 * 4 + 4}")
assert n_rnn == 3 * 4 + 4 * 4 + 2 * 4

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Backpropagation through time
#
# Training an RNN is training its unrolled network: backpropagation through the $T$ layers, with one twist — every
# layer uses the same weights, so their gradients **add up over time**. Take a loss with one term per step (e.g. the
# error of the prediction $y_t$), $L = \sum_{t=1}^{T} L_t(h_t)$, and one sequence (a batch adds a sum over
# examples). Gradients are **row vectors**, like the states.
#
# **Step 1 — one step's Jacobian.** Unit $a$ of $h_j$ is $h_{j,a} = \tanh\big(\sum_b h_{j-1,b} (W_{hh})_{ba} +
# \dots\big)$, so
#
# $$\frac{\partial h_{j,a}}{\partial h_{j-1,b}} = (1 - h_{j,a}^2)\,(W_{hh})_{ba}
# \quad\Longrightarrow\quad
# J_j := \frac{\partial h_j}{\partial h_{j-1}} = \operatorname{diag}(1 - h_j^2)\; W_{hh}^\top \qquad (H \times H),$$
#
# with rows indexing $h_j$ and columns $h_{j-1}$; $1 - h_j^2 = \tanh'(net_j)$ written with the output, as in
# lesson 02. The **transpose** comes from nnlib's row layout $h_{j-1} W_{hh}$: in the column-vector convention
# $h_j = \tanh(W h_{j-1} + \dots)$ of many textbooks (and PyTorch's stored `weight_hh`, $W = W_{hh}^\top$) the same
# Jacobian reads $\operatorname{diag}(1 - h_j^2)\, W$. A row gradient goes back one step by multiplying with $J_j$
# on the right — the part of $\partial L / \partial h_{j-1}$ that flows through $h_j$ is
#
# $$\frac{\partial L}{\partial h_j}\, J_j = \Big(\frac{\partial L}{\partial h_j} \odot (1 - h_j^2)\Big) W_{hh}^\top .$$
#
# **Step 2 — every path through time.** $h_k$ influences $L_t$ for every $t \ge k$, through $h_{k+1}, \dots, h_t$.
# The chain rule multiplies the Jacobians along that path and sums over the paths:
#
# $$\boxed{\;\frac{\partial L}{\partial h_k} = \sum_{t=k}^{T} \frac{\partial L_t}{\partial h_t}
# \prod_{j=k+1}^{t} \frac{\partial h_j}{\partial h_{j-1}}
# = \sum_{t=k}^{T} \frac{\partial L_t}{\partial h_t}\, J_t\, J_{t-1} \cdots J_{k+1}\;}$$
#
# (the product is ordered from $j = t$ on the left down to $j = k + 1$; for $t = k$ it is empty, the identity).
#
# **Step 3 — the recursion.** Every path from $h_k$ to a later loss passes through $h_{k+1}$ first: factor its
# first Jacobian $J_{k+1}$ out of the terms $t > k$ (there is no $L_0$: take $\partial L_0 / \partial h_0 = 0$):
#
# $$\frac{\partial L}{\partial h_k} = \frac{\partial L_k}{\partial h_k}
# + \frac{\partial L}{\partial h_{k+1}}\, J_{k+1}.$$
#
# So one backward sweep, $k = T, T - 1, \dots, 0$, gives every $\partial L / \partial h_k$ at the cost of one forward
# pass — $O(T)$ instead of the $O(T^2)$ products of the boxed sum. That sweep *is* BPTT.
#
# **Step 4 — the shared weights.** Write $\delta_t = \partial L / \partial net_t = \frac{\partial L}{\partial h_t}
# \odot (1 - h_t^2)$ (nnlib's sign; the notes' $\delta$ is $-\partial E / \partial net$). $W_{hh}$ enters every step,
# $\partial net_{t,a} / \partial (W_{hh})_{ba} = h_{t-1,b}$, so its gradient sums one outer product per step — the
# notes' rule "delta of the unit the weight enters × activation the weight multiplies", summed over time:
#
# $$\frac{\partial L}{\partial W_{hh}} = \sum_{t=1}^{T} h_{t-1}^\top\, \delta_t, \qquad
# \frac{\partial L}{\partial W_{ih}} = \sum_{t=1}^{T} x_t^\top\, \delta_t, \qquad
# \frac{\partial L}{\partial b} = \sum_{t=1}^{T} \delta_t .$$
#
# A check of all four steps. The loss $L = \sum_t G_t \cdot h_t$ with a fixed random $G$ makes
# $\partial L_t / \partial h_t = G_t$. Below, the boxed sum of products is computed **literally** — every Jacobian
# built, every product multiplied out — and compared with `nnlib.RNN.backward` (which runs the recursion) and with
# finite differences, in float64.

# %%
T_demo, H_demo = 6, 4
rng = np.random.default_rng(3)
cell = RNN(3, H_demo, rng=3, dtype=np.float64)
x_demo = rng.normal(size=(1, T_demo, 3))                     # one sequence
h0_demo = rng.uniform(-0.5, 0.5, (1, H_demo))
G = rng.normal(size=(1, T_demo, H_demo))                     # ∂L_t/∂h_t = G_t


def demo_loss():
    """L = Σ_t G_t · h_t for the demo sequence, starting from h0_demo."""
    return np.sum(G * cell(x_demo, h0_demo)[0])


demo_loss()
hs_demo = cell.cache.hs[:, 0]                                # (T + 1, H): h_0 … h_T
jacobians = [None] + [np.diag(1 - hs_demo[j] ** 2) @ cell.weight_hh.data.T for j in range(1, T_demo + 1)]


def grad_h_by_products(k):
    """∂L/∂h_k = Σ_{t ≥ k} ∂L_t/∂h_t · J_t J_{t−1} ⋯ J_{k+1}, every product written out; shape (H,)."""
    total = np.zeros(H_demo)
    for t in range(max(k, 1), T_demo + 1):
        path = np.eye(H_demo)
        for j in range(t, k, -1):
            path = path @ jacobians[j]
        total += G[0, t - 1] @ path
    return total


grad_h = np.array([grad_h_by_products(k) for k in range(T_demo + 1)])    # (T + 1, H)
cell.zero_grad()
grad_x, grad_h0 = cell.backward(G)
deltas = grad_h[1:] * (1 - hs_demo[1:] ** 2)                 # δ_t, (T, H)
errors = {
    "∂L/∂h_0 vs nnlib's grad_h0": relative_error(grad_h[0], grad_h0[0]),
    "∂L/∂x_t = δ_t W_ihᵀ vs nnlib's grad_x": relative_error(deltas @ cell.weight_ih.data.T, grad_x[0]),
    "Σ_t h_{t-1}ᵀ δ_t vs nnlib's weight_hh.grad": relative_error(hs_demo[:-1].T @ deltas, cell.weight_hh.grad),
    "∂L/∂h_0 vs finite differences": relative_error(grad_h[0], numerical_gradient(demo_loss, h0_demo)[0]),
}
for what, error in errors.items():
    print(f"{what:45s} relative error < 1e-8: {error < 1e-8}")
assert all(error < 1e-8 for error in errors.values())

# %% [markdown] slideshow={"slide_type": "subslide"}
# And `nnlib.gradcheck` confirms every gradient of the layer — input, initial state and all four parameters —
# against centred differences:

# %%
gradcheck_errors = gradcheck(cell, x_demo, h0_demo)
print({name: f"{error:.0e}" if error > 1e-9 else "< 1e-9" for name, error in gradcheck_errors.items()})
assert max(gradcheck_errors.values()) < 1e-7

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 7.2 — one step of BPTT
#
# The backward sweep repeats one step, from $t = T$ down to 1. Write `bptt_step(dh_t, h_t, h_prev, W_hh)`: given
# `dh_t` $= \partial L / \partial h_t$ $(N, H)$ — the total gradient reaching $h_t$, from its own loss term and from
# all later steps — the state `h_t` and the previous state `h_prev` (both $(N, H)$), return the tuple
#
# * `delta_t` $= \delta_t = $ `dh_t` $\odot (1 - h_t^2)$, shape $(N, H)$;
# * `dh_prev` $= \delta_t W_{hh}^\top$, the part of $\partial L / \partial h_{t-1}$ that flows back through $W_{hh}$;
# * `dW_hh` $= h_{t-1}^\top \delta_t$, this step's contribution to $\partial L / \partial W_{hh}$, shape $(H, H)$
#   (summed over the batch by the matrix product).

# %%
def bptt_step(dh_t, h_t, h_prev, W_hh):
    """(delta_t (N, H), dh_prev (N, H), dW_hh (H, H)) for one step h_t = tanh(... + h_prev @ W_hh)."""
    ### BEGIN SOLUTION
    delta_t = dh_t * (1 - h_t**2)
    return delta_t, delta_t @ W_hh.T, h_prev.T @ delta_t
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_bptt_step(bptt_step)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 7.3 (build) — an RNN layer with backpropagation through time
#
# Now the whole layer. Write `MyRNN`, a subclass of `nnlib.RNN` (which gives it the parameters `weight_ih`
# $(I, H)$, `weight_hh` $(H, H)$, `bias_ih`, `bias_hh` $(H,)$ and their initialisation) with your own
#
# * `forward(x, h0=None)`: $x$ is $(N, T, I)$, `h0` $(N, H)$ or `None` (zeros). Run the recurrence
#   $h_t = \tanh(x_t W_{ih} + b_{ih} + h_{t-1} W_{hh} + b_{hh})$ for $t = 1 \dots T$, keep **every** state in the
#   cache — `self.cache = RNNCache(x, hs)` with `hs` $(T + 1, N, H)$, `hs[0]` $= h_0$ — and return
#   `(output, h_n)`: all the states batch-first, $(N, T, H)$, and the last one, $(N, H)$;
# * `backward(grad_output, grad_h_n=None)`: `grad_output` $= \partial L / \partial(\text{output})$ $(N, T, H)$ and
#   `grad_h_n` $= \partial L / \partial h_T$ or `None`. Walk back from $t = T$ to 1 with the recursion of step 3:
#   `dh` $= \partial L / \partial h_t$ is what came back from step $t + 1$ **plus** `grad_output[:, t]`; then
#   $\delta_t$ = `dh` $\odot (1 - h_t^2)$ (exercise 7.2). Each step **adds** (`+=`) its share to every parameter's
#   `.grad` (step 4: $x_t^\top \delta_t$, $h_{t-1}^\top \delta_t$, and $\delta_t$ summed over the batch for each
#   bias), stores `dx[:, t]` $= \delta_t W_{ih}^\top$, and sends `dh` $= \delta_t W_{hh}^\top$ one step back.
#   Return `(dx, dh0)`.
#
# The check compares every output and gradient with `nnlib.RNN`'s on random sequences of several shapes, runs
# `nnlib.gradcheck` on your layer, and then trains a `SequenceModel` with your RNN on the noisy sine of section 7:
# its losses must follow nnlib's step for step.

# %%
class MyRNN(RNN):
    """A tanh RNN layer with hand-written forward and BPTT; parameters and initialisation from nnlib.RNN."""

    def forward(self, x, h0=None):
        """x (N, T, I), h0 (N, H) or None → (output (N, T, H), h_n (N, H)); cache: RNNCache(x, hs)."""
        ### BEGIN SOLUTION
        h = np.zeros((x.shape[0], self.hidden_size)) if h0 is None else h0
        b = self.bias_ih.data + self.bias_hh.data
        hs = [h]
        for t in range(x.shape[1]):
            hs.append(np.tanh(x[:, t] @ self.weight_ih.data + hs[-1] @ self.weight_hh.data + b))
        self.cache = RNNCache(x, np.stack(hs))
        return np.stack(hs[1:], axis=1), hs[-1]
        ### END SOLUTION

    def backward(self, grad_output, grad_h_n=None):
        """grad_output (N, T, H), grad_h_n (N, H) or None → (dx (N, T, I), dh0 (N, H)); parameter grads +=."""
        ### BEGIN SOLUTION
        x, hs = self.cache
        dh = np.zeros_like(hs[0]) if grad_h_n is None else grad_h_n
        dx = np.zeros_like(x)
        for t in reversed(range(x.shape[1])):
            delta = (dh + grad_output[:, t]) * (1 - hs[t + 1] ** 2)   # hs[t + 1] is h_t
            self.weight_ih.grad += x[:, t].T @ delta
            self.weight_hh.grad += hs[t].T @ delta                    # hs[t] is h_{t-1}
            self.bias_ih.grad += delta.sum(axis=0)
            self.bias_hh.grad += delta.sum(axis=0)
            dx[:, t] = delta @ self.weight_ih.data.T
            dh = delta @ self.weight_hh.data.T
        return dx, dh
        ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_rnn_layer(MyRNN)

# %% [markdown] slideshow={"slide_type": "subslide"}
# Compare with nnlib's `RNN.backward`: the same loop, with `bptt_step` split off as `step_backward` (without the
# weight gradient) — its reference code, in `nnlib/layers/recurrent.py`:
#
# ```python
# def step_backward(self, grad_h, h_t):
#     delta = grad_h * self.activation_prime(h_t)      # δ_t; tanh' = 1 - h_t²
#     return delta, delta @ self.weight_hh.data.T      # ∂L/∂h_{t-1}: one Jacobian further back
#
# # in backward, with hs = self.cache.hs:
# for t in reversed(range(T)):                         # dh + ∂L_t/∂h_t: the step's own loss term
#     delta[t], dh = self.step_backward(dh + grad_output[t], hs[t + 1])
# # then ∂L/∂W_hh = Σ_t h_{t-1}ᵀ δ_t for all steps at once, as one matrix product
# ```
#
# By default nnlib runs a tuned version of the same loop (`nnlib/kernels/recurrent.py`, tested equal to this one);
# `nnlib.use_fast_kernels(False)` runs the code above.
#
# ### Truncated BPTT
#
# BPTT stores all $T$ states and walks back through all of them: memory and time grow with the length of the
# sequence, and a long text or signal may have millions of steps. **Truncated BPTT** cuts the sequence into windows
# of $k$ steps: the state still flows **forward** from one window into the next, but the gradient stops at the
# window's start. It drops every term of the boxed sum whose path crosses a window boundary: all paths longer than
# $k$ steps — which the products of Jacobians have usually made small anyway (section 4) — and the short paths that
# start just after a cut. The price: dependencies longer than $k$ steps cannot be learned.
#
# With nnlib: run the windows one after the other, each starting from the previous window's last state, and throw
# away each window's `grad_h0`. On a sequence of 60 steps, the error against the full gradient shrinks as the
# window grows (fewer cuts, fewer dropped paths) and vanishes for one window of 60:

# %%
def truncated_grad_W_hh(layer, x, grad_out, window):
    """∂L/∂W_hh with the backward chain cut every ``window`` steps; the state still flows forward.

    Shapes: x (N, T, I), grad_out = ∂L/∂(outputs) (N, T, H) → (H, H).
    """
    layer.zero_grad()
    state = None
    for start in range(0, x.shape[1], window):
        _, state = layer(x[:, start:start + window], state)
        layer.backward(grad_out[:, start:start + window])    # the returned ∂L/∂(initial state) is dropped
    return layer.weight_hh.grad.copy()


rng = np.random.default_rng(4)
long_rnn = RNN(3, 16, rng=4, dtype=np.float64)
x_long, G_long = rng.normal(size=(4, 60, 3)), rng.normal(size=(4, 60, 16))
long_rnn(x_long)
long_rnn.zero_grad()
long_rnn.backward(G_long)
full = long_rnn.weight_hh.grad.copy()                        # ordinary BPTT through all 60 steps
windows = [1, 2, 5, 10, 20, 30, 60]
truncation_errors = [relative_error(truncated_grad_W_hh(long_rnn, x_long, G_long, k), full) for k in windows]
for k, error in zip(windows, truncation_errors, strict=True):
    print(f"window k = {k:2d} steps: relative error of ∂L/∂W_hh {error:.3f}")
assert np.all(np.diff(truncation_errors) < 0) and truncation_errors[-1] == 0

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Vanishing and exploding gradients, measured
#
# The notes (§3.2): during BPTT, **vanishing gradients** become extremely small as they are propagated back through
# many time steps, so the early steps learn slowly or not at all; **exploding gradients** grow excessively large,
# which makes training unstable. *These problems stem from the repeated multiplication of gradients over time.*
#
# The boxed formula says exactly which multiplication. Let the loss depend on the **last step only**,
# $L = L_T(h_T)$. Then
#
# $$\frac{\partial L}{\partial h_k} = \frac{\partial L}{\partial h_T}\; J_T\, J_{T-1} \cdots J_{k+1},
# \qquad J_j = \operatorname{diag}\big(\varphi'(net_j)\big)\, W_{hh}^\top,$$
#
# a product of $T - k$ matrices, for an activation $\varphi$. Its size follows from two facts:
#
# * **Linear activation** ($\varphi' = 1$): $\partial L / \partial h_k = \partial L / \partial h_T\,
#   (W_{hh}^\top)^{T-k}$, a matrix power. It grows or shrinks like $\rho^{T-k}$, where the **spectral radius**
#   $\rho(W_{hh})$ is the largest $|\text{eigenvalue}|$: vanishing if $\rho < 1$, exploding if $\rho > 1$. For
#   $W_{hh} = r\,Q$ with $Q$ **orthogonal** ($Q^\top Q = I$: a rotation or reflection, which keeps every length)
#   it is exact: $\lVert \partial L / \partial h_k \rVert = r^{T-k}\, \lVert \partial L / \partial h_T \rVert$.
# * **tanh or ReLU**: $J_j$ is the linear Jacobian with its rows scaled by $\varphi'(net_j)$, and
#   $0 \le \tanh' \le 1$, $\mathrm{ReLU}' \in \{0, 1\}$, so $\lVert J_j \rVert \le \max|\varphi'| \cdot
#   \lVert W_{hh} \rVert$ (spectral norms): the activation can only lower the bound. A saturated tanh unit
#   ($|h| \approx 1$, $\tanh' \approx 0$) blocks the gradient; a ReLU unit that is off passes nothing.
#
# The experiment: $H = 32$ units, $W_{hh} = r\,Q$ for one random orthogonal $Q$ and radii $r$ from 0.5 to 2, eight
# random input sequences of $T = 50$ steps, $L = g \cdot h_T$ with $\lVert g \rVert = 1$. The function below runs the
# forward loop and the backward recursion of section 3 for three activations (nnlib's RNN has tanh and ReLU; the
# linear one shows the matrix power alone) and returns $\lVert \partial L / \partial h_k \rVert$ for every $k$.

# %%
ACTIVATIONS = {  # φ(net), and φ' written with the output h = φ(net)
    "linear": (lambda net: net, np.ones_like),
    "tanh": (np.tanh, lambda h: 1 - h**2),
    "relu": (lambda net: np.maximum(net, 0), lambda h: (h > 0).astype(h.dtype)),
}


def orthogonal(size, rng):
    """A random orthogonal matrix (size, size): Q of the QR decomposition of a Gaussian matrix."""
    q, r = np.linalg.qr(rng.standard_normal((size, size)))
    return q * np.sign(np.diag(r))


def gradient_setup(radius, T=50, H=32, rng=0):
    """W_ih (4, H), W_hh = radius × a random orthogonal (H, H) — the same one for every radius — and x (8, T, 4)."""
    rng = np.random.default_rng(rng)
    return rng.normal(0, 0.5, (4, H)), radius * orthogonal(H, rng), rng.standard_normal((8, T, 4))


def state_gradient_norms(W_ih, W_hh, x, activation="tanh"):
    """‖∂L/∂h_k‖ for k = 0 … T (T + 1,), for L = g · h_T with ‖g‖ = 1; no bias, h_0 = 0."""
    phi, phi_prime = ACTIVATIONS[activation]
    hs = [np.zeros((x.shape[0], W_hh.shape[0]))]
    for t in range(x.shape[1]):
        hs.append(phi(x[:, t] @ W_ih + hs[-1] @ W_hh))
    dh = np.full_like(hs[0], 1 / np.sqrt(hs[0].size))       # ∂L/∂h_T = g
    norms = [np.linalg.norm(dh)]
    for t in range(x.shape[1], 0, -1):
        dh = (dh * phi_prime(hs[t])) @ W_hh.T               # one Jacobian back: ∂L/∂h_{t−1}
        norms.append(np.linalg.norm(dh))
    return np.array(norms[::-1])


# %% [markdown] slideshow={"slide_type": "subslide"}
# First, a check that this loop is BPTT: for tanh and ReLU, its $\lVert \partial L / \partial h_0 \rVert$ must equal
# the norm of `grad_h0` from `nnlib.RNN.backward` with the same weights.

# %%
W_ih_g, W_hh_g, x_g = gradient_setup(1.1)
g_last = np.full((8, 32), 1 / np.sqrt(8 * 32))
for activation in ["tanh", "relu"]:
    twin = RNN(4, 32, nonlinearity=activation, bias=False, dtype=np.float64)
    twin.weight_ih.data[...], twin.weight_hh.data[...] = W_ih_g, W_hh_g
    twin(x_g)
    _, grad_h0 = twin.backward(None, g_last)
    ours = state_gradient_norms(W_ih_g, W_hh_g, x_g, activation)[0]
    print(f"{activation}: ‖∂L/∂h_0‖ = {ours:.6e} here, {np.linalg.norm(grad_h0):.6e} from nnlib.RNN")
    assert np.isclose(ours, np.linalg.norm(grad_h0), rtol=1e-10)

# %% [markdown] slideshow={"slide_type": "subslide"}
# The measurement: $\log_{10}$ of $\lVert \partial L / \partial h_0 \rVert / \lVert \partial L / \partial h_T \rVert$,
# i.e. how many orders of magnitude the gradient gains (+) or loses (−) on its way back through 50 steps.

# %%
RADII = [0.5, 0.9, 1.0, 1.1, 1.5, 2.0]
T_GRAD = 50
curves = {(act, r): state_gradient_norms(*gradient_setup(r, T=T_GRAD), act) for act in ACTIVATIONS for r in RADII}
log_ratio = {key: np.log10(norms[0] / norms[-1]) for key, norms in curves.items()}
print(f"log10 ‖∂L/∂h_0‖ / ‖∂L/∂h_T‖, T = {T_GRAD}")
print("radius r   " + "".join(f"{r:>8}" for r in RADII))
for act in ACTIVATIONS:
    print(f"{act:10s} " + "".join(f"{log_ratio[act, r]:8.2f}" for r in RADII))
print("T·log10 r  " + "".join(f"{T_GRAD * np.log10(r):8.2f}" for r in RADII))

assert all(np.isclose(log_ratio["linear", r], T_GRAD * np.log10(r)) for r in RADII)    # exactly r^T
assert all(log_ratio[act, r] < -1 for act in ACTIVATIONS for r in RADII if r < 1)       # r < 1: vanishes
assert all(log_ratio[act, r] <= log_ratio["linear", r] + 1e-9 for act in ["tanh", "relu"] for r in RADII)
assert log_ratio["linear", 1.1] > 2 and log_ratio["relu", 2.0] > 2                       # r > 1: explodes
assert log_ratio["tanh", 1.0] < -5 and log_ratio["tanh", 1.5] < 0                        # tanh saturates

# %% [markdown] slideshow={"slide_type": "subslide"}
# What the table shows:
#
# * **Linear**: exactly $T \log_{10} r$. A radius of 0.9 loses 2.3 orders of magnitude in 50 steps, 0.5 loses 15;
#   1.1 gains 2, 1.5 gains 9. Only $r = 1$ keeps the gradient's size.
# * **tanh** is always below linear ($\tanh' \le 1$): even at $r = 1$ the gradient that reaches $h_0$ is about
#   $10^{-9}$ of what left $h_T$. At $r = 1.5$ the states saturate and the gradient *still* vanishes; only around
#   $r = 2$ does it grow. Vanishing is the rule for tanh RNNs; explosions are rarer but sudden.
# * **ReLU** loses units that are off (a 0 on the diagonal) but does not shrink the active ones: it vanishes at
#   small radii and explodes at large ones — it does not saturate.
#
# On a log scale, the gradient's norm against the step $k$ it reaches (the loss sits at $k = T = 50$):

# %% jupyter={"source_hidden": true}
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), sharey=True, layout="constrained")
steps = np.arange(T_GRAD + 1)
for ax, act in zip(axes, ACTIVATIONS, strict=True):
    for r in RADII:
        ax.semilogy(steps, curves[act, r], label=f"r = {r}")
    ax.set(title=f"{act}", xlabel="step k", ylim=(1e-25, 1e17))
axes[0].set_ylabel(r"$\|\partial L / \partial h_k\|$")
axes[-1].legend(loc="lower right", fontsize=9)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Orthogonal matrices make the rule exact; for a general matrix the **spectral radius** still decides the long run,
# even when a single step can stretch a vector by more (the largest singular value $\sigma_{max}$, which bounds one
# step, can exceed $\rho$). A Gaussian matrix scaled to spectral radius 0.9 has $\sigma_{max} > 1$, yet the linear
# gradient still vanishes at about the rate $0.9^T$:

# %%
A = np.random.default_rng(5).standard_normal((32, 32))
A /= np.abs(np.linalg.eigvals(A)).max()                      # spectral radius 1
for r in [0.9, 1.1]:
    measured = np.log10(state_gradient_norms(W_ih_g, r * A, x_g, "linear")[0])
    sigma_max = np.linalg.norm(r * A, 2)
    print(f"ρ = {r}: σ_max = {sigma_max:.2f}, log10 ratio {measured:.2f} (T·log10 ρ = {T_GRAD * np.log10(r):.2f})")
    assert sigma_max > 1 and np.sign(measured) == np.sign(np.log10(r)) and abs(measured - T_GRAD * np.log10(r)) < 1

# %% [markdown] slideshow={"slide_type": "subslide"}
# Explore: the radius, the activation, the length. The dashed line is the linear prediction $r^{T-k}$.

# %% tags=["nbval-ignore-output"]
def plot_gradient_norms(radius=0.9, activation="tanh", T=50):
    """‖∂L/∂h_k‖ against k for W_hh = radius × orthogonal, L on the last step only (log scale)."""
    norms = state_gradient_norms(*gradient_setup(radius, T=T), activation)
    k = np.arange(T + 1)
    _, ax = plt.subplots(figsize=(6.5, 3.8))
    ax.semilogy(k, norms, label=activation)
    ax.semilogy(k, float(radius) ** (T - k), "k--", lw=1, label=r"$r^{T-k}$ (linear)")
    ratio = norms[0] / norms[-1]
    fate = "vanishes" if ratio < 1e-2 else "explodes" if ratio > 1e2 else "keeps its size"
    ax.set(xlabel="step k", ylabel=r"$\|\partial L / \partial h_k\|$",
           title=f"radius {radius:.2f}, {activation}: over {T} steps back the gradient {fate} (× {ratio:.1e})")
    ax.legend()
    plt.show()


_ = interact(plot_gradient_norms,
             radius=FloatSlider(value=0.9, min=0.3, max=2.5, step=0.05, continuous_update=False),
             activation=Dropdown(options=list(ACTIVATIONS), value="tanh"),
             T=IntSlider(value=50, min=5, max=200, step=5, continuous_update=False))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Remedies
#
# The notes (§3.3) list four: **gradient clipping**, **LSTM** units, **GRU** units and the **ReLU** activation.
# Clipping treats explosions; the other three attack vanishing.
#
# ### 5.1 Gradient clipping
#
# *Gradient clipping limits the gradient magnitude during backpropagation to prevent exploding gradients by
# capping values above a threshold.* Two ways to cap:
#
# * **by norm** (the usual one): stack all the parameters' gradients into one vector $g$; if
#   $\lVert g \rVert > c$, rescale it, $g \leftarrow c\, g / \lVert g \rVert$. Its **direction is kept**, only the
#   step length is capped. `nnlib.clip_grad_norm(params, c)` (PyTorch's `clip_grad_norm_`) does this and returns the
#   norm *before* clipping — worth logging;
# * **by value**: clip every entry to $[-c, c]$. Cheap, but it **changes the direction** whenever some entries are
#   clipped and others not: `nnlib.clip_grad_value(params, c)`.

# %%
def two_gradients():
    """Two parameters with gradients (3, 4) and (0, 12): a global norm of 13."""
    params = [Parameter(np.zeros(2)), Parameter(np.zeros(2))]
    params[0].grad[:], params[1].grad[:] = [3.0, 4.0], [0.0, 12.0]
    return params


def flat(params):
    return np.concatenate([p.grad for p in params])


def cosine(u, v):
    return u @ v / (np.linalg.norm(u) * np.linalg.norm(v))


original, by_norm, by_value = two_gradients(), two_gradients(), two_gradients()
norm_before = clip_grad_norm(by_norm, 1.0)
clip_grad_value(by_value, 1.0)
print(f"norm before: {norm_before:.1f} | by norm: {flat(by_norm).round(4)}, norm "
      f"{np.linalg.norm(flat(by_norm)):.4f}, cosine with the original {cosine(flat(by_norm), flat(original)):.4f}")
print(f"by value: {flat(by_value)}, norm {np.linalg.norm(flat(by_value)):.4f}, "
      f"cosine with the original {cosine(flat(by_value), flat(original)):.4f}")
assert np.isclose(norm_before, 13) and np.isclose(np.linalg.norm(flat(by_norm)), 1, atol=1e-6)
assert np.isclose(cosine(flat(by_norm), flat(original)), 1) and cosine(flat(by_value), flat(original)) < 0.9

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 7.4 — clipping by the global norm
#
# Write `clip_by_global_norm(params, max_norm)`, your own `clip_grad_norm`: compute the **global** norm
# $\lVert g \rVert = \sqrt{\sum_p \lVert g_p \rVert^2}$ over the `.grad` of every parameter in `params`; if it exceeds
# `max_norm`, scale **every** gradient **in place** by the same factor `max_norm` / $\lVert g \rVert$ (so that the
# optimizer sees the clipped values); return the norm **before** clipping.

# %%
def clip_by_global_norm(params, max_norm):
    """Scale every p.grad in place so that the global norm is at most max_norm; return the norm before."""
    ### BEGIN SOLUTION
    total = np.sqrt(sum(np.sum(p.grad**2) for p in params))
    if total > max_norm:
        for p in params:
            p.grad *= max_norm / total
    return total
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_clip_grad_norm(clip_by_global_norm)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **An exploding training run.** A tanh RNN with $H = 32$ starts with $W_{hh}$ at radius 1.5 and learns to predict
# a noisy sine one step ahead (section 7 explains the task) with plain SGD at a large learning rate, 0.5 — large
# steps, in a network whose gradient can jump. The loop below records, at every step, the loss and the global norm
# of the gradient before clipping. Same initial weights and batches with and without clipping at $c = 1$:

# %%
X_sine, y_sine = make_noisy_sine(400, 30, noise=0.1, rng=0)


def exploding_model(seed=0, radius=1.5, hidden=32):
    """A tanh RNN with W_hh = radius × orthogonal, and a Linear head on every step."""
    recurrent = RNN(1, hidden, rng=seed)
    recurrent.weight_hh.data[...] = radius * orthogonal(hidden, np.random.default_rng(seed))
    return SequenceModel(recurrent, Linear(hidden, 1, rng=seed + 1))


def train_recording(model, lr=0.5, max_norm=None, epochs=10):
    """Plain SGD on the MSE; returns per-step losses and gradient norms (before clipping). Stops at inf/NaN."""
    loss, optimizer = MSELoss(), SGD(model.parameters(), lr=lr)
    losses, norms = [], []
    for epoch in range(epochs):
        for xb, yb in batches(X_sine, y_sine, 20, rng=epoch):
            model.zero_grad()
            with np.errstate(over="ignore", invalid="ignore"):
                losses.append(float(loss(model(xb), yb)))
                model.backward(loss.backward())
            norms.append(grad_norm(model.parameters()))
            if not np.isfinite(losses[-1] + norms[-1]):
                return np.array(losses), np.array(norms)
            if max_norm is not None:
                clip_grad_norm(model.parameters(), max_norm)
            optimizer.step()
    return np.array(losses), np.array(norms)


runs = {"no clipping": train_recording(exploding_model()),
        "clip_grad_norm(c = 1)": train_recording(exploding_model(), max_norm=1.0)}
unclipped, clipped = runs.values()
print(f"no clipping: diverged after {len(unclipped[0])} steps; gradient norm {unclipped[1][0]:.2f} at the start, "
      f"above 1e10 at the end: {unclipped[1][-2] > 1e10}")
print(f"clipping at c = 1: all {len(clipped[0])} steps; gradient norm {clipped[1][0]:.2f} at the start, at most "
      f"{clipped[1].max():.1f}; mean loss of the last 20 steps {clipped[0][-20:].mean():.3f}")
assert not np.isfinite(unclipped[0][-1]) and len(unclipped[0]) < 50 and unclipped[1][-2] > 1e10
assert len(clipped[0]) == 200 and np.all(np.isfinite(clipped[0])) and clipped[0][-20:].mean() < 0.05

# %% jupyter={"source_hidden": true}
fig, (ax_loss, ax_norm) = plt.subplots(1, 2, figsize=(12, 3.8), layout="constrained")
for name, (losses, norms) in runs.items():
    ax_loss.semilogy(losses, label=name)
    ax_norm.semilogy(norms, label=name)
ax_norm.axhline(1.0, color="k", ls="--", lw=1, label="threshold c = 1")
ax_loss.set(xlabel="SGD step", ylabel="training loss (MSE)", ylim=(5e-3, 1e3),
            title="loss (the unclipped run leaves the chart)")
ax_norm.set(xlabel="SGD step", ylabel="gradient norm before clipping", title="global gradient norm")
ax_norm.legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Without clipping the gradient norm climbs from under 2 to beyond $10^{10}$ within a few dozen steps: a large
# gradient makes a large step, which lands where the gradient is larger still, until the numbers overflow. With
# clipping, every step moves the weights by at most $\eta c = 0.5$; the norm still spikes above the threshold now and
# then (those spikes are the explosions), but each spike only costs a capped step, and the loss keeps falling.
#
# nnlib's `fit` has both: a **divergence guard** that stops at the first non-finite loss or gradient with a
# `TrainingDivergedError` (and leaves the weights as they were before the bad step), and `max_grad_norm=`, which
# clips every step:

# %%
for max_grad_norm in [None, 1.0]:
    model = exploding_model()
    try:
        history = fit(model, MSELoss(), SGD(model.parameters(), lr=0.5), X_sine, y_sine, epochs=10, batch_size=20,
                      rng=0, max_grad_norm=max_grad_norm)
        print(f"max_grad_norm={max_grad_norm}: trained, final epoch loss {history['loss'][-1]:.3f}")
        assert history["loss"][-1] < 0.05
    except TrainingDivergedError as err:
        print(f"max_grad_norm={max_grad_norm}: TrainingDivergedError in epoch {err.epoch} — the unclipped run diverged")
        assert max_grad_norm is None

# %% [markdown] slideshow={"slide_type": "subslide"}
# Clipping treats the symptom of explosions. It does nothing for **vanishing** gradients: a tiny gradient is below
# any threshold.
#
# ### 5.2 ReLU
#
# *ReLU replaces traditional activations to avoid the saturation issues that contribute to vanishing gradients.*
# Its derivative is exactly 1 for every active unit, so the Jacobian does not shrink what passes. The table of
# section 4 shows the other side: ReLU does not bound the states either, so a radius above 1 explodes. The
# classic recipe (the IRNN of Le, Jaitly and Hinton, 2015) starts ReLU RNNs from $W_{hh} = I$, the identity: active
# units then copy their gradient back unchanged. Compare the three activations with $W_{hh} = I$:

# %%
identity = {act: np.log10(state_gradient_norms(W_ih_g, np.eye(32), x_g, act)[0]) for act in ACTIVATIONS}
for act, ratio in identity.items():
    print(f"W_hh = I, {act:6s}: log10 ‖∂L/∂h_0‖ / ‖∂L/∂h_T‖ = {ratio:6.2f}")
assert np.isclose(identity["linear"], 0) and identity["relu"] > -1 and identity["tanh"] < -3

# %% [markdown] slideshow={"slide_type": "subslide"}
# With the identity, ReLU keeps the gradient within an order of magnitude over 50 steps, tanh loses four.
#
# ### 5.3 Gates: LSTM and GRU (lesson 08)
#
# The vanilla RNN must push its memory through $W_{hh}$ and a squashing function at every step, so the gradient is
# a product of $T$ Jacobians that depend on the weights. The **LSTM** adds a second state, the **cell** $c_t$,
# updated **additively** under the control of learned gates:
#
# $$c_t = f_t \odot c_{t-1} + i_t \odot g_t \quad\Longrightarrow\quad
# \frac{\partial c_t}{\partial c_{t-1}} = \operatorname{diag}(f_t) \quad \text{(along the cell path)},$$
#
# where the **forget gate** $f_t \in (0, 1)$ is computed from $x_t$ and $h_{t-1}$. The gradient along the cell path
# is a product of forget gates, not of weight matrices: the network can *learn* to hold $f_t \approx 1$ and carry
# a gradient over many steps. The **GRU** does the same with one state and two gates (update, reset). The classic
# trick of starting the forget gate open, with its bias at +1, gives the long path a head start. The same
# measurement as in section 4 for nnlib's three layers with their default initialisation ($T = 50$, $H = 32$):

# %%
x_gates = np.random.default_rng(6).standard_normal((8, 50, 4))


def log_gradient_ratio(layer):
    """log10 ‖∂L/∂h_0‖ / ‖∂L/∂h_T‖ for L = g · h_T, through nnlib's backward."""
    layer(x_gates)
    grad_last = np.full((8, 32), 1 / np.sqrt(8 * 32))
    if isinstance(layer, LSTM):
        _, (grad_h0, _) = layer.backward(None, (grad_last, None))
    else:
        _, grad_h0 = layer.backward(None, grad_last)
    return np.log10(np.linalg.norm(grad_h0) / np.linalg.norm(grad_last))


forget_open = LSTM(4, 32, rng=0, dtype=np.float64)
forget_open.bias_ih.data[32:64] += 1.0                         # gates i, f, g, o side by side: f is [H:2H]
layers = {"RNN (tanh)": RNN(4, 32, rng=0, dtype=np.float64), "GRU": GRU(4, 32, rng=0, dtype=np.float64),
          "LSTM": LSTM(4, 32, rng=0, dtype=np.float64), "LSTM, forget bias +1": forget_open}
gate_ratios = {name: log_gradient_ratio(layer) for name, layer in layers.items()}
for name, ratio in gate_ratios.items():
    print(f"{name:21s}: log10 ratio {ratio:7.2f}")
assert gate_ratios["LSTM, forget bias +1"] > max(gate_ratios["RNN (tanh)"], gate_ratios["GRU"], gate_ratios["LSTM"]) + 5
assert gate_ratios["RNN (tanh)"] < min(gate_ratios["GRU"], gate_ratios["LSTM"])

# %% [markdown] slideshow={"slide_type": "subslide"}
# Honest reading: at initialisation the gates are about ½, so the gated layers *also* lose many orders of magnitude
# — gates do not preserve gradients by magic; they make the long path **learnable**. Opening the forget gate at the
# start already gains about six orders of magnitude. Lesson 08 derives the LSTM and GRU and trains them on long memory
# tasks.

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["numbers-checked"]
# ### 5.4 Initialization: the same product, through depth
#
# Unrolled, an RNN is a deep network (section 2), and a plain deep network has the same product of Jacobians —
# one per **layer** instead of one per step. Its size is fixed before training starts, by the **scale of the
# initial weights**. One unit of a layer with $n$ inputs computes $y = \sum_{j=1}^{n} w_j x_j$. With weights and
# inputs independent and the weights zero-mean, each term has $\operatorname{Var}(w_j x_j) = \operatorname{Var}(w)\,
# \mathbb{E}[x^2]$, and the variances of $n$ independent terms add:
#
# $$\operatorname{Var}(y) = n \operatorname{Var}(w)\, \mathbb{E}[x^2].$$
#
# Backward, $\partial L / \partial x_j = \sum_k w_{jk}\, \delta_k$ sums over the $n_{out}$ units fed by $x_j$:
# $\operatorname{Var}(\partial L / \partial x) = n_{out} \operatorname{Var}(w)\, \mathbb{E}[\varphi'^2]
# \operatorname{Var}(\delta)$. So each layer multiplies the signal's variance by a factor, and 20 layers multiply
# by its 20th power — the radius $r$ of section 4 again. The factor, for the activation between two layers:
#
# * **tanh** is the identity near 0 ($\tanh' (0) = 1$), so while the signal is small, $\mathbb{E}[x^2] \approx
#   \operatorname{Var}(y_{prev})$: factor $n \operatorname{Var}(w)$;
# * **ReLU** zeroes half of a symmetric $y$: $\mathbb{E}[x^2] = \tfrac12 \operatorname{Var}(y_{prev})$, factor
#   $\tfrac12 n \operatorname{Var}(w)$.
#
# Three recipes for $\operatorname{Var}(w)$:
#
# * **naive**, "small random numbers" $\mathcal N(0, 0.01^2)$: the factor is $n \cdot 10^{-4}$, far below 1 for any
#   usual width;
# * **Xavier / Glorot** (2010): $\operatorname{Var}(w) = 2 / (n_{in} + n_{out})$, which is $1/n$ for equal widths —
#   factor 1 for tanh's linear regime (forward and backward at once, hence the average of the two fans);
# * **He / Kaiming** (2015): $\operatorname{Var}(w) = 2 / n_{in}$ — factor 1 for ReLU, the ½ compensated.
#
# `nnlib.init` has them (PyTorch's `torch.nn.init` names and conventions, fans read from nnlib's layouts), and every
# layer with weights takes `init=` — a scheme's name, or any function `(weight, *, rng) -> values`, such as the naive
# one below. The experiment: 20 layers of width 128, a batch of 256 standard-normal inputs forward, a standard-normal
# gradient backward; the variance of each layer's pre-activation $y_l$ and of the gradient reaching its input.

# %%
WIDTH, DEPTH = 128, 20
INIT_ACTIVATIONS = {"tanh": Tanh, "relu": ReLU}


def small_gaussian(weight, rng):
    """The naive recipe: every weight from N(0, 0.01²)."""
    return 0.01 * rng.standard_normal(weight.shape)


INITS = {"naive": small_gaussian, "Xavier": "xavier_normal", "He": "kaiming_normal"}
N_VAR_W = {"naive": WIDTH * 0.01**2, "Xavier": 1.0, "He": 2.0}           # n·Var(w) of each recipe, equal widths


def variance_through_depth(init, activation, depth=DEPTH, width=WIDTH, rng=0):
    """Var(y_l) forward and Var(∂L/∂x_l) backward, l = 1 … depth, for an MLP of Linear(width, width) + activation."""
    layers = []
    for i in range(depth):
        layers += [Linear(width, width, init=init, rng=rng + i, dtype=np.float64), INIT_ACTIVATIONS[activation]()]
    h = np.random.default_rng(rng).standard_normal((256, width))
    forward_var = []
    for layer in layers:
        h = layer(h)
        if isinstance(layer, Linear):
            forward_var.append(h.var())
    g, backward_var = np.random.default_rng(rng + 1).standard_normal(h.shape), []
    for layer in reversed(layers):
        g = layer.backward(g)
        if isinstance(layer, Linear):
            backward_var.append(g.var())
    return np.array(forward_var), np.array(backward_var[::-1])


def per_layer_factor(variances):
    """The geometric mean of Var(layer l + 1) / Var(layer l) over the whole depth."""
    return (variances[-1] / variances[0]) ** (1 / (len(variances) - 1))


depth_runs = {(name, act): variance_through_depth(init, act)
              for name, init in INITS.items() for act in INIT_ACTIVATIONS}
predicted = {(name, act): N_VAR_W[name] * (0.5 if act == "relu" else 1.0) for name, act in depth_runs}
print(f"{'init':7s} {'act':5s} {'predicted':>10s} {'forward':>9s} {'backward':>9s}   Var(y_20)   Var(∂L/∂x_1)")
for (name, act), (fwd, bwd) in depth_runs.items():
    print(f"{name:7s} {act:5s} {predicted[name, act]:10.4f} {per_layer_factor(fwd):9.4f} "
          f"{1 / per_layer_factor(bwd):9.4f}   {fwd[-1]:9.2e}   {bwd[0]:9.2e}")
for key, (fwd, bwd) in depth_runs.items():
    if key[1] == "relu" or key[0] == "naive":    # where the derivation is exact: ReLU, and tanh's linear regime
        assert abs(per_layer_factor(fwd) / predicted[key] - 1) < 0.05, key
        assert abs(1 / per_layer_factor(bwd) / predicted[key] - 1) < 0.05, key
assert 0.75 < per_layer_factor(depth_runs["Xavier", "tanh"][0]) < 0.9         # tanh squashes: slow decay
assert 0.3 < depth_runs["He", "relu"][0][-1] < 3 and 0.3 < depth_runs["He", "relu"][1][0] < 3

# %% [markdown] slideshow={"slide_type": "subslide"}
# The per-layer factors (forward: $y_{l+1}$ over $y_l$; backward: the gradient at layer $l$ over layer $l+1$) match
# the derivation wherever it is exact — ReLU, and tanh while the signal is small:
#
# * **naive** loses a factor $n \cdot 10^{-4}$ per layer (halved for ReLU): after 20 layers nothing is left of the
#   signal, and nothing of the gradient reaches the first layer. Vanishing gradients by construction.
# * **Xavier** keeps ReLU's factor at ½ — $2^{-19}$ over the depth — but is the right scale for tanh, where the
#   measured factor falls a little below 1 only because tanh squashes large values (PyTorch's
#   `calculate_gain("tanh")` = 5/3 compensates for that).
# * **He** keeps ReLU's variance and its gradients at the same order over all 20 layers; for tanh it is too large,
#   and the units saturate.
#
# The same on a log scale, and a slider for $n \operatorname{Var}(w)$ itself (the dashed line is the prediction
# $(n \operatorname{Var}(w) \cdot c)^{l-1}$, $c = 1$ for tanh, ½ for ReLU):

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), sharey=True, layout="constrained")
for ax, act in zip(axes, INIT_ACTIVATIONS, strict=True):
    for name in INITS:
        ax.semilogy(np.arange(1, DEPTH + 1), depth_runs[name, act][0], "o-", ms=3, label=f"{name} (forward)")
        ax.semilogy(np.arange(1, DEPTH + 1), depth_runs[name, act][1], "x:", ms=4, label=f"{name} (backward)")
    ax.set(title=act, xlabel="layer l", xticks=[1, 5, 10, 15, 20])
axes[0].set_ylabel(r"Var($y_l$), Var($\partial L / \partial x_l$)")
axes[1].legend(fontsize=8, ncol=3)
plt.show()


# %% tags=["nbval-ignore-output"]
def plot_depth_variance(n_var_w=1.0, activation="relu", depth=20):
    """Forward variance per layer for weights drawn from N(0, n_var_w / WIDTH)."""
    def scaled(weight, rng):
        return rng.normal(0, np.sqrt(n_var_w / WIDTH), weight.shape)

    fwd, bwd = variance_through_depth(scaled, activation, depth=depth)
    layer = np.arange(1, depth + 1)
    factor = n_var_w * (0.5 if activation == "relu" else 1.0)
    _, ax = plt.subplots(figsize=(6.5, 3.8))
    ax.semilogy(layer, fwd, "o-", label=r"Var($y_l$), measured")
    ax.semilogy(layer, bwd, "x:", label=r"Var($\partial L / \partial x_l$), measured")
    ax.semilogy(layer, fwd[0] * factor ** (layer - 1.0), "k--", lw=1, label="prediction")
    ax.set(xlabel="layer l", title=f"n·Var(w) = {n_var_w:.2f}, {activation}: factor {per_layer_factor(fwd):.3f}")
    ax.legend(fontsize=8)
    plt.show()


_ = interact(plot_depth_variance,
             n_var_w=FloatSlider(value=1.0, min=0.1, max=3.0, step=0.05, continuous_update=False),
             activation=Dropdown(options=list(INIT_ACTIVATIONS), value="relu"),
             depth=IntSlider(value=20, min=2, max=50, continuous_update=False))

# %% [markdown] slideshow={"slide_type": "subslide"}
# For a recurrent layer the same argument applies to $W_{hh}$, reused at every step: the usual choices are an
# **orthogonal** $W_{hh}$ (`init="orthogonal"`, section 4's $r = 1$) or, for ReLU, the identity of section 5.2.
# Lesson 04's digits MLP uses PyTorch's default, $\mathcal U(\pm 1/\sqrt n)$ — $n \operatorname{Var}(w) = 1/3$, a
# factor of 1/6 per ReLU layer — harmless with one hidden layer; lesson 04 measures what Glorot's initialisation
# (scikit-learn's) changes there.
#
# ## 6. Use 1: a character-level language model
#
# A **language model** predicts the next character from the ones before. Training data: any text, with the targets
# the same text shifted by one character — no labels needed. Our corpus: two of Aesop's fables in Joseph Jacobs'
# version (*The Fables of Aesop*, 1894, public domain), lower-cased.

# %%
FABLES = """\
the wind and the sun were disputing which was the stronger. suddenly they saw a traveller coming down the road, \
and the sun said: "i see a way to decide our dispute. whichever of us can cause that traveller to take off his \
cloak shall be regarded as the stronger. you begin." so the sun retired behind a cloud, and the wind began to blow \
as hard as it could upon the traveller. but the harder he blew the more closely did the traveller wrap his cloak \
round him, till at last the wind had to give up in despair. then the sun came out and shone in all his glory upon \
the traveller, who soon found it too hot to walk with his cloak on. kindness effects more than severity.
in a field one summer's day a grasshopper was hopping about, chirping and singing to its heart's content. an ant \
passed by, bearing along with great toil an ear of corn he was taking to the nest. "why not come and chat with \
me," said the grasshopper, "instead of toiling and moiling in that way?" "i am helping to lay up food for the \
winter," said the ant, "and recommend you to do the same." "why bother about winter?" said the grasshopper; "we \
have got plenty of food at present." but the ant went on its way and continued its toil. when the winter came the \
grasshopper had no food and found itself dying of hunger, while it saw the ants distributing every day corn and \
grain from the stores they had collected in the summer. then the grasshopper knew: it is best to prepare for the \
days of necessity.
"""
VOCAB = sorted(set(FABLES))
CHAR_ID = {c: i for i, c in enumerate(VOCAB)}


def encode(text):
    """Character ids, an int array (len(text),)."""
    return np.array([CHAR_ID[c] for c in text])


def decode(char_ids):
    """The text of a sequence of character ids."""
    return "".join(VOCAB[i] for i in char_ids)


ids = encode(FABLES)
WINDOW = 40
starts = np.arange(0, len(ids) - WINDOW, 3)                      # overlapping windows of 40 characters
X_text = np.stack([ids[s:s + WINDOW] for s in starts])           # (N, 40) inputs
y_text = np.stack([ids[s + 1:s + WINDOW + 1] for s in starts])   # (N, 40) the next character at every step
print(f"{len(FABLES)} characters, vocabulary of {len(VOCAB)}: {''.join(VOCAB)!r}")
print(f"{len(X_text)} training windows of {WINDOW} steps, e.g.\n input  {decode(X_text[0][:30])!r}…\n"
      f" target {decode(y_text[0][:30])!r}…")
assert np.array_equal(X_text[:, 1:], y_text[:, :-1])

# %% [markdown] slideshow={"slide_type": "subslide"}
# The model: an `Embedding` turns each character id into a learned vector of 16 numbers, an `RNN` with 128 units
# reads them, and a `Linear` head turns every state into 31 scores (logits), one per character of the vocabulary:
# `SequenceModel(RNN, Linear, Embedding)`. Cross-entropy on every step, Adam, clipping at 1. Each window of 40
# steps is one unrolled network: this is truncated BPTT with $k = 40$ (and the state reset to zero per window).

# %%
language_model = SequenceModel(RNN(16, 128, rng=0), Linear(128, len(VOCAB), rng=1), Embedding(len(VOCAB), 16, rng=2))
lm_history = fit(language_model, CrossEntropyLoss(), Adam(language_model.parameters(), lr=0.01), X_text, y_text,
                 epochs=20, batch_size=32, rng=0, max_grad_norm=1.0)
for epoch in [1, 5, 10, 20]:
    print(f"epoch {epoch:2d}: loss {lm_history['loss'][epoch - 1]:.2f}, "
          f"next-character accuracy {lm_history['accuracy'][epoch - 1]:.2f}")
print(f"guessing uniformly would give a loss of ln {len(VOCAB)} = {np.log(len(VOCAB)):.2f}")
assert lm_history["loss"][-1] < 0.5 < np.log(len(VOCAB)) and lm_history["accuracy"][-1] > 0.8

# %%
ax = lm_history.plot()
ax.set_title("character-level RNN language model")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Writing text.** Feed a prompt, then repeat: turn the last scores $z$ into probabilities with a **temperature**
# $\tau$, $p_i = \operatorname{softmax}(z / \tau)_i$, draw a character, and feed it back in, continuing from the state
# (`model(x, state)`). A low temperature sharpens the distribution towards the most likely character ($\tau \to 0$
# is greedy), $\tau = 1$ samples the model's own probabilities, a high one flattens it towards uniform noise.
#
# ### Exercise 7.5 — the temperature
#
# Write `temperature_softmax(logits, temperature)`: the probabilities $\operatorname{softmax}(z / \tau)$ over the
# **last** axis of `logits` (one distribution per row of a batch). With a low $\tau$, $z / \tau$ is large: subtract
# the row's maximum before `np.exp` (lesson 02), or the exponential overflows.

# %%
def temperature_softmax(logits, temperature):
    """softmax(logits / temperature) over the last axis; the same shape as logits."""
    ### BEGIN SOLUTION
    z = logits / temperature
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_temperature_softmax(temperature_softmax)

# %% [markdown] slideshow={"slide_type": "subslide"}
# The sampler below uses nnlib's `softmax` the same way:

# %%
def sample(model, prompt="the ", length=200, temperature=0.5, rng=0):
    """Continue ``prompt`` by ``length`` characters drawn from softmax(logits / temperature)."""
    rng = np.random.default_rng(rng)
    logits = model(encode(prompt)[None])[0, -1]                # reads the prompt; model.state = its last state
    text = prompt
    for _ in range(length):
        char = rng.choice(len(VOCAB), p=softmax(logits.astype(np.float64) / temperature))
        text += VOCAB[char]
        logits = model(np.array([[char]]), model.state)[0, -1]  # one step further, from the state
    return text


# %% tags=["nbval-ignore-output"]
samples = {tau: sample(language_model, temperature=tau) for tau in [0.3, 1.0, 2.0]}
for tau, text in samples.items():
    print(f"τ = {tau}:\n{text}\n")

# %% [markdown] slideshow={"slide_type": "subslide"}
# The exact sample depends on every bit of the trained weights, so it is not compared between runs. What must hold:
# every sampled character comes from the vocabulary, and at a low temperature most sampled "words" are words of the
# fables.

# %%
words = set(FABLES.replace("\n", " ").split())
cool = sample(language_model, temperature=0.3, length=300)
share = np.mean([w in words for w in cool.split()[:-1]])      # the last word may be cut off
print(f"only characters of the vocabulary: {set(cool) <= set(VOCAB)}; at τ = 0.3 most words are real: {share > 0.5}")
assert set(cool) <= set(VOCAB) and share > 0.5

# %% [markdown] slideshow={"slide_type": "subslide"}
# With 1,500 characters of training text the model mostly **memorises**: at low temperature it recites phrases of
# the fables and switches between them where they share a few characters; at high temperature it invents words.
# A real language model needs far more text: character-level models of this kind (Karpathy's char-rnn, an LSTM)
# trained on a megabyte of Shakespeare write passable pseudo-Shakespeare.

# %% tags=["nbval-ignore-output"]
def show_sample(temperature=0.5, prompt="the ", seed=0):
    """Print 250 characters sampled from the language model after ``prompt``."""
    print(sample(language_model, prompt, length=250, temperature=temperature, rng=seed))


_ = interact(show_sample, temperature=FloatSlider(value=0.5, min=0.05, max=2.5, step=0.05, continuous_update=False),
             prompt=Dropdown(options=["the ", "the wind ", "the ant ", "why ", "kindness "], value="the "),
             seed=IntSlider(value=0, min=0, max=20, continuous_update=False))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Use 2: time-series prediction
#
# `nnlib.data.make_noisy_sine` cuts windows of 30 steps out of sine waves with random phases and frequencies, with
# Gaussian noise (standard deviation 0.1) on the inputs; the target at every step is the **clean** value one step
# ahead. To predict it, the network must estimate the frequency and the phase from the noisy past — a memory task.
# The **naive baseline** repeats the last noisy value: $\hat y_t = x_t$.

# %%
X_train, y_train = make_noisy_sine(500, 30, noise=0.1, rng=0)
X_val, y_val = make_noisy_sine(200, 30, noise=0.1, rng=1)
forecaster = SequenceModel(RNN(1, 32, rng=0), Linear(32, 1, rng=1))
history = fit(forecaster, MSELoss(), Adam(forecaster.parameters(), lr=0.01), X_train, y_train, epochs=20,
              batch_size=25, rng=0, validation=(X_val, y_val))
rnn_mse = evaluate(forecaster, MSELoss(), X_val, y_val)["loss"]
naive_mse = float(np.mean((X_val - y_val) ** 2))
print(f"validation MSE: RNN {rnn_mse:.3f} | repeat the last noisy value {naive_mse:.3f} | "
      f"always 0 {np.mean(y_val ** 2):.3f}")
assert rnn_mse < 0.7 * naive_mse

# %%
prediction = forecaster(X_val)
fig, axes = plt.subplots(1, 3, figsize=(14, 3.6), layout="constrained")
steps = np.arange(1, 31)
for ax, i in zip(axes[:2], [0, 1], strict=True):
    ax.plot(steps, X_val[i, :, 0], ".", color="gray", label="noisy input $x_t$")
    ax.plot(steps, y_val[i, :, 0], "k-", lw=1, label="truth: clean value at t + 1")
    ax.plot(steps, prediction[i, :, 0], "C1-", label="RNN prediction")
    ax.set(xlabel="step t", title=f"validation window {i}")
axes[0].legend(fontsize=8)
axes[2].plot(steps, np.mean((prediction - y_val) ** 2, axis=(0, 2)), "C1", label="RNN")
axes[2].plot(steps, np.mean((X_val - y_val) ** 2, axis=(0, 2)), "gray", label="repeat last value")
axes[2].set(xlabel="step t", ylabel="MSE over the validation set", title="error per step")
axes[2].legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The error per step tells the story of the memory: over the first few steps the RNN has seen too little of the
# wave to know its phase and frequency and is no better than the baseline; once it has, its state averages the
# noise away and its error drops well below the baseline's.

# %%
per_step = np.mean((prediction - y_val) ** 2, axis=(0, 2))
print(f"RNN MSE over steps 1-3: {per_step[:3].mean():.3f}, over steps 10-30: {per_step[9:].mean():.3f}")
assert per_step[9:].mean() < 0.6 * per_step[:3].mean()

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Exercise 7.6 (challenge, optional) — training with truncated BPTT
#
# Section 3 cut the *gradient* of one long sequence into windows. Training on a long signal does the same and also
# **updates the weights after every window**: many cheap steps instead of one expensive one, while the state still
# carries the memory forward. Write `truncated_bptt(model, loss_fn, optimizer, x, y, window)` for a
# `SequenceModel`: for each window of `window` steps of `x` $(N, T, I)$ and `y` (the last window may be shorter),
# zero the gradients, compute the loss of `model(x_window, state)`, backpropagate, take one optimizer step, and keep
# `state = model.state` (the window's last state) for the next window, starting from `None`. Return the list of
# the windows' losses (floats). In nnlib the state is a plain array, so the next window's backward stops at it —
# that is the truncation (in PyTorch you would call `state.detach()`).
#
# Optional: leave it unsolved and the check just waits (⏳).

# %%
def truncated_bptt(model, loss_fn, optimizer, x, y, window):
    """Train on consecutive windows of x, y (N, T, ...), carrying the state; returns the losses (one per window)."""
    ### BEGIN SOLUTION
    losses, state = [], None
    for start in range(0, x.shape[1], window):
        chunk = slice(start, start + window)
        model.zero_grad()
        losses.append(float(loss_fn(model(x[:, chunk], state), y[:, chunk])))
        model.backward(loss_fn.backward())
        optimizer.step()
        state = model.state
    return losses
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_truncated_bptt(truncated_bptt)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# * An **RNN** keeps a hidden state, $h_t = \tanh(x_t W_{ih} + h_{t-1} W_{hh} + b)$: its **recurrent connections**
#   $W_{hh}$ give it a memory of previous inputs. Uses: language modelling and text generation, time-series
#   prediction, speech recognition, machine translation.
# * **Unrolled** over $T$ steps it is a $T$-layer feed-forward network whose layers **share** $W_{ih}$, $W_{hh}$, $b$:
#   one rule for every position, and a parameter count independent of $T$.
# * **BPTT** is backpropagation through the unrolled network:
#   $\partial L / \partial h_k = \sum_{t \ge k} \partial L_t / \partial h_t \, J_t \cdots J_{k+1}$ with
#   $J_j = \operatorname{diag}(1 - h_j^2)\, W_{hh}^\top$ (nnlib's row layout), computed by one backward sweep
#   $\partial L / \partial h_{k} = \partial L_k / \partial h_k + (\partial L / \partial h_{k+1}) J_{k+1}$; the shared
#   weights sum their gradients over time, $\partial L / \partial W_{hh} = \sum_t h_{t-1}^\top \delta_t$.
#   **Truncated BPTT** cuts the backward sweep every $k$ steps to bound its cost.
# * The product of Jacobians makes gradients **vanish** or **explode** geometrically: like $\rho(W_{hh})^{T-k}$ for a
#   linear RNN; tanh' $\le 1$ and ReLU' $\in \{0, 1\}$ scale every Jacobian down further, so tanh RNNs vanish
#   even at $\rho = 1$.
# * Remedies: **gradient clipping** by norm (keeps the direction, caps the step) stops explosions; **ReLU** does not
#   saturate (with $W_{hh} = I$ it preserves gradients); the **gates** of **LSTM** and **GRU** give the gradient an
#   additive path that the network can learn to keep open (lesson 08).
# * Depth multiplies too: each layer scales the variance by $n \operatorname{Var}(w)$ (halved by ReLU), forward and
#   backward. **Xavier** ($2 / (n_{in} + n_{out})$) keeps tanh's linear regime, **He** ($2 / n_{in}$) keeps ReLU;
#   $\mathcal N(0, 0.01^2)$ vanishes within a few layers. `nnlib.init` and `init=` on every layer with weights.
#
# ## Review questions
#
# 1. What is the hidden state of an RNN, and what makes a network *recurrent*? Name four uses of RNNs and say in one
#    sentence what the RNN reads and outputs in each.
# 2. Why does an RNN share its weights across time steps? What would an MLP over a window of $T$ inputs lose?
# 3. Write $\partial h_j / \partial h_{j-1}$ for $h_j = \tanh(x_j W_{ih} + h_{j-1} W_{hh} + b)$. Why does
#    $W_{hh}^\top$ appear with nnlib's row-vector layout, and what does the same Jacobian look like in the
#    column-vector convention?
# 4. Derive $\partial L / \partial W_{hh} = \sum_t h_{t-1}^\top \delta_t$. Why a *sum* over time?
# 5. Why do gradients vanish or explode in RNNs? Relate the rate to the spectral radius of $W_{hh}$ and to the
#    derivative of the activation. Why can a tanh RNN with $\rho(W_{hh}) = 1.5$ still have vanishing gradients?
# 6. Gradient clipping by norm or by value: what does each do to the gradient's direction? Why does clipping not
#    help against vanishing gradients?
# 7. What is truncated BPTT, why is it used, and what can a network trained with windows of $k$ steps not learn?
# 8. How does ReLU help against vanishing gradients, and what new risk does it bring? Why initialise $W_{hh} = I$?
# 9. Why do gates help? Write $\partial c_t / \partial c_{t-1}$ for the LSTM's cell state and compare it with the
#    vanilla RNN's Jacobian.
# 10. In the language model, what does the temperature do to the samples, and why did our model mostly recite the
#     fables?
# 11. Derive $\operatorname{Var}(y) = n \operatorname{Var}(w) \operatorname{Var}(x)$ for one unit. Which
#     $\operatorname{Var}(w)$ keeps the variance of a ReLU network through depth, and why is it twice Xavier's?
