# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # Lesson 05 — Regularization and dropout
#
# A network with enough weights can learn its training set by heart — noise included — and then do worse on
# new data: it **overfits**. The lecture notes answer with **regularization**: "the process of adding
# information in order to solve an ill-posed problem or to prevent overfitting". This lesson measures
# overfitting, then adds the three kinds of information the notes and their CNN key concepts name: a
# preference for **small weights** (L2), for **zero weights** (L1), and **drop outs**, which make the network
# work even when random units go silent. Every formula is derived, then checked by code.
#
# ## Learning goals
#
# By the end of this lesson you can
#
# 1. recognise **overfitting** in training and validation curves and measure the train–validation gap;
# 2. derive the gradient of the **L2 penalty** $\frac{\lambda}{2}\sum w^2$, write the update as **weight decay**,
#    and show that L2 with a squared-error loss is **ridge regression**, $w = (X^\top X + \lambda I)^{-1} X^\top t$;
# 3. explain why **L1** gives many weights that are exactly zero (the corner of the diamond, soft-thresholding)
#    while L2 only makes them small;
# 4. tell an L2 term in the loss from **decoupled weight decay**: the same for SGD, not for Adam (AdamW);
# 5. implement **inverted dropout**, forward and backward, as a layer of your own that trains inside a network,
#    explain its $1/(1-p)$ scaling, why it is switched off at evaluation, and how it averages an ensemble of
#    sub-networks;
# 6. show on a real training run that L2 and dropout shrink the train–validation gap;
# 7. write **early stopping**: train while the validation loss improves, then restore the best weights — and use
#    `fit(early_stopping=...)`;
# 8. derive **batch normalization**'s forward and short backward, explain its training and evaluation statistics,
#    and measure what it does to a deep sigmoid network.

# %%
from typing import NamedTuple

import matplotlib.pyplot as plt
import numpy as np
from ipywidgets import FloatLogSlider, FloatSlider, IntSlider, interact

from nnlib import (
    BatchNorm1d,
    Dropout,
    EarlyStopping,
    L1Penalty,
    L2Penalty,
    Linear,
    Module,
    Parameter,
    ReLU,
    Sequential,
    Sigmoid,
)
from nnlib.data import load_digits, make_moons, train_test_split
from nnlib.exercises import (
    check_dropout_backward,
    check_dropout_forward,
    check_early_stopping,
    check_l1_gradient,
    check_l2_gradient,
    check_my_dropout,
    check_proximal_l1_step,
)
from nnlib.functional import softmax
from nnlib.gradcheck import gradcheck, numerical_gradient
from nnlib.losses import CrossEntropyLoss, MSELoss, SquaredError
from nnlib.optim import SGD, Adam, AdamW
from nnlib.training import evaluate, fit
from nnlib.viz import plot_decision_boundary

np.set_printoptions(precision=4, suppress=True)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Overfitting: a small training set, a big network
#
# Two noisy half-moons: only **60 training points**, and 600 **validation** points from the same distribution
# that the network never trains on. The network is deliberately too big for 60 points: two hidden layers of
# 128 ReLU units, about 17,000 weights. Everything is in float64 and seeded, so every number below is
# reproducible.

# %%
X_train, y_train = make_moons(60, noise=0.35, rng=0, dtype=np.float64)
X_val, y_val = make_moons(600, noise=0.35, rng=1, dtype=np.float64)
LOSS = CrossEntropyLoss()


def make_net(p_drop=0.0, hidden=128):
    """A 2-hidden-hidden-2 ReLU MLP (float64), with Dropout(p_drop) after each hidden layer if p_drop > 0.

    Every call starts from the same initial weights, so runs with and without regularization are comparable.
    """
    layers = []
    for i, n_in in enumerate([2, hidden]):
        layers += [Linear(n_in, hidden, rng=i, dtype=np.float64), ReLU()]
        if p_drop:
            layers.append(Dropout(p_drop, rng=10 + i))
    return Sequential(*layers, Linear(hidden, 2, rng=2, dtype=np.float64))


def train(model, penalty=None, epochs=300):
    """Adam, mini-batches of 20, validation loss and accuracy recorded after every epoch."""
    return fit(model, LOSS, Adam(model.parameters(), lr=0.01), X_train, y_train, epochs=epochs, batch_size=20,
               rng=0, validation=(X_val, y_val), penalty=penalty)


def gap(model):
    """Training accuracy minus validation accuracy, both in eval mode."""
    return evaluate(model, LOSS, X_train, y_train)["accuracy"] - evaluate(model, LOSS, X_val, y_val)["accuracy"]


plain = make_net()
histories = {"no regularization": train(plain)}
h = histories["no regularization"]
best = int(np.argmin(h["val_loss"]))
print(f"training accuracy {evaluate(plain, LOSS, X_train, y_train)['accuracy']:.3f}, "
      f"validation accuracy {h['val_accuracy'][-1]:.3f}: gap {gap(plain):.3f}")
print(f"validation loss: lowest {h['val_loss'][best]:.3f} at epoch {best + 1}, final {h['val_loss'][-1]:.3f}; "
      f"final training loss {h['loss'][-1]:.4f}")
assert gap(plain) > 0.1 and h["val_loss"][-1] > 2 * min(h["val_loss"])

# %% [markdown] slideshow={"slide_type": "subslide"}
# The curves tell the story: the training loss keeps falling towards 0, the validation loss reaches its minimum
# within the first few epochs and then **climbs** — the network is fitting the noise of the 60 points, and
# becomes confidently wrong on new ones. The decision boundary shows it: islands drawn around single points.

