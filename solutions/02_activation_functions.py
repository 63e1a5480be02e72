# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # Lesson 02 — Activation functions
#
# "The activation function serves as a gate between the current neuron input and its output. Activation
# functions are added to introduce non-linearity to the network" — so say the lecture notes. Lesson 01 ended
# on *why*: without them, layers collapse into one. This lesson takes the notes' list — sigmoid, tanh, ReLU,
# leaky ReLU, ELU, maxout — plus softmax for the output layer, derives each derivative (the
# $\partial out / \partial net$ factor that backpropagation multiplies in at every layer), checks each one
# against finite differences, and ends with the notes' "different boundaries for different activation
# functions" on the spirals.
#
# ## Learning goals
#
# By the end of this lesson you can
#
# 1. show, by algebra and by code, that a stack of linear layers of any depth is *one* linear map, and what
#    that means for a classifier;
# 2. state the formula of sigmoid, tanh, ReLU, leaky ReLU, ELU, maxout and softmax, and **derive** each
#    derivative step by step — including the notes' $\partial a / \partial net = a(1 - a)$;
# 3. explain **saturation**: why $\sigma' \le 0.25$ and $|\tanh'| \le 1$ foreshadow vanishing gradients;
# 4. explain the conventions at a kink ($x = 0$), the **dying ReLU** problem, and how leaky ReLU, ELU and
#    maxout avoid it;
# 5. derive the softmax Jacobian $\operatorname{diag}(s) - s s^\top$, compute softmax **stably** (subtract the
#    max) and explain its **temperature**;
# 6. choose an activation for the hidden layers and for the output layer;
# 7. **build** activation layers — sigmoid, ELU, maxout's backward — as nnlib `Module`s (forward, backward,
#    `self.cache`) that pass a gradient check and train a network exactly like nnlib's own.

# %%
import matplotlib.pyplot as plt
import numpy as np
from ipywidgets import Dropdown, FloatSlider, interact

import nnlib.functional as F
from nnlib import ELU, LeakyReLU, Linear, Maxout, Module, ReLU, Sequential, Sigmoid, Tanh
from nnlib.data import make_spirals
from nnlib.exercises import (
    check_leaky_relu,
    check_leaky_relu_prime,
    check_maxout_backward,
    check_my_elu,
    check_my_sigmoid,
    check_sigmoid_prime,
    check_softmax,
    check_softmax_backward,
    check_tanh_prime,
)
from nnlib.gradcheck import check_derivative, gradcheck, numerical_gradient, relative_error
from nnlib.layers.activation import ActivationCache
from nnlib.losses import CrossEntropyLoss
from nnlib.optim import Adam
from nnlib.training import accuracy, fit
from nnlib.viz import plot_decision_boundary

np.set_printoptions(precision=4, suppress=True)


def verify(name, f, f_prime, x, tol=1e-8):
    """Assert that ``f_prime`` matches centred finite differences of ``f`` on the points ``x``; print the verdict.

    The exact error varies in its last digits from machine to machine, so only its bound is printed.
    """
    error = check_derivative(f, f_prime, x)
    assert error < tol, f"{name}: relative error {error:.1e}"
    print(f"{name}: matches finite differences (relative error < {tol:g})")


# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Why non-linearity
#
# Lesson 01 showed that two linear layers collapse into one. The same holds at any depth. A layer without
# activation computes $a^{(l)} = a^{(l-1)} W_l + b_l$. Suppose the first $l - 1$ layers together compute
# $x W + b$. Adding layer $l$:
#
# $$\big(x W + b\big) W_l + b_l = x\,\underbrace{W W_l}_{\text{new } W} + \underbrace{b W_l + b_l}_{\text{new } b}.$$
#
# Starting from $W = I$, $b = 0$ and applying this step once per layer gives, for $L$ layers,
#
# $$W = W_1 W_2 \cdots W_L, \qquad b = \big(\cdots\big((b_1 W_2 + b_2) W_3 + b_3\big)\cdots\big) W_L + b_L.$$
#
# Four nnlib `Linear` layers (2 → 16 → 16 → 16 → 3) and the single map they equal — a $2 \times 3$ matrix and
# 3 biases:

# %%
layers = [Linear(n_in, n_out, rng=seed, dtype=np.float64)
          for seed, (n_in, n_out) in enumerate([(2, 16), (16, 16), (16, 16), (16, 3)])]
deep_linear = Sequential(*layers)

W, b = np.eye(2), np.zeros(2)
for layer in layers:  # the induction step, once per layer
    W, b = W @ layer.weight.data, b @ layer.weight.data + layer.bias.data

X_check = np.random.default_rng(0).normal(size=(6, 2))
gap = np.abs(deep_linear(X_check) - (X_check @ W + b)).max()
n_params = sum(p.size for p in deep_linear.parameters())
print(f"{n_params} parameters in 4 layers = one map with W of shape {W.shape} and b of shape {b.shape}")
print("max difference between the two:", round(gap, 12))
assert gap < 1e-12

# %% [markdown] slideshow={"slide_type": "subslide"}
# So a deep network without activations is a *linear* classifier, however many layers and parameters it has:
# each class gets a linear score $x W_{:,k} + b_k$, and the boundary between two classes is a straight line.
# Let us train one on the three interleaved **spirals** (300 points, 3 classes, guessing gets 1/3) next to a
# single `Linear(2, 3)` layer. Every network in this lesson is trained the same way: Adam, cross-entropy,
# 100 epochs of seeded mini-batches of 32.

# %%
X_spiral, y_spiral = make_spirals(rng=0, dtype=np.float64)
EPOCHS, BATCH_SIZE, LEARNING_RATE = 100, 32, 0.01


def make_mlp(activation=None):
    """A 2-16-16-3 network: Linear, activation, Linear, activation, Linear. ``activation=None``: purely linear.

    ``activation`` is called once per hidden layer to build a fresh activation layer. Weights are seeded.
    """
    def hidden(n_in, n_out, seed):
        return [Linear(n_in, n_out, rng=seed, dtype=np.float64)] + ([activation()] if activation else [])

    return Sequential(*hidden(2, 16, 0), *hidden(16, 16, 1), Linear(16, 3, rng=2, dtype=np.float64))


