# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # Lesson 03 — Backpropagation by hand
#
# A network learns by changing its weights so that its error shrinks. **Backpropagation** finds, for every
# weight, how much it contributes to the final error — the gradient — and gradient descent then moves each
# weight a small step against it. In the words of the slides, we "improve the final choice (output) by
# correcting every small decision that leads to it".
#
# This lesson does backpropagation by hand, number by number, on the small 2-2-2 network of the slides (the
# classic worked example by Matt Mazur), checks every number against the published ones (and shows the one the
# source got wrong), and then turns the
# same arithmetic into the general **δ rules** of the notes, their matrix form, nnlib's layers, and a
# computational graph whose every node you can step through.
#
# ## Learning goals
#
# By the end of this lesson you can
#
# 1. compute the **forward pass** of a small network by hand: every $net$, every $out$, and $E_{total}$;
# 2. apply the **chain rule** factor by factor to get $\partial E_{total} / \partial w_5$ for an output weight,
#    and the update $w_5^+ = w_5 - \eta\, \partial E_{total} / \partial w_5$;
# 3. do the same for a **hidden** weight, where $\partial E_{total} / \partial out_{h1}$ sums over every output
#    the neuron feeds, and explain why all updates of one step use the **old** weights;
# 4. state the notes' **δ rules** $\Delta w_{jk} = \varepsilon\, \delta_k a_j$ and
#    $\Delta w_{ji} = \varepsilon\, \delta_j a_i$ with their sign convention $\delta = -\partial E / \partial net$,
#    and write them as matrix products for a batch;
# 5. recognise these formulas in nnlib's `Linear`, `Sigmoid` and `SquaredError`, and in a **computational
#    graph**: backpropagation is the chain rule applied node by node, from the output back to the inputs;
# 6. **build** your own `Linear` layer — forward, backward, gradients accumulated with `+=` — and train the
#    2-2-2 network with it to the published weights;
# 7. train the network, reproduce the published error after 10,000 steps, and see what the learning rate does.

# %%
import time
from typing import NamedTuple

import matplotlib.pyplot as plt
import numpy as np
from ipywidgets import FloatLogSlider, IntSlider, interact

from nnlib import (
    SGD,
    Linear,
    Module,
    Parameter,
    Sequential,
    Sigmoid,
    SquaredError,
    check_derivative,
    numerical_gradient,
    relative_error,
)
from nnlib.autograd import Value
from nnlib.exercises import (
    check_dE_dw1,
    check_dE_dw5,
    check_linear_backward,
    check_linear_forward,
    check_mlp_backprop,
    check_output_delta,
    check_squared_error_grad,
    check_update_all,
)
from nnlib.functional import sigmoid, sigmoid_prime
from nnlib.training import fit
from nnlib.viz import draw_222_network, draw_graph, step_through_graph

np.set_printoptions(precision=9, suppress=True)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Backpropagation: two passes and the chain rule
#
# The key steps, as the notes list them:
#
# 1. take a batch of training data and run the **forward pass** (forward propagation): the inputs flow layer by
#    layer to the output, and we compute the **loss** (the error);
# 2. run the **backward pass** (backward propagation): the error flows back, layer by layer, giving the
#    gradient of the loss with respect to each weight;
# 3. **use the gradients** to update the weights: $w \leftarrow w - \eta\, \dfrac{\partial E}{\partial w}$.
#
# Two tools from calculus do the work. A **partial derivative** $\partial E / \partial w$ says how much the error
# changes when one single weight changes, all others held fixed. The **chain rule** differentiates a function of
# a function — and in a network, each layer's output is a function of the previous layer's output:
#
# $$\frac{\partial z}{\partial x} = \frac{\partial z}{\partial y} \cdot \frac{\partial y}{\partial x}.$$
#
# A first check of the chain rule on one neuron, $z = \sigma(y)$ with $y = 3x + 1$: it predicts
# $dz/dx = \sigma'(y) \cdot 3$. Finite differences agree:

# %%
x = np.linspace(-2, 2, 9)
chain_rule_error = check_derivative(lambda x: sigmoid(3 * x + 1), lambda x: sigmoid_prime(3 * x + 1) * 3, x)
print("chain rule = finite differences (relative error < 1e-8):", chain_rule_error < 1e-8)
assert chain_rule_error < 1e-8

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. The 2-2-2 network of the slides
#
# Two inputs, two hidden neurons, two outputs, every neuron a sigmoid $out = \sigma(net) = 1 / (1 + e^{-net})$:
#
# $$\begin{aligned}
# net_{h1} &= w_1 i_1 + w_2 i_2 + b_1 \cdot 1, & net_{h2} &= w_3 i_1 + w_4 i_2 + b_1 \cdot 1,\\
# net_{o1} &= w_5\, out_{h1} + w_6\, out_{h2} + b_2 \cdot 1, &
# net_{o2} &= w_7\, out_{h1} + w_8\, out_{h2} + b_2 \cdot 1,
# \end{aligned}$$
#
# so $w_1$ goes from $i_1$ to $h_1$, $w_2$ from $i_2$ to $h_1$, $w_3$ from $i_1$ to $h_2$, $w_4$ from $i_2$ to $h_2$,
# and likewise $w_5$: $h_1 \to o_1$, $w_6$: $h_2 \to o_1$, $w_7$: $h_1 \to o_2$, $w_8$: $h_2 \to o_2$. Note that the
# two hidden neurons **share** one bias $b_1$, and the two outputs share $b_2$. The training example has inputs
# $i_1 = 0.05$, $i_2 = 0.10$ and targets $t_1 = 0.01$, $t_2 = 0.99$; the learning rate is $\eta = 0.5$.

# %%
i1, i2 = 0.05, 0.10                                   # the inputs
t1, t2 = 0.01, 0.99                                   # the targets
w1, w2, w3, w4, b1 = 0.15, 0.20, 0.25, 0.30, 0.35     # input -> hidden; b1 is shared by h1 and h2
w5, w6, w7, w8, b2 = 0.40, 0.45, 0.50, 0.55, 0.60     # hidden -> output; b2 is shared by o1 and o2
eta = 0.5                                             # the learning rate η
PARAMS = dict(w1=w1, w2=w2, w3=w3, w4=w4, b1=b1, w5=w5, w6=w6, w7=w7, w8=w8, b2=b2)

# %% jupyter={"source_hidden": true}
draw_222_network(PARAMS)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Every number below is printed to 9 decimals, and the ones the worked example publishes are checked against it
# to the published digits:

# %%
PUBLISHED = {"out_h1": "0.593269992", "out_o1": "0.75136507", "E_total": "0.298371109",
             "dE/dw5": "0.082167041", "w5+": "0.35891648", "w6+": "0.408666186", "w7+": "0.511301270",
             "w8+": "0.561370121", "w1+": "0.149780716", "w2+": "0.19956143", "w3+": "0.24975114",
             "w4+": "0.29950229"}


def report(name, value):
    """Print ``value`` to 9 decimals; if the worked example publishes it, assert agreement to the published digits."""
    line = f"{name:>16} = {value:12.9f}"
    if name in PUBLISHED:
        published = PUBLISHED[name]
        decimals = len(published.split(".")[1])
        assert abs(value - float(published)) <= 0.5 * 10**-decimals, f"{name} = {value}, published {published}"
        line += f"   ✓ published {published}"
    print(line)


# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. The forward pass
#
# Feed the inputs forward, one layer at a time. The hidden layer:
#
# $$net_{h1} = w_1 i_1 + w_2 i_2 + b_1 \cdot 1 = 0.15 \cdot 0.05 + 0.2 \cdot 0.1 + 0.35 = 0.3775,
# \qquad out_{h1} = \frac{1}{1 + e^{-net_{h1}}} = \frac{1}{1 + e^{-0.3775}} = 0.593269992,$$
#
# and the same for $h_2$. The outputs of the hidden layer are the inputs of the output layer:
#
# $$net_{o1} = w_5\, out_{h1} + w_6\, out_{h2} + b_2 \cdot 1 = 1.105905967, \qquad
# out_{o1} = \sigma(net_{o1}) = 0.75136507,$$
#
# and the same for $o_2$. The error is the squared error summed over the outputs, as in the slides and the notes:
#
# $$E_{total} = \sum \tfrac{1}{2}(target - output)^2 = E_{o1} + E_{o2}, \qquad
# E_{o1} = \tfrac{1}{2}(t_1 - out_{o1})^2.$$
#
# The factor $\frac{1}{2}$ cancels the 2 of the derivative later on.