# %%
def plot_curves(histories):
    """Training (solid) and validation (dashed) loss and accuracy per epoch, one colour per run."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 3.5), layout="constrained")
    for colour, (name, h) in enumerate(histories.items()):
        for ax, metric in [(ax_loss, "loss"), (ax_acc, "accuracy")]:
            ax.plot(h[metric], color=f"C{colour}", label=f"{name}: training")
            ax.plot(h[f"val_{metric}"], "--", color=f"C{colour}", label=f"{name}: validation")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", yscale="log", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", ylim=(0.7, 1.01), title="accuracy")
    ax_acc.legend(fontsize=8)
    plt.show()


def plot_boundaries(models):
    """The decision boundary of each (eval-mode) model over the training points."""
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 3.8), layout="constrained")
    for ax, (name, model) in zip(np.atleast_1d(axes), models.items(), strict=True):
        plot_decision_boundary(model.eval(), X_train, y_train, ax=ax, title=f"{name}: gap {gap(model):.3f}")
    plt.show()


plot_curves(histories)
plot_boundaries({"no regularization": plain})

# %% [markdown] slideshow={"slide_type": "subslide"}
# The notes' definition covers both halves of the problem. **Overfitting**: the data alone (60 points) do not
# pin down 17,000 weights; many weight settings fit them perfectly, and training picked a wild one. An
# **ill-posed problem** (section 3): the equations for the weights have no unique, stable solution. In both
# cases we *add information* — a preference among the solutions that fit the data.
#
# ## 2. L2 regularization: small weights
#
# The notes: "L2 regularization: complexity = sum of squares of weights". We add that complexity, weighted by
# the **regularization strength** $\lambda \ge 0$, to the data loss $E$:
#
# $$E_{reg} = E + R, \qquad R = \frac{\lambda}{2} \sum_i w_i^2 .$$
#
# The $\frac{1}{2}$ is there to cancel the 2 of the derivative, like the notes' $\frac{1}{2}(t - a)^2$:
#
# $$\frac{\partial R}{\partial w_i} = \frac{\lambda}{2} \cdot 2 w_i = \lambda w_i
# \qquad\Longrightarrow\qquad
# \frac{\partial E_{reg}}{\partial w_i} = \frac{\partial E}{\partial w_i} + \lambda w_i .$$
#
# Put it into the notes' gradient step $w^+ = w - \eta\,\partial E_{reg}/\partial w$:
#
# $$w^+ = w - \eta\left(\frac{\partial E}{\partial w} + \lambda w\right)
#      = \underbrace{(1 - \eta\lambda)}_{\text{decay}}\, w - \eta\,\frac{\partial E}{\partial w} .$$
#
# Before each ordinary step, every weight is multiplied by $1 - \eta\lambda$, slightly less than 1: this is why L2
# regularization is also called **weight decay**. Biases are usually not penalised (`L2Penalty` leaves them
# alone by default): a bias shifts a boundary without making the model more complex.
#
# Check $\partial R/\partial w = \lambda w$ against finite differences, with `nnlib.L2Penalty`, whose
# `penalty(model)` is $R$ and `penalty.backward(model)` adds $\partial R/\partial w$ to each weight's `.grad`:

# %%
layer = Linear(4, 3, rng=0, dtype=np.float64)
penalty = L2Penalty(0.3)
layer.zero_grad()
penalty.backward(layer)
numerical = numerical_gradient(lambda: penalty(layer), layer.weight.data)
print("R =", round(penalty(layer), 6), "| ∂R/∂w = λw matches finite differences to 1e-8:",
      np.allclose(layer.weight.grad, numerical, rtol=0, atol=1e-8))
assert np.allclose(layer.weight.grad, 0.3 * layer.weight.data) and np.allclose(layer.weight.grad, numerical)
assert np.all(layer.bias.grad == 0)  # the bias is not penalised

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 5.1 — the L2 gradient term
#
# Write `l2_gradient(data_grad, w, lam)`: given the data loss's gradient `data_grad` $= \partial E/\partial w$
# and the weights `w` (same shape), return the gradient of the regularized loss $E + \frac{\lambda}{2}\sum w^2$.

# %%
def l2_gradient(data_grad, w, lam):
    """∂(E + λ/2 Σ w²)/∂w, same shape as w, from data_grad = ∂E/∂w."""
    ### BEGIN SOLUTION
    return data_grad + lam * w
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_l2_gradient(l2_gradient)

# %% [markdown] slideshow={"slide_type": "subslide"}
# nnlib offers the same term in two places: `fit(..., penalty=L2Penalty(λ))` adds $\lambda w$ to the gradients
# before each step, and the optimizer option `SGD(..., weight_decay=λ)` adds it inside the step. With plain SGD
# they are the same algorithm — five epochs on the moons, both ways, give identical parameters:

# %%
def sgd_run(weight_decay=0.0, penalty=None):
    model = make_net()
    fit(model, LOSS, SGD(model.parameters(), lr=0.1, weight_decay=weight_decay), X_train, y_train, epochs=5,
        batch_size=20, rng=0, penalty=penalty)
    return np.concatenate([p.data.ravel() for p in model.parameters()])


as_penalty = sgd_run(penalty=L2Penalty(0.01, include_biases=True))
as_option = sgd_run(weight_decay=0.01)
print("max |difference| of the parameters:", f"{np.abs(as_penalty - as_option).max():.1e}")
assert np.allclose(as_penalty, as_option, rtol=1e-12, atol=1e-12)

# %% [markdown] slideshow={"slide_type": "subslide"}
# (`SGD(weight_decay=…)` decays the biases too, hence `include_biases=True` for this comparison.) Now train the
# overfitting network again, same start, same batches, with $\lambda = 0.01$ on the weights:

# %%
l2_net = make_net()
histories["L2, λ = 0.01"] = train(l2_net, penalty=L2Penalty(0.01))


def weight_norm(model):
    """‖w‖₂ over all weight matrices (biases excluded)."""
    return np.sqrt(sum(np.sum(p.data**2) for name, p in model.named_parameters() if name.endswith("weight")))


for name, model in [("no regularization", plain), ("L2, λ = 0.01", l2_net)]:
    print(f"{name:18s}: weight norm {weight_norm(model):6.2f}, validation accuracy "
          f"{histories[name]['val_accuracy'][-1]:.3f}, train–validation gap {gap(model):.3f}")
assert weight_norm(l2_net) < weight_norm(plain) and gap(l2_net) < gap(plain)

# %%
plot_boundaries({"no regularization": plain, "L2, λ = 0.01": l2_net})

# %% [markdown] slideshow={"slide_type": "subslide"}
# Small weights make a smooth function: with ReLU units, each weight multiplies how fast the output can change
# with the input, so the L2 net cannot bend sharply around single points.
#
# ## 3. L2 + squared error = ridge regression
#
# The notes: "Combine with L2 loss to get **ridge regression**". Take a linear model $a = X w$ (no bias; $X$ is
# $N \times F$, one example per row) and the notes' squared error summed over the examples:
#
# $$E_{reg}(w) = \frac{1}{2}\lVert t - X w\rVert^2 + \frac{\lambda}{2}\lVert w \rVert^2 .$$
#
# Gradient, step by step: $\frac{\partial}{\partial w}\frac{1}{2}\lVert t - Xw\rVert^2 = -X^\top (t - Xw)$, so
#
# $$\nabla E_{reg} = -X^\top (t - X w) + \lambda w = (X^\top X + \lambda I)\, w - X^\top t .$$
#
# Setting it to zero gives the closed-form **ridge** solution
#
# $$\boxed{\;w_{ridge} = (X^\top X + \lambda I)^{-1} X^\top t\;}$$
#
# $X^\top X + \lambda I$ is invertible for every $\lambda > 0$, even when $X^\top X$ is not: this is the
# "ill-posed problem" of the notes' definition. Below, two input columns are almost copies of each other;
# $X^\top X$ is then nearly singular and ordinary least squares ($\lambda = 0$) explodes into two huge weights of
# opposite signs, while ridge splits the effect evenly:

# %%
rng = np.random.default_rng(0)
N, F = 20, 5
X_lin = rng.normal(size=(N, F))
X_lin[:, 4] = X_lin[:, 3] + 1e-3 * rng.normal(size=N)        # column 4 ≈ column 3
t_lin = X_lin @ np.array([1.0, -2.0, 0.5, 1.0, 1.0]) + 0.1 * rng.normal(size=N)


def ridge(X, t, lam):
    """Closed-form ridge weights (F,) = (XᵀX + λI)⁻¹ Xᵀt, solved without forming the inverse."""
    return np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ t)


print("smallest eigenvalue of XᵀX:", f"{np.linalg.eigvalsh(X_lin.T @ X_lin)[0]:.1e}")
print("least squares (λ = 0):", ridge(X_lin, t_lin, 0.0).round(3))
print("ridge (λ = 1):        ", ridge(X_lin, t_lin, 1.0).round(3))

# %% [markdown] slideshow={"slide_type": "subslide"}
# Now the check: gradient descent on `SquaredError` (the notes' $\frac{1}{2}\sum$) with `L2Penalty(λ)` must
# converge to the boxed formula. Full batch, so each epoch is one exact gradient step.
#
# Mind the conventions. PyTorch-style `MSELoss` is the **mean** without the $\frac{1}{2}$,
# $\frac{1}{N}\lVert t - Xw\rVert^2$; its gradient is $\frac{2}{N}X^\top(Xw - t)$, and setting
# $\frac{2}{N}X^\top(Xw - t) + \lambda w = 0$ gives $(X^\top X + \frac{N\lambda}{2} I)\,w = X^\top t$: the same ridge
# solution, with the strength $\frac{N\lambda}{2}$ instead of $\lambda$.

# %%
def gradient_descent_weights(loss, lr, lam, epochs=3000):
    """Weights (F,) of a bias-free linear model trained full-batch with SGD and L2Penalty(lam)."""
    model = Linear(F, 1, bias=False, rng=0, dtype=np.float64)
    fit(model, loss, SGD(model.parameters(), lr=lr), X_lin, t_lin[:, None], epochs=epochs, batch_size=N,
        shuffle=False, penalty=L2Penalty(lam))
    return model.weight.data[:, 0]


lam = 1.0
for loss, lr, strength in [(SquaredError(), 0.01, lam), (MSELoss(), 0.2, N * lam / 2)]:
    w_gd, w_ridge = gradient_descent_weights(loss, lr, lam), ridge(X_lin, t_lin, strength)
    print(f"{type(loss).__name__:12s} gradient descent {w_gd.round(4)} | ridge with strength {strength:4.1f} "
          f"{w_ridge.round(4)}")
    assert np.allclose(w_gd, w_ridge, atol=1e-9)

# %% [markdown] slideshow={"slide_type": "subslide"}
# The ridge path: as $\lambda$ grows, every weight shrinks smoothly towards 0 — but none of them *reaches* 0.

# %%
lams = np.logspace(-3, 3, 61)
path = np.array([ridge(X_lin, t_lin, lam) for lam in lams])
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
ax.plot(lams, path, label=[f"$w_{i + 1}$" for i in range(F)])
ax.set(xscale="log", xlabel=r"$\lambda$", ylabel="ridge weight", ylim=(-3, 3), title="ridge path")
ax.legend()
plt.show()
norms = np.linalg.norm(path, axis=1)
print("‖w‖ at λ = 0.001, 1, 1000:", norms[[0, 30, 60]].round(3), "| exact zeros on the path:", int(np.sum(path == 0)))
assert np.all(np.diff(norms) < 0) and np.all(path != 0)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. L1 regularization: many exact zeros
#
# The notes: "L2 regularization leads to small weights, L1 regularization leads to **many zero weights
# (sparsity)**". The L1 penalty and its (sub)gradient:
#
# $$R = \lambda \sum_i |w_i|, \qquad \frac{\partial R}{\partial w_i} = \lambda \operatorname{sign}(w_i)
# \quad (w_i \ne 0).$$
#
# Compare the pulls towards 0: L2's $\lambda w$ fades as $w$ shrinks, so a weight approaches 0 ever more slowly
# and never gets there; L1's pull is $\lambda$ whatever the size, so a weight whose data gradient is weaker than
# $\lambda$ is driven all the way to 0.
#
# At $w_i = 0$, $|w|$ has a kink and no derivative; nnlib (like PyTorch's autograd) takes $\operatorname{sign}(0) = 0$,
# one valid subgradient. `nnlib.L1Penalty` against finite differences, away from the kink:

# %%
layer = Linear(4, 3, rng=0, dtype=np.float64)
l1 = L1Penalty(0.3)
layer.zero_grad()
l1.backward(layer)
numerical = numerical_gradient(lambda: l1(layer), layer.weight.data)
print("∂R/∂w = λ sign(w) matches finite differences to 1e-8:", np.allclose(layer.weight.grad, numerical, atol=1e-8))
assert np.array_equal(layer.weight.grad, 0.3 * np.sign(layer.weight.data))
assert np.allclose(layer.weight.grad, numerical, rtol=0, atol=1e-8)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 5.2 — the L1 gradient term
#
# Write `l1_gradient(data_grad, w, lam)`: the gradient of $E + \lambda\sum|w|$ from
# `data_grad` $= \partial E/\partial w$, with $\operatorname{sign}(0) = 0$ (a weight that is exactly 0 gets no pull).

# %%
def l1_gradient(data_grad, w, lam):
    """∂(E + λ Σ |w|)/∂w = data_grad + λ sign(w), same shape as w; sign(0) = 0."""
    ### BEGIN SOLUTION
    return data_grad + lam * np.sign(w)
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_l1_gradient(l1_gradient)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **One weight, exactly.** Minimise $\frac{1}{2}(w - v)^2 + R(w)$ — a weight that the data want at $v$:
#
# * L2: $w - v + \lambda w = 0 \Rightarrow w^* = \dfrac{v}{1 + \lambda}$: shrunk by a factor, zero only if $v = 0$.
# * L1: for $w > 0$, $w - v + \lambda = 0 \Rightarrow w = v - \lambda$, valid only if $v > \lambda$; symmetrically
#   for $w < 0$; otherwise the minimum sits at the kink $w = 0$:
#
# $$w^* = \operatorname{sign}(v)\,\max(|v| - \lambda,\ 0) \qquad\text{(soft-thresholding)}.$$
#
# A whole interval of data, $|v| \le \lambda$, gives exactly $w^* = 0$. Brute force over a fine grid of $w$
# confirms both formulas:

# %%
def soft_threshold(v, threshold):
    """sign(v) · max(|v| − threshold, 0); the + 0.0 turns a -0.0 into 0.0."""
    return np.sign(v) * np.maximum(np.abs(v) - threshold, 0) + 0.0


w_grid = np.linspace(-3, 3, 60001)                      # step 1e-4, contains 0 exactly
lam = 0.5
for v in [-2.0, -0.4, 0.1, 0.5, 1.2]:
    l1_best = w_grid[np.argmin(0.5 * (w_grid - v) ** 2 + lam * np.abs(w_grid))]
    l2_best = w_grid[np.argmin(0.5 * (w_grid - v) ** 2 + lam / 2 * w_grid**2)]
    print(f"v = {v:+.1f}: L1 minimum {l1_best:+.4f} (formula {soft_threshold(v, lam):+.4f}), "
          f"L2 minimum {l2_best:+.4f} (formula {v / (1 + lam):+.4f})")
    assert abs(l1_best - soft_threshold(v, lam)) < 1e-4 and abs(l2_best - v / (1 + lam)) < 1e-4

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Two weights: the corner of the diamond.** Equivalently, minimise the data loss with the penalty as a budget:
# $\sum|w_i| \le c$ is a **diamond** whose corners lie on the axes, $\sum w_i^2 \le c^2$ a **disc**. Grow the
# loss's elliptic contours from their centre until they first touch the region: a diamond is most likely touched
# at a corner — where one weight is exactly 0 — a disc at a point where neither is. Below, for
# $E = \frac{1}{2}(w_1 - 2)^2 + (w_2 - 0.3)^2$ and $c = 1$, the best point on each boundary, by brute force:

# %%
def quadratic_loss(w1, w2):
    return 0.5 * (w1 - 2) ** 2 + (w2 - 0.3) ** 2


s = np.linspace(-1, 1, 20001)                           # contains ±1, so the diamond's corners are candidates
diamond = np.concatenate([np.column_stack([s, 1 - np.abs(s)]), np.column_stack([s, np.abs(s) - 1])])
angle = np.linspace(0, 2 * np.pi, 40001)
disc = np.column_stack([np.cos(angle), np.sin(angle)])
best_l1, best_l2 = (region[np.argmin(quadratic_loss(*region.T))] for region in (diamond, disc))
print("best on the L1 diamond:", best_l1.round(4), "| best on the L2 circle:", best_l2.round(4))
assert np.array_equal(best_l1, [1.0, 0.0]) and np.all(np.abs(best_l2) > 0.1)

fig, ax = plt.subplots(figsize=(4.5, 4.5), layout="constrained")
g1, g2 = np.meshgrid(np.linspace(-1.5, 3, 200), np.linspace(-1.5, 1.8, 200))
ax.contour(g1, g2, quadratic_loss(g1, g2), levels=[0.05, 0.2, 0.5, quadratic_loss(*best_l2), quadratic_loss(*best_l1)],
           colors="grey", linewidths=0.8)
ax.fill(*diamond[np.argsort(np.arctan2(diamond[:, 1], diamond[:, 0]))].T, alpha=0.3, label=r"L1: $|w_1|+|w_2| \leq 1$")
ax.plot(*disc.T, color="C1", label=r"L2: $w_1^2+w_2^2 \leq 1$")
ax.plot(*best_l1, "o", color="C0", ms=9)
ax.plot(*best_l2, "s", color="C1", ms=8)
ax.plot(2, 0.3, "k+", ms=10)
ax.set(xlabel="$w_1$", ylabel="$w_2$", aspect="equal", title="the first contact: a corner vs a smooth point")
ax.legend(loc="lower right", fontsize=8)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# **In training.** A plain gradient step with $\lambda\operatorname{sign}(w)$ overshoots 0 and makes small weights
# hover around it. `L1Penalty(λ, proximal=True)` does what the one-weight formula says: after each optimizer step
# with learning rate $\eta$, it soft-thresholds every weight by $\eta\lambda$, which sets small weights to exactly
# 0. We train a softmax classifier on the 8×8 handwritten digits — a single `Linear(64, 10)`, so each of its 640
# weights links one pixel to one digit — with L1 and with L2 of the same strength, and count the exact zeros:

# %%
X_digits, y_digits = load_digits(dtype=np.float64)
Xd_train, Xd_val, yd_train, yd_val = train_test_split(X_digits, y_digits, test_fraction=0.3, rng=0)
pixel_models = {}


def train_pixel_model(kind, lam):
    """Linear(64, 10) softmax classifier on the digits with L1 (proximal) or L2 of strength lam; cached."""
    key = (kind, round(float(lam), 8))
    if key not in pixel_models:
        model = Linear(64, 10, rng=0, dtype=np.float64)
        penalty = L1Penalty(lam, proximal=True) if kind == "L1" else L2Penalty(lam)
        history = fit(model, LOSS, SGD(model.parameters(), lr=0.5), Xd_train, yd_train, epochs=30, batch_size=64,
                      rng=0, penalty=penalty, validation=(Xd_val, yd_val))
        pixel_models[key] = model, history["val_accuracy"][-1]
    return pixel_models[key]


print("     λ   | zero weights of 640: L1   L2 | validation accuracy: L1     L2")
for lam in [0.0, 0.001, 0.003, 0.01, 0.03]:
    (l1, acc1), (l2, acc2) = train_pixel_model("L1", lam), train_pixel_model("L2", lam)
    zeros1, zeros2 = int(np.sum(l1.weight.data == 0)), int(np.sum(l2.weight.data == 0))
    print(f"  {lam:6.3f} |                    {zeros1:4d} {zeros2:4d} |                {acc1:.3f}  {acc2:.3f}")
    assert zeros2 == 0 and (lam == 0 or zeros1 > 100)

# %% [markdown] slideshow={"slide_type": "subslide"}
# L1 zeroes hundreds of weights — first those of the border pixels, which are (almost) always blank and carry no
# information — and keeps the accuracy until $\lambda$ gets large. L2 zeroes none. Move $\lambda$ and compare the
# histograms of the 640 weights, and the weights feeding the class "0" drawn as an 8×8 image (white = 0):

# %% tags=["nbval-ignore-output"]
def show_penalties(lam=0.003):
    """Weight histograms of the L1- and L2-regularized digit classifiers, and their class-0 weights as images."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.3), layout="constrained",
                             gridspec_kw={"width_ratios": [2, 1, 1]})
    for colour, kind in enumerate(["L1", "L2"]):
        model, val_acc = train_pixel_model(kind, lam)
        w = model.weight.data
        axes[0].hist(w.ravel(), bins=np.linspace(-3, 3, 61), alpha=0.6, color=f"C{colour}",
                     label=f"{kind}: {int(np.sum(w == 0))} exact zeros, val acc {val_acc:.3f}")
        limit = np.abs(w[:, 0]).max()
        axes[colour + 1].imshow(w[:, 0].reshape(8, 8), cmap="RdBu", vmin=-limit, vmax=limit)
        axes[colour + 1].set(title=f"{kind}: weights to class 0", xticks=[], yticks=[])
    axes[0].set(yscale="log", xlabel="weight", ylabel="count", title=f"λ = {lam:.4f}")
    axes[0].legend(fontsize=8)
    plt.show()