def train(model):
    """Fit ``model`` to the spirals (scores (N, 3) → cross-entropy); return the trained model."""
    fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=LEARNING_RATE), X_spiral, y_spiral,
        epochs=EPOCHS, batch_size=BATCH_SIZE, rng=0)
    return model


def spiral_accuracy(model):
    return round(accuracy(model(X_spiral), y_spiral), 3)


linear_models = {"one Linear(2, 3)": train(Sequential(Linear(2, 3, rng=0, dtype=np.float64))),
                 "2-16-16-3, no activation": train(make_mlp(None))}
for name, model in linear_models.items():
    print(f"{name:<26} training accuracy {spiral_accuracy(model):.3f}")
assert all(spiral_accuracy(model) < 0.6 for model in linear_models.values())

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 4), layout="constrained")
for ax, (name, model) in zip(axes, linear_models.items(), strict=True):
    plot_decision_boundary(model, X_spiral, y_spiral, ax=ax, title=name)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Both cut the plane into three wedges with straight edges and get about half the points right: the 2-16-16-3
# network spends its 371 parameters on a map that one $2 \times 3$ matrix already describes. An activation
# between the layers breaks the collapse. Which activation, and why, is the rest of this lesson.
#
# ## 2. The sigmoid
#
# The notes' neuron squashes its net input into $(0, 1)$:
#
# $$out = a = \sigma(net) = \frac{1}{1 + e^{-net}}.$$
#
# Its derivative, exactly as the notes derive it. Write $a$ as a power and apply the chain rule:
#
# $$\frac{\partial a}{\partial net} = \frac{\partial}{\partial net}\big(1 + e^{-net}\big)^{-1}
# = -\big(1 + e^{-net}\big)^{-2} \cdot \big(-e^{-net}\big) = \frac{e^{-net}}{(1 + e^{-net})^2}.$$
#
# Rewrite it in terms of $a$. First,
#
# $$1 - a = \frac{1 + e^{-net} - 1}{1 + e^{-net}} = \frac{e^{-net}}{1 + e^{-net}},$$
#
# so splitting the square in the denominator,
#
# $$\frac{e^{-net}}{(1 + e^{-net})^2} = \underbrace{\frac{1}{1 + e^{-net}}}_{a} \cdot
# \underbrace{\frac{e^{-net}}{1 + e^{-net}}}_{1 - a}, \qquad \boxed{\;\frac{\partial a}{\partial net} = a(1 - a)\;}$$
#
# Backpropagation loves this form: the forward pass has already computed $a$, so the derivative costs one
# multiplication. Every step, checked numerically:

# %%
net = np.linspace(-6, 6, 121)
a = F.sigmoid(net)
assert np.allclose(a, 1 / (1 + np.exp(-net)))
assert np.allclose(1 - a, np.exp(-net) / (1 + np.exp(-net)))                   # the rewrite of 1 - a
assert np.allclose(np.exp(-net) / (1 + np.exp(-net)) ** 2, a * (1 - a))       # the boxed result
verify("sigmoid: a(1 - a)", F.sigmoid, lambda net: F.sigmoid(net) * (1 - F.sigmoid(net)), net)
print("net:      ", net[::20])
print("a:        ", a[::20])
print("a(1 - a): ", (a * (1 - a))[::20])


# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2.1 — the sigmoid's derivative
#
# Write `sigmoid_prime(net)`, elementwise, using the sigmoid itself (`F.sigmoid`, nnlib's stable version) and
# the boxed formula. It must work for a number, a vector or a matrix of net inputs.

# %%
def sigmoid_prime(net):
    """σ'(net) (same shape as net), written with σ itself."""
    ### BEGIN SOLUTION
    a = F.sigmoid(net)
    return a * (1 - a)
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_sigmoid_prime(sigmoid_prime)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2.2 — a sigmoid layer (build)
#
# In a network the sigmoid is a **layer**, an nnlib `Module` with two methods:
#
# * `forward(x)` gets the net inputs $x = net$ (any shape), returns $a = \sigma(net)$, and keeps what backward
#   will need: `self.cache = ActivationCache(x, y)`, both $net$ and $out$ (a named tuple: `self.cache.y`);
# * `backward(grad_out)` gets $\partial L / \partial a$ (the shape of $a$) and returns, by the chain rule,
#
# $$\frac{\partial L}{\partial net} = \underbrace{\frac{\partial L}{\partial a}}_{\texttt{grad\_out}} \odot
# \frac{\partial a}{\partial net} = \frac{\partial L}{\partial a} \odot a(1 - a),$$
#
# which is $-\delta$ in the notes' sign convention. The boxed formula needs only the **output**, which the cache holds.
# Write both methods; `F.sigmoid` computes $\sigma$. The check compares your layer with nnlib's `Sigmoid` on
# float64 inputs of several shapes, runs `gradcheck` on it, then trains a small MLP on the two moons with your
# layer and with nnlib's and compares the losses step by step.

# %%
class MySigmoid(Module):
    """σ as a layer: forward(net) → a = σ(net), any shape; backward(dL/da) → dL/dnet = dL/da ⊙ a(1 − a)."""

    def forward(self, x):
        ### BEGIN SOLUTION
        y = F.sigmoid(x)
        self.cache = ActivationCache(x, y)
        return y
        ### END SOLUTION

    def backward(self, grad_out):
        ### BEGIN SOLUTION
        x, y = self.cache
        return grad_out * y * (1 - y)
        ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_my_sigmoid(MySigmoid)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. The hyperbolic tangent
