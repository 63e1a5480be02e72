# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # Lesson 01 — The neuron and the perceptron
#
# Every neural network, from the 2-2-2 network of the backpropagation slides to a transformer, is built from
# one small unit: the **artificial neuron**. This lesson builds it, trains its oldest form — Rosenblatt's
# **perceptron** — and meets its famous limit, XOR, which is what makes us stack neurons into layers.
#
# ## Learning goals
#
# By the end of this lesson you can
#
# 1. name the key components of a biological neuron (dendrites, cell body, axon, synapse) and map them to
#    the artificial neuron: inputs $x_i$, weights $w_i$, bias $b$, $net = \sum_i w_i x_i + b$, activation, $out$;
# 2. explain why a perceptron is a **linear classifier** and what the **bias** does to its decision boundary;
# 3. derive and apply the **perceptron learning rule** $w \leftarrow w + \eta\,(t - y)\,x$, and write the
#    training loop that applies it until the data are separated;
# 4. show, by algebra and by code, why a single perceptron **cannot learn XOR**, and how a multi-layer
#    perceptron (MLP) can;
# 5. state what "neural networks are **universal function approximators**" means, and why it needs
#    **non-linear** activations.

# %%
import matplotlib.pyplot as plt
import numpy as np
from ipywidgets import FloatSlider, IntSlider, interact

from nnlib import Linear, Perceptron, Sequential, numerical_gradient
from nnlib.data import make_xor
from nnlib.exercises import (
    check_and_gate,
    check_perceptron_predict,
    check_perceptron_update,
    check_train_perceptron,
    check_xor_mlp,
)
from nnlib.layers import Tanh
from nnlib.losses import CrossEntropyLoss, MSELoss
from nnlib.optim import Adam
from nnlib.training import accuracy, evaluate, fit
from nnlib.viz import draw_neuron, plot_decision_boundary, plot_function

np.set_printoptions(precision=3, suppress=True)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. From the biological neuron to the artificial one
#
# Neurons (nerve cells) are the fundamental units of the brain and nervous system. Their key components:
#
# | biological neuron | role | artificial neuron |
# |---|---|---|
# | **dendrites** | the receiving part: bring information *to* the cell body | inputs $x_1, x_2, \dots$ |
# | **synapse** | where information flows to the next neuron; some links are stronger | weights $w_1, w_2, \dots$ |
# | **cell body** | adds up the incoming signals | $net = \sum_i w_i x_i + b$ |
# | firing threshold | the cell fires only when stimulated enough | bias $b$ and activation $f$ |
# | **axon** | takes information *away* from the cell body | $out = f(net)$ |
#
# The artificial neuron is a crude caricature — but a useful one: a weighted sum followed by a decision.

# %%
draw_neuron(n_inputs=3, activation="step")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# For one input vector $x \in \mathbb{R}^F$:
#
# $$net = \sum_{i=1}^{F} w_i x_i + b = w \cdot x + b, \qquad out = f(net).$$
#
# For a batch of $N$ inputs stacked as the rows of $X$ (shape $(N, F)$), all $N$ weighted sums are one
# matrix–vector product, $net = X w + b$ of shape $(N,)$. Let us check this on one example, by hand and with
# `nnlib.Perceptron.net`:

# %%
x = np.array([1.0, 0.0, 1.0])
w = np.array([0.5, -0.4, 0.3])
b = -0.6
by_hand = 0.5 * 1.0 + (-0.4) * 0.0 + 0.3 * 1.0 + (-0.6)

neuron = Perceptron(3)
neuron.w, neuron.b = w, b
print("net by hand:", round(by_hand, 3), "| nnlib:", neuron.net(x[None, :]).round(3))
assert np.isclose(neuron.net(x[None, :])[0], by_hand)