_ = interact(show_penalties, lam=FloatLogSlider(value=0.003, base=10, min=-4, max=-1.5, step=0.25,
                                                continuous_update=False))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Weight decay is not always L2: SGD vs Adam and AdamW
#
# Section 2 showed that for SGD the L2 term in the gradient and shrinking the weights by $(1 - \eta\lambda)$
# ("**decoupled** weight decay") are one and the same update. Adam breaks that equivalence. Adam divides each
# weight's step by the root of its running mean squared gradient, $\sqrt{\hat v}$:
#
# * **Adam + L2** (`Adam(weight_decay=λ)`): the gradient is $g + \lambda w$, and the decay term is divided too:
#   roughly $w \leftarrow w - \eta\,\dfrac{\lambda w}{\sqrt{\hat v}}$. A weight with a **large gradient history**
#   (large $\sqrt{\hat v}$) is barely decayed; a weight with tiny gradients is decayed hard.
# * **AdamW** (Loshchilov & Hutter): first $w \leftarrow (1 - \eta\lambda)\,w$, then Adam's step on $g$ alone:
#   every weight decays by the same factor, whatever its gradients.
#
# Two weights of one model, both starting at 1. The data loss has no preferred value for either (its gradients
# are zero-mean noise), but $w_1$ lies in a steep, noisy direction (gradient noise of scale 10) and $w_2$ in a
# flat one (scale 0.01). Whatever shrinks them is the decay. Every run sees the same gradient sequence:

# %%
STEPS, LR, LAMBDA = 5000, 1e-3, 0.1
GRADIENTS = np.random.default_rng(0).standard_normal((STEPS, 2)) * np.array([10.0, 0.01])


def decay_run(optimizer_class, decoupled=0.0, **options):
    """Final (w1, w2) after STEPS steps on GRADIENTS from w = (1, 1); ``decoupled`` multiplies w by
    (1 − LR·decoupled) before each step, by hand."""
    w = Parameter(np.ones(2), "weight")
    optimizer = optimizer_class([w], lr=LR, **options)
    for g in GRADIENTS:
        w.data *= 1 - LR * decoupled
        w.grad[...] = g
        optimizer.step()
    return w.data


sgd_l2, sgd_decoupled = decay_run(SGD, weight_decay=LAMBDA), decay_run(SGD, decoupled=LAMBDA)
print("SGD + L2:", sgd_l2.round(6), "| SGD, decoupled decay:", sgd_decoupled.round(6))
assert np.allclose(sgd_l2, sgd_decoupled, rtol=1e-9)

runs = {"Adam, no decay": decay_run(Adam), "Adam + L2": decay_run(Adam, weight_decay=LAMBDA),
        "AdamW": decay_run(AdamW, weight_decay=LAMBDA)}
for name, w in runs.items():
    print(f"{name:14s}: w1 = {w[0]:.3f} (noisy, steep), w2 = {w[1]:.3f} (quiet, flat)")
print(f"decoupled decay alone: (1 − ηλ)^{STEPS} = {(1 - LR * LAMBDA) ** STEPS:.3f}")
assert np.allclose(runs["AdamW"], decay_run(Adam, decoupled=LAMBDA))       # AdamW = decay by hand + Adam
assert runs["Adam + L2"][0] > runs["AdamW"][0] + 0.2 and abs(runs["Adam + L2"][1]) < 0.05
assert np.allclose(runs["AdamW"], (1 - LR * LAMBDA) ** STEPS, atol=0.1)

# %% [markdown] slideshow={"slide_type": "subslide"}
# With Adam + L2 the weight with the large gradient history keeps almost all of its size, while the quiet one is
# crushed to 0; AdamW shrinks both by the same $(1 - \eta\lambda)^T$. That is why `AdamW` (with its default
# `weight_decay=0.01`) is the usual choice when training with Adam and weight decay: the strength $\lambda$ means
# the same thing for every weight.
#
# ## 6. Dropout: inverted dropout
#
# **Dropout** (one of the notes' CNN key concepts, "drop outs") silences random units during training: each
# element of a layer's output $x$ is kept with probability $1 - p$ and set to 0 with probability $p$, afresh at
# every forward pass. No unit can rely on a particular other unit being there, so the network must spread what it
# knows over many units.
#
# With a keep-mask $m_i \sim \text{Bernoulli}(1 - p)$ (1 = keep), **inverted dropout** (PyTorch's, nnlib's)
# computes
#
# $$y_i = \frac{m_i\, x_i}{1 - p} .$$
#
# Why divide by $1 - p$? The expectation over the mask:
#
# $$\mathbb{E}[y_i] = \frac{x_i\,\mathbb{E}[m_i]}{1 - p} = \frac{x_i\,(1 - p)}{1 - p} = x_i .$$
#
# Without the rescaling the next layer would receive on average only $(1 - p)\,x$ in training but the full $x$
# at evaluation, when nothing is dropped. Scaling up during training keeps the two equal on average, so the
# evaluation-time network needs no change at all.
#
# ### Exercise 5.3 — the dropout forward pass
#
# Write `dropout_forward(x, keep_mask, p)`: `keep_mask` is an array of 0.0 (drop) and 1.0 (keep) of `x`'s shape,
# `p` the drop probability. Return inverted dropout's training output.