#
# $$\tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}} \in (-1, 1).$$
#
# **Derivative.** With $u = e^{x} - e^{-x}$ and $v = e^{x} + e^{-x}$ we have $u' = v$ and $v' = u$, so the
# quotient rule gives
#
# $$\tanh'(x) = \frac{u' v - u v'}{v^2} = \frac{v^2 - u^2}{v^2} = 1 - \Big(\frac{u}{v}\Big)^2
# = \boxed{\;1 - \tanh^2(x)\;}$$
#
# — again written with the output: $\partial a / \partial net = 1 - a^2$ for $a = \tanh(net)$.
#
# **tanh is a rescaled sigmoid.** Put $2\sigma(2x) - 1$ over one denominator, then multiply the numerator and
# the denominator by $e^{x}$:
#
# $$2\sigma(2x) - 1 = \frac{2}{1 + e^{-2x}} - 1 = \frac{1 - e^{-2x}}{1 + e^{-2x}}
# = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}} = \tanh(x).$$
#
# So tanh has the sigmoid's S shape, stretched to $(-1, 1)$ and centred on 0, and by the chain rule
# $\tanh'(x) = 2 \cdot 2\,\sigma'(2x) = 4\sigma'(2x)$.

# %%
x = np.linspace(-4, 4, 81)
assert np.allclose(np.tanh(x), 2 * F.sigmoid(2 * x) - 1)
assert np.allclose(1 - np.tanh(x) ** 2, 4 * F.sigmoid_prime(2 * x))
verify("tanh: 1 - tanh^2", np.tanh, lambda x: 1 - np.tanh(x) ** 2, x)
for value in [-2.0, -0.5, 0.0, 0.5, 2.0]:
    print(f"x = {value:+.1f}: tanh(x) = {np.tanh(value):+.4f}, 2σ(2x) - 1 = {2 * F.sigmoid(2 * value) - 1:+.4f}")


# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2.3 — tanh's derivative
#
# Write `tanh_prime(net)` with `np.tanh` and the boxed formula.

# %%
def tanh_prime(net):
    """tanh'(net) (same shape as net), written with tanh itself."""
    ### BEGIN SOLUTION
    a = np.tanh(net)
    return 1 - a**2
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_tanh_prime(tanh_prime)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Saturation: a preview of vanishing gradients
#
# How large can $\sigma'$ be? Complete the square in $a$:
#
# $$\sigma'(net) = a(1 - a) = \tfrac14 - \big(a - \tfrac12\big)^2 \le \tfrac14,$$
#
# with equality only at $a = \tfrac12$, i.e. $net = 0$. In the same way $\tanh' = 1 - \tanh^2 \le 1$, with
# equality at 0. Far from 0 both curves are flat: the neuron is **saturated**, its output barely moves when
# its weights change, and its derivative is nearly 0.
#
# Why it matters: backpropagation (next lessons) multiplies one such factor per layer — the notes'
# $\delta_j = \sum_k \delta_k w_{kj}\, a_j(1 - a_j)$. Through 10 sigmoid layers, even in the *best* case
# (every $net = 0$), the product of the $\sigma'$ factors is $0.25^{10} \approx 9.5 \cdot 10^{-7}$: these factors
# alone shrink the gradient that reaches the first layer about a million times. This is the **vanishing
# gradient** problem the notes name for deep networks and RNNs.

# %%
grid = np.linspace(-10, 10, 2001)
best = F.sigmoid_prime(grid).argmax()
print(f"max σ'    = {F.sigmoid_prime(grid).max():.4f} at net = {grid[best]:.1f}")
print(f"max tanh' = {F.tanh_prime(grid).max():.4f} at net = {grid[F.tanh_prime(grid).argmax()]:.1f}")
for value in [0.0, 2.0, 5.0, 10.0]:
    print(f"net = {value:4.1f}: σ' = {F.sigmoid_prime(value):.2e}, tanh' = {F.tanh_prime(value):.2e}")
best_case = F.sigmoid_prime(0.0) ** 10
print(f"product of σ' through 10 layers, at best: {best_case:.2e}")
assert np.all(F.sigmoid_prime(grid) <= 0.25) and np.all(F.tanh_prime(grid) <= 1)
assert np.allclose(F.sigmoid_prime(grid), 0.25 - (F.sigmoid(grid) - 0.5) ** 2)
assert np.isclose(best_case, 0.25**10) and 9.5e-7 < best_case < 9.6e-7

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. ReLU and leaky ReLU
#
# The rectified linear unit, the notes' $\max(0, x)$, does not saturate for $x > 0$:
#
# $$\operatorname{ReLU}(x) = \max(0, x), \qquad
# \operatorname{ReLU}'(x) = \begin{cases} \frac{d}{dx}\,x = 1 & x > 0 \\ \frac{d}{dx}\,0 = 0 & x < 0 \end{cases}$$
#
# At $x = 0$ the slope from the left is 0 and from the right is 1: ReLU has no derivative there. Any value
# in $[0, 1]$ is a valid *subgradient*, and a library has to pick one. **nnlib, like PyTorch, uses
# $\operatorname{ReLU}'(0) = 0$.** A centred finite difference at 0 sees $(\epsilon - 0) / 2\epsilon = 0.5$,
# the average of the two slopes: at a kink the numerical check cannot decide, so we check away from it.

# %%
x = np.linspace(-3, 3, 60)  # an even number of points: 0 is not among them
verify("ReLU", F.relu, F.relu_prime, x)
eps = 1e-6
print("nnlib's ReLU'(0):", F.relu_prime(0.0), "| centred difference at 0:", (F.relu(eps) - F.relu(-eps)) / (2 * eps))
assert F.relu_prime(0.0) == 0 and np.isclose((F.relu(eps) - F.relu(-eps)) / (2 * eps), 0.5)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Leaky ReLU.** The notes write it $\max(0.1x, x)$. For any slope $0 < \alpha < 1$,
#
# $$\max(\alpha x, x) = \begin{cases} x & x > 0 \\ \alpha x & x \le 0 \end{cases}, \qquad
# \frac{d}{dx} = \begin{cases} 1 & x > 0 \\ \alpha & x < 0 \end{cases}$$
#
# At the kink nnlib (like PyTorch) uses the left slope: the derivative at 0 is $\alpha$. The exercises call
# $\alpha$ `slope`; nnlib calls it `negative_slope`, with PyTorch's default 0.01; the notes use 0.1.