# %%
net_h1 = w1 * i1 + w2 * i2 + b1 * 1
net_h2 = w3 * i1 + w4 * i2 + b1 * 1
out_h1, out_h2 = sigmoid(net_h1), sigmoid(net_h2)
net_o1 = w5 * out_h1 + w6 * out_h2 + b2 * 1
net_o2 = w7 * out_h1 + w8 * out_h2 + b2 * 1
out_o1, out_o2 = sigmoid(net_o1), sigmoid(net_o2)
E_o1, E_o2 = 0.5 * (t1 - out_o1) ** 2, 0.5 * (t2 - out_o2) ** 2
E_total = E_o1 + E_o2

for name, value in [("net_h1", net_h1), ("out_h1", out_h1), ("net_h2", net_h2), ("out_h2", out_h2),
                    ("net_o1", net_o1), ("out_o1", out_o1), ("net_o2", net_o2), ("out_o2", out_o2),
                    ("E_o1", E_o1), ("E_o2", E_o2), ("E_total", E_total)]:
    report(name, value)

# %% [markdown] slideshow={"slide_type": "subslide"}
# The network answers $(0.751, 0.773)$ where we want $(0.01, 0.99)$: far off, hence the error $0.298$.
#
# To check every gradient below we also need a **referee** that knows no calculus: the same forward pass as a
# function of all ten parameters, differentiated by centred finite differences
# ($\partial E / \partial p \approx [E(p + \epsilon) - E(p - \epsilon)] / 2\epsilon$, `nnlib.numerical_gradient`).

# %%
def total_error(p, inputs=(i1, i2), targets=(t1, t2)):
    """E_total of the 2-2-2 network with parameters ``p`` (a dict like PARAMS), straight from the slides."""
    (x1, x2), (y1, y2) = inputs, targets
    out_h1 = sigmoid(p["w1"] * x1 + p["w2"] * x2 + p["b1"])
    out_h2 = sigmoid(p["w3"] * x1 + p["w4"] * x2 + p["b1"])
    out_o1 = sigmoid(p["w5"] * out_h1 + p["w6"] * out_h2 + p["b2"])
    out_o2 = sigmoid(p["w7"] * out_h1 + p["w8"] * out_h2 + p["b2"])
    return 0.5 * (y1 - out_o1) ** 2 + 0.5 * (y2 - out_o2) ** 2


theta = np.array(list(PARAMS.values()))
NUMERICAL = dict(zip(PARAMS, numerical_gradient(lambda: total_error(dict(zip(PARAMS, theta, strict=True))), theta),
                     strict=True))
assert np.isclose(total_error(PARAMS), E_total)
print({name: round(float(g), 6) for name, g in NUMERICAL.items()})

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. An output weight: $\partial E_{total} / \partial w_5$ by the chain rule
#
# $E_{total}$ does not contain $w_5$ directly: $w_5$ changes $net_{o1}$, which changes $out_{o1}$, which changes
# $E_{total}$. The chain rule multiplies the three links:
#
# $$\frac{\partial E_{total}}{\partial w_5} = \frac{\partial E_{total}}{\partial out_{o1}} \cdot
# \frac{\partial out_{o1}}{\partial net_{o1}} \cdot \frac{\partial net_{o1}}{\partial w_5}.$$
#
# Factor by factor:
#
# * $E_{total} = \frac{1}{2}(t_1 - out_{o1})^2 + \frac{1}{2}(t_2 - out_{o2})^2$, and only the first term contains
#   $out_{o1}$: $\;\dfrac{\partial E_{total}}{\partial out_{o1}} = 2 \cdot \tfrac{1}{2}(t_1 - out_{o1}) \cdot (-1)
#   = -(t_1 - out_{o1}) = -(0.01 - 0.75136507) = 0.74136507.$
# * The sigmoid's derivative, written with its output (derived in lesson 02, and in the notes:
#   $\frac{d}{d\,net}(1 + e^{-net})^{-1} = \frac{e^{-net}}{(1 + e^{-net})^2} = out\,(1 - out)$):
#   $\;\dfrac{\partial out_{o1}}{\partial net_{o1}} = out_{o1}(1 - out_{o1})
#   = 0.75136507 \cdot 0.24863493 = 0.186815602.$
# * $net_{o1} = w_5\, out_{h1} + w_6\, out_{h2} + b_2$ is linear in $w_5$:
#   $\;\dfrac{\partial net_{o1}}{\partial w_5} = out_{h1} = 0.593269992.$
#
# Multiplying, $\partial E_{total} / \partial w_5 = 0.74136507 \cdot 0.186815602 \cdot 0.593269992 = 0.082167041$:
# positive, so the error *grows* with $w_5$, and gradient descent *lowers* $w_5$:
#
# $$w_5^+ = w_5 - \eta \cdot \frac{\partial E_{total}}{\partial w_5} = 0.4 - 0.5 \cdot 0.082167041 = 0.35891648.$$

# %%
grad, new = {}, {}   # the hand-derived ∂E_total/∂p and the updated parameters p⁺, filled in as we go

dE_dout_o1 = -(t1 - out_o1)
dout_o1_dnet_o1 = out_o1 * (1 - out_o1)
dnet_o1_dw5 = out_h1
grad["w5"] = dE_dout_o1 * dout_o1_dnet_o1 * dnet_o1_dw5
new["w5"] = w5 - eta * grad["w5"]

for name, value in [("dE/dout_o1", dE_dout_o1), ("dout_o1/dnet_o1", dout_o1_dnet_o1), ("dnet_o1/dw5", dnet_o1_dw5),
                    ("dE/dw5", grad["w5"]), ("w5+", new["w5"])]:
    report(name, value)