# %%
def dropout_forward(x, keep_mask, p):
    """Inverted dropout in training: m ⊙ x / (1 − p), same shape as x."""
    ### BEGIN SOLUTION
    return x * keep_mask / (1 - p)
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_dropout_forward(dropout_forward)

# %% [markdown] slideshow={"slide_type": "subslide"}
# Check the expectation with `nnlib.Dropout`, which draws a new mask at every training forward: average
# $K = 20{,}000$ outputs for one input $x$. Each $y_i$ has variance $x_i^2\,p/(1 - p)$, so the average should sit
# within a few $|x_i|\sqrt{p/((1 - p)K)}$ of $x_i$ — and far from the $(1 - p)\,x$ we would get without the
# rescaling:

# %%
x = np.array([1.0, -2.0, 0.5, 3.0])
K, p = 20_000, 0.3
dropout = Dropout(p, rng=0)
outputs = np.array([dropout(x) for _ in range(K)])
standard_error = np.abs(x) * np.sqrt(p / ((1 - p) * K))
print("x:               ", x)
print("mean of outputs: ", outputs.mean(axis=0).round(3))
print("without 1/(1−p): ", ((outputs != 0) * x).mean(axis=0).round(3))
print("fraction kept:   ", (outputs != 0).mean().round(3))
assert np.all(np.abs(outputs.mean(axis=0) - x) < 5 * standard_error)
assert np.allclose(outputs[outputs != 0], np.broadcast_to(x / (1 - p), outputs.shape)[outputs != 0])

# %% [markdown] slideshow={"slide_type": "subslide"}
# Dropout applied to the pixels of a digit: one random mask, and the average over many masks, which is the
# original image again. Move $p$:

# %% tags=["nbval-ignore-output"]
digit = X_digits[0]


def show_dropout(p=0.5):
    """A digit, one inverted-dropout sample of its pixels, and the mean of 500 samples."""
    layer = Dropout(p, rng=0)
    samples = np.array([layer(digit) for _ in range(500)])
    panels = {"input x": digit, "one sample m ⊙ x / (1 − p)": samples[0], "mean of 500 samples": samples.mean(axis=0)}
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2), layout="constrained")
    for ax, (title, image) in zip(axes, panels.items(), strict=True):
        ax.imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=2)
        ax.set(title=f"{title}\nmean pixel {image.mean():.3f}", xticks=[], yticks=[])
    plt.show()


_ = interact(show_dropout, p=FloatSlider(value=0.5, min=0.0, max=0.9, step=0.1, continuous_update=False))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Training mode and evaluation mode
#
# Dropout must be **off at evaluation**: a prediction should not depend on a coin toss, and we want the
# network's best estimate — the expected output, which inverted dropout makes equal to the output of the full
# network. `model.train()` and `model.eval()` switch every layer; in eval mode `Dropout` is the identity:

# %%
net = Sequential(Linear(3, 5, rng=0, dtype=np.float64), ReLU(), Dropout(0.5, rng=0),
                 Linear(5, 2, rng=1, dtype=np.float64))
no_dropout = Sequential(net[0], net[1], net[3])             # the same layers without the Dropout
x_in = np.random.default_rng(1).normal(size=(1, 3))
first, second = net.train()(x_in), net(x_in)
print("train mode, two calls:", first.round(4), second.round(4))
print("eval mode, two calls: ", net.eval()(x_in).round(4), net(x_in).round(4))
assert not np.allclose(first, second) and np.array_equal(net(x_in), no_dropout(x_in))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Dropout's backward pass
#
# Each output depends on its own input only: $y_i = m_i x_i / (1 - p)$, so the Jacobian is diagonal,
# $\partial y_i / \partial x_j = 0$ for $i \ne j$ and
#
# $$\frac{\partial y_i}{\partial x_i} = \frac{m_i}{1 - p}
# \qquad\Longrightarrow\qquad
# \boxed{\;\frac{\partial L}{\partial x} = \frac{m \odot \partial L / \partial y}{1 - p}\;}$$
#
# The gradient flows back only through the kept units, scaled like the forward pass, using **the same mask** —
# so the layer must remember it: nnlib's `Dropout` stores the scaled mask $m/(1-p)$ in its cache in forward and
# reads it back in backward. In eval mode the backward is the identity.
#
# ### Exercise 5.4 — the dropout backward pass
#
# Write `dropout_backward(grad_out, keep_mask, p)`: given $\partial L/\partial y$ and the mask used in the
# forward pass, return $\partial L/\partial x$.

# %%
def dropout_backward(grad_out, keep_mask, p):
    """∂L/∂x = m ⊙ ∂L/∂y / (1 − p), same shape as grad_out."""
    ### BEGIN SOLUTION
    return grad_out * keep_mask / (1 - p)
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_dropout_backward(dropout_backward)

# %% [markdown] slideshow={"slide_type": "subslide"}
# A gradient check needs a fixed function, and dropout draws a new mask at every forward. `fix_mask` pins one
# mask; then `nnlib.gradcheck` compares the backward of `Linear → Dropout` (for the input, the weight and the
# bias) with centred finite differences, in float64:

# %%
rng = np.random.default_rng(0)
dropout = Dropout(0.4)
dropout.fix_mask(rng.random((6, 4)) >= 0.4)
errors = gradcheck(Sequential(Linear(3, 4, rng=0, dtype=np.float64), dropout), rng.normal(size=(6, 3)))
print("relative errors below 1e-7 for", list(errors), ":", max(errors.values()) < 1e-7)
assert max(errors.values()) < 1e-7

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 5.5 — build your own Dropout layer
#
# Now put the two halves into a layer that works inside any nnlib network: `MyDropout(p, rng)`, a `Module` that
# follows nnlib's contract (read `nnlib/layers/dropout.py`, the reference it is compared with).
#
# * **`forward(x)`**: in eval mode (`self.training` is False) return `x` unchanged and draw nothing. In
#   training draw the keep-mask exactly as nnlib does, `m = self.rng.random(x.shape) >= self.p` (so the same seed
#   gives the same masks as `nnlib.Dropout`), store the scaled mask $m/(1-p)$ with
#   `self.cache = MyDropoutCache(scale)` and return $x \odot m/(1-p)$. In eval mode store `MyDropoutCache(None)`.
# * **`backward(grad_out)`**: read `self.cache` — the mask of *this* forward; never draw again — and return
#   $\partial L/\partial x$. A dropout layer has no parameters, so there is nothing to accumulate.
#
# The check compares your layer with `nnlib.Dropout(p, rng=seed)` on four shapes in both modes, gradient-checks
# `Linear → MyDropout` (with the mask pinned), then trains a small MLP with your layer and with nnlib's and compares
# the losses epoch by epoch.

# %%
class MyDropoutCache(NamedTuple):
    """What MyDropout.forward keeps for backward."""

    scale: np.ndarray | None  # m / (1 − p), x's shape; None in eval mode (the identity)


class MyDropout(Module):
    """Inverted dropout: y = m ⊙ x / (1 − p) with m ~ Bernoulli(1 − p) in training, y = x in eval mode.

    Shapes: x any shape → y same shape.
    """

    def __init__(self, p=0.5, rng=None):
        self.p = p
        self.rng = np.random.default_rng(rng)

    def forward(self, x):
        ### BEGIN SOLUTION
        if not self.training:
            self.cache = MyDropoutCache(None)
            return x
        keep = self.rng.random(x.shape) >= self.p        # m ~ Bernoulli(1 − p), drawn as nnlib.Dropout draws it
        scale = keep / (1 - self.p)
        self.cache = MyDropoutCache(scale)
        return x * scale
        ### END SOLUTION

    def backward(self, grad_out):
        ### BEGIN SOLUTION
        scale = self.cache.scale
        return grad_out if scale is None else grad_out * scale
        ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_my_dropout(MyDropout)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. Dropout as an ensemble, and its effect on validation