# %%
verify("leaky ReLU, slope 0.1", lambda x: F.leaky_relu(x, 0.1), lambda x: F.leaky_relu_prime(x, 0.1), x)
assert np.allclose(np.maximum(0.1 * x, x), F.leaky_relu(x, negative_slope=0.1))  # the notes' form
print("nnlib's leaky ReLU'(0) with slope 0.1:", F.leaky_relu_prime(0.0, negative_slope=0.1))
assert F.leaky_relu_prime(0.0, negative_slope=0.1) == 0.1

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Why leak? The dying ReLU.** If a ReLU unit's net input is negative for *every* training example — say one
# large gradient step pushed its bias far down — its derivative is 0 on all of them. Backpropagation then
# sends its weights exactly zero gradient: the unit never changes again, it is **dead**. A leaky unit in the
# same spot still passes $\alpha$ times the gradient and can recover. One unit, bias $-3$, on the spirals:

# %%
unit = Linear(2, 1, rng=0, dtype=np.float64)
unit.bias.data[:] = -3.0
print(f"net > 0 on {np.mean(unit(X_spiral) > 0):.0%} of the inputs")
gradients = {}
for activation in [ReLU(), LeakyReLU(0.1)]:
    model = Sequential(unit, activation)
    model.zero_grad()
    out = model(X_spiral)
    model.backward(np.ones_like(out) / len(out))  # L = the mean output
    gradients[type(activation).__name__] = np.append(unit.weight.grad[:, 0], unit.bias.grad)
    print(f"{activation!s:<30} dL/dw = {unit.weight.grad[:, 0]}, dL/db = {unit.bias.grad}")
assert not gradients["ReLU"].any() and gradients["LeakyReLU"].all()  # dead, and alive


# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2.4 — leaky ReLU
#
# Write `leaky_relu(x, slope=0.1)`: $x$ where $x > 0$, $\text{slope} \cdot x$ elsewhere, elementwise. Use the
# `slope` argument (the check also tries other slopes). `np.where` is your friend.

# %%
def leaky_relu(x, slope=0.1):
    """Leaky ReLU of x (same shape): x where x > 0, slope * x elsewhere."""
    ### BEGIN SOLUTION
    return np.where(x > 0, x, slope * x)
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_leaky_relu(leaky_relu)


# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2.5 — its derivative
#
# Write `leaky_relu_prime(x, slope=0.1)`: 1 where $x > 0$, `slope` elsewhere — including at $x = 0$, nnlib's
# convention. Return an array of `x`'s shape.

# %%
def leaky_relu_prime(x, slope=0.1):
    """d leaky_relu / dx (same shape as x): 1 where x > 0, slope elsewhere (x = 0 included)."""
    ### BEGIN SOLUTION
    return np.where(x > 0, 1.0, slope)
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_leaky_relu_prime(leaky_relu_prime)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. ELU
#
# The exponential linear unit, in the notes' form (nnlib includes $x = 0$ in the second piece, where both
# pieces give 0):
#
# $$\operatorname{ELU}(x) = \begin{cases} x & x > 0 \\ \alpha\,(e^{x} - 1) & x \le 0 \end{cases}$$
#
# **Derivative.** For $x > 0$ it is 1. For $x < 0$, $\frac{d}{dx}\,\alpha(e^x - 1) = \alpha e^{x}$, and adding and
# subtracting $\alpha$ writes it with the output, like the sigmoid's $a(1 - a)$:
#
# $$\operatorname{ELU}'(x) = \alpha e^{x} = \alpha(e^{x} - 1) + \alpha = \operatorname{ELU}(x) + \alpha
# \qquad (x < 0).$$
#
# At 0 the left slope is $\alpha$ and the right one 1, so ELU is smooth at 0 only for $\alpha = 1$; nnlib
# (like PyTorch) uses $\alpha$ at 0. For $x \to -\infty$, $\operatorname{ELU}(x) \to -\alpha$: negative outputs
# pull the mean activation towards 0, and the slope $\alpha e^{x}$ is small but never exactly 0, so no unit
# dies.

# %%
x = np.linspace(-3, 3, 60)
negative = x[x < 0]
for alpha in [0.5, 1.0, 2.0]:
    verify(f"ELU, α = {alpha}", lambda x, a=alpha: F.elu(x, a), lambda x, a=alpha: F.elu_prime(x, a), x)
    assert np.allclose(F.elu_prime(negative, alpha), F.elu(negative, alpha) + alpha)  # ELU' = ELU + α
    assert F.elu_prime(0.0, alpha) == alpha and np.isclose(F.elu(-50.0, alpha), -alpha)
print("ELU(-50) with α = 2:", F.elu(-50.0, 2.0), "| ELU'(-5) with α = 1:", F.elu_prime(-5.0).round(6))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2.6 — an ELU layer (build)
#
# Write `MyELU(alpha)`, a layer like `MySigmoid`. Forward: $x$ where $x > 0$, $\alpha(e^x - 1)$ elsewhere
# (`np.where` evaluates both pieces everywhere, so take `np.exp(np.minimum(x, 0))`: $e^{x}$ of a large
# positive $x$ would overflow). Backward: 1 where $x > 0$, and $\operatorname{ELU}(x) + \alpha$ elsewhere — read from
# the cached output, as for the sigmoid — times `grad_out`. At $x = 0$ use $\alpha$, nnlib's convention. The
# check tries $\alpha = 1$ and $\alpha = 0.5$ (where a forgotten $\alpha$ shows), then gradchecks and trains.

# %%
class MyELU(Module):
    """ELU as a layer: forward(net) → α(e^net − 1) for net ≤ 0, net otherwise; backward(g) → g ⊙ ELU'(net)."""

    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def forward(self, x):
        ### BEGIN SOLUTION
        y = np.where(x > 0, x, self.alpha * (np.exp(np.minimum(x, 0)) - 1))
        self.cache = ActivationCache(x, y)
        return y
        ### END SOLUTION

    def backward(self, grad_out):
        ### BEGIN SOLUTION
        x, y = self.cache
        return grad_out * np.where(x > 0, 1.0, y + self.alpha)
        ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_my_elu(MyELU)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Maxout