assert relative_error(grad["w5"], NUMERICAL["w5"]) < 1e-8
print(f"finite differences: ∂E/∂w5 ≈ {NUMERICAL['w5']:.9f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3.1 — $\partial E_{total} / \partial w_5$ for any network
#
# Write `dE_dw5(out_h1, out_o1, target_o1)`: the gradient of $E_{total}$ with respect to $w_5$, from the forward
# values it needs. The check runs it on the slides' network and on random 2-2-2 networks, against nnlib's backward.

# %%
def dE_dw5(out_h1, out_o1, target_o1):
    """∂E_total/∂w5 (a float) of a 2-2-2 sigmoid network with E = Σ ½(t − out)²."""
    ### BEGIN SOLUTION
    return -(target_o1 - out_o1) * out_o1 * (1 - out_o1) * out_h1
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_dE_dw5(dE_dw5)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. The output deltas, and $w_6$, $w_7$, $w_8$
#
# The first two factors of the chain only depend on the output neuron, not on the weight: together they are
# $\partial E_{total} / \partial net_{o1}$. The notes give its negative a name, the **delta** of the neuron:
#
# $$\delta_{o1} = -\frac{\partial E_{total}}{\partial net_{o1}} = (t_1 - out_{o1})\, out_{o1}(1 - out_{o1}),
# \qquad \delta_{o2} = (t_2 - out_{o2})\, out_{o2}(1 - out_{o2}).$$
#
# Every weight into $o_1$ then has the gradient $-\delta_{o1}$ times what the weight multiplies:
#
# $$\frac{\partial E}{\partial w_5} = -\delta_{o1}\, out_{h1}, \quad
# \frac{\partial E}{\partial w_6} = -\delta_{o1}\, out_{h2}, \quad
# \frac{\partial E}{\partial w_7} = -\delta_{o2}\, out_{h1}, \quad
# \frac{\partial E}{\partial w_8} = -\delta_{o2}\, out_{h2}.$$
#
# Mind the sign: $\delta$ is **minus** the gradient, so the update $w^+ = w - \eta\, \partial E / \partial w$ reads
# $w^+ = w + \eta\, \delta\, out$ — the notes' $\Delta w = +\varepsilon\, \delta\, a$.

# %%
delta_o1 = (t1 - out_o1) * out_o1 * (1 - out_o1)
delta_o2 = (t2 - out_o2) * out_o2 * (1 - out_o2)
assert np.isclose(grad["w5"], -delta_o1 * out_h1)
grad |= {"w6": -delta_o1 * out_h2, "w7": -delta_o2 * out_h1, "w8": -delta_o2 * out_h2}
for name in ["w6", "w7", "w8"]:
    new[name] = PARAMS[name] - eta * grad[name]
    assert relative_error(grad[name], NUMERICAL[name]) < 1e-8

for name, value in [("delta_o1", delta_o1), ("delta_o2", delta_o2), ("w6+", new["w6"]), ("w7+", new["w7"]),
                    ("w8+", new["w8"])]:
    report(name, value)

# %% [markdown] slideshow={"slide_type": "subslide"}
# $\delta_{o2} > 0$: output $o_2$ is too *low* ($0.773 < 0.99$), so $w_7$ and $w_8$ grow.
#
# ### Exercise 3.2 — the output deltas
#
# Write `output_delta(out, target)`: $\delta_k = (t_k - a_k)\, a_k (1 - a_k)$ in the notes' sign convention, for a
# vector of outputs (shape $(K,)$) or a batch (shape $(N, K)$) — one line of NumPy, elementwise.

# %%
def output_delta(out, target):
    """δ = (target − out)·out·(1 − out) = −∂E/∂net for sigmoid outputs; out, target (K,) or (N, K) → same shape."""
    ### BEGIN SOLUTION
    return (target - out) * out * (1 - out)
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_output_delta(output_delta)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. A hidden weight: $\partial E_{total} / \partial w_1$
#
# Go one layer further back. $w_1$ changes $net_{h1}$, hence $out_{h1}$ — and $out_{h1}$ feeds **both** outputs:
#
# $$\frac{\partial E_{total}}{\partial w_1} = \frac{\partial E_{total}}{\partial out_{h1}} \cdot
# \frac{\partial out_{h1}}{\partial net_{h1}} \cdot \frac{\partial net_{h1}}{\partial w_1},
# \qquad \frac{\partial E_{total}}{\partial out_{h1}} = \frac{\partial E_{o1}}{\partial out_{h1}} +
# \frac{\partial E_{o2}}{\partial out_{h1}}.$$
#
# Each term of the sum is a chain through one output neuron, and its first two links are that output's
# $-\delta$:
#
# $$\frac{\partial E_{o1}}{\partial out_{h1}}
# = \frac{\partial E_{o1}}{\partial net_{o1}} \cdot \frac{\partial net_{o1}}{\partial out_{h1}}
# = -\delta_{o1} \cdot w_5 = 0.138498562 \cdot 0.40 = 0.055399425, \qquad
# \frac{\partial E_{o2}}{\partial out_{h1}} = -\delta_{o2} \cdot w_7 = -0.019049118,$$
#
# so $\partial E_{total} / \partial out_{h1} = 0.036350306$. The two other links are the sigmoid's derivative and
# the input that $w_1$ multiplies:
#
# $$\frac{\partial out_{h1}}{\partial net_{h1}} = out_{h1}(1 - out_{h1}) = 0.241300709, \qquad
# \frac{\partial net_{h1}}{\partial w_1} = i_1 = 0.05,$$
#
# $$\frac{\partial E_{total}}{\partial w_1} = 0.036350306 \cdot 0.241300709 \cdot 0.05 = 0.000438568, \qquad
# w_1^+ = 0.15 - 0.5 \cdot 0.000438568 = 0.149780716.$$
#
# **Old weights.** $w_5$ and $w_7$ above are the *old* $0.40$ and $0.50$, not $w_5^+$ and $w_7^+$: a gradient is
# the slope of $E$ at one point — the current weights — so every partial derivative of one step is taken there,
# and only then do all weights move together.

# %%
dEo1_dout_h1 = -delta_o1 * w5
dEo2_dout_h1 = -delta_o2 * w7
dE_dout_h1 = dEo1_dout_h1 + dEo2_dout_h1
dout_h1_dnet_h1 = out_h1 * (1 - out_h1)
grad["w1"] = dE_dout_h1 * dout_h1_dnet_h1 * i1
new["w1"] = w1 - eta * grad["w1"]

for name, value in [("dE_o1/dout_h1", dEo1_dout_h1), ("dE_o2/dout_h1", dEo2_dout_h1), ("dE/dout_h1", dE_dout_h1),
                    ("dout_h1/dnet_h1", dout_h1_dnet_h1), ("dE/dw1", grad["w1"]), ("w1+", new["w1"])]:
    report(name, value)
assert relative_error(grad["w1"], NUMERICAL["w1"]) < 1e-7

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3.3 — $\partial E_{total} / \partial w_1$ for any network
#
# Write `dE_dw1(i1, out_h1, deltas_o, w5, w7)`, where `deltas_o` holds the two output deltas
# $(\delta_{o1}, \delta_{o2})$ in the notes' sign convention.

# %%
def dE_dw1(i1, out_h1, deltas_o, w5, w7):
    """∂E_total/∂w1 (a float): −(δ_o1·w5 + δ_o2·w7) · out_h1(1 − out_h1) · i1, with the OLD w5 and w7."""
    ### BEGIN SOLUTION
    delta_o1, delta_o2 = deltas_o
    return -(delta_o1 * w5 + delta_o2 * w7) * out_h1 * (1 - out_h1) * i1
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_dE_dw1(dE_dw1)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The other hidden weights, and the biases
#
# The hidden neurons get deltas too, $\delta_{h} = -\partial E_{total} / \partial net_{h}$:
#
# $$\delta_{h1} = (\delta_{o1} w_5 + \delta_{o2} w_7)\, out_{h1}(1 - out_{h1}), \qquad
# \delta_{h2} = (\delta_{o1} w_6 + \delta_{o2} w_8)\, out_{h2}(1 - out_{h2}),$$
#
# ($h_2$ reaches $o_1$ through $w_6$ and $o_2$ through $w_8$), and each weight's gradient is again $-\delta$ times
# what it multiplies: $\partial E / \partial w_2 = -\delta_{h1} i_2$, $\partial E / \partial w_3 = -\delta_{h2} i_1$,
# $\partial E / \partial w_4 = -\delta_{h2} i_2$.
#
# **Biases.** A bias multiplies the constant input 1, so its gradient is $-\delta$ of its neuron. A *shared* bias
# enters two neurons, so its gradient is the sum: $\partial E / \partial b_1 = -(\delta_{h1} + \delta_{h2})$ and
# $\partial E / \partial b_2 = -(\delta_{o1} + \delta_{o2})$. The published worked example **does not update the
# biases**; we compute their gradients anyway and keep $b_1$, $b_2$ fixed in this first step.

# %%
delta_h1 = (delta_o1 * w5 + delta_o2 * w7) * out_h1 * (1 - out_h1)
delta_h2 = (delta_o1 * w6 + delta_o2 * w8) * out_h2 * (1 - out_h2)
grad |= {"w2": -delta_h1 * i2, "w3": -delta_h2 * i1, "w4": -delta_h2 * i2,
         "b1": -(delta_h1 + delta_h2), "b2": -(delta_o1 + delta_o2)}
new |= {name: PARAMS[name] - eta * grad[name] for name in ["w2", "w3", "w4"]}

for name, value in [("delta_h1", delta_h1), ("delta_h2", delta_h2), ("w2+", new["w2"]), ("w3+", new["w3"]),
                    ("w4+", new["w4"]), ("dE/db1", grad["b1"]), ("dE/db2", grad["b2"])]:
    report(name, value)
assert np.isclose(grad["w1"], -delta_h1 * i1)
errors = {name: relative_error(grad[name], NUMERICAL[name]) for name in PARAMS}
print("all ten hand-derived gradients agree with finite differences:", max(errors.values()) < 1e-7)
assert max(errors.values()) < 1e-7

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. One full step of backpropagation
#
# All eight weights have moved; the error, recomputed with the new weights (biases unchanged, as published):

# %%
E_after = total_error({**PARAMS, **new})
print(f"E_total before: {E_total:.9f}, after one step: {E_after:.9f}")
assert E_after < E_total

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["numbers-checked"]
# A modest drop, $0.298 \to 0.291$: one step of size $\eta = 0.5$ down a gentle slope. Section 12 repeats it
# 10,000 times.
#
# This is the one published number the lesson does **not** reproduce, and so it is not in `PUBLISHED`: the worked
# example gives $0.291027924$ for the error after the first step. Its own published weights $w_1^+ \dots w_8^+$ give
# $0.291027774$, like ours — the published value is off by $1.5 \cdot 10^{-7}$, in the seventh decimal, a slip in
# the source:

# %%
PUBLISHED_ERROR_AFTER_ONE_STEP = 0.291027924
weights_as_published = {name: float(PUBLISHED[f"{name}+"]) for name in ["w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8"]}
E_published_weights = total_error({**PARAMS, **weights_as_published})
print(f"error after one step: ours {E_after:.9f}, with the published weights {E_published_weights:.9f}, "
      f"published {PUBLISHED_ERROR_AFTER_ONE_STEP:.9f} (off by {PUBLISHED_ERROR_AFTER_ONE_STEP - E_after:.1e})")
assert round(E_after, 9) == round(E_published_weights, 9) == 0.291027774
assert abs(PUBLISHED_ERROR_AFTER_ONE_STEP - E_after) > 1e-7
#
# ### Exercise 3.4 — one step, every parameter
#
# Write `update_all(params, eta, inputs, targets)`: one full step of backpropagation on the 2-2-2 network.
# `params` is a dict like `PARAMS`; return a **new** dict with the same ten keys, every parameter — the biases
# included this time, with their shared-bias gradients — moved by $-\eta\, \partial E / \partial p$, all
# gradients computed with the old parameters.

# %%
def update_all(params, eta, inputs=(0.05, 0.10), targets=(0.01, 0.99)):
    """One gradient-descent step of the 2-2-2 network.

    params: dict w1..w8, b1, b2 (floats); eta: the learning rate; inputs (i1, i2); targets (t1, t2).
    Returns a new dict with the same keys: p − eta · ∂E/∂p for every parameter, all gradients at the old params.
    """
    ### BEGIN SOLUTION
    p, (x1, x2), (y1, y2) = params, inputs, targets
    h1 = sigmoid(p["w1"] * x1 + p["w2"] * x2 + p["b1"])
    h2 = sigmoid(p["w3"] * x1 + p["w4"] * x2 + p["b1"])
    o1 = sigmoid(p["w5"] * h1 + p["w6"] * h2 + p["b2"])
    o2 = sigmoid(p["w7"] * h1 + p["w8"] * h2 + p["b2"])
    d_o1, d_o2 = (y1 - o1) * o1 * (1 - o1), (y2 - o2) * o2 * (1 - o2)
    d_h1 = (d_o1 * p["w5"] + d_o2 * p["w7"]) * h1 * (1 - h1)
    d_h2 = (d_o1 * p["w6"] + d_o2 * p["w8"]) * h2 * (1 - h2)
    delta_times_input = {"w1": d_h1 * x1, "w2": d_h1 * x2, "w3": d_h2 * x1, "w4": d_h2 * x2, "b1": d_h1 + d_h2,
                         "w5": d_o1 * h1, "w6": d_o1 * h2, "w7": d_o2 * h1, "w8": d_o2 * h2, "b2": d_o1 + d_o2}
    return {name: value + eta * delta_times_input[name] for name, value in p.items()}  # Δp = +η δ a
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_update_all(update_all)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. The δ rules of the notes
#
# The notes derive the same two rules for any layered sigmoid network. Write $a$ for an activation ($out$),
# $\varepsilon$ for the learning rate, $k$ for an output neuron, $j$ for a hidden one and $i$ for an input, and
# $w_{jk}$ for the weight from $j$ to $k$, so that $net_k = \sum_j w_{jk} a_j$ (a bias is a weight from a constant
# $a = 1$). The error and the gradient-descent rule:
#
# $$E = \frac{1}{2}\sum_k (t_k - a_k)^2, \qquad \Delta w_{jk} = -\varepsilon \frac{\partial E}{\partial w_{jk}}.$$
#
# **Hidden → output.** The chain rule, with the three factors computed as in section 4:
#
# $$\frac{\partial E}{\partial w_{jk}} = \frac{\partial E}{\partial a_k} \cdot \frac{\partial a_k}{\partial net_k} \cdot
# \frac{\partial net_k}{\partial w_{jk}} = -(t_k - a_k) \cdot a_k(1 - a_k) \cdot a_j
# \quad\Longrightarrow\quad \Delta w_{jk} = \varepsilon\, \delta_k\, a_j,
# \qquad \delta_k = (t_k - a_k)\, a_k (1 - a_k).$$
#
# **Input → hidden.** $a_j$ feeds every output $k$, so the chain sums over $k$ (section 6), with
# $\partial net_k / \partial a_j = w_{kj}$ (the same weight as $w_{jk}$, read from the output's side):
#
# $$\frac{\partial E}{\partial w_{ji}} = \sum_k \frac{\partial E}{\partial a_k} \frac{\partial a_k}{\partial net_k}
# \frac{\partial net_k}{\partial a_j} \frac{\partial a_j}{\partial net_j} \frac{\partial net_j}{\partial w_{ji}}
# = -\sum_k \delta_k\, w_{kj} \cdot a_j(1 - a_j) \cdot a_i
# \quad\Longrightarrow\quad \Delta w_{ji} = \varepsilon\, \delta_j\, a_i,
# \qquad \delta_j = \sum_k \delta_k w_{kj}\, a_j(1 - a_j).$$
#
# Both rules have one shape: **change = learning rate × delta of the neuron the weight enters × activation the
# weight multiplies**. The sign convention is the point to remember: $\delta = -\partial E / \partial net$, so
# $\Delta w = -\varepsilon\, \partial E / \partial w = +\varepsilon\, \delta\, a$.
#
# With vectors for one example, all $\Delta w_{jk}$ form an outer product $\varepsilon\, a_h \delta_o^\top$. A check
# that the general rules reproduce the worked example:

# %%
a_i, a_h, a_o = np.array([i1, i2]), np.array([out_h1, out_h2]), np.array([out_o1, out_o2])
W2_old = np.array([[w5, w7], [w6, w8]])        # W2[j, k]: from hidden j to output k
delta_k = (np.array([t1, t2]) - a_o) * a_o * (1 - a_o)
delta_j = (W2_old @ delta_k) * a_h * (1 - a_h)  # Σ_k w_kj δ_k, then the sigmoid's slope
dW2, dW1 = eta * np.outer(a_h, delta_k), eta * np.outer(a_i, delta_j)
print("ΔW1 =\n", dW1, "\nΔW2 =\n", dW2)
assert np.allclose(dW2, np.array([[new["w5"], new["w7"]], [new["w6"], new["w8"]]]) - W2_old)
assert np.allclose(dW1, np.array([[new["w1"], new["w3"]], [new["w2"], new["w4"]]]) - [[w1, w3], [w2, w4]])

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 9. The matrix form, for a batch
#
# For a batch of $N$ examples, stack the inputs as the rows of $X$ $(N, I)$ and the targets as the rows of $T$
# $(N, K)$. With nnlib's layout — a weight matrix is $(in, out)$, so `W1[i, j]` is the weight from input $i$ to
# hidden neuron $j$ —
#
# $$W_1 = \begin{pmatrix} w_1 & w_3 \\ w_2 & w_4 \end{pmatrix}, \qquad
# W_2 = \begin{pmatrix} w_5 & w_7 \\ w_6 & w_8 \end{pmatrix},$$
#
# the forward pass is $A_h = \sigma(X W_1 + b_1)$, $A_o = \sigma(A_h W_2 + b_2)$, with $E$ summed over the batch, and
# the δ rules become, row by row for every example at once ($\odot$ is the elementwise product):
#
# $$\delta_{out} = (T - A_o) \odot A_o \odot (1 - A_o), \qquad \Delta W_2 = \varepsilon\, A_h^\top \delta_{out},
# \qquad \Delta b_2 = \varepsilon \textstyle\sum_n \delta_{out,n},$$
#
# $$\delta_h = (\delta_{out} W_2^\top) \odot A_h \odot (1 - A_h), \qquad \Delta W_1 = \varepsilon\, X^\top \delta_h,
# \qquad \Delta b_1 = \varepsilon \textstyle\sum_n \delta_{h,n}.$$
#
# $\delta_{out} W_2^\top$ is the sum $\sum_k \delta_k w_{kj}$ for every hidden $j$; $A_h^\top \delta_{out}$ sums
# $\delta_k a_j$ over the examples of the batch.

# %%
def delta_rule_steps(X, T, W1, b1, W2, b2):
    """The δ rules for a batch, per unit of learning rate: −∂E/∂W1 (I, J), −∂E/∂b1 (J,), −∂E/∂W2 (J, K), −∂E/∂b2 (K,).

    Shapes: X (N, I), T (N, K), W1 (I, J), b1 (J,), W2 (J, K), b2 (K,); E = Σ ½(T − A_o)² over the batch.
    """
    A_h = sigmoid(X @ W1 + b1)
    A_o = sigmoid(A_h @ W2 + b2)
    delta_out = (T - A_o) * A_o * (1 - A_o)
    delta_h = (delta_out @ W2.T) * A_h * (1 - A_h)
    return X.T @ delta_h, delta_h.sum(axis=0), A_h.T @ delta_out, delta_out.sum(axis=0)


X, T = np.array([[i1, i2]]), np.array([[t1, t2]])
W1, W2 = np.array([[w1, w3], [w2, w4]]), np.array([[w5, w7], [w6, w8]])
steps = delta_rule_steps(X, T, W1, np.array([b1, b1]), W2, np.array([b2, b2]))
print("W1+ =\n", W1 + eta * steps[0], "\nW2+ =\n", W2 + eta * steps[2])
assert np.allclose(eta * steps[0], dW1) and np.allclose(eta * steps[2], dW2)

# %% [markdown] slideshow={"slide_type": "subslide"}
# The matrix form for a real batch, checked against finite differences: a random 3-4-2 network and 5 examples.

# %%
rng = np.random.default_rng(0)
Xb, Tb = rng.normal(size=(5, 3)), rng.uniform(size=(5, 2))
weights = [rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(4, 2)), rng.normal(size=2)]