#
# Each mask selects a **sub-network** — the units it keeps — and all $2^{n}$ sub-networks share the same weights.
# Training with dropout trains a different sub-network at each step; the eval-mode network approximates the
# **average of their predictions** (for a linear layer right after dropout the average is exact, by the
# expectation above; through non-linearities it is an approximation). Train the overfitting network with
# `Dropout(0.5)` after both hidden layers, then measure how close the average of many dropped-out predictions
# comes to the single eval-mode prediction, on the 600 validation points:

# %%
dropout_net = make_net(p_drop=0.5)
histories["dropout, p = 0.5"] = train(dropout_net)

eval_probs = softmax(dropout_net.eval()(X_val), axis=1)
dropout_net.train()
sub_network_probs = np.array([softmax(dropout_net(X_val), axis=1) for _ in range(200)])
for k in [1, 10, 200]:
    average = sub_network_probs[:k].mean(axis=0)
    agree = np.mean(average.argmax(axis=1) == eval_probs.argmax(axis=1))
    print(f"average of {k:3d} sub-networks: mean |Δ probability| {np.abs(average - eval_probs)[:, 1].mean():.3f}, "
          f"same class as eval mode for {agree:.3f} of the points")
dropout_net.eval()
assert np.abs(sub_network_probs.mean(axis=0) - eval_probs).mean() < 0.05 and agree > 0.98

# %% [markdown] slideshow={"slide_type": "subslide"}
# One sub-network alone disagrees with the full network on a few percent of the points; the average of many
# predicts the same class almost everywhere. The probabilities do not converge *exactly* to the eval-mode ones —
# the small difference that remains is the non-linearities' doing — but the eval-mode network gives, in one
# pass, nearly what an ensemble of sub-networks would give. And ensembles overfit less than their members.
#
# The three runs side by side — the same network, the same start, the same batches:

# %%
plot_curves(histories)
models = {"no regularization": plain, "L2, λ = 0.01": l2_net, "dropout, p = 0.5": dropout_net}
for name, model in models.items():
    print(f"{name:18s}: training accuracy {evaluate(model, LOSS, X_train, y_train)['accuracy']:.3f}, "
          f"validation accuracy {evaluate(model, LOSS, X_val, y_val)['accuracy']:.3f}, gap {gap(model):.3f}")
assert gap(dropout_net) < gap(plain) - 0.05
assert evaluate(dropout_net, LOSS, X_val, y_val)["accuracy"] > evaluate(plain, LOSS, X_val, y_val)["accuracy"]

# %%
plot_boundaries(models)

# %% [markdown] slideshow={"slide_type": "subslide"}
# Dropout's training curves are noisier and its training loss stays higher (each step trains a random
# sub-network); its validation accuracy is the best of the three and its boundary is smooth. Look at the
# validation *loss*, though: with dropout alone it still climbs, almost like the unregularized one — nothing
# stops the weights from growing, and a few confidently wrong points dominate the cross-entropy. L2 keeps the
# validation loss flat. The two act differently and are often combined, and with a third: early stopping.
# Both trade a little training accuracy for a smaller gap.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 9. Early stopping: keep the best epoch
#
# Section 1's curves already held the simplest regularizer. The validation loss of the unregularized network fell,
# then climbed: the weights of its lowest point generalise better than the final ones. **Early stopping** watches
# the validation loss after every epoch and keeps a copy of the weights whenever it reaches a new minimum. When
# `patience` epochs in a row bring no new minimum, it stops and restores the copy.
#
# Why is that regularization? Gradient descent starts from small weights, and each step can move them only so
# far: the number of steps limits how large and how wild the weights can get, much as an L2 budget does. Stopping
# early chooses that budget with the validation data, which training never sees. Its cost: the validation set is
# now used to pick the model, so report the final accuracy on a third, untouched test set.
#
# With patience $P$, the run stops after epoch $e_{best} + P$, where $e_{best}$ is the epoch of the lowest
# validation loss so far. On section 1's history, with the stopping epoch computed from the curve. Move the
# patience:

# %% tags=["nbval-ignore-output"]
def stopping_epoch(val_losses, patience):
    """(best epoch, stop epoch), 1-based, of early stopping on a recorded validation-loss curve."""
    val_losses = np.asarray(val_losses)
    new_best = val_losses < np.minimum.accumulate(np.concatenate([[np.inf], val_losses[:-1]]))
    best_epochs = np.maximum.accumulate(np.where(new_best, np.arange(1, len(val_losses) + 1), 0))
    waited = np.arange(1, len(val_losses) + 1) - best_epochs
    stop = int(np.argmax(waited >= patience)) + 1 if np.any(waited >= patience) else len(val_losses)
    return int(best_epochs[stop - 1]), stop


def show_early_stopping(patience=10):
    """Section 1's validation loss, the epoch early stopping keeps and the epoch it stops at."""
    val = histories["no regularization"]["val_loss"]
    best_epoch, stop = stopping_epoch(val, patience)
    fig, ax = plt.subplots(figsize=(7, 3.2), layout="constrained")
    ax.plot(np.arange(1, len(val) + 1), val, color="C0", label="validation loss (no regularization)")
    ax.axvline(best_epoch, color="C2", label=f"best epoch {best_epoch}: kept")
    ax.axvline(stop, color="C3", ls="--", label=f"stop after epoch {stop}")
    ax.set(xlabel="epoch", ylabel="cross-entropy", yscale="log", title=f"early stopping, patience {patience}")
    ax.legend(fontsize=8)
    plt.show()


_ = interact(show_early_stopping, patience=IntSlider(value=10, min=1, max=60, continuous_update=False))

# %%
val = histories["no regularization"]["val_loss"]
best_epoch, stop = stopping_epoch(val, 10)
print(f"patience 10: stop after epoch {stop} of {len(val)}, keep epoch {best_epoch} "
      f"(validation loss {val[best_epoch - 1]:.3f} instead of the final {val[-1]:.3f})")
assert stop < len(val) and val[best_epoch - 1] == min(val[:stop]) and val[best_epoch - 1] < val[-1] / 2

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 5.6 — build the early-stopping loop
#
# Write `train_with_early_stopping(model, loss, optimizer, X, y, X_val, y_val, patience, max_epochs)`. Each
# epoch: train one epoch with `fit(model, loss, optimizer, X, y, epochs=1, batch_size=batch_size, rng=rng)` (the
# one Generator `rng` gives each epoch a new batch order), then append the validation loss
# `evaluate(model, loss, X_val, y_val)["loss"]` (eval mode, so dropout is off). When it is lower than every
# earlier one, remember the epoch and `model.state_dict()` (a copy). Stop once `patience` epochs in a row brought
# no improvement, or after `max_epochs`. Finally `model.load_state_dict(...)` the best weights and return
# `(best_epoch, val_losses)`, epochs counted from 1.
#
# The check runs your loop and a reference one on four seeded tasks (patience 3 and 8, a run that reaches
# `max_epochs`, a network with dropout) and compares where they stop and which weights they keep.

# %%
def train_with_early_stopping(model, loss, optimizer, X, y, X_val, y_val, patience, max_epochs, batch_size=10,
                              rng=0):
    """Train until `patience` epochs pass without a new lowest validation loss; end with the best weights.

    Returns (best_epoch, val_losses): the 1-based epoch whose weights the model holds, and the validation loss
    after every epoch that ran.
    """
    rng = np.random.default_rng(rng)
    ### BEGIN SOLUTION
    best_loss, best_epoch, best_state, val_losses = np.inf, 0, model.state_dict(), []
    for epoch in range(1, max_epochs + 1):
        fit(model, loss, optimizer, X, y, epochs=1, batch_size=batch_size, rng=rng)
        val_losses.append(evaluate(model, loss, X_val, y_val)["loss"])
        if val_losses[-1] < best_loss:
            best_loss, best_epoch, best_state = val_losses[-1], epoch, model.state_dict()
        elif epoch - best_epoch >= patience:
            break
    model.load_state_dict(best_state)
    return best_epoch, val_losses
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_early_stopping(train_with_early_stopping)