#
# A maxout unit (the notes: $\max(w_1^\top x + b_1,\ w_2^\top x + b_2)$) *learns* its activation: it computes
# several linear pieces $z_p = w_p^\top x + b_p$ and outputs the largest, $out = \max_p z_p$.
#
# **Derivative.** Let $p^*$ be the winning piece. If it wins strictly, it still wins after a small enough nudge
# of $x$ or of the weights, so near that point $out = z_{p^*} = w_{p^*}^\top x + b_{p^*}$ and
#
# $$\frac{\partial out}{\partial w_{p^*}} = x, \qquad \frac{\partial out}{\partial b_{p^*}} = 1, \qquad
# \frac{\partial out}{\partial w_p} = 0,\ \frac{\partial out}{\partial b_p} = 0 \ (p \ne p^*), \qquad
# \frac{\partial out}{\partial x} = w_{p^*}.$$
#
# The gradient flows **only to the winning piece** — a switch, like ReLU's 0 or 1. Checked with one nnlib
# `Maxout` unit (3 inputs, 2 pieces), then with a `gradcheck` of a whole layer in float64:

# %%
maxout_unit = Maxout(3, 1, pieces=2, rng=0, dtype=np.float64)
x_in = np.array([[1.0, -2.0, 0.5]])
z = (x_in @ maxout_unit.weight.data)[:, 0, 0] + maxout_unit.bias.data[:, 0]  # z_p for p = 1, 2
winner = z.argmax()
maxout_unit.zero_grad()
out = maxout_unit(x_in)
grad_x = maxout_unit.backward(np.ones_like(out))
print("z_1, z_2 =", z, "-> out =", out[0])
print("d out / d w_1 =", maxout_unit.weight.grad[0, :, 0], "| d out / d w_2 =", maxout_unit.weight.grad[1, :, 0])
assert out[0, 0] == z.max()
assert np.allclose(maxout_unit.weight.grad[winner, :, 0], x_in[0]) and not maxout_unit.weight.grad[1 - winner].any()
assert np.allclose(grad_x[0], maxout_unit.weight.data[winner, :, 0])  # d out / dx = w of the winner

errors = gradcheck(Maxout(3, 4, pieces=3, rng=1, dtype=np.float64), np.random.default_rng(0).normal(size=(5, 3)))
print("gradcheck of Maxout(3, 4, pieces=3):", {name: bool(error < 1e-7) for name, error in errors.items()})

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2.7 — maxout's backward (build)
#
# For a batch, write the winner switch as a mask: with $p^*_{nk}$ the winning piece of output $k$ for example
# $n$ and $g = \partial L / \partial out$ of shape $(N, K)$,
#
# $$\delta_{pnk} = [p = p^*_{nk}]\, g_{nk}, \qquad
# \frac{\partial L}{\partial W_p} = x^\top \delta_p, \qquad
# \frac{\partial L}{\partial b_p} = \sum_n \delta_{pn}, \qquad
# \frac{\partial L}{\partial x} = \sum_p \delta_p W_p^\top$$
#
# — the single-unit formulas above, summed over the batch. `MyMaxout` inherits nnlib's `Maxout` (its
# parameters, and a forward that caches `MaxoutCache(x, winner)`: `x` $(N, F)$ and `winner` $(1, N, K)$, the index
# $p^*$); override `backward` only. Add the parameter gradients to `self.weight.grad` $(P, F, K)$ and
# `self.bias.grad` $(P, K)$ with `+=` (gradients accumulate), and return $\partial L / \partial x$ $(N, F)$.
# `np.arange(self.pieces)[:, None, None] == winner` is the mask $(P, N, K)$.

# %%
class MyMaxout(Maxout):
    """nnlib's Maxout with your backward: the gradient goes to each output's winning piece only."""

    def backward(self, grad_out):
        """grad_out (N, K) → dL/dx (N, F); adds dL/dW (P, F, K) and dL/db (P, K) to the parameters' grads."""
        ### BEGIN SOLUTION
        x, winner = self.cache
        delta = (np.arange(self.pieces)[:, None, None] == winner) * grad_out  # (P, N, K)
        self.weight.grad += x.T @ delta
        self.bias.grad += delta.sum(axis=1)
        return (delta @ self.weight.data.transpose(0, 2, 1)).sum(axis=0)
        ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_maxout_backward(MyMaxout)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **ReLU is maxout with one piece fixed at 0.** Give a maxout layer two pieces per output: piece 1 the identity
# ($W_1 = I$, $b_1 = 0$), piece 2 the constant 0. Then $out = \max(x, 0) = \operatorname{ReLU}(x)$. Make piece 2
# $0.1\,x$ instead and you get the notes' leaky ReLU $\max(0.1x, x)$. Maxout contains both as special cases —
# and can learn other convex piecewise-linear shapes — at the price of one set of weights per piece.

# %%
relu_as_maxout = Maxout(4, 4, pieces=2, rng=0, dtype=np.float64)
relu_as_maxout.weight.data[:] = 0.0
relu_as_maxout.bias.data[:] = 0.0
relu_as_maxout.weight.data[0] = np.eye(4)                  # piece 1: x; piece 2: 0
X4 = np.random.default_rng(1).normal(size=(5, 4))
assert np.array_equal(relu_as_maxout(X4), F.relu(X4))
print("max(x, 0) == ReLU(x):", np.array_equal(relu_as_maxout(X4), F.relu(X4)))