# %% [markdown] slideshow={"slide_type": "slide"} tags=["numbers-checked"]
# ## 2. The perceptron
#
# The **perceptron** (Frank Rosenblatt, late 1950s) is the artificial neuron whose activation is a step. The
# notes say it "takes several binary inputs $x_1, x_2, \dots$ and produces a single binary output". The *output* is
# binary; the inputs need not be. The truth tables below use 0/1 inputs, but everything in this lesson — the
# forward pass, the learning rule, the convergence theorem — works for any real inputs, and section 3 checks the
# rule on $x = (1, 2, 0.5)$:
#
# $$y = \operatorname{step}(net) = \begin{cases} 1 & net > 0 \\ 0 & net \le 0 \end{cases}$$
#
# (Whether $net = 0$ counts as firing is a convention; nnlib, like this lesson, says **no**.)
#
# ### Exercise 1.1 — the perceptron's forward pass
#
# Write `perceptron_predict(X, w, b)`: for inputs `X` of shape $(N, F)$, weights `w` $(F,)$ and a bias `b`,
# return the $N$ outputs, each 0 or 1. One line of NumPy is enough — no loop.

# %%
def perceptron_predict(X, w, b):
    """Outputs (N,) of 0/1: step(X @ w + b), with step(0) = 0."""
    raise NotImplementedError("Exercise 1.1: implement perceptron_predict")


# %% slideshow={"slide_type": "fragment"}
check_perceptron_predict(perceptron_predict)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### A linear classifier, and the impact of the bias
#
# The perceptron outputs 1 on one side of the set where $net = 0$ and 0 on the other. With two inputs,
#
# $$w_1 x_1 + w_2 x_2 + b = 0$$
#
# is a **straight line** (in $F$ dimensions, a hyperplane): the perceptron is a **linear classifier**.
# The weights $w$ set the line's *orientation* ($w$ is perpendicular to it); the **bias** *shifts* it, to the
# signed distance $-b / \lVert w \rVert$ from the origin, without turning it. Without a bias the line must go
# through the origin, and the input $(0, 0)$ always gets $net = 0$, hence output 0, whatever the weights.
#
# Move the bias of a perceptron with fixed weights $w = (1, 1)$ and watch the boundary slide across the four
# inputs of a truth table:

# %% tags=["nbval-ignore-output"]
TABLE = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
fixed = Perceptron(2)
fixed.w = np.array([1.0, 1.0])


def show_bias(b=-1.5):
    fixed.b = b
    outputs = fixed.predict(TABLE)
    plot_decision_boundary(fixed.predict, TABLE, outputs, title=f"b = {b:.2f}: outputs {outputs}")
    plt.show()


_ = interact(show_bias, b=FloatSlider(value=-1.5, min=-2.5, max=0.5, step=0.1, continuous_update=False))

# %% [markdown] slideshow={"slide_type": "subslide"}
# The same sweep as a table. With $w = (1, 1)$ the bias alone decides which logic gate the neuron computes:

# %%
for b in [-2.5, -1.5, -0.5, 0.0, 0.5]:
    fixed.b = b
    print(f"b = {b:+.1f}: outputs for (0,0), (0,1), (1,0), (1,1) = {fixed.predict(TABLE)}")
fixed.b = 0.0
assert fixed.predict(TABLE)[0] == 0  # no bias: (0, 0) can never fire

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 1.2 — an AND gate by hand
#
# Choose weights and a bias so that the perceptron computes $x_1 \text{ AND } x_2$: output 1 only for $(1, 1)$.
# Write the four inequalities the outputs impose on $w_1, w_2, b$ first; then pick numbers that satisfy them.

# %%
def and_gate_weights():
    """Return (w, b): w of shape (2,), b a float, such that step(x @ w + b) = x1 AND x2."""
    raise NotImplementedError("Exercise 1.2: implement and_gate_weights")