# %% [markdown] slideshow={"slide_type": "subslide"}
# nnlib's `fit` does the same with `early_stopping=EarlyStopping(patience=10)` (or just `early_stopping=10`); it
# needs validation data, ends with the best epoch's weights (`restore_best=True`) and records the epochs in the
# returned history. Section 1's network, the same start and the same batches, stopped by `fit` — it must stop where
# the curve above says, and the kept model must have the lowest validation loss seen:

# %%
stopped_net = make_net()
stopped = fit(stopped_net, LOSS, Adam(stopped_net.parameters(), lr=0.01), X_train, y_train, epochs=300,
              batch_size=20, rng=0, validation=(X_val, y_val), early_stopping=EarlyStopping(patience=10))
print(f"fit(..., early_stopping=EarlyStopping(patience=10)): kept epoch {stopped.best_epoch}, "
      f"stopped after epoch {stopped.stopped_epoch} of 300")
assert (stopped.best_epoch, stopped.stopped_epoch) == stopping_epoch(histories["no regularization"]["val_loss"], 10)
models["early stopping, patience 10"] = stopped_net
for name, model in models.items():
    print(f"{name:28s}: validation loss {evaluate(model, LOSS, X_val, y_val)['loss']:.3f}, "
          f"validation accuracy {evaluate(model, LOSS, X_val, y_val)['accuracy']:.3f}, gap {gap(model):.3f}")
assert np.isclose(evaluate(stopped_net, LOSS, X_val, y_val)["loss"], min(stopped["val_loss"]), rtol=1e-9)
val_losses = {name: evaluate(model, LOSS, X_val, y_val)["loss"] for name, model in models.items()}
assert stopped.stopped_epoch < 300 / 5 and val_losses["early stopping, patience 10"] < 1.2 * val_losses["L2, λ = 0.01"]
assert val_losses["early stopping, patience 10"] < min(val_losses["no regularization"],
                                                      val_losses["dropout, p = 0.5"]) / 2

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["numbers-checked"]
# Early stopping runs a small fraction of the 300 epochs and ends with a validation loss close to L2's, far below
# the unregularized and the dropout runs (the loss is what it watches), at a validation accuracy in the same range
# as the regularized runs. It is the cheapest regularizer — it *saves* computation — and it combines with the others.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 10. Batch normalization
#
# Not in the notes, but in every modern network, and a regularizer of its own kind: **batch normalization** (Ioffe
# and Szegedy, 2015) standardises each unit over the mini-batch, then lets the network rescale it. For one unit
# with values $x_1, \dots, x_m$ in a batch:
#
# $$\mu = \frac1m \sum_i x_i, \qquad \sigma^2 = \frac1m \sum_i (x_i - \mu)^2, \qquad
# \hat x_i = \frac{x_i - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad y_i = \gamma \hat x_i + \beta,$$
#
# with a learned scale $\gamma$ and shift $\beta$ per unit (for images, per channel, over the batch *and* every
# pixel). Whatever the weights below it do, the unit's input stays centred with unit variance: the variance
# argument of lesson 07 (the factor $n \operatorname{Var}(w)$ per layer) no longer compounds, and a deep network
# trains even from a poor initialisation or with saturating activations.
#
# **Backward.** $\mu$ and $\sigma$ depend on every $x_i$ of the batch, so $\partial L / \partial x_i$ has three paths:
# through $\hat x_i$ directly, through $\mu$ and through $\sigma^2$. With $\delta_i = \partial L / \partial y_i$ and
# $\partial L / \partial \hat x_i = \gamma \delta_i$, the chain rule gives
# $\frac{\partial L}{\partial \sigma^2} = -\frac{\gamma}{2}(\sigma^2 + \epsilon)^{-3/2} \sum_i \delta_i (x_i - \mu)$
# and $\frac{\partial L}{\partial \mu} = -\frac{\gamma}{\sqrt{\sigma^2 + \epsilon}} \sum_i \delta_i$ (the $\mu$-path
# through $\sigma^2$ vanishes, since $\sum_i (x_i - \mu) = 0$). Substituting $x_i - \mu = \hat x_i \sqrt{\sigma^2 +
# \epsilon}$ into $\frac{\partial L}{\partial x_i} = \frac{\gamma \delta_i}{\sqrt{\sigma^2 + \epsilon}} +
# \frac{\partial L}{\partial \sigma^2} \frac{2 (x_i - \mu)}{m} + \frac{\partial L}{\partial \mu} \frac1m$ collapses
# everything into one line:
#
# $$\frac{\partial L}{\partial x_i} = \frac{\gamma}{m \sqrt{\sigma^2 + \epsilon}}
# \Big(m\, \delta_i - \sum_j \delta_j - \hat x_i \sum_j \delta_j \hat x_j\Big), \qquad
# \frac{\partial L}{\partial \gamma} = \sum_i \delta_i \hat x_i, \qquad
# \frac{\partial L}{\partial \beta} = \sum_i \delta_i.$$
#
# The two sums remove from $\delta$ its mean and its component along $\hat x$ (exactly when $\epsilon = 0$): a shift
# or a rescaling of a unit's inputs cannot change its output, so the gradient has none. `nnlib.BatchNorm1d` is these
# lines; checked below against the formula, against finite differences (float64) and for the two projections:

# %%
bn_rng = np.random.default_rng(3)
bn = BatchNorm1d(4, dtype=np.float64)
bn.weight.data[:] = bn_rng.uniform(0.5, 2, 4)
x_bn, delta = bn_rng.normal(3, 2, (16, 4)), bn_rng.standard_normal((16, 4))
y_bn = bn(x_bn)
grad_x = bn.backward(delta)
m = len(x_bn)
x_hat = (x_bn - x_bn.mean(0)) / np.sqrt(x_bn.var(0) + bn.eps)
by_formula = bn.weight.data / (m * np.sqrt(x_bn.var(0) + bn.eps)) * (
    m * delta - delta.sum(0) - x_hat * (delta * x_hat).sum(0))
checks = {
    "batch mean of y = β, batch std of x̂ ≈ 1": np.allclose(y_bn.mean(0), bn.bias.data, atol=1e-12)
    and np.allclose(x_hat.std(0), 1, atol=1e-5),
    "the short formula = BatchNorm1d.backward": np.allclose(by_formula, grad_x, rtol=1e-12, atol=1e-14),
    "finite differences (relative error < 1e-7)": max(gradcheck(bn, x_bn, tol=None).values()) < 1e-7,
    "Σ_i ∂L/∂x_i = 0, Σ_i x̂_i ∂L/∂x_i ≈ 0 (ε/σ² off)": np.allclose(grad_x.sum(0), 0, atol=1e-12)
    and np.allclose((x_hat * grad_x).sum(0), 0, atol=1e-3 * np.abs(grad_x).sum(0).max()),
}
for name, ok in checks.items():
    print(f"{name}: {ok}")
assert all(checks.values())

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Training and evaluation.** A batch's statistics exist only in training. At evaluation one example must get
# the same output whatever else is in its batch — even alone. So during training the layer keeps running
# estimates, PyTorch's convention: $r_\mu \leftarrow (1 - m_o)\, r_\mu + m_o\, \mu$ and $r_{\sigma^2} \leftarrow
# (1 - m_o)\, r_{\sigma^2} + m_o \frac{m}{m-1} \sigma^2$ (the unbiased variance; `momentum` $m_o = 0.1$ by default),
# and in eval mode it normalises with them — a fixed affine map, like dropout's switch to the identity. Feeding the
# same layer many batches from one distribution, the estimates approach its mean and variance, and the eval-mode
# output of a single example no longer depends on a batch:

# %%
stream = BatchNorm1d(1, dtype=np.float64)
stream_rng = np.random.default_rng(4)
for _ in range(100):
    stream(stream_rng.normal(5.0, 3.0, (32, 1)))                      # training mode: batch statistics
print(f"after 100 batches: running mean {stream.running_mean[0]:.2f} (true 5), "
      f"running variance {stream.running_var[0]:.2f} (true 9)")