relu_as_maxout.weight.data[1] = 0.1 * np.eye(4)            # piece 2: 0.1 x
assert np.allclose(relu_as_maxout(X4), F.leaky_relu(X4, 0.1))
print("max(x, 0.1x) == leaky ReLU(x):", np.allclose(relu_as_maxout(X4), F.leaky_relu(X4, 0.1)))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. Softmax
#
# The notes' output layer "can also use the activation function called the softmax function which is
# responsible for converting the weighted outputs into probabilities for each class". For scores
# $x = (x_1, \dots, x_n)$:
#
# $$s_i = \operatorname{softmax}(x)_i = \frac{e^{x_i}}{\sum_k e^{x_k}}, \qquad s_i > 0, \quad \sum_i s_i = 1.$$
#
# Unlike the activations above, each output depends on *every* input, so the derivative is a matrix, the
# **Jacobian** $J_{ij} = \partial s_i / \partial x_j$. With $\Sigma = \sum_k e^{x_k}$, so that
# $\partial \Sigma / \partial x_j = e^{x_j}$, and $\delta_{ij} = 1$ if $i = j$ else 0, the quotient rule gives
#
# $$\frac{\partial s_i}{\partial x_j}
# = \frac{\delta_{ij}\, e^{x_i}\, \Sigma - e^{x_i}\, e^{x_j}}{\Sigma^2}
# = \delta_{ij}\, \frac{e^{x_i}}{\Sigma} - \frac{e^{x_i}}{\Sigma} \frac{e^{x_j}}{\Sigma}
# = \delta_{ij}\, s_i - s_i s_j, \qquad \boxed{\;J = \operatorname{diag}(s) - s\, s^\top\;}$$
#
# Its diagonal, $s_i(1 - s_i)$, is the sigmoid's $a(1 - a)$ again. Backpropagation never builds $J$: it needs
# $\partial L / \partial x = J^\top g$ for the upstream gradient $g = \partial L / \partial s$, and since $J$ is
# symmetric,
#
# $$\frac{\partial L}{\partial x_j} = s_j g_j - s_j \sum_i s_i g_i = s_j \big(g_j - s \cdot g\big),$$
#
# which is what `nnlib.functional.softmax_backward(s, g)` computes. Both checked against finite differences:

# %%
scores = np.array([1.0, 2.0, 0.5, -1.0])
eps = 1e-6
s = F.softmax(scores)
J = np.diag(s) - np.outer(s, s)
J_numerical = np.column_stack([(F.softmax(scores + eps * e) - F.softmax(scores - eps * e)) / (2 * eps)
                               for e in np.eye(len(scores))])  # column j: ds / dx_j
g = np.random.default_rng(0).normal(size=len(scores))
upstream_numerical = numerical_gradient(lambda: g @ F.softmax(scores), scores)  # d(g·s)/dx
print("s =", s, "| sum =", s.sum().round(6))
print("J =\n", J)
assert relative_error(J, J_numerical) < 1e-8 and np.allclose(J, J.T)
assert relative_error(F.softmax_backward(s, g), upstream_numerical) < 1e-8
assert np.allclose(F.softmax_backward(s, g), J @ g)
print("Jacobian and softmax_backward match finite differences (relative error < 1e-08)")

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Two classes: softmax is the sigmoid.** Scores $(x, 0)$ give $s_1 = e^{x} / (e^{x} + e^{0})
# = 1 / (1 + e^{-x}) = \sigma(x)$ — that is why a binary classifier needs only one sigmoid output.

# %%
x = np.linspace(-5, 5, 11)
two_class = F.softmax(np.column_stack([x, np.zeros_like(x)]), axis=-1)[:, 0]
assert np.allclose(two_class, F.sigmoid(x))
print("softmax((x, 0))_1 == σ(x):", np.allclose(two_class, F.sigmoid(x)))

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Stability: subtract the max.** $e^{x}$ overflows float64 beyond $x \approx 709.8$, and underflows to 0
# below about $-745$. Scores of 1000 give $\infty / \infty$ = `nan`; scores of $-1000$ give $0 / 0$ = `nan`. The
# fix is free, because softmax does not change when every score is shifted by the same $c$:
#
# $$\frac{e^{x_i - c}}{\sum_k e^{x_k - c}} = \frac{e^{-c}\, e^{x_i}}{e^{-c} \sum_k e^{x_k}} = s_i.$$
#
# With $c = \max_k x_k$ every exponent is $\le 0$, so no term overflows, and the largest term is exactly
# $e^0 = 1$, so the sum lies in $[1, n]$ and never underflows to 0.

# %%
for big in [np.array([1000.0, 1001.0]), np.array([-1000.0, -1001.0])]:
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):  # let the nan appear without warnings
        naive = np.exp(big) / np.exp(big).sum()
    shifted = np.exp(big - big.max())
    stable = shifted / shifted.sum()
    print(f"x = {big}: naive {naive}, max subtracted {stable}, nnlib {F.softmax(big)}")
    assert np.isnan(naive).all() and np.allclose(stable, F.softmax(big))
    assert np.allclose(stable, F.softmax(big - big.mean()))  # shift invariance: the same as small scores

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Temperature.** Dividing the scores by a temperature $T > 0$, $\operatorname{softmax}(x / T)$, tunes how
# peaked the distribution is. As $T \to 0$, $(x_i - \max x)/T \to -\infty$ for every non-maximal score, so the
# output tends to a one-hot vector on the argmax; as $T \to \infty$ all $x_i / T \to 0$ and the output tends to
# uniform $1/n$. $T = 1$ is the plain softmax. (Language models sample with a temperature; knowledge
# distillation softens a teacher's outputs with $T > 1$.)

# %%
class_scores = np.array([2.0, 1.0, 0.1, -1.0])
for T in [0.05, 0.5, 1.0, 2.0, 100.0]:
    print(f"T = {T:6.2f}: softmax(x / T) = {F.softmax(class_scores / T)}")
assert np.allclose(F.softmax(class_scores / 0.01), np.eye(4)[class_scores.argmax()])
assert np.allclose(F.softmax(class_scores / 1e4), 0.25, atol=1e-3)


# %% tags=["nbval-ignore-output"]
def show_temperature(T=1.0):
    probs = F.softmax(class_scores / T)
    plt.figure(figsize=(5, 3))
    plt.bar([f"$x_{i + 1} = {v:g}$" for i, v in enumerate(class_scores)], probs, color="tab:blue")
    plt.ylim(0, 1)
    plt.title(f"softmax(x / T), T = {T:.2f}: max probability {probs.max():.2f}")
    plt.show()


_ = interact(show_temperature, T=FloatSlider(value=1.0, min=0.05, max=5.0, step=0.05, continuous_update=False))


# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2.8 — a numerically stable softmax
#
# Write `softmax(x)` for a batch of score rows `x` of shape $(N, C)$: the softmax of each row (`axis=-1`),
# finite even for scores like 1000 or $-1000$. Subtract each row's maximum first (`keepdims=True` keeps the
# shapes broadcastable).

