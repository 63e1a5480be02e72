# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # Lesson 04 — Gradient descent and optimization
#
# Backpropagation gives the gradient of the loss with respect to every weight; **gradient descent** turns it
# into a better network, one step at a time, with the notes' rule
#
# $$W_{new} = W_{old} - \eta\, \frac{\partial E}{\partial W}.$$
#
# This lesson is about everything that rule leaves open: *how many examples* to average the gradient over,
# *how large* a step $\eta$ may be, why the landscape a network is trained on is **non-convex** — full of
# saddle points, flat regions and valleys — and the remedies the notes list: stochastic gradient descent,
# mini-batching, SVRG and momentum (plus their descendants RMSProp and Adam). It ends with an MLP that
# recognises handwritten digits with more than 97% test accuracy.
#
# ## Learning goals
#
# By the end of this lesson you can
#
# 1. define **batch**, **mini-batch** and **stochastic** gradient descent, show that a mini-batch gradient is
#    an unbiased estimate of the full gradient whose variance shrinks like $1/B$, write the shuffling mini-batch
#    iterator, and compare the three on a real network, per epoch and per second;
# 2. derive the **critical learning rate** $\eta = 2/\lambda_{max}$ of a quadratic, recognise a learning rate
#    that is too small, good, too large or divergent, and read nnlib's `TrainingDivergedError`;
# 3. explain **why training a network is a non-convex problem** — products of weights and weight-permutation
#    symmetry — and prove it numerically;
# 4. write the **momentum** update, state what Nesterov momentum, RMSProp and Adam change, and **build** SGD with
#    momentum and Adam as nnlib optimizers that train a network exactly like nnlib's;
# 5. name what makes non-convex optimization hard (**local minima, saddle points, flat regions, widely varying
#    curvature**) and watch five optimizers on each;
# 6. implement **SVRG** and show why it converges where plain SGD stalls at a noise floor;
# 7. train an MLP on the digits to more than 97% test accuracy and compare it with scikit-learn's.

# %%
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from ipywidgets import Dropdown, FloatLogSlider, FloatSlider, interact
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from nnlib import CrossEntropyLoss, Linear, MSELoss, Optimizer, Parameter, ReLU, Sequential
from nnlib.data import batches, load_digits, train_test_split
from nnlib.exercises import (
    check_critical_learning_rate,
    check_minibatch_step,
    check_minibatches,
    check_momentum_update,
    check_my_adam,
    check_my_sgd,
    check_svrg_epoch,
)
from nnlib.functional import relu, sigmoid
from nnlib.gradcheck import check_gradient, numerical_gradient, relative_error
from nnlib.optim import SGD, Adam, RMSprop
from nnlib.training import TrainingDivergedError, evaluate, fit

np.set_printoptions(precision=4, suppress=True)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Batch, mini-batch and stochastic gradient descent
#
# The loss of a network on a training set of $N$ examples is the mean of the per-example losses $\ell_i$:
#
# $$L(w) = \frac{1}{N}\sum_{i=1}^{N} \ell_i(w) \quad\Longrightarrow\quad
# \nabla L(w) = \frac{1}{N}\sum_{i=1}^{N} \nabla \ell_i(w).$$
#
# The notes distinguish three ways of using this sum in the update $w \leftarrow w - \eta\, g$:
#
# * **Batch gradient descent** "sums up over all examples on each iteration": $g = \nabla L(w)$, exact, but one
#   update costs a full pass over the data.
# * **Mini-batch gradient descent** "sums up over lower number of examples based on batch size": for a random
#   batch $\mathcal{B}$ of $B$ examples, $g_{\mathcal{B}} = \frac{1}{B}\sum_{i \in \mathcal{B}} \nabla \ell_i(w)$.
# * **Stochastic gradient descent (SGD)** "performs the parameters update on each example": $B = 1$,
#   $g = \nabla \ell_i(w)$.
#
# Why may a few examples stand in for all of them? If the batch's examples are drawn uniformly at random,
# each term has expectation $\nabla L$, so
#
# $$\mathbb{E}\,[g_{\mathcal{B}}] = \nabla L(w) \qquad\text{(unbiased)}, \qquad
# \mathbb{E}\,\lVert g_{\mathcal{B}} - \nabla L \rVert^2 = \frac{\sigma^2}{B}, \quad
# \sigma^2 = \frac{1}{N}\sum_{i} \lVert \nabla \ell_i - \nabla L \rVert^2$$
#
# (the variance formula for $B$ independent draws, with replacement). A mini-batch gradient points the right way
# *on average*; a bigger batch only makes it less noisy, and the noise falls slowly, like $1/B$.
#
# ### The gradient of a linear model's mean squared error
#
# To check this exactly, take a linear model $p = Xw$ with the mean squared error over a batch of $B$ rows:
#
# $$\ell_{\mathcal{B}}(w) = \frac{1}{B}\sum_{i \in \mathcal{B}} (x_i^\top w - y_i)^2
# \quad\Longrightarrow\quad
# \frac{\partial \ell_{\mathcal{B}}}{\partial w_j} = \frac{1}{B}\sum_{i} 2\,(x_i^\top w - y_i)\,x_{ij},
# \qquad \nabla \ell_{\mathcal{B}}(w) = \frac{2}{B}\, X_{\mathcal{B}}^\top (X_{\mathcal{B}}\, w - y_{\mathcal{B}}).$$
#
# Finite differences confirm the formula:

# %%
rng = np.random.default_rng(0)
X_lin = rng.normal(size=(512, 3))
y_lin = X_lin @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.normal(size=512)
w_lin = np.array([0.2, 0.1, -0.4])


def mse(w, X, y):
    return np.mean((X @ w - y) ** 2)


def mse_grad(w, X, y):
    """∇ of the mean squared error of X @ w: shapes w (F,), X (B, F), y (B,) -> (F,)."""
    return 2 / len(y) * X.T @ (X @ w - y)


numeric = numerical_gradient(lambda: mse(w_lin, X_lin, y_lin), w_lin)
print("formula:", mse_grad(w_lin, X_lin, y_lin), "| finite differences:", numeric)
assert relative_error(mse_grad(w_lin, X_lin, y_lin), numeric) < 1e-8

# %% [markdown] slideshow={"slide_type": "subslide"}
# Now the two claims. The mean of the gradients of the 16 disjoint batches of 32 rows is exactly the full
# gradient; and for random batches the mean squared deviation from the full gradient, multiplied by $B$, stays
# close to $\sigma^2$ — the variance falls like $1/B$:

# %%
full = mse_grad(w_lin, X_lin, y_lin)
batch_grads = [mse_grad(w_lin, Xb, yb) for Xb, yb in batches(X_lin, y_lin, 32, rng=0)]
assert np.allclose(np.mean(batch_grads, axis=0), full)

per_example = 2 * X_lin * (X_lin @ w_lin - y_lin)[:, None]          # (N, F): one gradient per row
sigma2 = np.mean(np.sum((per_example - full) ** 2, axis=1))
print(f"sigma^2 = {sigma2:.2f}")
for B in [1, 4, 16, 64]:
    draws = rng.integers(len(y_lin), size=(4000, B))                  # 4000 random batches, with replacement
    deviation = np.mean([np.sum((per_example[i].mean(axis=0) - full) ** 2) for i in draws])
    print(f"B = {B:2d}: mean squared deviation {deviation:.3f}, times B: {B * deviation:.2f}")
    assert abs(B * deviation / sigma2 - 1) < 0.1

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4.1 — one mini-batch step
#
# Write `minibatch_step(w, X_batch, y_batch, lr)`: one gradient-descent step on the batch's **mean** squared
# error of the linear model $X w$ (no bias), returning the new weights
# $w - \eta\, \frac{2}{B} X_{\mathcal{B}}^\top (X_{\mathcal{B}} w - y_{\mathcal{B}})$. Shapes: `w` $(F,)$,
# `X_batch` $(B, F)$, `y_batch` $(B,)$. Batch, mini-batch and stochastic gradient descent differ only in the
# `B` of the batches you would feed it.

# %%
def minibatch_step(w, X_batch, y_batch, lr):
    """New weights (F,) after one step of gradient descent on mean((X_batch @ w - y_batch) ** 2)."""
    ### BEGIN SOLUTION
    residual = X_batch @ w - y_batch
    return w - lr * 2 / len(y_batch) * X_batch.T @ residual
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_minibatch_step(minibatch_step)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4.2 — a shuffling mini-batch iterator (warm-up)
#
# The unbiasedness argument needs batches drawn at random. In practice every epoch visits each example exactly
# once: draw a fresh random **permutation** of the $N$ indices, cut it into consecutive batches of $B$, and keep the
# last, smaller batch when $B$ does not divide $N$ (dropping it would skip the same-sized share of data at random
# every epoch). Sampling *with* replacement instead repeats some examples and misses others in an epoch.
#
# Write `minibatches(X, y, batch_size, rng)`: yield `(X_batch, y_batch)` pairs, every row of `X` with its label,
# in a new order drawn from the generator `rng` at every call (so a seeded run is reproducible and the epochs
# differ). nnlib's `nnlib.data.batches` does the same.