# %% slideshow={"slide_type": "fragment"}
check_and_gate(and_gate_weights)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Learning: Rosenblatt's rule
#
# Picking weights by hand does not scale. The perceptron *learns* them from examples $(x, t)$, $t \in \{0, 1\}$,
# by correcting itself after each mistake. With prediction $y$, the error $t - y$ takes three values:
#
# * $t - y = 0$: the prediction is right — change nothing.
# * $t - y = +1$ (a false negative): $net$ was too small. Adding $\eta x$ to $w$ and $\eta$ to $b$ raises it:
#   $$net_{\text{new}} = (w + \eta x) \cdot x + (b + \eta) = net + \eta\,(\lVert x \rVert^2 + 1) > net.$$
# * $t - y = -1$ (a false positive): subtract instead, which lowers $net$ by the same amount.
#
# All three cases in one rule, with learning rate $\eta > 0$:
#
# $$\boxed{\;w \leftarrow w + \eta\,(t - y)\,x, \qquad b \leftarrow b + \eta\,(t - y)\;}$$
#
# This is the notes' gradient step $w \leftarrow w - \eta\,\partial C / \partial w$ for the *perceptron criterion*
# $C = (y - t)\,net$, whose gradient (for a fixed prediction $y$) is $(y - t)\,x$. **Perceptron convergence
# theorem**: if some line separates the two classes, the rule makes only a finite number of mistakes, then stops.
#
# A numerical check of the boxed rule with `nnlib.Perceptron.update`: $net$ moves by exactly
# $\eta\,(t - y)(\lVert x \rVert^2 + 1)$, towards the target.

# %%
p = Perceptron(3, lr=0.5)
p.w, p.b = np.array([0.2, -0.3, 0.1]), 0.4
x, t = np.array([1.0, 2.0, 0.5]), 0
y, before = p.predict(x[None])[0], p.net(x[None])[0]
p.update(x, t)
after = p.net(x[None])[0]
print(f"y = {y}, t = {t}: net {before:.3f} -> {after:.3f}; predicted change {0.5 * (t - y) * (x @ x + 1):.3f}")
assert np.isclose(after - before, 0.5 * (t - y) * (x @ x + 1))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 1.3 — one step of the learning rule
#
# Write `perceptron_update(x, t, w, b, lr)` for one example `x` $(F,)$ with target `t`: compute the prediction
# $y$ (remember $\operatorname{step}(0) = 0$), then return the new `(w, b)`.

# %%
def perceptron_update(x, t, w, b, lr=1.0):
    """One application of Rosenblatt's rule; returns (w_new (F,), b_new)."""
    raise NotImplementedError("Exercise 1.3: implement perceptron_update")


# %% slideshow={"slide_type": "fragment"}
check_perceptron_update(perceptron_update)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. The perceptron learns AND and OR
#
# Training repeats the rule. Start from $w = 0$, $b = 0$; one **epoch** is a sweep over the examples in order,
# applying the rule after each one and counting the mistakes ($t \ne y$). Stop after the first epoch without a
# mistake: every example is then right, so a further sweep would change nothing. If the classes are linearly
# separable, the convergence theorem promises that epoch comes; if not, it never does, so we also stop after
# `max_epochs` sweeps.
#
# ### Exercise 1.4 — the learning loop (build)
#
# Write `train_perceptron(X, targets, lr, max_epochs)` for inputs `X` $(N, F)$ and targets $(N,)$ of 0/1. Return
# `(w, b, mistakes)`: the final weights $(F,)$ and bias, and the list of mistakes per epoch run — it ends with 0
# exactly when the loop converged. Write the rule inline (the check does not call your Exercise 1.3). The check
# compares your loop with `nnlib.Perceptron.fit` on data sets of several shapes, plugs your trained weights into
# an nnlib `Perceptron` to compute AND and OR, follows your weights epoch by epoch, and runs XOR, on which your
# loop must report that it did not converge.

# %%
def train_perceptron(X, targets, lr=1.0, max_epochs=100):
    """Rosenblatt's training loop from w = 0, b = 0; returns (w (F,), b, mistakes per epoch)."""
    raise NotImplementedError("Exercise 1.4: implement train_perceptron")


# %% slideshow={"slide_type": "fragment"}
check_train_perceptron(train_perceptron)

# %% [markdown] slideshow={"slide_type": "subslide"}
# `nnlib.Perceptron.fit` is the same loop. From here on the lesson uses it:

# %%
GATES = {"AND": np.array([0, 0, 0, 1]), "OR": np.array([0, 1, 1, 1])}
learned = {}
for name, targets in GATES.items():
    learned[name] = Perceptron(2, lr=1.0)
    mistakes = learned[name].fit(TABLE, targets, epochs=20)
    print(f"{name}: mistakes per epoch {mistakes}, w = {learned[name].w}, b = {learned[name].b}")
    for row, out in zip(TABLE.astype(int), learned[name].predict(TABLE), strict=True):
        print(f"   {row[0]} {name} {row[1]} = {out}")
    assert mistakes[-1] == 0 and np.array_equal(learned[name].predict(TABLE), targets)