# %%
def softmax(x):
    """Row-wise softmax of x (N, C) → (N, C), every row positive and summing to 1; stable for huge scores."""
    ### BEGIN SOLUTION
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_softmax(softmax)


# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2.9 (optional challenge) — softmax's backward without the Jacobian
#
# *Optional: skip it and everything below still runs.* Write `softmax_backward(s, grad_s)` for a batch of rows:
# the derivation's $\partial L / \partial x_j = s_j (g_j - s \cdot g)$, in one line, without building the
# $C \times C$ Jacobian (that costs $C^2$ per row; this costs $C$). Building `np.diag(s) - np.outer(s, s)` row by
# row is also accepted — just slower.

# %%
def softmax_backward(s, grad_s):
    """dL/dx (N, C) from s = softmax(x) (N, C) and g = dL/ds (N, C), row by row: s ⊙ (g − Σ_i g_i s_i)."""
    ### BEGIN SOLUTION
    return s * (grad_s - (grad_s * s).sum(axis=-1, keepdims=True))
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_softmax_backward(softmax_backward)


# %% [markdown] slideshow={"slide_type": "slide"}
# ## 9. All of them side by side
#
# Pick a function and see $f$ and $f'$ together; the dots on the right are finite differences of $f$. The
# slider $p$ is the slope of leaky ReLU, the $\alpha$ of ELU, or the temperature $T$ of a two-class softmax
# (the first output of $\operatorname{softmax}((x, 0) / T) = \sigma(x / T)$, whose slope at 0 is $1 / 4T$);
# the other functions ignore it. Look for the flat, saturated tails of sigmoid and tanh, the 0.25 ceiling of
# $\sigma'$, the jump of ReLU's derivative at 0, and what $\alpha$ does to ELU's derivative at 0.

# %%
def two_class_softmax(x, T):
    """First output of softmax((x, 0) / T) for every x (M,) → (M,)."""
    return F.softmax(np.column_stack([x, np.zeros_like(x)]) / T, axis=-1)[:, 0]


def two_class_softmax_prime(x, T):
    """d two_class_softmax / dx (M,): the Jacobian's first column, via softmax_backward, times d(x/T)/dx = 1/T."""
    s = F.softmax(np.column_stack([x, np.zeros_like(x)]) / T, axis=-1)
    upstream = np.tile([1.0, 0.0], (len(x), 1))  # g = d s_1 / d s
    return F.softmax_backward(s, upstream, axis=-1)[:, 0] / T


CURVES = {  # name: (f(x, p), f'(x, p), what the slider's p is for this function)
    "sigmoid": (lambda x, p: F.sigmoid(x), lambda x, p: F.sigmoid_prime(x), None),
    "tanh": (lambda x, p: F.tanh(x), lambda x, p: F.tanh_prime(x), None),
    "ReLU": (lambda x, p: F.relu(x), lambda x, p: F.relu_prime(x), None),
    "leaky ReLU": (F.leaky_relu, F.leaky_relu_prime, "slope"),
    "ELU": (F.elu, F.elu_prime, "α"),
    "softmax of (x, 0)": (two_class_softmax, two_class_softmax_prime, "T"),
}


def curve_name(name, p):
    parameter = CURVES[name][2]
    return f"{name}, {parameter} = {p:g}" if parameter else name


x_plot = np.linspace(-5, 5, 501)
away_from_kink = x_plot[x_plot != 0]
for name, (f, f_prime, _) in CURVES.items():  # the widget's curves, verified at p = 0.5
    verify(curve_name(name, 0.5), lambda x, f=f: f(x, 0.5), lambda x, d=f_prime: d(x, 0.5), away_from_kink)


# %% tags=["nbval-ignore-output"]
def show_activation(name="sigmoid", p=0.5):
    f, f_prime, _ = CURVES[name]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")
    left.plot(x_plot, f(x_plot, p), color="tab:blue")
    left.set_title(f"{curve_name(name, p)}: f(x)")
    right.plot(x_plot, f_prime(x_plot, p), color="tab:orange", label="f'(x), derived")
    right.plot(x_plot[::25], np.gradient(f(x_plot, p), x_plot)[::25], "k.", label="finite differences")
    right.set_title(f"f'(x): max {f_prime(x_plot, p).max():.3f}")
    right.legend()
    for ax in (left, right):
        ax.axhline(0, color="gray", lw=0.5)
        ax.axvline(0, color="gray", lw=0.5)
        ax.set_xlabel("x (net)")
    plt.show()


_ = interact(show_activation, name=Dropdown(options=list(CURVES), value="sigmoid"),
             p=FloatSlider(value=0.5, min=0.05, max=3.0, step=0.05, continuous_update=False))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 10. Different boundaries for different activation functions
#
# The notes show "different boundary based on activation functions". Here is that experiment: the *same*
# 2-16-16-3 network, the same seeds, the same 100 epochs of Adam on the spirals — only the activation after
# each hidden layer changes. For maxout, each hidden `Linear` + activation becomes a `Maxout` layer with
# 2 pieces (twice the weights).

# %%
def make_maxout_mlp():
    """The 2-16-16-3 shape with Maxout(2 pieces) hidden layers instead of Linear + activation."""
    return Sequential(Maxout(2, 16, rng=0, dtype=np.float64), Maxout(16, 16, rng=1, dtype=np.float64),
                      Linear(16, 3, rng=2, dtype=np.float64))


builders = {"sigmoid": lambda: make_mlp(Sigmoid), "tanh": lambda: make_mlp(Tanh), "ReLU": lambda: make_mlp(ReLU),
            "leaky ReLU 0.1": lambda: make_mlp(lambda: LeakyReLU(0.1)), "ELU": lambda: make_mlp(ELU),
            "maxout": make_maxout_mlp}
trained = {"none (linear)": linear_models["2-16-16-3, no activation"]}  # trained in section 1
trained |= {name: train(build()) for name, build in builders.items()}
accuracies = {name: spiral_accuracy(model) for name, model in trained.items()}
for name, acc in accuracies.items():
    print(f"{name:<15} training accuracy {acc:.3f}")