def batch_error():
    A_h = sigmoid(Xb @ weights[0] + weights[1])
    return 0.5 * np.sum((Tb - sigmoid(A_h @ weights[2] + weights[3])) ** 2)


for name, step, w in zip(["W1", "b1", "W2", "b2"], delta_rule_steps(Xb, Tb, *weights), weights, strict=True):
    error = relative_error(-step, numerical_gradient(batch_error, w))
    print(f"{name} {str(w.shape):7}: δ rule = −finite differences (relative error < 1e-7): {error < 1e-7}")
    assert error < 1e-7

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 10. nnlib does exactly this
#
# nnlib's layers implement these lines, one backward per layer. With $g = \partial E / \partial(\text{output})$
# arriving from above:
#
# * `SquaredError.backward()` returns $\partial E / \partial a_o = -(T - A_o)$;
# * `Sigmoid.backward(g)` returns $g \odot a(1 - a)$ — so after the output sigmoid we hold $-\delta_{out}$;
# * `Linear.backward(g)` adds $x^\top g$ to `weight.grad` and $\sum_n g_n$ to `bias.grad`, and returns $g W^\top$
#   — the $\delta_{out} W_2^\top$ that the hidden sigmoid turns into $-\delta_h$.
#
# One difference with the slides: nnlib's `Linear` has **one bias per neuron**, the slides one bias shared by the
# layer. We set both hidden biases to $0.35$ (both output biases to $0.60$); the shared bias's gradient is then
# the **sum** of the two per-neuron gradients (the bias enters both neurons). Everything in float64.