# %% [markdown] slideshow={"slide_type": "subslide"}
# Replay the learning of AND one example at a time (the examples are visited in order, round after round) and
# watch each mistake move the line:

# %% tags=["nbval-ignore-output"]
def show_learning(steps=0):
    p = Perceptron(2)
    for i in range(steps):
        p.update(TABLE[i % 4], GATES["AND"][i % 4])
    plot_decision_boundary(p.predict, TABLE, GATES["AND"], title=f"after {steps} examples: w = {p.w}, b = {p.b:g}")
    plt.show()


_ = interact(show_learning, steps=IntSlider(value=0, min=0, max=24, continuous_update=False))

# %% [markdown] slideshow={"slide_type": "subslide"}
# The two learned perceptrons side by side:

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 4), layout="constrained")
for ax, (name, targets) in zip(axes, GATES.items(), strict=True):
    plot_decision_boundary(learned[name].predict, TABLE, targets, ax=ax, title=f"learned {name}")
plt.show()
assert all(np.any(learned[name].net(TABLE) == 0) for name in GATES)  # see the remark below

# %% [markdown] slideshow={"slide_type": "subslide"}
# Look closely: each learned line passes *through* an input — $(1, 0)$ for AND, $(0, 0)$ for OR. There
# $net = 0$, and $\operatorname{step}(0) = 0$ gives the right answer, but with no margin at all. The rule stops at
# the *first* line that separates the examples, not the safest one; later lessons replace the step by smooth
# activations and losses that keep pushing the boundary away from the data.
#
# ## 5. XOR: the limit of a single perceptron
#
# XOR outputs 1 when exactly one input is 1. Suppose a perceptron computed it. Then
#
# $$\underbrace{b \le 0}_{(0,0)\to 0}, \quad \underbrace{w_1 + b > 0}_{(1,0)\to 1}, \quad
# \underbrace{w_2 + b > 0}_{(0,1)\to 1}, \quad \underbrace{w_1 + w_2 + b \le 0}_{(1,1)\to 0}.$$
#
# Adding the middle two gives $w_1 + w_2 + b > -b \ge 0$, contradicting the last one. No line separates
# $\{(0,1), (1,0)\}$ from $\{(0,0), (1,1)\}$: XOR is **not linearly separable**, so the convergence theorem does
# not apply and the rule never stops making mistakes (Exercise 1.4's check ran your loop on XOR too).

# %%
xor = np.array([0, 1, 1, 0])
mistakes = Perceptron(2).fit(TABLE, xor, epochs=100)
print("epochs run:", len(mistakes), "| mistakes in the first 8:", mistakes[:8], "| fewest:", min(mistakes))
assert len(mistakes) == 100 and min(mistakes) >= 1

# %% [markdown] slideshow={"slide_type": "subslide"}
# Not a matter of bad luck or too few epochs: let us try *every* $(w_1, w_2, b)$ on a fine grid. The best any
# line can do on XOR is 3 of the 4 inputs.

# %%
grid = np.linspace(-3, 3, 61)
W1, W2, B = (a.ravel() for a in np.meshgrid(grid, grid, grid))
outputs = (TABLE[:, :1] * W1 + TABLE[:, 1:] * W2 + B > 0)             # (4, 61**3): every candidate at once
best = (outputs == xor[:, None]).mean(axis=0).max()
print(f"{W1.size} candidate perceptrons; best accuracy on XOR: {best}")
assert best == 0.75

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. A multi-layer perceptron solves XOR
#
# Single-layer perceptrons cannot classify data that are not linearly separable. Two layers can:
# $x_1 \text{ XOR } x_2 = (x_1 \text{ OR } x_2) \text{ AND } (x_1 \text{ NAND } x_2)$. Two hidden perceptrons
# compute OR and NAND, a third one ANDs their outputs — each of the three is linear, their composition is not.