assert accuracies.pop("none (linear)") < 0.6 and min(accuracies.values()) > 0.9

# %%
fig, axes = plt.subplots(2, 4, figsize=(16, 8), layout="constrained")
for ax, (name, model) in zip(axes.flat, trained.items(), strict=False):  # 7 networks, 8 panels
    plot_decision_boundary(model, X_spiral, y_spiral, ax=ax, title=name)
last = axes.flat[-1]
last.barh(list(trained), [spiral_accuracy(model) for model in trained.values()], color="tab:gray")
last.set(xlim=(0, 1), title="training accuracy", xlabel="accuracy")
last.invert_yaxis()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["numbers-checked"]
# What to see:
#
# * **none**: straight edges — a linear classifier, as section 1 proved.
# * **ReLU, leaky ReLU, maxout**: boundaries made of straight segments with corners. These networks are
#   piecewise linear (each unit is on one linear piece or another), so the plane is cut into polygons.
# * **sigmoid, tanh, ELU**: smooth, curved boundaries.
# * **sigmoid** learns slowest with the same budget. Near 0 it is almost a straight line of slope 1/4 around
#   1/2, so the network starts out nearly linear; its outputs are all positive rather than centred on 0; and
#   its tails saturate. tanh, whose slope at 0 is 1, has none of the first two problems. What this experiment
#   does *not* show is how the gap changes with a longer budget or a deeper network: that would need its own
#   runs, and on these spirals the gap need not change monotonically with depth. The mechanism that does grow
#   with depth — a product of one slope of at most 1/4 per sigmoid layer (section 4), the vanishing gradient —
#   is measured in lessons 07 and 08.
#
# ## 11. Which activation for which layer
#
# | where | activation | why |
# |---|---|---|
# | hidden layers (default) | **ReLU** | cheap, no saturation for $x > 0$, gradient exactly 1 there |
# | hidden layers, if units die | **leaky ReLU**, **ELU** | non-zero slope for $x < 0$; ELU is smooth, mean nearer 0 |
# | hidden layers, learned shape | **maxout** | contains ReLU and leaky ReLU; costs one weight set per piece |
# | hidden layers, bounded | **tanh** | zero-centred, in $(-1, 1)$; used in RNN/LSTM cells |
# | gates (LSTM/GRU), binary output | **sigmoid** | a value in $(0, 1)$: a probability or an "open" fraction |
# | output, one of $C$ classes | **softmax** (with cross-entropy, from the logits) | probabilities summing to 1 |
# | output, regression | **none** (identity) | any real value |
#
# ## Summary
#
# * Without a non-linear activation, any stack of linear layers is one linear map
#   ($W = W_1 \cdots W_L$): a linear classifier, whatever its depth.
# * **Sigmoid** $\sigma(net) = 1/(1 + e^{-net})$, with $\sigma' = a(1 - a) \le 1/4$. **tanh** $= 2\sigma(2x) - 1$,
#   with $\tanh' = 1 - \tanh^2 \le 1$. Both saturate; their small derivatives multiply across layers
#   ($0.25^{10} \approx 9.5 \cdot 10^{-7}$): the vanishing gradient.
# * **ReLU** $\max(0, x)$: derivative 1 or 0 (nnlib: 0 at $x = 0$); a unit with negative net on all inputs
#   dies. **Leaky ReLU** $\max(0.1x, x)$ keeps slope 0.1 for $x < 0$ (nnlib: the slope at 0).
#   **ELU**: $\alpha(e^x - 1)$ for $x \le 0$, with $\operatorname{ELU}' = \operatorname{ELU} + \alpha$ there.
# * **Maxout** $\max_p (w_p^\top x + b_p)$ sends the gradient only to the winning piece; ReLU and leaky ReLU
#   are maxout with a piece fixed at $0$ or $0.1x$.
# * **Softmax** turns scores into probabilities; its Jacobian is $\operatorname{diag}(s) - s s^\top$. Compute it
#   with the max subtracted, which changes nothing mathematically and prevents overflow; $\operatorname{softmax}(x/T)$
#   sharpens ($T < 1$) or flattens ($T > 1$) the distribution.
# * The activation shapes the decision boundary: polygons for the piecewise-linear family, smooth curves for
#   sigmoid, tanh and ELU.
# * As a layer, an activation's forward keeps its input and output in `self.cache`; its backward multiplies
#   `grad_out` by the derivative, written with the cached output where it can: $a(1 - a)$,
#   $\operatorname{ELU} + \alpha$. Maxout's backward sends each gradient to the winning piece only.
#
# ## Review questions
#
# 1. Why would a 10-layer network without activation functions be no more powerful than a single layer?
#    Write the single layer's $W$ and $b$ for three layers.
# 2. Derive $\partial a / \partial net = a(1 - a)$ for the sigmoid, step by step. Why is the form in $a$
#    convenient for backpropagation?
# 3. Show that $\sigma' \le 0.25$. Why does this bound matter for a deep network of sigmoid units? What is
#    the largest possible product of the $\sigma'$ factors through 10 layers?
# 4. Show that $\tanh(x) = 2\sigma(2x) - 1$ and that $\tanh' = 1 - \tanh^2$. Why is tanh often preferred to
#    the sigmoid in hidden layers?
# 5. What is the dying ReLU problem? How do leaky ReLU and ELU avoid it? What does nnlib return for the
#    derivative of ReLU and of leaky ReLU at exactly 0, and why is any choice in between "correct"?
# 6. Through which weights of a maxout unit does the gradient flow? How is ReLU a special case of maxout?
# 7. What does softmax output? Derive its Jacobian. Why subtract the maximum score before exponentiating, and
#    why does that not change the result?
# 8. What does a softmax temperature $T \to 0$ do? And $T \to \infty$?
# 9. In `MySigmoid.backward`, why multiply by `grad_out`? What goes wrong if the layer keeps its output in
#    `self.out` instead of `self.cache`, and the same instance is used for two hidden layers?
# 10. Which activation would you put in the hidden layers, and which in the output layer, of a network that
#    classifies digits into 10 classes? That predicts a house price? That answers yes/no?