# %%
def slides_model(train_biases=False):
    """The slides' 2-2-2 network as nnlib layers (float64); the biases are frozen unless train_biases."""
    hidden, output = Linear(2, 2, dtype=np.float64), Linear(2, 2, dtype=np.float64)
    hidden.weight.data[...], hidden.bias.data[...] = W1, b1
    output.weight.data[...], output.bias.data[...] = W2, b2
    for layer in (hidden, output):
        layer.bias.requires_grad = train_biases
    return Sequential(hidden, Sigmoid(), output, Sigmoid())


model, loss = slides_model(train_biases=True), SquaredError()
report("E_total", loss(model(X), T))
model.backward(loss.backward())
hidden, output = model[0], model[2]
print("hidden.weight.grad =\n", hidden.weight.grad, "\noutput.weight.grad =\n", output.weight.grad)
print("bias gradients per neuron:", hidden.bias.grad, output.bias.grad)
assert np.allclose(hidden.weight.grad, -steps[0]) and np.allclose(output.weight.grad, -steps[2])
assert np.allclose(hidden.weight.grad, [[grad["w1"], grad["w3"]], [grad["w2"], grad["w4"]]])
assert np.allclose(output.weight.grad, [[grad["w5"], grad["w7"]], [grad["w6"], grad["w8"]]])
assert np.isclose(hidden.bias.grad.sum(), grad["b1"]) and np.isclose(output.bias.grad.sum(), grad["b2"])

# %% [markdown] slideshow={"slide_type": "subslide"}
# One step of `SGD(lr=0.5)` — $w \leftarrow w - \eta\, \partial E / \partial w$ — on the weights only (the biases
# frozen, as in the worked example) gives the published new weights:

# %%
model = slides_model()
loss(model(X), T)
model.backward(loss.backward())
SGD(model.parameters(), lr=eta).step()
(new_w1, new_w3), (new_w2, new_w4) = model[0].weight.data
(new_w5, new_w7), (new_w6, new_w8) = model[2].weight.data
for name, value in [("w1+", new_w1), ("w2+", new_w2), ("w3+", new_w3), ("w4+", new_w4),
                    ("w5+", new_w5), ("w6+", new_w6), ("w7+", new_w7), ("w8+", new_w8)]:
    report(name, value)
assert np.array_equal(model[0].bias.data, [b1, b1]) and np.array_equal(model[2].bias.data, [b2, b2])

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Build it yourself: the loss's gradient and a `Linear` layer
#
# Time to write these pieces yourself, as nnlib modules that follow nnlib's contract (the top of
# `nnlib/module.py`):
#
# * `forward(x)` computes the output and stores what backward needs as `self.cache = SomeCache(...)`, a named
#   tuple;
# * `backward(grad_out)` receives $g = \partial E / \partial(\text{output})$, reads `self.cache`, **adds** (`+=`)
#   $\partial E / \partial(\text{parameter})$ into each `Parameter.grad`, and returns
#   $\partial E / \partial(\text{input})$; it never modifies `grad_out`.
#
# The backward pass starts at the loss. Section 4 derived one entry of its gradient,
# $\partial E_{total} / \partial out_{o1} = -(t_1 - out_{o1})$; every output of every example of a batch is alike,
# since $E$ sums $\frac{1}{2}(t - out)^2$ over all of them.
#
# ### Exercise 3.5 — the gradient of the squared error (warm-up)
#
# Write `squared_error_grad(out, target)`: $\partial E / \partial out = -(target - out)$, elementwise, for `out`
# of shape $(K,)$ or $(N, K)$ — what `SquaredError.backward()` returns.