# %%
def minibatches(X, y, batch_size, rng):
    """Yield (X_batch (B, F), y_batch (B,)) pairs over one epoch, in a random order drawn from rng."""
    ### BEGIN SOLUTION
    order = rng.permutation(len(X))
    for start in range(0, len(X), batch_size):
        index = order[start:start + batch_size]
        yield X[index], y[index]
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_minibatches(minibatches)

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["numbers-checked"]
# ### The three variants side by side, on real data
#
# The 8×8 handwritten digits (1797 images, 10 classes, bundled with scikit-learn: no download), split into
# 1347 training and 450 test images. The model is an MLP $64 \to 128 \to 10$ with ReLU, trained with
# cross-entropy and plain `SGD` at $\eta = 0.1$ — the same start, the same learning rate and the same budget
# of **5 epochs** (5 passes over the training set) for each variant. Only the batch size differs:
# `fit(batch_size=len(X))` makes **1** update per epoch, `batch_size=32` makes **43**, `batch_size=1` makes
# **1347**. After every epoch we record the loss on the whole training set, and the training time.

# %%
X_digits, y_digits = load_digits()
X_train, X_test, y_train, y_test = train_test_split(X_digits, y_digits, test_fraction=0.25, rng=2)
cross_entropy = CrossEntropyLoss()


def digits_mlp(hidden=128, rng=0):
    """The lesson's MLP: 64 pixels -> hidden ReLU units -> 10 class scores (logits)."""
    return Sequential(Linear(64, hidden, rng=rng), ReLU(), Linear(hidden, 10, rng=rng + 1))


def train_variant(batch_size, lr=0.1, epochs=5):
    """SGD with one batch size; returns the training loss before/after each epoch and the cumulative seconds."""
    model = digits_mlp()
    optimizer, order = SGD(model.parameters(), lr=lr), np.random.default_rng(0)
    losses, seconds = [evaluate(model, cross_entropy, X_train, y_train)["loss"]], [0.0]
    for _ in range(epochs):
        start = time.perf_counter()
        fit(model, cross_entropy, optimizer, X_train, y_train, epochs=1, batch_size=batch_size, rng=order)
        seconds.append(seconds[-1] + time.perf_counter() - start)
        losses.append(evaluate(model, cross_entropy, X_train, y_train)["loss"])
    return np.array(losses), np.array(seconds)