# %%
or_unit, nand_unit, and_unit = Perceptron(2), Perceptron(2), Perceptron(2)
or_unit.w, or_unit.b = np.array([1.0, 1.0]), -0.5
nand_unit.w, nand_unit.b = np.array([-1.0, -1.0]), 1.5
and_unit.w, and_unit.b = np.array([1.0, 1.0]), -1.5

hidden = np.column_stack([or_unit.predict(TABLE), nand_unit.predict(TABLE)]).astype(np.float64)
print("hidden (OR, NAND):", hidden.astype(int).tolist(), "-> output:", and_unit.predict(hidden))
assert np.array_equal(and_unit.predict(hidden), xor)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 1.5 (optional challenge) — the XOR network as two matrix products
#
# *Optional: skip it and everything below still runs.* A layer of perceptrons is one matrix product: the hidden
# layer's weights are the columns of $W_1$ $(2, 2)$, its biases $b_1$ $(2,)$. Write `xor_mlp(X)` for rows
# $X$ $(N, 2)$ of 0/1: $hidden = \operatorname{step}(X W_1 + b_1)$ $(N, 2)$, then
# $out = \operatorname{step}(hidden\, w_2 + b_2)$ $(N,)$, with weights you choose (the cell above has one
# choice; other ones work too). The check runs it on the truth table, shuffled, and on repeated rows.

# %%
def xor_mlp(X):
    """x1 XOR x2 (N,) of 0/1 for rows X (N, 2), through a hidden layer of two step units and one output unit."""
    raise NotImplementedError("Exercise 1.5: implement xor_mlp")


# %% slideshow={"slide_type": "fragment"}
check_xor_mlp(xor_mlp)

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["numbers-checked"]
# The step has zero slope everywhere, so gradient descent cannot tell hidden step units how to change. Smooth
# activations fix that: below, nnlib *learns* an XOR network `Linear(2, 4) → Tanh → Linear(4, 2)` with the
# cross-entropy loss and Adam (how `fit` computes the gradients is the subject of the backpropagation lesson).
#
# ### Where the cross-entropy loss comes from
#
# The network outputs one **score** (logit) $s_c$ per class $c$, here $C = 2$. The **softmax** turns the scores into
# probabilities, positive and summing to 1 (lesson 02 derives its Jacobian):
#
# $$p_c = \frac{e^{s_c}}{\sum_j e^{s_j}}.$$
#
# Read $p_{n,c}$ as the model's probability that example $n$ has class $c$. The training examples are independent,
# so the probability the model gives to all the observed labels $y_1, \dots, y_N$ — the **likelihood** — is a
# product, and good weights make it large. Its logarithm turns the product into a sum (a product of many numbers
# below 1 underflows), and a minus sign turns maximising into minimising:
#
# $$\mathcal{L} = \prod_{n=1}^{N} p_{n, y_n}
# \quad\Longrightarrow\quad
# -\frac{1}{N} \log \mathcal{L} = \frac{1}{N} \sum_{n=1}^{N} \ell_n, \qquad
# \ell_n = -\log p_{n, y_n} = -\sum_c t_{n,c} \log p_{n,c},$$
#
# the mean **negative log-likelihood**. With the one-hot target $t_n$ ($t_{n,c} = 1$ for $c = y_n$, else 0) it is
# the **cross-entropy** between $t_n$ and $p_n$. Its gradient with respect to the scores is short: write
# $\ell = -s_y + \log \sum_j e^{s_j}$, then
#
# $$\frac{\partial \ell}{\partial s_c} = -t_c + \frac{e^{s_c}}{\sum_j e^{s_j}}
# \qquad\Longrightarrow\qquad \boxed{\;\frac{\partial \ell}{\partial s} = p - t\;}$$
#
# — predicted probabilities minus the target: a confident right answer gives almost no gradient, a confident
# wrong one a gradient of almost $\pm 1$. `nnlib.CrossEntropyLoss` computes the mean of the $\ell_n$ from the scores
# (`backward` returns $(p - t)/N$). Both checked on three examples, against finite differences:

# %%
scores = np.array([[2.0, -1.0], [0.5, 0.5], [-3.0, 4.0]])          # (N, C): right, undecided, confidently wrong
labels = np.array([0, 1, 0])
targets = np.eye(2)[labels]                                        # one-hot t, (N, C)


def mean_nll(s):
    """-(1/N) log of the likelihood of ``labels`` under softmax(s), s (N, C)."""
    probs = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    return -np.log(probs[np.arange(len(s)), labels]).mean()


probs = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
loss = CrossEntropyLoss()
print(f"mean NLL by hand {mean_nll(scores):.6f}, nnlib CrossEntropyLoss {loss(scores, labels):.6f}")
print("N · ∂loss/∂s = p − t, per example:\n", len(scores) * loss.backward())
assert np.isclose(mean_nll(scores), loss(scores, labels))
assert np.allclose(loss.backward(), (probs - targets) / len(scores))
assert np.allclose(numerical_gradient(lambda: mean_nll(scores), scores), (probs - targets) / len(scores))

# %%
X_xor, y_xor = make_xor()                     # the truth table, float32, labels [0, 1, 1, 0]
mlp = Sequential(Linear(2, 4, rng=0), Tanh(), Linear(4, 2, rng=1))
history = fit(mlp, CrossEntropyLoss(), Adam(mlp.parameters(), lr=0.1), X_xor, y_xor, epochs=200,
              batch_size=4, rng=0)
final = evaluate(mlp, CrossEntropyLoss(), X_xor, y_xor)
print(f"loss {final['loss']:.3f}, accuracy {final['accuracy']:.2f}, predictions {mlp(X_xor).argmax(axis=1)}")
assert accuracy(mlp(X_xor), y_xor) == 1.0

# %%
plot_decision_boundary(lambda G: mlp(G).argmax(axis=1), X_xor, y_xor, title="a 2-4-2 MLP learns XOR")
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"} tags=["numbers-checked"]
# ## 7. Neural networks are universal function approximators
#
# **Theorem** (Cybenko 1989 and Hornik 1991 for sigmoid-like activations; Leshno, Lin, Pinkus and Schocken 1993
# in general; informally): a network with *one* hidden layer of enough units can approximate any continuous
# function on a **compact** domain — a closed and bounded set, such as the interval $[-\pi, \pi]$ or a box in
# $\mathbb{R}^F$ — as closely as we wish, in the maximum error over that domain, if and only if its activation is
# **not a polynomial** (Leshno et al. prove the "if and only if" for every continuous activation, and more).
# $\tanh$, the sigmoid and ReLU qualify. A polynomial activation of degree $d$ does not: the network is then a
# polynomial of degree at most $d$, however many units it has. Beyond a compact domain nothing is promised: outside
# $[-\pi, \pi]$ the fitted curve below need not follow the sine at all.
#
# $$f(x) \approx \sum_{j=1}^{H} v_j \tanh(w_j x + b_j) + c.$$
#
# Each hidden unit contributes one smooth step, placed by its bias and sharpened by its weight; enough steps
# make any shape. The theorem promises that good weights *exist*, not that training finds them. The notes add
# that a network "guarantees convergence to a local minimum instead of to the global minimum"; even that is more
# than gradient descent guarantees: with a small enough step it approaches a **stationary point**, where the
# gradient is zero, and that can be a saddle point rather than a minimum — lesson 04 shows it stopping on one.
# Fit $f(x) = \sin(2x)$ on $[-\pi, \pi]$ with $H$ hidden units:

# %%
x_sine = np.linspace(-np.pi, np.pi, 100, dtype=np.float32)[:, None]
y_sine = np.sin(2 * x_sine)
trained = {}


def fit_sine(hidden):
    """A 1-H-1 tanh network fitted to sin(2x) (full batch, 1000 Adam steps); cached per H."""
    if hidden not in trained:
        net = Sequential(Linear(1, hidden, rng=hidden), Tanh(), Linear(hidden, 1, rng=100 + hidden))
        fit(net, MSELoss(), Adam(net.parameters(), lr=0.03), x_sine, y_sine, epochs=1000, batch_size=100, rng=0)
        trained[hidden] = net
    return trained[hidden]