# %%
def squared_error_grad(out, target):
    """∂E/∂out = −(target − out) for E = Σ ½(target − out)²; out, target (K,) or (N, K) → out's shape."""
    ### BEGIN SOLUTION
    return -(target - out)
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_squared_error_grad(squared_error_grad)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **The layer's backward.** A `Linear` layer computes $y = x W + b$ for a batch: $x$ $(N, in)$, $W$ $(in, out)$,
# $b$ $(out,)$, $y_{nk} = \sum_j x_{nj} W_{jk} + b_k$. Backward receives $\delta = \partial E / \partial y$ $(N, out)$
# (nnlib's sign: $\delta$ here is $-$ the notes' delta) and applies the chain rule to each entry:
#
# $$\frac{\partial E}{\partial W_{jk}} = \sum_n \delta_{nk}\, x_{nj} = (x^\top \delta)_{jk}, \qquad
# \frac{\partial E}{\partial b_k} = \sum_n \delta_{nk}, \qquad
# \frac{\partial E}{\partial x_{nj}} = \sum_k \delta_{nk}\, W_{jk} = (\delta\, W^\top)_{nj}.$$
#
# These are section 9's $A_h^\top \delta_{out}$, $\sum_n \delta_{out,n}$ and $\delta_{out} W_2^\top$. Two details:
#
# * **Leading axes.** `Linear` also takes $x$ of shape $(N, \dots, in)$ (a sequence of vectors per example): every
#   leading position is one more row of the batch, so flatten them, `x.reshape(-1, in_features)`, before
#   $x^\top \delta$.
# * **`+=`.** A gradient is a sum over paths (section 6): a layer used twice in one forward pass, or a batch
#   processed in two halves, must add its contributions. So backward *adds* into `.grad`, and `zero_grad()`
#   resets it before each step.
#
# ### Exercises 3.6 and 3.7 — your own `Linear` layer (build)
#
# Complete `MyLinear`: `forward` (Exercise 3.6) and `backward` (Exercise 3.7). The checks compare it with
# nnlib's `Linear` on random inputs of several shapes (float64), call `backward` twice to see that it
# accumulates, run `nnlib.gradcheck` on it, and finally **build the slides' 2-2-2 network from two of your
# layers**, nnlib's `Sigmoid` and your `squared_error_grad`, take one step with $\eta = 0.5$ and compare with the
# published $w_1^+ \dots w_8^+$ — then 6 more steps against the same network built from nnlib's `Linear`.

# %%
class MyLinearCache(NamedTuple):
    """What MyLinear keeps for backward."""

    x: np.ndarray  # the input (N, ..., in_features)


class MyLinear(Module):
    """y = x @ W + b. Shapes: x (N, ..., in_features), weight (in_features, out_features), bias (out_features,)."""

    def __init__(self, in_features, out_features, rng=0):
        rng, bound = np.random.default_rng(rng), 1 / np.sqrt(in_features)
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(rng.uniform(-bound, bound, (in_features, out_features)), "weight")
        self.bias = Parameter(rng.uniform(-bound, bound, out_features), "bias")

    def forward(self, x):
        """x (N, ..., in_features) → y (N, ..., out_features); stores x in self.cache."""
        ### BEGIN SOLUTION
        self.cache = MyLinearCache(x)
        return x @ self.weight.data + self.bias.data
        ### END SOLUTION

    def backward(self, grad_out):
        """grad_out δ = ∂E/∂y (N, ..., out_features): adds xᵀδ to weight.grad and Σδ to bias.grad; returns δWᵀ."""
        ### BEGIN SOLUTION
        x = self.cache.x
        x_rows, grad_rows = x.reshape(-1, self.in_features), grad_out.reshape(-1, self.out_features)
        self.weight.grad += x_rows.T @ grad_rows
        self.bias.grad += grad_rows.sum(axis=0)
        return grad_out @ self.weight.data.T
        ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_linear_forward(MyLinear)

# %% slideshow={"slide_type": "fragment"}
check_linear_backward(MyLinear, squared_error_grad)

# %% [markdown] slideshow={"slide_type": "subslide"}
# With both checks green, your own layer has trained the network of the slides. The rest of the lesson uses
# nnlib's `Linear`, which is the same code plus input checks and frozen parameters (`requires_grad`).
#
# ### Exercise 3.8 — challenge (optional): backpropagation for any depth
#
# *Optional: skip it freely; the lesson runs on without it.* Generalise section 9 to a sigmoid network of any
# depth: `mlp_backprop(X, T, weights, biases)` gets the lists `weights` $[W_1, \dots, W_L]$ (each $(in, out)$)
# and `biases` $[b_1, \dots, b_L]$, computes $A_0 = X$, $A_l = \sigma(A_{l-1} W_l + b_l)$ and
# $E = \sum \frac{1}{2}(T - A_L)^2$, and returns the pair of lists `(grads_W, grads_b)` of $\partial E / \partial W_l$
# and $\partial E / \partial b_l$, in the order of `weights`. The recursion, with $g_l = \partial E / \partial net_l$:
#
# $$g_L = -(T - A_L) \odot A_L (1 - A_L), \qquad
# \frac{\partial E}{\partial W_l} = A_{l-1}^\top g_l, \qquad \frac{\partial E}{\partial b_l} = \textstyle\sum_n g_{l,n},
# \qquad g_{l-1} = (g_l W_l^\top) \odot A_{l-1}(1 - A_{l-1}).$$

# %%
def mlp_backprop(X, T, weights, biases):
    """Gradients of E = Σ ½(T − A_L)² for a sigmoid MLP: X (N, in), T (N, out) → ([∂E/∂W_l], [∂E/∂b_l])."""
    ### BEGIN SOLUTION
    A = [X]
    for W, b in zip(weights, biases, strict=True):
        A.append(sigmoid(A[-1] @ W + b))
    g = -(T - A[-1]) * A[-1] * (1 - A[-1])
    grads_W, grads_b = [None] * len(weights), [None] * len(weights)
    for k in range(len(weights) - 1, -1, -1):  # layer k + 1 of the formulas: A[k] is its input
        grads_W[k], grads_b[k] = A[k].T @ g, g.sum(axis=0)
        g = (g @ weights[k].T) * A[k] * (1 - A[k])
    return grads_W, grads_b
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_mlp_backprop(mlp_backprop)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 11. The chain rule as a computational graph
#
# Break the forward pass into elementary operations — a product, a sum, a sigmoid, a square — and draw each as a
# node: a **computational graph**. `nnlib.autograd.Value` builds one from scalars: each Value remembers the
# Values it was computed from and the local derivative to each. `E_total.backward()` then walks the graph from the
# output back to the inputs, and at every node applies one local rule,
#
# $$\frac{\partial E}{\partial \text{child}} \mathrel{+}= \frac{\partial\, \text{node}}{\partial\, \text{child}} \cdot
# \frac{\partial E}{\partial\, \text{node}},$$
#
# the chain rule, one link at a time. The `+=` is the sum over paths of section 6: $out_{h1}$ feeds two nodes and
# collects a contribution from each; the shared bias $b_1$ collects from $net_{h1}$ and $net_{h2}$.