VARIANTS = {"batch GD (B = 1347)": len(X_train), "mini-batch (B = 32)": 32, "SGD (B = 1)": 1}
print(f"{len(X_digits)} images: {len(X_train)} training, {len(X_test)} test; updates per epoch:",
      {name: -(-len(X_train) // B) for name, B in VARIANTS.items()})
runs = {name: train_variant(B) for name, B in VARIANTS.items()}
for name, (losses, _) in runs.items():
    print(f"{name:20s} training loss after each epoch: {np.round(losses[1:], 3)}")
final = {name: losses[-1] for name, (losses, _) in runs.items()}
assert final["SGD (B = 1)"] < final["mini-batch (B = 32)"] < final["batch GD (B = 1347)"]
print("after 5 epochs: SGD < mini-batch < batch GD")

# %% [markdown] slideshow={"slide_type": "subslide"}
# Per epoch, the more updates the better: SGD wins, batch gradient descent has barely moved (5 small steps).
# Per epoch the three also do the same arithmetic — every training example goes forward and backward once — but
# an epoch of SGD splits it into 1347 tiny passes, each paying Python's and NumPy's per-call overhead, while a
# mini-batch step is a few matrix products that process 32 examples at once. Against the wall clock the picture
# can change; the cell below measures it on your machine (its numbers are not compared by the tests):

# %% tags=["nbval-ignore-output", "timing"]
fig, (by_epoch, by_time) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
for name, (losses, seconds) in runs.items():
    by_epoch.plot(range(len(losses)), losses, "o-", label=name)
    by_time.plot(seconds[1:], losses[1:], "o-", label=name)
by_epoch.set(xlabel="epoch", ylabel="training loss", title="same budget: 5 epochs")
by_time.set(xlabel="training time (s, log scale)", xscale="log", title="the same runs against the wall clock")
by_epoch.legend()
plt.show()
for name, (_, seconds) in runs.items():
    print(f"{name:20s} {seconds[-1]:.3f} s for 5 epochs")

# %% [markdown] slideshow={"slide_type": "subslide"}
# Mini-batches are the practical compromise, and what everybody uses (and what "SGD" usually means in
# deep-learning code): many updates per epoch, each computed with a few matrix products instead of one call per
# example. The noise of small batches is not only a cost — it also pushes a run off the ridge of a saddle point,
# where an exact gradient can stall: section 5 measures it. *Try it:* give batch GD the wall-clock time SGD needed
# (a few hundred epochs) and a larger learning rate; does it catch up?
#
# ## 2. The learning rate
#
# ### Exact on a quadratic
#
# Take the simplest loss there is, a parabola with curvature $a > 0$: $f(w) = \tfrac12 a w^2$, so $f'(w) = a w$.
# One gradient step gives
#
# $$w_{t+1} = w_t - \eta\, a\, w_t = (1 - \eta a)\, w_t \quad\Longrightarrow\quad w_t = (1 - \eta a)^t\, w_0.$$
#
# Everything about the learning rate is in the factor $1 - \eta a$:
#
# * $0 < \eta < 1/a$: $0 < 1 - \eta a < 1$, $w$ creeps monotonically to 0 — slowly if $\eta$ is **too small**;
# * $\eta = 1/a$: the factor is 0, **one step** lands on the minimum;
# * $1/a < \eta < 2/a$: $-1 < 1 - \eta a < 0$, $w$ **oscillates** around 0 but converges — **too large**;
# * $\eta = 2/a$: the factor is $-1$, $w$ bounces between $\pm w_0$ forever;
# * $\eta > 2/a$: $|1 - \eta a| > 1$, every step overshoots further: **divergence**.
#
# $$\boxed{\;\text{gradient descent on } \tfrac12 a w^2 \text{ converges} \iff 0 < \eta < \frac{2}{a}\;}$$
#
# nnlib's `SGD` follows the closed form to the last digit (the parameter is a `Parameter`; we write the
# gradient $a w$ into its `.grad` before each step):

# %%
def gd_on_parabola(lr, curvature=4.0, w0=1.0, steps=10):
    """Iterates w_0..w_steps of nnlib's SGD on f(w) = ½ a w²."""
    w = Parameter(np.array([w0]))
    optimizer, path = SGD([w], lr=lr), [w0]
    for _ in range(steps):
        w.grad[...] = curvature * w.data
        optimizer.step()
        path.append(w.data[0])
    return np.array(path)


a = 4.0                                                                 # critical learning rate 2/a = 0.5
for lr, verdict in [(0.05, "too small"), (0.25, "one step"), (0.4, "too large: oscillates"),
                    (0.5, "critical: bounces"), (0.6, "divergent")]:
    path = gd_on_parabola(lr, a)
    print(f"eta = {lr:.2f} ({verdict:21s}): 1 - eta a = {1 - lr * a:+.1f}, w_10 = {path[-1]:+.4f}")
    assert np.allclose(path, (1 - lr * a) ** np.arange(11))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Several weights: the largest curvature sets the limit
#
# A general quadratic $f(w) = \tfrac12 w^\top A w$ with a symmetric positive definite **Hessian** $A$ has
# gradient $Aw$. Write $A = Q \Lambda Q^\top$ (orthonormal eigenvectors $Q$, eigenvalues $\lambda_i > 0$) and
# $u = Q^\top w$: the step $w \leftarrow w - \eta A w$ becomes $u_i \leftarrow (1 - \eta \lambda_i)\, u_i$ — one
# independent parabola per eigenvector, with curvature $\lambda_i$. All of them must converge, so
#
# $$\eta_{crit} = \frac{2}{\lambda_{max}}, \qquad \text{and the slowest direction shrinks by }
# \max_i |1 - \eta\lambda_i| \ge 1 - \frac{2\lambda_{min}}{\lambda_{max}} \text{ per step.}$$
#
# The stiffest direction caps $\eta$; the flattest then crawls. The ratio $\kappa = \lambda_{max}/\lambda_{min}$
# (the *condition number*) measures how hard the problem is for plain gradient descent.
#
# ### Exercise 4.2 — the critical learning rate
#
# Write `critical_learning_rate(A)`: for a symmetric positive definite Hessian `A` of shape $(n, n)$, return the
# largest learning rate for which gradient descent on $\tfrac12 w^\top A w$ converges from every start.
# (`np.linalg.eigvalsh` returns the eigenvalues of a symmetric matrix.)

# %%
def critical_learning_rate(A):
    """2 / (largest eigenvalue of the symmetric positive definite Hessian A (n, n))."""
    ### BEGIN SOLUTION
    return 2.0 / np.linalg.eigvalsh(A).max()
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_critical_learning_rate(critical_learning_rate)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### A model that *is* a quadratic: linear regression
#
# The mean squared error of a linear model with a bias, $L(\theta) = \frac1N \lVert A\theta - y\rVert^2$ with
# $A = [X \;\; \mathbf{1}]$ and $\theta = (w, b)$, is exactly a quadratic in $\theta$: its gradient is
# $\frac2N A^\top(A\theta - y)$ and its Hessian the constant matrix
#
# $$H = \frac{2}{N} A^\top A, \qquad \eta_{crit} = \frac{2}{\lambda_{max}(H)}.$$
#
# Below, two features of very different scales (standard deviations 1 and 3) make $H$'s eigenvalues differ by
# about 10×. First we check $H$ against nnlib's own gradient (a float64 `Linear(2, 1)` with `MSELoss`):

# %%
rng = np.random.default_rng(1)
X_reg = rng.normal(size=(200, 2)) * np.array([1.0, 3.0])
y_reg = (X_reg @ np.array([2.0, -1.0]) + 0.5 + 0.5 * rng.normal(size=200))[:, None]
A_reg = np.column_stack([X_reg, np.ones(len(X_reg))])
H = 2 / len(X_reg) * A_reg.T @ A_reg
eta_crit = 2 / np.linalg.eigvalsh(H).max()


def nnlib_gradient(theta):
    """(∂L/∂w1, ∂L/∂w2, ∂L/∂b) of MSELoss for Linear(2, 1) holding theta, by nnlib's backward pass."""
    model, loss = Linear(2, 1, dtype=np.float64), MSELoss()
    model.weight.data[:, 0], model.bias.data[:] = theta[:2], theta[2]
    loss(model(X_reg), y_reg)
    model.backward(loss.backward())
    return np.append(model.weight.grad[:, 0], model.bias.grad)


theta = np.array([0.3, -0.2, 1.0])
assert np.allclose(nnlib_gradient(theta), H @ theta - 2 / len(X_reg) * A_reg.T @ y_reg[:, 0])
print("eigenvalues of H:", np.linalg.eigvalsh(H), f"-> critical learning rate {eta_crit:.4f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# Now nnlib's `fit`, full batch, for 100 epochs, at several multiples of $\eta_{crit}$. The best possible loss
# $L^*$ comes from the least-squares solution:

# %%
best_theta = np.linalg.lstsq(A_reg, y_reg[:, 0], rcond=None)[0]
best_loss = np.mean((A_reg @ best_theta - y_reg[:, 0]) ** 2)


def fit_regression(ratio, epochs=100):
    """Full-batch GD with lr = ratio · eta_crit on the regression; returns the History (per-epoch loss)."""
    model = Linear(2, 1, rng=0)
    return fit(model, MSELoss(), SGD(model.parameters(), lr=ratio * eta_crit), X_reg.astype(np.float32),
               y_reg.astype(np.float32), epochs=epochs, batch_size=len(X_reg), rng=0)


print(f"best possible loss L* = {best_loss:.4f}")
curves = {}
for ratio, verdict in [(0.02, "too small"), (0.5, "good"), (0.99, "too large")]:
    curves[ratio] = fit_regression(ratio)["loss"]
    print(f"lr = {ratio:.2f} x eta_crit ({verdict:9s}): loss after 100 epochs {curves[ratio][-1]:.4f}")
assert curves[0.5][-1] < 1.001 * best_loss < curves[0.02][-1]

# %% [markdown] slideshow={"slide_type": "subslide"}
# Past the limit the loss grows geometrically until it overflows. nnlib's `fit` checks every loss and
# gradient and stops with a `TrainingDivergedError` *before* applying a non-finite update. This is what a
# learner sees:

# %%
diverged = None
try:
    fit_regression(1.5, epochs=300)
except TrainingDivergedError as err:
    print(str(err).splitlines()[0])
    diverged = err
assert diverged is not None and diverged.epoch < 300 and len(diverged.history) == diverged.epoch - 1

# %% [markdown] slideshow={"slide_type": "subslide"}
# The error carries `epoch`, `loss` and the `history` of the completed epochs. Move the slider across
# $\eta_{crit}$: on the left, the iterates of gradient descent on the parabola $\tfrac12 w^2$ (where
# $\eta_{crit} = 2$); on the right, the regression's loss above $L^*$ for the same multiple of its own
# $\eta_{crit}$.

# %% tags=["nbval-ignore-output"]
def show_learning_rate(ratio=0.5):
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    path = gd_on_parabola(2 * ratio, curvature=1.0, steps=12)
    grid = np.linspace(-1.6, 1.6, 200)
    left.plot(grid, grid**2 / 2, color="0.6")
    left.plot(path, path**2 / 2, "o-", color="C1", ms=4)
    left.set(xlim=(-1.6, 1.6), ylim=(-0.05, 1.3), xlabel="w", title=f"f(w) = w²/2, eta = {2 * ratio:.2f}")
    try:
        losses, title = fit_regression(ratio)["loss"], "converges" if ratio < 1 else "does not converge"
    except TrainingDivergedError as err:
        losses, title = err.history["loss"] if len(err.history) else [], f"diverged at epoch {err.epoch}"
    right.semilogy(np.maximum(np.array(losses) - best_loss, 1e-12), color="C0")
    right.set(xlabel="epoch", ylabel="loss − L*", title=f"regression, lr = {ratio:.2f} · eta_crit: {title}")
    plt.show()


_ = interact(show_learning_rate, ratio=FloatSlider(value=0.5, min=0.02, max=1.5, step=0.02, continuous_update=False))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### And in a network?
#
# A network's loss is not a quadratic, but near a minimum it looks like one (its Hessian there plays the part of
# $A$), so the same three regimes appear. Too large a learning rate does not always end in an overflow, though:
# here, with ReLU units, the first huge steps push most hidden units to negative inputs for *every* image. A
# ReLU with negative input outputs 0 and passes back a zero gradient — the unit is **dead** and never recovers,
# and the loss sticks near $\ln 10 \approx 2.303$, the loss of a uniform guess.

# %%
for lr, verdict in [(0.003, "too small"), (0.3, "good"), (3.0, "too large")]:
    model = digits_mlp()
    history = fit(model, cross_entropy, SGD(model.parameters(), lr=lr), X_train, y_train, epochs=10,
                  batch_size=32, rng=0)
    hidden = relu(X_train @ model[0].weight.data + model[0].bias.data)
    dead = int(np.sum(hidden.max(axis=0) == 0))
    print(f"lr = {lr:5.3f} ({verdict:9s}): loss after 10 epochs {history['loss'][-1]:.3f}, {dead:3d}/128 dead units")
assert dead > 64 and history["loss"][-1] > 2.0

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Why training a network is a non-convex problem
#
# A function is **convex** when the chord between any two points lies above it:
# $L\big(\tfrac12(\theta + \theta')\big) \le \tfrac12\big(L(\theta) + L(\theta')\big)$ for all $\theta, \theta'$.
# For a convex loss every local minimum is global, the minima form one convex set, and gradient descent with a
# good learning rate finds the best weights. Linear and logistic regression are convex. Networks are not; the
# notes name the culprit: "the composition is via multiplications of functions of the weights/biases and that
# is the main culprit for non-convexity". Hence their warning: "NN guarantees convergence to a local minimum
# instead of to the global minimum". The second half is right; the first promises too much, and the example below
# shows why.
#
# ### Products of weights
#
# The smallest network with a product of weights: one input $x = 1$, a hidden linear unit with weight $w_1$, an
# output with weight $w_2$, target $t = 1$. Its squared error is
#
# $$f(w_1, w_2) = (1 - w_1 w_2)^2, \qquad
# \nabla f = -2\,(1 - w_1 w_2) \begin{pmatrix} w_2 \\ w_1 \end{pmatrix}, \qquad
# \nabla^2 f = \begin{pmatrix} 2 w_2^2 & 4 w_1 w_2 - 2 \\ 4 w_1 w_2 - 2 & 2 w_1^2 \end{pmatrix}.$$
#
# * At $(0, 0)$ the gradient vanishes and $\nabla^2 f = \begin{pmatrix} 0 & -2 \\ -2 & 0 \end{pmatrix}$ has
#   eigenvalues $+2$ and $-2$: the loss curves up along $w_1 = w_2$ and down along $w_1 = -w_2$ — a **saddle
#   point**, not a minimum.
# * Every point of the hyperbola $w_1 w_2 = 1$ is a global minimum ($f = 0$). There
#   $\nabla^2 f = \begin{pmatrix} 2 w_2^2 & 2 \\ 2 & 2 w_1^2 \end{pmatrix}$ has determinant
#   $4 w_1^2 w_2^2 - 4 = 0$: eigenvalues $0$ (flat, along the curve) and $2(w_1^2 + w_2^2)$ — a **curve of
#   minima**, in two disconnected branches.
# * The midpoint of the minima $(1, 1)$ and $(-1, -1)$ is the saddle $(0, 0)$, where $f = 1 > \tfrac12(0 + 0)$:
#   $f$ is not convex.
#
# nnlib computes the same loss and gradient for a two-layer network `Linear(1, 1) → Linear(1, 1)` (no biases),
# and finite differences of the gradient confirm the Hessian:

# %%
def product_loss(w):
    return (1 - w[0] * w[1]) ** 2


def product_grad(w):
    return -2 * (1 - w[0] * w[1]) * np.array([w[1], w[0]])


def product_hessian(w):
    off = 4 * w[0] * w[1] - 2
    return np.array([[2 * w[1] ** 2, off], [off, 2 * w[0] ** 2]])


tiny_net = Sequential(Linear(1, 1, bias=False, dtype=np.float64), Linear(1, 1, bias=False, dtype=np.float64))
for w in [np.array([0.0, 0.0]), np.array([2.0, 0.5]), np.array([0.7, -1.3])]:
    tiny_net[0].weight.data[...], tiny_net[1].weight.data[...] = w[0], w[1]
    tiny_net.zero_grad()
    mse_loss = MSELoss()
    value = mse_loss(tiny_net(np.ones((1, 1))), np.ones((1, 1)))
    tiny_net.backward(mse_loss.backward())
    assert np.isclose(value, product_loss(w))
    assert np.allclose([tiny_net[0].weight.grad[0, 0], tiny_net[1].weight.grad[0, 0]], product_grad(w))
    numeric_hessian = np.array([numerical_gradient(lambda k=k, w=w: product_grad(w)[k], w) for k in range(2)])
    assert relative_error(product_hessian(w), numeric_hessian) < 1e-7
    eigenvalues = np.linalg.eigvalsh(product_hessian(w))
    print(f"w = {w}: f = {value:.3f}, gradient {product_grad(w) + 0.0}, Hessian eigenvalues "
          f"{np.round(eigenvalues, 4) + 0.0}")                        # + 0.0 turns -0.0 into 0.0
print("midpoint of the minima (1, 1) and (-1, -1):", product_loss(np.zeros(2)), "> 0")

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["numbers-checked"]
# **What gradient descent guarantees.** For a smooth loss bounded below and a small enough step, the gradient
# tends to zero: gradient descent approaches a **stationary point** — a local minimum, or a saddle. Not "a local
# minimum". Start exact gradient descent on $(1 - w_1 w_2)^2$ at $(0.5, -0.5)$, on the line $w_1 = -w_2$: the
# gradient there, $2(1 + w_1^2)(w_1, -w_1)$, points along the line, so the iterates never leave it and converge to
# the saddle $(0, 0)$, where $f = 1$ — while every minimum has $f = 0$:

# %%
w = np.array([0.5, -0.5])
for _ in range(200):
    w = w - 0.1 * product_grad(w)                                     # exact gradient descent, η = 0.1
print(f"after 200 steps: w = {np.round(w, 6) + 0.0}, f = {product_loss(w):.6f}, |gradient| = "
      f"{np.linalg.norm(product_grad(w)):.1e}, Hessian eigenvalues {np.linalg.eigvalsh(product_hessian(w)).round(4)}")
assert np.linalg.norm(product_grad(w)) < 1e-12 and np.isclose(product_loss(w), 1.0)
assert np.linalg.eigvalsh(product_hessian(w)).min() < 0                # not a minimum: a saddle

# %% [markdown] slideshow={"slide_type": "subslide"}
# A start exactly on that line is unlikely with random initial weights, and the noise of mini-batch gradients
# pushes a run off it (section 5 measures this). But near a saddle the gradient is small, and progress slow.

# %%
g1, g2 = np.meshgrid(np.linspace(-2, 2, 201), np.linspace(-2, 2, 201))
fig, ax = plt.subplots(figsize=(5.5, 5), layout="constrained")
contours = ax.contourf(g1, g2, np.log10(1e-3 + (1 - g1 * g2) ** 2), levels=30, cmap="viridis")
branch = np.linspace(0.5, 2, 100)
for sign in (1, -1):
    ax.plot(sign * branch, sign / branch, "w--", lw=1.5)
ax.plot(0, 0, "rx", ms=10, mew=2)
ax.set(xlabel="$w_1$", ylabel="$w_2$", title="log10 of (1 − w1 w2)²: a saddle and a curve of minima")
fig.colorbar(contours)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Weight-permutation symmetry
#
# Swap two hidden units of an MLP — their incoming weights (columns of $W_1$), their biases, and their outgoing
# weights (rows of $W_2$). The network computes exactly the same function, so it has the same loss, with
# *different* weights. With $H$ hidden units there are $H!$ such copies of every minimum ($16! \approx 2\cdot
# 10^{13}$ below). If the loss were convex, the midpoint of two minima would be at least as good as they are;
# instead, at the midpoint the two swapped units become identical averages of each other and the loss rises —
# a numerical proof that the loss is not convex:

# %%
small = digits_mlp(hidden=16)
fit(small, cross_entropy, Adam(small.parameters(), lr=3e-3), X_train, y_train, epochs=20, batch_size=32, rng=0)
theta = [p.data.copy() for p in small.parameters()]                  # W1 (64, 16), b1 (16,), W2 (16, 10), b2 (10,)


def set_weights(model, weights):
    for p, value in zip(model.parameters(), weights, strict=True):
        p.data[...] = value


def swap_units(weights, i, j):
    """The same network with hidden units i and j exchanged."""
    W1, b1, W2, b2 = weights
    order = np.arange(len(b1))
    order[[i, j]] = j, i
    return [W1[:, order], b1[order], W2[order], b2]


def training_loss(weights):
    set_weights(small, weights)
    return evaluate(small, cross_entropy, X_train, y_train)["loss"]


def network_outputs(weights):
    set_weights(small, weights)
    return small(X_train)


swapped = swap_units(theta, 0, 1)
outputs = [network_outputs(weights) for weights in (theta, swapped)]
midpoint = [(p + q) / 2 for p, q in zip(theta, swapped, strict=True)]
print("same outputs:", np.allclose(*outputs, atol=1e-5), "| different weights:", not np.allclose(theta[0], swapped[0]))
print(f"loss at theta {training_loss(theta):.3f}, at the swapped theta' {training_loss(swapped):.3f}, "
      f"at their midpoint {training_loss(midpoint):.3f}")
assert np.allclose(*outputs, atol=1e-5) and training_loss(midpoint) > training_loss(theta) + 0.01

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Momentum, Nesterov, RMSProp and Adam
#
# Plain gradient descent looks only at the current gradient. The improvements all keep a little memory.
#
# **Momentum** accumulates a *velocity* $v$, a decaying sum of past gradients, and steps along it
# (PyTorch's convention, used by nnlib):
#
# $$v_t = \mu\, v_{t-1} + g_t, \qquad w_t = w_{t-1} - \eta\, v_t \qquad (v_0 = 0,\ 0 \le \mu < 1).$$
#
# Unrolled, $v_t = g_t + \mu g_{t-1} + \mu^2 g_{t-2} + \dots$: directions in which the gradient keeps its sign
# add up, directions in which it flips sign (the oscillations across a narrow valley) cancel. Under a constant
# gradient $g$, $v_t \to g / (1 - \mu)$: the effective step is $\eta / (1 - \mu)$, ten times $\eta$ for
# $\mu = 0.9$.
#
# Many texts write the other convention, $v'_t = \mu v'_{t-1} - \eta g_t$, $w_t = w_{t-1} + v'_t$. For a
# constant $\eta$ it is the same method: by induction $v'_t = -\eta\, v_t$, so both produce the same weights.
# (They differ only when $\eta$ changes during training.) Both facts, checked against nnlib's
# `SGD(momentum=0.9)`:

# %%
w = Parameter(np.zeros(1))
optimizer = SGD([w], lr=0.01, momentum=0.9)
for _ in range(200):
    previous = w.data.copy()
    w.grad[...] = 1.0                                                 # a constant gradient g = 1
    optimizer.step()
print(f"step after 200 steps: {(previous - w.data)[0]:.6f}, eta / (1 - mu) = {0.01 / (1 - 0.9):.6f}")
assert np.isclose((previous - w.data)[0], 0.01 / (1 - 0.9))

bowl = np.array([[3.0, 1.0], [1.0, 2.0]])                             # f(w) = ½ wᵀ A w, gradient A w
w, w_other, v_other = Parameter(np.array([2.0, -1.0])), np.array([2.0, -1.0]), np.zeros(2)
optimizer = SGD([w], lr=0.1, momentum=0.8)
for _ in range(20):
    w.grad[...] = bowl @ w.data
    optimizer.step()
    v_other = 0.8 * v_other - 0.1 * (bowl @ w_other)                 # the other convention
    w_other = w_other + v_other
print("nnlib after 20 steps:", w.data, "| other convention:", w_other)
assert np.allclose(w.data, w_other)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4.3 — a momentum update
#
# Write `momentum_update(w, velocity, grad, lr, mu)`: one step of momentum in PyTorch's convention, returning
# the pair `(new_w, new_velocity)` — the new velocity is carried to the next step. The check compares single
# steps and a 5-step run with nnlib's `SGD(momentum=mu)`.

# %%
def momentum_update(w, velocity, grad, lr, mu):
    """One momentum step: v = mu v + grad, w = w - lr v. Returns (new_w, new_velocity), both shaped like w."""
    ### BEGIN SOLUTION
    velocity = mu * velocity + grad
    return w - lr * velocity, velocity
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_momentum_update(momentum_update)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Three descendants
#
# * **Nesterov momentum** steps with the gradient *plus* the new velocity,
#   $w_t = w_{t-1} - \eta\,(g_t + \mu v_t)$: it "looks ahead" to where momentum is carrying the weights, and
#   corrects earlier (`SGD(momentum=μ, nesterov=True)`).
# * **RMSProp** divides each weight's gradient by a running root-mean-square of its recent values,
#   $s_t = \alpha s_{t-1} + (1 - \alpha) g_t^2$, $w_t = w_{t-1} - \eta\, g_t / (\sqrt{s_t} + \epsilon)$: steep
#   directions get small steps, flat ones large steps (`RMSprop`).
# * **Adam** combines both: a momentum-like average $m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t$ and RMSProp's
#   $s_t = \beta_2 s_{t-1} + (1-\beta_2) g_t^2$. Started at 0, they are biased towards 0: under a constant
#   gradient $m_t = (1 - \beta_1^t)\, g$. Dividing by $1 - \beta^t$ removes the bias, and
#   $w_t = w_{t-1} - \eta\, \hat m_t / (\sqrt{\hat s_t} + \epsilon)$ with
#   $\hat m_t = m_t / (1 - \beta_1^t)$, $\hat s_t = s_t / (1 - \beta_2^t)$.
#
# So Adam's first step is $\eta\, g / |g| = \eta\,\operatorname{sign}(g)$ in every coordinate: its step size is
# set by $\eta$, *not* by the size of the gradient. Check with three gradients spanning six orders of magnitude:

# %%
w = Parameter(np.zeros(3))
w.grad[...] = [1e-3, -1.0, 1e3]
Adam([w], lr=0.01).step()
print("Adam's first step:", -w.data)
assert np.allclose(-w.data, 0.01 * np.sign([1e-3, -1.0, 1e3]), rtol=1e-4)

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Build your own optimizers
#
# Every nnlib optimizer is a subclass of `nnlib.Optimizer` (in `nnlib/optim.py`). The base class keeps the list of
# parameters, the learning rate `self.lr`, and one dictionary `state` per parameter, which lives as long as the
# optimizer — the memory of momentum and Adam. `step()` calls `self._update(param, state)` for every trainable
# parameter; a subclass writes only that method, which changes `param.data` **in place** from `param.grad`:
#
# * plain SGD: `param.data -= self.lr * param.grad`;
# * momentum keeps the buffer $b$ in `state["momentum_buffer"]`: $b \leftarrow \mu b + g$ (PyTorch starts with
#   $b = 0$, so the first buffer is $g$), $w \leftarrow w - \eta b$, or with Nesterov
#   $w \leftarrow w - \eta\,(g + \mu b)$ with the *new* $b$;
# * Adam keeps the step count $t$ and the moments $m$, $s$ in `state`, and divides by $1 - \beta^t$ as derived
#   above.
#
# The state must survive between steps: update its arrays in place (`buf *= mu`, `m[...] = ...`) or store the new
# arrays back into `state`; a local variable is forgotten when `_update` returns.
#
# ### Exercise 4.5 — SGD with momentum and Nesterov (build)
#
# Complete `MySGD._update`. The check runs your optimizer and nnlib's `SGD` side by side for 20 steps (plain,
# momentum, Nesterov; float64) and compares the parameters after every step, then trains a small MLP with each
# and compares the losses.

# %%
class MySGD(Optimizer):
    """SGD with momentum μ and optional Nesterov momentum, PyTorch's rule (nnlib's SGD without weight decay)."""

    def __init__(self, params, lr, momentum=0.0, nesterov=False):
        super().__init__(params, lr)
        self.momentum, self.nesterov = momentum, nesterov

    def _update(self, param, state):
        """One step on one parameter: b ← μ b + g; w ← w − η b, or w − η (g + μ b) with Nesterov."""
        ### BEGIN SOLUTION
        buffer = state.setdefault("momentum_buffer", np.zeros_like(param.data))
        buffer *= self.momentum
        buffer += param.grad
        step = param.grad + self.momentum * buffer if self.nesterov else buffer
        param.data -= self.lr * step
        ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_my_sgd(MySGD)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4.6 — Adam with bias correction (build)
#
# Complete `MyAdam._update`, the equations of Adam above with per-parameter state: `state["step"]` ($t$, counted
# from 1), `state["exp_avg"]` ($m$) and `state["exp_avg_sq"]` ($s$), both starting at zero:
#
# $$m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \quad s_t = \beta_2 s_{t-1} + (1-\beta_2) g_t^2, \quad
# w_t = w_{t-1} - \eta\, \frac{m_t / (1 - \beta_1^t)}{\sqrt{s_t / (1 - \beta_2^t)} + \epsilon}.$$
#
# The check compares 20 steps with nnlib's `Adam` in three settings (one with a large $\epsilon$ and tiny
# gradients, where $\epsilon$'s place matters), then trains the small MLP with both.

# %%
class MyAdam(Optimizer):
    """Adam (Kingma & Ba) with bias correction, PyTorch's rule (nnlib's Adam without weight decay)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, lr)
        self.betas, self.eps = betas, eps

    def _update(self, param, state):
        """One step on one parameter; state holds its step count and moment estimates between calls."""
        ### BEGIN SOLUTION
        beta1, beta2 = self.betas
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(param.data), exp_avg_sq=np.zeros_like(param.data))
        state["step"] += 1
        t, m, s = state["step"], state["exp_avg"], state["exp_avg_sq"]
        m[...] = beta1 * m + (1 - beta1) * param.grad
        s[...] = beta2 * s + (1 - beta2) * param.grad**2
        m_hat, s_hat = m / (1 - beta1**t), s / (1 - beta2**t)
        param.data -= self.lr * m_hat / (np.sqrt(s_hat) + self.eps)
        ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_my_adam(MyAdam)

# %% [markdown] slideshow={"slide_type": "subslide"}
# With both checks green, your optimizers train a network exactly as nnlib's do. The rest of the lesson keeps
# using nnlib's `SGD`, `RMSprop` and `Adam`.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. What makes non-convex optimization hard?
#
# The notes' answer: "potentially many **local minima**, **saddle points**, very **flat regions**, and widely
# varying **curvature**". Each has a 2-D caricature below, with its gradient written out:
#
# | surface | $f(x, y)$ | the difficulty |
# |---|---|---|
# | local minima | $(x^2 - 1)^2 + 0.3x + \tfrac12 y^2$ | a local minimum near $x = 0.96$, the global one at $-1.04$ |
# | saddle point | $x^2 + \tfrac14 y^4 - \tfrac12 y^2$ | a saddle at $(0, 0)$; the minima are at $(0, \pm 1)$ |
# | flat region | $1 - e^{-(x^2 + 2y^2)/2}$ | far from the minimum the gradient is almost 0 |
# | varying curvature | $(1 - x)^2 + 10\,(y - x^2)^2$ | Rosenbrock's valley: steep walls, an almost flat floor |
#
# To let nnlib's optimizers walk on them, we wrap the two coordinates in a `Parameter` and write the surface's
# gradient into its `.grad` before every `step()` — exactly what backpropagation does for a network. That gradient
# is **exact**: there is no sampling noise here, so nnlib's `SGD` class, fed it, is plain deterministic gradient
# descent, labelled **GD** below (it is *stochastic* gradient descent only when the gradient comes from random
# examples). First, the hand-written gradients against finite differences:

# %%
@dataclass
class Surface:
    f: Callable                                 # f(x, y) -> loss
    grad: Callable                              # grad(x, y) -> array (2,)
    start: tuple                                # default start point
    lr: float                                   # a learning rate that suits the surface
    steps: int
    box: tuple                                  # (xmin, xmax, ymin, ymax) for plots


SURFACES = {
    "local minima": Surface(lambda x, y: (x**2 - 1) ** 2 + 0.3 * x + 0.5 * y**2,
                            lambda x, y: np.array([4 * x * (x**2 - 1) + 0.3, y]), (1.8, 1.5), 0.02, 150,
                            (-2, 2, -2, 2)),
    "saddle point": Surface(lambda x, y: x**2 + y**4 / 4 - y**2 / 2,
                            lambda x, y: np.array([2 * x, y**3 - y]), (1.5, 0.001), 0.05, 100, (-2, 2, -1.6, 1.6)),
    "flat region": Surface(lambda x, y: 1 - np.exp(-(x**2 + 2 * y**2) / 2),
                           lambda x, y: np.exp(-(x**2 + 2 * y**2) / 2) * np.array([x, 2 * y]), (3.0, 2.0), 0.1,
                           100, (-3.5, 3.5, -3, 3)),
    "varying curvature": Surface(lambda x, y: (1 - x) ** 2 + 10 * (y - x**2) ** 2,
                                 lambda x, y: np.array([-2 * (1 - x) - 40 * x * (y - x**2), 20 * (y - x**2)]),
                                 (-1.5, 2.0), 0.01, 300, (-2, 2, -1, 3)),
}
for s in SURFACES.values():
    for point in [s.start, (0.3, -0.7), (-1.1, 0.4)]:
        assert check_gradient(lambda p, s=s: s.f(*p), lambda p, s=s: s.grad(*p), point) < 1e-7
print("all four gradients agree with finite differences")

# %% [markdown] slideshow={"slide_type": "subslide"}
# Five optimizers, each with the surface's learning rate and $\mu = 0.9$ (Adam's $\beta_1$):

# %%
OPTIMIZERS = {
    "GD": lambda params, lr, mu: SGD(params, lr=lr),                   # exact gradients: plain gradient descent
    "momentum": lambda params, lr, mu: SGD(params, lr=lr, momentum=mu),
    "Nesterov": lambda params, lr, mu: SGD(params, lr=lr, momentum=mu, nesterov=mu > 0),  # mu = 0: plain GD
    "RMSProp": lambda params, lr, mu: RMSprop(params, lr=lr),
    "Adam": lambda params, lr, mu: Adam(params, lr=lr, betas=(mu, 0.999)),
}


def trajectory(surface, optimizer, lr=None, mu=0.9, start=None, steps=None):
    """The points (steps + 1, 2) visited by an nnlib optimizer on a 2-D surface."""
    point = Parameter(np.array(start or surface.start, dtype=np.float64))
    opt = OPTIMIZERS[optimizer]([point], lr or surface.lr, mu)
    path = [point.data.copy()]
    for _ in range(steps or surface.steps):
        point.grad[...] = surface.grad(*point.data)
        opt.step()
        path.append(point.data.copy())
    return np.array(path)


ends = {}
for name, s in SURFACES.items():
    print(f"{name} (lr = {s.lr}, {s.steps} steps from {s.start}):")
    for optimizer in OPTIMIZERS:
        ends[name, optimizer] = end = trajectory(s, optimizer)[-1]
        print(f"   {optimizer:9s} ends at ({end[0]:+.3f}, {end[1]:+.3f}), f = {s.f(*end):+.4f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# What the numbers say, and why:
#
# * **Local minima** — GD, RMSProp and Adam roll into the nearest basin and stay in the *local* minimum
#   ($x \approx 0.96$); momentum and Nesterov arrive with enough speed to cross the ridge to the global one.
# * **Saddle point** — started almost exactly on the ridge line $y = 0$, plain GD slides down to the saddle and
#   sits there: near it the gradient in $y$ is about $-y$, tiny, and grows only by a factor $1 + \eta$ per
#   step. Momentum accumulates that tiny push; RMSProp and Adam rescale it to a full-size step.
# * **Flat region** — the gradient at the start is about $10^{-3}$: GD and momentum barely move; RMSProp and
#   Adam divide by the gradient's own size and walk at speed $\approx \eta$.
# * **Varying curvature** — $\eta$ must stay below $2/\lambda_{max}$ of the steep walls, so plain GD crawls
#   along the flat floor; momentum builds up speed along it and reaches $(1, 1)$; Adam, with a step of at most
#   $\approx \eta = 0.01$, has simply not had enough steps.
#
# No optimizer wins everywhere — which is why the learning rate and momentum are the first things to tune.

# %%
assert ends["local minima", "GD"][0] > 0 > ends["local minima", "momentum"][0]
assert abs(ends["saddle point", "GD"][1]) < 0.5 < abs(ends["saddle point", "Adam"][1])
assert SURFACES["flat region"].f(*ends["flat region", "GD"]) > 0.99 > 0.01 > SURFACES["flat region"].f(
    *ends["flat region", "Adam"])
assert SURFACES["varying curvature"].f(*ends["varying curvature", "momentum"]) < 1e-3 < SURFACES[
    "varying curvature"].f(*ends["varying curvature", "GD"])


def plot_surface(name, ax, lr=None, mu=0.9, start=None):
    """Contours of a surface and the path of every optimizer on it."""
    s = SURFACES[name]
    x0, x1, y0, y1 = s.box
    gx, gy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    ax.contour(gx, gy, s.f(gx, gy), levels=30, cmap="Greys", linewidths=0.7)
    for optimizer in OPTIMIZERS:
        path = trajectory(s, optimizer, lr, mu, start)
        ax.plot(path[:, 0], path[:, 1], ".-", ms=2, lw=1, label=optimizer)
    ax.plot(*(start or s.start), "ko")
    ax.set(xlim=(x0, x1), ylim=(y0, y1), title=name)


fig, axes = plt.subplots(1, 4, figsize=(17, 4.3), layout="constrained")
for name, ax in zip(SURFACES, axes, strict=True):
    plot_surface(name, ax)
axes[0].legend(loc="lower left")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["numbers-checked"]
# ### Does gradient noise help to leave a saddle? Measured
#
# Start exactly on the ridge, at $(1.5, 0)$. There the $y$-gradient $y^3 - y$ is exactly 0, and stays 0: exact
# gradient descent slides into the saddle $(0, 0)$, a stationary point with $f = 0$, above the minima's
# $f = -0.25$. Now add Gaussian noise of standard deviation 0.1 to every gradient — a stand-in for the sampling
# noise of a mini-batch gradient — and repeat with 20 seeds, 200 steps of $\eta = 0.05$ each:

# %%
def noisy_descent_end(surface, noise, seed, start=(1.5, 0.0), lr=0.05, steps=200):
    """End point (2,) of nnlib's SGD on ``surface`` when every gradient gets Gaussian noise of s.d. ``noise``."""
    point, rng = Parameter(np.array(start)), np.random.default_rng(seed)
    optimizer = SGD([point], lr=lr)
    for _ in range(steps):
        point.grad[...] = surface.grad(*point.data) + noise * rng.normal(size=2)
        optimizer.step()
    return point.data.copy()


saddle = SURFACES["saddle point"]
exact_end = noisy_descent_end(saddle, noise=0.0, seed=0)
noisy_ends = np.array([noisy_descent_end(saddle, noise=0.1, seed=seed) for seed in range(20)])
escaped = int(np.sum(np.abs(noisy_ends[:, 1]) > 0.5))
print(f"exact gradients: ends at ({exact_end[0]:+.3f}, {exact_end[1]:+.3f}), f = {saddle.f(*exact_end):+.4f}")
print(f"noisy gradients: {escaped} of 20 runs end near a minimum (|y| > 0.5); "
      f"mean f = {np.mean([saddle.f(*end) for end in noisy_ends]):+.4f}; minima: f = {saddle.f(0.0, 1.0):+.4f}")
assert exact_end[1] == 0.0 and abs(saddle.f(*exact_end)) < 1e-6 and escaped == 20

# %% [markdown] slideshow={"slide_type": "subslide"}
# The noise does not make the descent faster once a run is off the ridge — away from it, the $y$-offset grows by
# the same factor of about $1 + \eta$ per step — it makes sure that every run gets off it.
#
# Your turn: pick a surface, then change the learning rate, the momentum $\mu$ (also Adam's $\beta_1$) and the
# start point. Can you get plain GD across the saddle? Make momentum overshoot and diverge on the valley?

# %% tags=["nbval-ignore-output"]
def show_optimizers(surface="saddle point", lr=0.05, mu=0.9, x0=1.5, y0=0.001):
    fig, ax = plt.subplots(figsize=(7, 5.5), layout="constrained")
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging path simply leaves the picture
        plot_surface(surface, ax, lr, mu, (x0, y0))
    ax.legend(loc="lower left")
    plt.show()


_ = interact(show_optimizers, surface=Dropdown(options=list(SURFACES), value="saddle point"),
             lr=FloatLogSlider(value=0.05, base=10, min=-3, max=0, step=0.1, continuous_update=False),
             mu=FloatSlider(value=0.9, min=0.0, max=0.99, step=0.01, continuous_update=False),
             x0=FloatSlider(value=1.5, min=-2.0, max=2.0, step=0.05, continuous_update=False),
             y0=FloatSlider(value=0.001, min=-1.5, max=1.5, step=0.001, readout_format=".3f",
                            continuous_update=False))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. How to solve non-convex problems? SGD, mini-batching, SVRG, momentum
#
# The notes' list of remedies. Three of them are already here: the noise of **stochastic** and **mini-batch**
# gradients pushes the weights off the ridge of a saddle point (measured in section 5), and **momentum** carries
# them across flat stretches and small ridges. The fourth, **SVRG** (stochastic variance-reduced gradient,
# Johnson & Zhang 2013), attacks the weak point of SGD: its noise does not vanish at the minimum. At $w^*$ the full
# gradient is 0 but the individual $\nabla \ell_i(w^*)$ are not, so SGD with a constant step keeps jittering around
# $w^*$ at a **noise floor** proportional to $\eta$. (A decaying step size removes the floor, but convergence then slows
# to $O(1/t)$.)
#
# SVRG keeps a **snapshot** $\tilde w$ and the full gradient there, $\tilde\mu = \nabla L(\tilde w)$, computed once
# per outer loop. Each inner step uses, for a random example $i$,
#
# $$g = \nabla \ell_i(w) - \nabla \ell_i(\tilde w) + \tilde\mu, \qquad w \leftarrow w - \eta\, g.$$
#
# It is unbiased, $\mathbb{E}_i[g] = \nabla L(w) - \nabla L(\tilde w) + \tilde\mu = \nabla L(w)$, and when
# $w$ and $\tilde w$ both approach $w^*$ the two per-example terms cancel: the variance goes to **zero**, and a
# constant step converges linearly (geometrically).
#
# The test problem is L2-regularised logistic regression on 300 points with 10 features (labels $y_i = \pm1$),
# a convex loss whose exact minimum we can compute (with Newton's method), so that we can measure the
# suboptimality $L(w) - L(w^*)$:
#
# $$L(w) = \frac1n\sum_{i=1}^{n} \ell_i(w), \qquad
# \ell_i(w) = \log\!\big(1 + e^{-y_i x_i^\top w}\big) + \frac{\lambda}{2}\lVert w\rVert^2,
# \qquad \nabla \ell_i(w) = -y_i\, \sigma(-y_i x_i^\top w)\, x_i + \lambda w.$$

# %%
rng = np.random.default_rng(3)
n, features, lam = 300, 10, 1e-2
X_log = rng.normal(size=(n, features))
y_log = np.where(rng.random(n) < sigmoid(X_log @ rng.normal(size=features)), 1.0, -1.0)


def logistic_loss(w):
    return np.mean(np.logaddexp(0, -y_log * (X_log @ w))) + lam / 2 * w @ w


def example_grad(w, i):
    """∇ℓ_i(w), shape (features,)."""
    return -y_log[i] * sigmoid(-y_log[i] * (X_log[i] @ w)) * X_log[i] + lam * w


def full_grad(w):
    return -(X_log * (y_log * sigmoid(-y_log * (X_log @ w)))[:, None]).mean(axis=0) + lam * w


def newton_minimum(steps=20):
    w = np.zeros(features)
    for _ in range(steps):
        p = sigmoid(y_log * (X_log @ w))
        hessian = (X_log.T * (p * (1 - p))) @ X_log / n + lam * np.eye(features)
        w = w - np.linalg.solve(hessian, full_grad(w))
    return w


w_test = rng.normal(size=features)
assert check_gradient(logistic_loss, full_grad, w_test) < 1e-7
assert np.allclose(np.mean([example_grad(w_test, i) for i in range(n)], axis=0), full_grad(w_test))
w_star = newton_minimum()
best = logistic_loss(w_star)
print(f"L(w*) = {best:.6f}, |gradient at w*| = {np.linalg.norm(full_grad(w_star)):.1e}")
assert np.linalg.norm(full_grad(w_star)) < 1e-12

# %% [markdown] slideshow={"slide_type": "subslide"}
# Both methods are charged for every gradient of a single example they evaluate: one per SGD step; $n$ for each
# full gradient plus two per inner step of SVRG (an outer loop of $m = n$ inner steps costs $3n$). Same step
# size $\eta = 0.1$, same budget of 30 passes ($9000$ example-gradients); SGD also with $\eta = 0.01$, for a lower
# floor reached more slowly.

# %%
def sgd(lr, budget, rng):
    """Plain SGD with a constant step; returns (gradient evaluations, suboptimality) after every pass."""
    w, record = np.zeros(features), [(0, logistic_loss(np.zeros(features)) - best)]
    for done in range(n, budget + 1, n):
        for i in rng.integers(n, size=n):
            w -= lr * example_grad(w, i)
        record.append((done, logistic_loss(w) - best))
    return np.array(record)


def svrg(lr, budget, rng, inner=n):
    """SVRG: a snapshot and its full gradient, then `inner` variance-reduced steps; same record as sgd."""
    w, done, record = np.zeros(features), 0, [(0, logistic_loss(np.zeros(features)) - best)]
    while done + n + 2 * inner <= budget:
        snapshot, mu = w.copy(), full_grad(w)
        for i in rng.integers(n, size=inner):
            w -= lr * (example_grad(w, i) - example_grad(snapshot, i) + mu)
        done += n + 2 * inner
        record.append((done, logistic_loss(w) - best))
    return np.array(record)


budget = 30 * n
results = {"SGD, eta = 0.1": sgd(0.1, budget, np.random.default_rng(0)),
           "SGD, eta = 0.01": sgd(0.01, budget, np.random.default_rng(0)),
           "SVRG, eta = 0.1": svrg(0.1, budget, np.random.default_rng(0))}
for name, record in results.items():
    print(f"{name:16s} after {int(record[-1, 0])} example-gradients: L(w) - L(w*) = {record[-1, 1]:.1e}")
assert results["SVRG, eta = 0.1"][-1, 1] < 1e-6 * min(results["SGD, eta = 0.1"][-1, 1],
                                                       results["SGD, eta = 0.01"][-1, 1])

# %%
fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
for name, record in results.items():
    ax.semilogy(record[:, 0] / n, record[:, 1], "o-", ms=3, label=name)
ax.set(xlabel="example-gradients / n (passes over the data)", ylabel="L(w) − L(w*)",
       title="SGD stalls at a noise floor; SVRG converges linearly")
ax.legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The reason, measured: the mean squared distance of each method's search direction from the true gradient,
# at a point close to $w^*$ (with the snapshot a bit further away):

# %%
w_near, snapshot = w_star + 0.01 * rng.normal(size=features), w_star + 0.05 * rng.normal(size=features)
true_grad, mu_snapshot = full_grad(w_near), full_grad(snapshot)
sgd_noise = np.mean([np.sum((example_grad(w_near, i) - true_grad) ** 2) for i in range(n)])
svrg_noise = np.mean([np.sum((example_grad(w_near, i) - example_grad(snapshot, i) + mu_snapshot - true_grad) ** 2)
                      for i in range(n)])
print(f"variance of the direction near w*: SGD {sgd_noise:.2e}, SVRG {svrg_noise:.2e}")
assert svrg_noise < 0.02 * sgd_noise

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4.7 — challenge (optional): an epoch of mini-batch SVRG
#
# *Optional: skip it freely; the lesson runs on without it.* Generalise `svrg` above to mini-batches and to any
# problem: `svrg_epoch(w, grad, n, lr, batches)` gets a function `grad(w, index)` that returns the mean gradient
# of the examples `index` (an array of indices), the number of examples `n`, and a list of index arrays
# `batches`. It takes the snapshot $\tilde w = w$ and its full gradient $\tilde\mu$ (`grad` over all `n` indices),
# then for each batch $\mathcal{B}$ steps
#
# $$w \leftarrow w - \eta\,\big(\nabla\ell_{\mathcal{B}}(w) - \nabla\ell_{\mathcal{B}}(\tilde w) + \tilde\mu\big),$$
#
# and returns $w$. (Mind that the snapshot must not move with $w$.)

# %%
def svrg_epoch(w, grad, n, lr, batches):
    """One outer loop of mini-batch SVRG from w (F,); grad(w, index) -> mean gradient (F,) over those examples."""
    ### BEGIN SOLUTION
    snapshot = w.copy()
    mu = grad(snapshot, np.arange(n))
    for index in batches:
        w = w - lr * (grad(w, index) - grad(snapshot, index) + mu)
    return w
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_svrg_epoch(svrg_epoch)

# %% [markdown] slideshow={"slide_type": "subslide"}
# On a network the picture is less clean — the loss is non-convex and the snapshot ages quickly — and in deep
# learning practice mini-batches with momentum or Adam won. But the idea of SVRG, *subtract a correlated
# estimate whose mean you know*, reappears in many variance-reduction methods.
#
# ## 7. Putting it together: an MLP on the digits
#
# The $64 \to 128 \to 10$ ReLU network of section 1, now trained with **Adam** ($\eta = 0.003$), mini-batches of
# 32, for 30 epochs — against scikit-learn's `MLPClassifier` with the same shape (`hidden_layer_sizes=(128,)`,
# ReLU, Adam) and the same settings, on the same split. (scikit-learn warns that 30 epochs did not meet its own
# convergence test; we silence that warning, the budget is deliberate.)

# %%
start = time.perf_counter()
mlp = digits_mlp()
fit(mlp, cross_entropy, Adam(mlp.parameters(), lr=3e-3), X_train, y_train, epochs=30, batch_size=32, rng=0)
nnlib_seconds = time.perf_counter() - start
nnlib_accuracy = evaluate(mlp, cross_entropy, X_test, y_test)["accuracy"]

start = time.perf_counter()
sklearn_mlp = MLPClassifier(hidden_layer_sizes=(128,), learning_rate_init=3e-3, batch_size=32, max_iter=30,
                            alpha=0.0, random_state=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    sklearn_mlp.fit(X_train, y_train)
sklearn_seconds = time.perf_counter() - start
sklearn_accuracy = sklearn_mlp.score(X_test, y_test)

print(f"test accuracy: nnlib {nnlib_accuracy:.3f}, scikit-learn {sklearn_accuracy:.3f}")
assert nnlib_accuracy >= 0.97

# %% tags=["nbval-ignore-output", "timing"]
print(f"training time: nnlib {nnlib_seconds:.2f} s, scikit-learn {sklearn_seconds:.2f} s")

# %% [markdown] slideshow={"slide_type": "subslide"}
# Same architecture, same optimizer, comparable accuracy. (One timing in a notebook is not a benchmark: a fair speed
# comparison runs both in one process, with pinned threads, warm-up and repeats.)
#
# Is the small difference in accuracy the **initialisation**? scikit-learn draws every weight and bias from Glorot's
# uniform $\mathcal U(\pm\sqrt{6 / (n_{in} + n_{out})})$; nnlib's default is PyTorch's $\mathcal U(\pm 1/\sqrt{n_{in}})$
# (lesson 07 derives what the scale does through depth). `Linear(..., init="xavier_uniform")` gives nnlib Glorot's
# weights (and zero biases). One run is one draw of the initial weights and of the batch order, so we compare a few
# seeds of each:

# %%
GAP_SEEDS = range(4)


def digits_accuracy(init, seed):
    """Test accuracy of the lesson's MLP (30 epochs of Adam) with weights from ``init`` (None: PyTorch's default)."""
    model = Sequential(Linear(64, 128, rng=seed, init=init), ReLU(), Linear(128, 10, rng=seed + 1, init=init))
    fit(model, cross_entropy, Adam(model.parameters(), lr=3e-3), X_train, y_train, epochs=30, batch_size=32,
        rng=seed)
    return evaluate(model, cross_entropy, X_test, y_test)["accuracy"]


def sklearn_digits_accuracy(seed):
    classifier = MLPClassifier(hidden_layer_sizes=(128,), learning_rate_init=3e-3, batch_size=32, max_iter=30,
                               alpha=0.0, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return classifier.fit(X_train, y_train).score(X_test, y_test)


seed_accuracies = {"nnlib, PyTorch's default init": [digits_accuracy(None, s) for s in GAP_SEEDS],
                   "nnlib, Glorot init": [digits_accuracy("xavier_uniform", s) for s in GAP_SEEDS],
                   "scikit-learn (Glorot init)": [sklearn_digits_accuracy(s) for s in GAP_SEEDS]}
one_image = 1 / len(y_test)
for name, accuracies in seed_accuracies.items():
    print(f"{name:30s} {' '.join(f'{a:.3f}' for a in accuracies)}   mean {np.mean(accuracies):.4f}")
means = [np.mean(a) for a in seed_accuracies.values()]
spread = max(means) - min(means)
print(f"one test image is {one_image:.4f} of the accuracy; the three means lie within {spread / one_image:.1f} images")
assert spread <= one_image + 1e-9

# %% [markdown] slideshow={"slide_type": "subslide"}
# Measured, the gap is not there: over a few seeds the three means lie within one test image of each other,
# and a single run's difference (as above) is a couple of images, the size of the seed-to-seed scatter. Glorot's
# initialisation does not change the accuracy of this one-hidden-layer network — nor should it by much: with one
# hidden layer, the variance argument of lesson 07 has only two layers to compound over. What remains is noise
# from the initial draw and the batch order.
#
# ## Summary
#
# * **Batch** gradient descent averages the gradient over all examples, **mini-batch** over $B$ of them,
#   **SGD** uses one. A random mini-batch gradient is an unbiased estimate of the full gradient with variance
#   $\sigma^2 / B$. Per epoch, more (noisier) updates win. Per second, it depends on the machine: per epoch all three
#   do the same arithmetic, split into more or fewer calls, and the timing cell measures what the calls cost.
# * On a quadratic with Hessian $A$, gradient descent converges iff $\eta < 2/\lambda_{max}(A)$; the flattest
#   direction then converges slowly (condition number $\lambda_{max}/\lambda_{min}$). Too small: slow; too large:
#   oscillations; beyond $\eta_{crit}$: divergence — nnlib's `fit` stops with a `TrainingDivergedError`. In a
#   ReLU network a too-large step can instead kill the units.
# * Training a network is **non-convex**: products of weights create saddle points and curves of minima, and
#   permuting hidden units gives $H!$ equivalent minima whose midpoints are worse. Gradient descent guarantees at
#   best a **stationary point** — a local minimum, not necessarily the global one, or a saddle: exact gradient
#   descent with a small enough step converges to the saddle of $(1 - w_1 w_2)^2$ from a start on the line
#   $w_1 = -w_2$.
# * What makes it hard: **local minima, saddle points, flat regions, widely varying curvature**. Momentum
#   ($v = \mu v + g$, $w = w - \eta v$) and Nesterov speed up along consistent directions; RMSProp and Adam
#   rescale every weight's step, which helps on flat regions and saddles. An optimizer is a rule
#   `_update(param, state)` whose per-parameter `state` (momentum buffer, Adam's $t$, $m$, $s$) persists between
#   steps; Adam divides its moments by $1 - \beta^t$ to remove their bias towards the zero start.
# * Remedies: **SGD** and **mini-batching** (their noise pushes a run off a saddle's ridge), **momentum**, and
#   **SVRG**, whose variance-reduced gradient converges linearly where SGD with a constant step stalls at a noise
#   floor.
#
# ## Review questions
#
# 1. Define batch, mini-batch and stochastic gradient descent. Which makes the most updates per epoch, and
#    which is fastest per second on a CPU or GPU? Why?
# 2. Show that a mini-batch gradient is an unbiased estimate of the full gradient. How does its variance depend
#    on the batch size?
# 3. Derive the critical learning rate of $f(w) = \tfrac12 a w^2$. What happens for $\eta = 1/a$, for
#    $1/a < \eta < 2/a$ and for $\eta > 2/a$? What replaces $a$ for a loss of many weights?
# 4. **Why is deep learning a non-convex optimization problem?** Give two arguments: one from products of weights,
#    one from permutations of hidden units.
# 5. Is every point where the gradient is zero a minimum? Classify $(0, 0)$ for $f(w_1, w_2) = (1 - w_1 w_2)^2$.
# 6. What makes non-convex optimization hard? For each difficulty, which optimizer of this lesson copes best,
#    and why?
# 7. Write the momentum update in PyTorch's convention and in the other one. Why are they equivalent for a
#    constant learning rate? What is the effective step under a constant gradient?
# 8. Why does SGD with a constant step size stall at a noise floor, and how does SVRG remove it?
# 9. What goes wrong in Adam's first steps without the bias correction? And what if the optimizer forgets its
#    state between steps?