# %% tags=["nbval-ignore-output"]
def show_approximation(hidden=3):
    net = fit_sine(hidden)
    mse = evaluate(net, MSELoss(), x_sine, y_sine)["loss"]
    plot_function(lambda x: net(x[:, None]), x_sine[:, 0], label=f"{hidden} tanh units",
                  target=lambda x: np.sin(2 * x), title=f"H = {hidden}: MSE {mse:.4f}")
    plt.show()


_ = interact(show_approximation, hidden=IntSlider(value=3, min=1, max=16, continuous_update=False))

# %% [markdown] slideshow={"slide_type": "subslide"}
# More hidden units, smaller error:

# %%
errors = {h: evaluate(fit_sine(h), MSELoss(), x_sine, y_sine)["loss"] for h in [1, 2, 4, 8, 16]}
for h, mse in errors.items():
    print(f"H = {h:2d} hidden units: MSE {mse:.3f}")
assert np.all(np.diff(list(errors.values())) <= 0)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. Why non-linearity matters
#
# Without the activation between them, two linear layers collapse into one:
#
# $$(x W_1 + b_1) W_2 + b_2 = x\,\underbrace{W_1 W_2}_{W} + \underbrace{b_1 W_2 + b_2}_{b}.$$
#
# However many layers we stack, a purely linear network is still one linear map — one straight decision
# boundary, so still no XOR, and no bumps to build a sine from. The **non-linearity** of the activation is
# what gives depth its power. Check of the identity with two nnlib layers:

# %%
first, second = Linear(2, 3, rng=0, dtype=np.float64), Linear(3, 2, rng=1, dtype=np.float64)
W = first.weight.data @ second.weight.data
bias = first.bias.data @ second.weight.data + second.bias.data
X_check = np.random.default_rng(0).normal(size=(5, 2))
print("max difference:", np.abs(Sequential(first, second)(X_check) - (X_check @ W + bias)).max().round(12))
assert np.allclose(Sequential(first, second)(X_check), X_check @ W + bias)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# * A neuron computes $net = \sum_i w_i x_i + b$ and passes it through an activation: inputs ↔ dendrites,
#   weights ↔ synapses, the sum ↔ the cell body, the output ↔ the axon.
# * The perceptron (Rosenblatt) uses a step activation: a **linear classifier** whose boundary
#   $w \cdot x + b = 0$ is oriented by $w$ and **shifted by the bias**; without a bias it must pass through the
#   origin.
# * It learns with $w \leftarrow w + \eta (t - y) x$, $b \leftarrow b + \eta (t - y)$, applied example by
#   example, epoch after epoch, until an epoch has no mistake. That is guaranteed to happen when the classes are
#   linearly separable (AND, OR), never otherwise (XOR): the loop needs a cap on the epochs.
# * Stacking neurons with a **non-linear** activation — a multi-layer perceptron — removes the limit: an MLP
#   solves XOR, and one hidden layer with a non-polynomial activation can approximate any continuous function on a
#   compact domain (universal approximation) — weights that exist, which training may or may not find. Without the
#   non-linearity, the layers collapse into one linear map.
# * Classification trains on the **cross-entropy**, the mean negative log-likelihood of the labels under the
#   softmax of the scores; its gradient with respect to the scores is $p - t$.
#
# ## Review questions
#
# 1. What are the key components of a neuron, and what does each correspond to in an artificial neuron?
# 2. What is the impact of the bias on a perceptron's decision boundary? Which gate can a perceptron *without*
#    a bias never compute, and why?
# 3. Why is a perceptron a linear classifier? What does its decision boundary look like for 3 inputs?
# 4. Derive the perceptron learning rule. What does it do when the prediction is already correct?
#    When does the training loop stop, and why must it also have a maximum number of epochs?
# 5. Why can a single perceptron not solve XOR? Give the algebraic argument in two lines.
# 6. How does a multi-layer perceptron solve XOR? Build one from OR, NAND and AND units.
# 7. What does "neural networks are universal function approximators" promise, and what does it *not*
#    promise about training?
# 8. Why would a deep network without non-linear activations be no more powerful than a single layer?