one = np.array([[8.0]])
stream.eval()
print(f"eval mode, one example x = 8: y = {stream(one)[0, 0]:.3f} = (8 − r_μ) / √(r_σ² + ε)")
assert abs(stream.running_mean[0] - 5) < 0.3 and abs(stream.running_var[0] - 9) < 1.5
assert np.isclose(stream(one)[0, 0], (8 - stream.running_mean[0]) / np.sqrt(stream.running_var[0] + stream.eps))

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["numbers-checked"]
# **Measured on a deep network.** Eight sigmoid layers of 64 units on the digits (section 4's split), plain SGD
# ($\eta = 0.1$), 10 epochs — once as it is, once with a `BatchNorm1d` between every `Linear` and its sigmoid. The
# same initial weights; the validation accuracy comes from `evaluate`, in eval mode, with the running estimates:

# %%
def deep_sigmoid_net(batch_norm, depth=8, width=64):
    """64 → depth × (Linear(width) [→ BatchNorm1d] → Sigmoid) → 10, float64."""
    layers, n_in = [], 64
    for i in range(depth):
        layers.append(Linear(n_in, width, rng=i, dtype=np.float64))
        if batch_norm:
            layers.append(BatchNorm1d(width, dtype=np.float64))
        layers += [Sigmoid()]
        n_in = width
    return Sequential(*layers, Linear(n_in, 10, rng=depth, dtype=np.float64))


deep_histories = {}
for name, batch_norm in [("8 sigmoid layers", False), ("8 sigmoid layers + batch norm", True)]:
    net = deep_sigmoid_net(batch_norm)
    deep_histories[name] = fit(net, LOSS, SGD(net.parameters(), lr=0.1), Xd_train, yd_train, epochs=10,
                               batch_size=32, rng=0, validation=(Xd_val, yd_val))
for name, h in deep_histories.items():
    print(f"{name:30s}: training loss {h['loss'][0]:.3f} → {h['loss'][-1]:.3f}, "
          f"validation accuracy after 10 epochs {h['val_accuracy'][-1]:.3f}")
plain_deep, normed_deep = deep_histories.values()
assert plain_deep["val_accuracy"][-1] < 0.3 < 0.85 < normed_deep["val_accuracy"][-1]

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["numbers-checked"]
# Without normalization the deep sigmoid network does not learn in 10 epochs: its loss stays near $\ln 10 \approx
# 2.3$, chance level, because the gradient that reaches the lower layers is multiplied by $\sigma' \le \tfrac14$
# once per layer (lesson 02). With batch normalization the same network, the same optimizer and the same budget
# reach the validation accuracy printed above. Its regularizing side is milder: each example's output depends on
# the random batch it was drawn with, a noise similar to dropout's, which is why networks with batch norm often
# need less dropout.
#
# ## 11. Challenge (optional): the proximal L1 step
#
# Section 4 minimised $\frac{1}{2}(w - v)^2 + \lambda|w|$ exactly: soft-thresholding. The same idea, applied after
# every gradient step of size $\eta$ (ISTA, what `L1Penalty(λ, proximal=True)` does inside `fit`), takes the step on
# the data loss alone and then solves the one-weight problem with threshold $\eta\lambda$:
#
# $$w \leftarrow \operatorname{sign}(w)\,\max(|w| - \eta\lambda,\ 0).$$
#
# ### Exercise 5.7 (challenge, optional) — the proximal step
#
# Write `proximal_l1_step(weights, lr, lam)`: `weights` is a list of nnlib `Parameter`s; soft-threshold each one's
# `.data` **in place** (`p.data[...] = …`). The check then trains a classifier with your step after every SGD step
# and compares it with `L1Penalty(lam, proximal=True)`. Skip it if you like: unsolved, it only prints ⏳.

# %%
def proximal_l1_step(weights, lr, lam):
    """w ← sign(w) · max(|w| − lr·lam, 0) for the values of every Parameter in weights, in place."""
    ### BEGIN SOLUTION
    for weight in weights:
        weight.data[...] = np.sign(weight.data) * np.maximum(np.abs(weight.data) - lr * lam, 0)
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_proximal_l1_step(proximal_l1_step)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# * **Regularization** adds information "to solve an ill-posed problem or to prevent overfitting". Overfitting
#   shows as a training loss that keeps falling while the validation loss rises; measure the train–validation gap.
# * **L2**: $R = \frac{\lambda}{2}\sum w^2$, gradient $\lambda w$, so each step multiplies the weights by
#   $1 - \eta\lambda$ (**weight decay**) — small weights, smooth functions. With a squared-error loss it is
#   **ridge regression**, $w = (X^\top X + \lambda I)^{-1}X^\top t$, which stays well-posed when $X^\top X$ is
#   singular (mind the $\frac{1}{2}$ and mean-vs-sum conventions: `MSELoss` gives strength $N\lambda/2$).
# * **L1**: $R = \lambda\sum|w|$, a constant pull $\lambda\operatorname{sign}(w)$; soft-thresholding sets every weight
#   with $|v| \le \eta\lambda$ to exactly 0 — **sparsity** (the diamond's corners lie on the axes).
# * With **SGD**, an L2 term and decoupled weight decay are identical; with **Adam** they are not: Adam + L2
#   divides the decay by $\sqrt{\hat v}$, so weights with large gradients barely decay. **AdamW** decays every
#   weight by the same factor.
# * **Inverted dropout**: $y = m \odot x/(1 - p)$ with $m \sim \text{Bernoulli}(1 - p)$, so $\mathbb{E}[y] = x$;
#   backward $\partial L/\partial x = m \odot \partial L/\partial y/(1 - p)$ with the same mask; identity in eval
#   mode (`model.eval()`), where the network approximates the average of its $2^n$ sub-networks. As a layer, it
#   stores the scaled mask in its cache in forward and reads that same mask in backward.
# * **Early stopping**: keep a copy of the weights at every new lowest validation loss, stop after `patience`
#   epochs without one, restore the copy. The number of steps is a budget on the weights, chosen on validation data.
# * **Batch normalization**: $\hat x = (x - \mu)/\sqrt{\sigma^2 + \epsilon}$ over the batch,
#   $y = \gamma \hat x + \beta$; backward
#   $\frac{\gamma}{m\sqrt{\sigma^2+\epsilon}}(m\delta - \sum\delta - \hat x \sum \delta \hat x)$; running estimates
#   replace the batch statistics in eval mode. It makes a deep sigmoid network trainable.
#
# ## Review questions
#
# 1. Give the notes' definition of regularization. What are the two problems it names, and how did each show up
#    in this lesson?
# 2. How do you recognise overfitting in training and validation curves? Why would stopping at the lowest
#    validation loss also be a form of regularization?
# 3. Derive the gradient of $\frac{\lambda}{2}\sum w^2$ and write the SGD update as weight decay. What is the
#    ½ for?
# 4. Derive the ridge solution from $\frac{1}{2}\lVert t - Xw\rVert^2 + \frac{\lambda}{2}\lVert w\rVert^2$. How does
#    it change with `MSELoss`'s mean convention? Why is it always solvable for $\lambda > 0$?
# 5. Why does L1 regularization produce weights that are exactly zero and L2 does not? Answer once with the
#    corner of the diamond, once with soft-thresholding.
# 6. Why does inverted dropout scale the kept units by $1/(1 - p)$? What would go wrong at evaluation without it?
# 7. Why must dropout be switched off at evaluation? What does the eval-mode network compute, approximately?
# 8. Derive dropout's backward pass. Why must the backward use the mask of the forward pass, and how do you
#    gradient-check a layer that is random?
# 9. Why is `Adam(weight_decay=λ)` not the same as `AdamW(weight_decay=λ)`, when `SGD(weight_decay=λ)` is the same
#    as decoupled decay? Which weights does Adam + L2 decay least?
# 10. In early stopping, why must the kept weights be a copy (`state_dict()`), not the parameters' arrays? Which
#     loss decides when to stop, and why not the training loss?
# 11. Derive batch normalization's backward pass. Why are $\sum_i \partial L / \partial x_i$ and
#     $\sum_i \hat x_i \partial L / \partial x_i$ zero? Why does evaluation use running estimates, not the batch's?