# %%
def network_graph(p, inputs=(i1, i2), targets=(t1, t2)):
    """The 2-2-2 network as a graph of autograd Values; returns E_total and the parameter Values by name."""
    v = {name: Value(value, name) for name, value in p.items()}
    x1, x2 = Value(inputs[0], "i1"), Value(inputs[1], "i2")
    y1, y2 = Value(targets[0], "t1"), Value(targets[1], "t2")
    out_h1 = (v["w1"] * x1 + v["w2"] * x2 + v["b1"]).named("net_h1").sigmoid().named("out_h1")
    out_h2 = (v["w3"] * x1 + v["w4"] * x2 + v["b1"]).named("net_h2").sigmoid().named("out_h2")
    out_o1 = (v["w5"] * out_h1 + v["w6"] * out_h2 + v["b2"]).named("net_o1").sigmoid().named("out_o1")
    out_o2 = (v["w7"] * out_h1 + v["w8"] * out_h2 + v["b2"]).named("net_o2").sigmoid().named("out_o2")
    E_o1 = (0.5 * (y1 - out_o1) ** 2).named("E_o1")
    E_o2 = (0.5 * (y2 - out_o2) ** 2).named("E_o2")
    return (E_o1 + E_o2).named("E_total"), v


E_graph, leaves = network_graph(PARAMS)
E_graph.backward()
report("E_total", E_graph.data)
for name, leaf in leaves.items():
    assert np.isclose(leaf.grad, grad[name], rtol=1e-12), name
print("Value grads = hand-derived gradients for all 8 weights and 2 biases:",
      {name: round(leaf.grad, 9) for name, leaf in leaves.items()})

# %% [markdown] slideshow={"slide_type": "subslide"}
# The whole graph, every node with its value and its gradient $\partial E_{total} / \partial \text{node}$ (after ∇).
# Find $w_5$'s $0.08217$ and $w_1$'s $0.0004386$, and $b_1$'s gradient, the sum of what reaches it from both
# hidden neurons:

# %% jupyter={"source_hidden": true}
draw_graph(E_graph)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Step through both passes one node at a time. First the **forward** pass reveals the values in topological order
# (every node after the nodes it is computed from); then the **backward** pass visits the nodes in reverse order
# and reveals each gradient once every path from the output has delivered its share. The orange node is the
# current one; the title above the graph states the local rule it applies.

# %% tags=["nbval-ignore-output"]
_ = step_through_graph(E_graph)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 12. Training: 10,000 steps
#
# Repeat the step: forward, backward, update, on the same single example with $\eta = 0.5$ (full-batch gradient
# descent). The worked example reports the error after 10,000 steps as $0.0000351085$, with the **biases not
# trained** — exactly what nnlib's `fit` gives with both biases frozen. `fit` records each step's error from its
# forward pass, before that step's update, so its 10,000th entry is the error after 9,999 updates; the error
# after the 10,000th update is a hair smaller.

# %%
model = slides_model(train_biases=False)
history = fit(model, SquaredError(), SGD(model.parameters(), lr=eta), X, T, epochs=10_000, batch_size=1, rng=0,
              progress=False)
final_error = history["loss"][-1]
print(f"error in step 10,000: {final_error:.10f} (published 0.0000351085); "
      f"after the last update: {SquaredError()(model(X), T):.10f}")
print("outputs:", model(X).round(6), "targets:", T)
assert 3.4e-5 <= final_error <= 3.6e-5 and round(final_error, 10) == 0.0000351085

# %% [markdown] slideshow={"slide_type": "subslide"}
# The same loop written with the matrix form of section 9 gives the same errors, step by step; and training the
# biases too (their gradients are there for free) ends more than ten times lower — so the published number is
# the frozen-bias variant:

# %%
def train_222(eta, steps, train_biases=False):
    """Full-batch gradient descent on the slides' example (δ-rule matrix form); the error of each step, (steps,)."""
    params = [W1.copy(), np.array([b1, b1]), W2.copy(), np.array([b2, b2])]
    errors = np.empty(steps)
    for n in range(steps):
        A_o = sigmoid(sigmoid(X @ params[0] + params[1]) @ params[2] + params[3])
        errors[n] = 0.5 * np.sum((T - A_o) ** 2)
        for k, change in enumerate(delta_rule_steps(X, T, *params)):
            if train_biases or k in (0, 2):
                params[k] = params[k] + eta * change
    return errors


frozen, trained = train_222(eta, 10_000), train_222(eta, 10_000, train_biases=True)
print(f"error in step 10,000: biases frozen {frozen[-1]:.4e}, biases trained {trained[-1]:.4e}")
assert np.allclose(frozen, history["loss"], rtol=1e-9) and trained[-1] < frozen[-1] / 10

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The learning rate
#
# Move $\eta$ and watch the error over 2,000 steps (log scale; the dashed curve is $\eta = 0.5$). On this one
# example a larger step is faster — up to a point: with a huge $\eta$ the first steps throw the outputs deep into
# the flat tails of the sigmoid, where $a(1 - a) \approx 0$, the deltas vanish, and the error stalls.

# %% tags=["nbval-ignore-output"]
def plot_error_curve(eta=0.5, steps=2000):
    """The error of each of ``steps`` gradient-descent steps with learning rate ``eta``, on a log scale."""
    _, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
    ax.semilogy(train_222(0.5, steps), "k--", lw=1, label="η = 0.5")
    ax.semilogy(train_222(eta, steps), label=f"η = {eta:.3g}")
    ax.set(xlabel="step", ylabel="$E_{total}$", title="training the 2-2-2 network")
    ax.legend()
    plt.show()


_ = interact(plot_error_curve,
             eta=FloatLogSlider(value=0.5, base=10, min=-2, max=3, step=0.1, continuous_update=False),
             steps=IntSlider(value=2000, min=100, max=5000, step=100, continuous_update=False))

# %% [markdown] slideshow={"slide_type": "subslide"}
# The error after 2,000 steps for a few learning rates. With $\eta = 1000$ the very first steps pin the outputs at
# exactly 0 and 1, where the sigmoid is flat: the error stays at $\frac{1}{2}(0.01^2 + 0.01^2) = 10^{-4}$ for good.

# %%
final = {rate: train_222(rate, 2000)[-1] for rate in [0.1, 0.5, 2, 10, 50, 1000]}
for rate, value in final.items():
    print(f"η = {rate:6g}: error after 2,000 steps {value:.3e}")
assert final[0.1] > final[0.5] > final[2] > final[10] > final[50] and np.isclose(final[1000], 1e-4, rtol=1e-3)

# %% [markdown] slideshow={"slide_type": "slide"} tags=["numbers-checked"]
# ## 13. What the slides claim — read critically
#
# The slides list advantages of backpropagation. Each holds, with a caveat:
#
# * **Ease of implementation.** "Backpropagation does not require prior knowledge of neural networks": true of
#   the *algorithm* — it needs no knowledge of the problem built in, only the network's own derivatives — not of
#   the person implementing it, who needs exactly the chain rule of this lesson. "It primarily involves adjusting
#   weights based on error derivatives": yes, and getting those derivatives right is the hard part; hence
#   gradient checks.
# * **Simplicity and flexibility.** The same local rule works for any graph of differentiable operations:
#   convolutional and recurrent networks too (lessons 06 and 07). Non-differentiable pieces (a step function)
#   break it — that is why the perceptron of lesson 01 could not be trained this way.
# * **Efficiency.** One backward pass gives *every* gradient at once, for about **twice** the arithmetic of one
#   forward pass: a `Linear` layer's forward is one matrix product, $XW$; its backward is two of the same size,
#   $X^\top \delta$ for the weights and $\delta W^\top$ for the input (the activations add cheap elementwise work).
#   A whole gradient costs about three forward passes; finite differences need two forward passes *per parameter*
#   (below). But efficient per step does not mean few steps: this tiny network needed thousands.
# * **Generalization.** Backpropagation only computes gradients of the *training* error; how well the network does
#   on unseen data depends on the model, the data and regularization (lesson 05), not on backpropagation.
# * **Scalability.** The cost of a step grows linearly with the number of weights, so it scales to large
#   networks and datasets (with mini-batches, lesson 04). What it scales is the computation of a gradient; gradient
#   descent on a non-convex error then guarantees at best to approach a *stationary point* — a local minimum, but
#   possibly a saddle point (lesson 04) — and never the global minimum.
#
# Efficiency in numbers — forward passes needed for one full gradient:

# %%
digits_net = Sequential(Linear(784, 100, rng=0), Sigmoid(), Linear(100, 10, rng=1))
for name, net in [("the 2-2-2 network", slides_model()), ("a 784-100-10 network", digits_net)]:
    P = net.num_parameters()
    print(f"{name}: {P} parameters -> finite differences {2 * P} forward passes; backprop 1 forward + 1 backward")
assert slides_model().num_parameters() == 12  # nnlib stores one bias per neuron: 8 weights + 4 biases


def product_multiply_adds(net, batch):
    """Multiply-adds of the Linear layers' matrix products for a batch: (forward, backward).

    Forward X W costs N·I·O per layer; backward X^T δ and δ W^T cost N·I·O each.
    """
    sizes = [layer.weight.data.shape for layer in net if isinstance(layer, Linear)]   # (I, O) per layer
    forward = sum(batch * n_in * n_out for n_in, n_out in sizes)
    return forward, 2 * forward


forward_count, backward_count = product_multiply_adds(digits_net, batch=64)
print(f"784-100-10, batch 64: forward {forward_count:,} multiply-adds, backward {backward_count:,} "
      f"(ratio {backward_count / forward_count:.1f})")
assert backward_count == 2 * forward_count == 2 * 64 * (784 * 100 + 100 * 10)

# %% [markdown] slideshow={"slide_type": "subslide"}
# The same ratio on the clock, for this network and a batch of 64 (a measurement of your machine, so not compared
# by the tests; small products pay a fixed overhead per call, which pulls the ratio towards 1):

# %% tags=["nbval-ignore-output", "timing"]
def forward_backward_seconds(net, x, repeats=20):
    """The fastest forward and the fastest backward pass of ``net`` on x over ``repeats`` pairs (each forward
    keeps the cache its backward pops)."""
    forward, backward = np.inf, np.inf
    grad_out = np.ones_like(net(x))
    net.backward(grad_out)
    for _ in range(repeats):
        start = time.perf_counter()
        net(x)
        middle = time.perf_counter()
        net.backward(grad_out)
        forward, backward = min(forward, middle - start), min(backward, time.perf_counter() - middle)
    return forward, backward


batch_64 = np.random.default_rng(0).normal(size=(64, 784)).astype(np.float32)
forward_seconds, backward_seconds = forward_backward_seconds(digits_net, batch_64)
print(f"forward {1e3 * forward_seconds:.3f} ms, backward {1e3 * backward_seconds:.3f} ms: "
      f"ratio {backward_seconds / forward_seconds:.1f}")

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["numbers-checked"]
# One more claim, from the slides' "partial derivative": **"The higher the absolute magnitude of the weight, the
# more it affects the output."** That describes the derivative with respect to the *input* the weight multiplies,
# $\partial net_{o1} / \partial out_{h1} = w_5$. The partial derivative that training uses — with respect to the
# weight itself — does not contain the weight: $\partial net_{o1} / \partial w_5 = out_{h1}$, and
# $\partial E / \partial w$ is the delta of the neuron it feeds times its *input*. In the worked example the largest
# weight, $w_8 = 0.55$, has a smaller gradient than $w_5 = 0.4$, and every hidden weight's gradient is more than 20
# times smaller than every output weight's, although the weights have similar sizes:

# %%
WEIGHT_NAMES = ["w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8"]
for name in sorted(WEIGHT_NAMES, key=lambda name: -abs(PARAMS[name])):
    print(f"{name}: |w| = {abs(PARAMS[name]):.2f}, |∂E/∂w| = {abs(grad[name]):.6f}")
output_vs_hidden = min(abs(grad[n]) for n in WEIGHT_NAMES[4:]) / max(abs(grad[n]) for n in WEIGHT_NAMES[:4])
print(f"smallest output-weight gradient / largest hidden-weight gradient: {output_vs_hidden:.1f}")
assert max(WEIGHT_NAMES, key=lambda name: abs(PARAMS[name])) == "w8" and abs(grad["w8"]) < abs(grad["w5"])
assert output_vs_hidden > 20

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# * Backpropagation = forward pass (compute every $net$, $out$ and the error) + backward pass (the chain rule,
#   from the error back to every weight) + a gradient-descent update $w^+ = w - \eta\, \partial E / \partial w$.
# * For an output weight, $\partial E / \partial w_5 = \frac{\partial E}{\partial out_{o1}} \cdot
#   \frac{\partial out_{o1}}{\partial net_{o1}} \cdot \frac{\partial net_{o1}}{\partial w_5}
#   = -(t_1 - out_{o1}) \cdot out_{o1}(1 - out_{o1}) \cdot out_{h1}$; for a hidden weight, the first factor sums
#   over every output the hidden neuron feeds.
# * All gradients of a step are taken at the old weights; then every weight moves at once. The slides' numbers
#   ($E_{total} = 0.298371109$, $w_5^+ = 0.35891648$, $w_1^+ = 0.149780716$, …) come out exactly — all but the
#   error after one step, which the source misprints ($0.291027924$ for $0.291027774$).
# * The notes' δ rules: $\delta_k = (t_k - a_k) a_k(1 - a_k)$, $\delta_j = \sum_k \delta_k w_{kj}\, a_j(1 - a_j)$,
#   $\Delta w = +\varepsilon\, \delta\, a$, with $\delta = -\partial E / \partial net$. For a batch:
#   $\Delta W_2 = \varepsilon A_h^\top \delta_{out}$, $\delta_h = (\delta_{out} W_2^\top) \odot A_h(1 - A_h)$,
#   $\Delta W_1 = \varepsilon X^\top \delta_h$ — the lines of nnlib's `Linear` and `Sigmoid` backward.
# * A bias is a weight on a constant input 1; a shared bias's gradient is the sum over the neurons that use it.
# * A layer is a forward that caches its input and a backward that adds $x^\top \delta$ and $\sum_n \delta_n$ into
#   the parameters' gradients (`+=`) and returns $\delta W^\top$; your `MyLinear` did it and trained the 2-2-2 network.
# * A computational graph makes the chain rule mechanical: one local rule per node, contributions summed.
# * 10,000 steps with $\eta = 0.5$ and frozen biases bring the error to $3.51 \cdot 10^{-5}$, as published.
#
# ## Review questions
#
# 1. What are the key components of a neuron, and which of them do $w_5$, $net_{o1}$ and $out_{o1}$ model?
# 2. What is the impact of the bias? What is $\partial E / \partial b_2$ in the worked example, and why is the
#    gradient of a shared bias a sum?
# 3. What is forward propagation, and what is backward propagation? Why is backward propagation "nothing but the
#    chain rule"?
# 4. Write $\partial E_{total} / \partial w_6$ as a product of three factors and give each factor's value.
# 5. Why does $\partial E_{total} / \partial out_{h1}$ have two terms, but $\partial E_{total} / \partial out_{o1}$
#    only one?
# 6. Why are the hidden deltas computed with the old $w_5 \dots w_8$ and not with $w_5^+ \dots w_8^+$?
# 7. The notes write $\Delta w_{jk} = \varepsilon\, \delta_k a_j$ with a plus sign, the slides
#    $w^+ = w - \eta\, \partial E / \partial w$ with a minus. Why do both describe the same step?
# 8. In the matrix form, what are the shapes of $\delta_{out}$, $\delta_h$, $\Delta W_1$ and $\Delta W_2$ for a batch of
#    $N$ examples of a 3-4-2 network?
# 9. Which advantages do the slides list for backpropagation? For each, say what it does *not* promise (what
#    does "does not require prior knowledge" really mean; does backpropagation make a network generalize?).
# 10. Why does a very large learning rate make the error of the 2-2-2 network stall instead of dropping?
# 11. Why does a layer's backward add (`+=`) into `weight.grad` instead of assigning it? When would `=` give a
#     wrong gradient?
