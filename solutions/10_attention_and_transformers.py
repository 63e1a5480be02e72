# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # Lesson 10 — Attention and transformers
#
# The lecture notes define the **Transformer** as "a deep learning architecture introduced for sequence-to-sequence
# tasks, relying entirely on attention mechanisms and eliminating recurrent structures". Introduced in the 2017
# paper "Attention is All You Need", it "has revolutionized the field of artificial intelligence, especially in
# natural language processing (NLP) and other sequential data tasks", and is the foundation of today's large
# language models. This lesson starts from the problem attention solves — the fixed-size memory of a recurrent
# network — then derives scaled dot-product attention forward and backward, builds multi-head attention,
# positional encodings and the transformer block, trains a tiny transformer, and finally puts the notes'
# "Transformer vs RNN" table to the test with measurements. Every formula is checked by code against nnlib's
# `functional.scaled_dot_product_attention`, `MultiHeadAttention`, `TransformerEncoderLayer` and
# `TransformerModel`, which implement exactly what the lesson derives.
#
# ## Learning goals
#
# By the end of this lesson you can
#
# 1. explain the **bottleneck** of a recurrent encoder — a fixed-size state for a sequence of any length — and
#    measure it;
# 2. compute **scaled dot-product attention** $A = \operatorname{softmax}(QK^\top/\sqrt{d_k})$, output $AV$, by hand
#    and in NumPy, and say what queries, keys and values are;
# 3. derive $\operatorname{Var}(q \cdot k) = d_k$ and show by measurement why dividing by $\sqrt{d_k}$ keeps the
#    softmax from saturating and the gradients alive;
# 4. derive the **backward pass** through attention ($dV = A^\top G$, $dA = G V^\top$, the softmax Jacobian, $dQ$,
#    $dK$), implement it, and check it against finite differences and inside a transformer that trains;
# 5. apply **self-attention** to a sentence, a **causal mask**, and split the features into **heads**;
# 6. explain why attention needs **positional encodings** and prove the rotation property of the sinusoidal ones;
# 7. build a **transformer block** forward and backward from nnlib's parts (residuals, LayerNorm, feed-forward;
#    pre- vs post-norm), train a tiny transformer and read its attention maps;
# 8. test the notes' "Transformer vs RNN" table by measurement — accuracy against sequence length, time, and memory
#    ($T^2$ against $T$) — and correct it where it is wrong.

# %%
import time
from typing import NamedTuple

import matplotlib.pyplot as plt
import numpy as np
from ipywidgets import Checkbox, FloatSlider, IntSlider, SelectionSlider, interact

from nnlib import (
    LSTM,
    Adam,
    CrossEntropyLoss,
    Embedding,
    LayerNorm,
    Linear,
    Module,
    MultiHeadAttention,
    PositionalEncoding,
    ReLU,
    SequenceModel,
    TransformerEncoderLayer,
    TransformerModel,
    fit,
    gradcheck,
    numerical_gradient,
    relative_error,
)
from nnlib import functional as F
from nnlib.exercises import (
    check_attention_backward,
    check_attention_forward,
    check_attention_weights,
    check_block_backward,
    check_block_forward,
    check_causal_mask,
    check_merge_heads,
    check_post_norm_backward,
    check_scaled_scores,
    check_split_heads,
)
from nnlib.viz import plot_against_length, plot_attention_weights

np.set_printoptions(precision=3, suppress=True)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Why attention: the bottleneck of a recurrent encoder
#
# Before 2017, sequence-to-sequence tasks (translation, summarising) were solved by an **encoder–decoder** pair of
# RNNs: the encoder reads the input sequence, and its **last hidden state** is handed to the decoder, which writes
# the output. Whatever the input's length, everything the decoder will ever know about it must pass through that
# one state — $H$ numbers for an RNN or GRU, $2H$ (the pair $h, c$) for an LSTM. Attention (Bahdanau et al., 2014)
# removed the bottleneck by letting every output step look back at *all* input steps; the Transformer kept only the
# attention.
#
# Let us measure the bottleneck. The task: **reverse a sequence of digits**, `3 1 4 1 5` → `5 1 4 1 3`. An LSTM
# reading left to right cannot write the first output digit before it has read the last input digit, so we feed it
# the $T$ digits followed by $T$ **blank** tokens and read its answer during the blanks — an encoder and a decoder in
# one LSTM. The blanks carry no information: when the first blank arrives, the whole sequence must be in $(h, c)$.

# %%
BLANK = 10                                  # token id of the blank; the digits are 0 … 9
LENGTHS = (4, 8, 16)
N_TRAIN, EPOCHS, LR = 4000, 12, 1e-2        # one training budget for every model of this lesson


def reversal_task(n, length, rng):
    """n random digit sequences (n, length) and their reversals (n, length), the targets."""
    digits = np.random.default_rng(rng).integers(0, 10, (n, length))
    return digits, digits[:, ::-1].copy()


def with_blanks(digits):
    """The digits followed by as many blanks, (n, 2·length): the LSTM answers while it reads the blanks."""
    return np.concatenate([digits, np.full_like(digits, BLANK)], axis=1)


class LastStepsCache(NamedTuple):
    """What LastSteps keeps for backward."""

    shape: tuple  # the wrapped model's output shape (N, T, C)


class LastSteps(Module):
    """Keep the outputs of the last ``steps`` time steps of a many-to-many model: (N, T, C) → (N, steps, C)."""

    def __init__(self, model, steps):
        self.model, self.steps = model, steps

    def forward(self, x):
        out = self.model(x)
        self.cache = LastStepsCache(out.shape)
        return out[:, -self.steps:]

    def backward(self, grad_out):
        grad = np.zeros(self.cache.shape, dtype=grad_out.dtype)  # the earlier steps get no gradient
        grad[:, -self.steps:] = grad_out
        return self.model.backward(grad)


def train(model, inputs, targets):
    """Adam, cross-entropy, gradients clipped to norm 1, the lesson's budget; returns the History."""
    return fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=LR), inputs, targets, epochs=EPOCHS,
               batch_size=64, rng=0, max_grad_norm=1.0)


def position_accuracy(model, inputs, targets):
    """Fraction of correct output digits at each position, (length,)."""
    return (model(inputs).argmax(axis=-1) == targets).mean(axis=0)


DATA = {length: (reversal_task(N_TRAIN, length, rng=0), reversal_task(1000, length, rng=1)) for length in LENGTHS}
print("one training example, T = 8:", DATA[8][0][0][0], "->", DATA[8][0][1][0])
print("what the LSTM reads:        ", with_blanks(DATA[8][0][0][:1])[0])

# %% [markdown] slideshow={"slide_type": "subslide"}
# An LSTM with $H = 32$ (its state: 64 numbers) trained on 4000 sequences of each length, tested on 1000 new ones:

# %%
HIDDEN = 32


def lstm_reverser(length):
    """Embedding(11 tokens → 16) → LSTM(16, 32) → Linear(32, 10) on the last ``length`` steps."""
    return LastSteps(SequenceModel(LSTM(16, HIDDEN, rng=0), Linear(HIDDEN, 10, rng=1), Embedding(11, 16, rng=2)),
                     length)


lstm_models, lstm_positions = {}, {}
for length in LENGTHS:
    (digits, targets), (test_digits, test_targets) = DATA[length]
    lstm_models[length] = lstm_reverser(length)
    train(lstm_models[length], with_blanks(digits), targets)
    lstm_positions[length] = position_accuracy(lstm_models[length], with_blanks(test_digits), test_targets)
    print(f"T = {length:2d}: {length:2d} digits through a state of {2 * HIDDEN} numbers -> "
          f"test accuracy {lstm_positions[length].mean():.2f}")

lstm_accuracy = {length: lstm_positions[length].mean() for length in LENGTHS}
assert lstm_accuracy[4] > 0.95 and lstm_accuracy[4] > lstm_accuracy[8] > lstm_accuracy[16]

# %% [markdown] slideshow={"slide_type": "subslide"}
# The same budget, the same state size: the longer the sequence, the worse the reconstruction. *Which* digits
# does it lose? Output $j$ is the input digit read $2j + 1$ steps earlier:

# %%
fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
for length in LENGTHS:
    ax.plot(2 * np.arange(length) + 1, lstm_positions[length], "o-", label=f"T = {length}")
ax.set(xlabel="steps between reading a digit and writing it", ylabel="test accuracy", ylim=(0, 1.05),
       title="LSTM: digits read long ago are recalled worse")
ax.legend()
plt.show()
recent, distant = lstm_positions[16][:4].mean(), lstm_positions[16][8:12].mean()
print(f"T = 16: accuracy on the 4 most recent digits {recent:.2f}, on outputs 8-11 {distant:.2f}")
assert recent > distant + 0.2

# %% [markdown] slideshow={"slide_type": "subslide"}
# The most recent digits come out almost perfectly; the older a digit, the more it has been overwritten in the
# state. (The very first digits read often do a little better again: the start of a sequence is easier to single
# out.) A bigger $H$ or a longer training would push the limit further, but for any fixed $H$ there is a length
# at which the state is too small. Attention removes the limit: each output step can look at every input step
# directly — no information has to survive a chain of $2j + 1$ updates.
#
# ## 2. Scaled dot-product attention
#
# The notes' table of the attention mechanism in the transformer architecture:
#
# <table>
#   <tr><th>Aspect</th><th>Description</th></tr>
#   <tr><td><b>Self-Attention</b></td><td>Allows the model to weigh the importance of different words in a
#     sequence, capturing contextual relationships.</td></tr>
#   <tr><td><b>Multi-Head Attention</b></td><td>Uses multiple attention mechanisms in parallel to focus on
#     different parts of the input simultaneously.</td></tr>
#   <tr><td><b>Scaled Dot-Product Attention</b></td><td>Computes attention scores by scaling the dot product of
#     query and key vectors, improving gradient stability.</td></tr>
# </table>
#
# Attention is a **soft dictionary lookup**. Every position $i$ asks a **query** $q_i \in \mathbb{R}^{d_k}$; every
# position $j$ offers a **key** $k_j \in \mathbb{R}^{d_k}$ (what it can be found by) and a **value**
# $v_j \in \mathbb{R}^{d_v}$ (what it hands over). The query is compared with every key, the scores become weights,
# and the answer is the weighted average of the values:
#
# $$s_{ij} = \frac{q_i \cdot k_j}{\sqrt{d_k}}, \qquad a_{ij} = \frac{e^{s_{ij}}}{\sum_{l} e^{s_{il}}}, \qquad
# o_i = \sum_j a_{ij}\, v_j .$$
#
# Stack the $T_q$ queries as the rows of $Q$ $(T_q, d_k)$, the keys and values as $K$ $(T_k, d_k)$ and $V$
# $(T_k, d_v)$:
#
# $$\boxed{\;A = \operatorname{softmax}\Big(\frac{QK^\top}{\sqrt{d_k}}\Big), \qquad \text{output} = A V\;}$$
#
# with the softmax along each row: row $i$ of $A$ $(T_q, T_k)$ holds positive weights that sum to 1 — how much
# query $i$ attends to each key. In **self-attention**, queries, keys and values all come from the same sequence.
#
# A first example: three tokens of dimension $d_k = 4$ attending to each other, with $Q = K = V = X$ (no learned
# projections yet). Token 1 is orthogonal to token 0 and twice as long; token 2 overlaps with both.
#
# ### Exercise 10.1 — attention weights
#
# Write `attention_weights(q, k)`: for queries `q` $(T_q, d_k)$ and keys `k` $(T_k, d_k)$ return
# $A = \operatorname{softmax}(q k^\top / \sqrt{d_k})$, the softmax over the keys (each row sums to 1).
# Subtracting each row's maximum before `np.exp` is the stable way (nothing changes mathematically).

# %%
def attention_weights(q, k):
    """softmax(q kᵀ / √d_k) along the keys: q (T_q, d_k), k (T_k, d_k) → A (T_q, T_k), rows summing to 1."""
    ### BEGIN SOLUTION
    scores = q @ k.T / np.sqrt(q.shape[-1])
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_attention_weights(attention_weights)

# %% [markdown] slideshow={"slide_type": "subslide"}
# By hand, for token 0, $q_0 = (1, 0, 1, 0)$: the scores are $q_0 \cdot k_j / \sqrt 4 = (2, 0, 2)/2 = (1, 0, 1)$, so
# $a_0 = (e, 1, e) / (2e + 1) \approx (0.422, 0.155, 0.422)$ — token 0 attends equally to itself and to token 2,
# hardly to the orthogonal token 1. nnlib's `functional.scaled_dot_product_attention` returns the output and the
# weights:

# %%
X3 = np.array([[1.0, 0.0, 1.0, 0.0], [0.0, 2.0, 0.0, 2.0], [1.0, 1.0, 1.0, 1.0]])
output, A3 = F.scaled_dot_product_attention(X3, X3, X3)
print("weights A:\n", A3)
print("rows sum to", A3.sum(axis=1), "| output = A V:\n", output)
e = np.e
assert np.allclose(A3[0], [e / (2 * e + 1), 1 / (2 * e + 1), e / (2 * e + 1)])
assert np.allclose(A3.sum(axis=1), 1) and np.allclose(output, A3 @ X3)

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["numbers-checked"]
# Each output row is a **mixture** of the value rows, weighted by how well the query matched each key. Token 1,
# whose large key matches its own query best, keeps mostly itself (weight 0.87).
#
# ## 3. Why divide by $\sqrt{d_k}$?
#
# Take a query and a key whose $d_k$ components are independent, with mean 0 and variance 1 (as they roughly are
# at initialisation, and as LayerNorm keeps them). Their dot product $q \cdot k = \sum_{i=1}^{d_k} q_i k_i$ has mean
# $\sum_i \mathbb{E}[q_i]\,\mathbb{E}[k_i] = 0$, and — the terms being independent, each with
# $\mathbb{E}[(q_i k_i)^2] = \mathbb{E}[q_i^2]\,\mathbb{E}[k_i^2] = 1$ —
#
# $$\operatorname{Var}(q \cdot k) = \sum_{i=1}^{d_k} \operatorname{Var}(q_i k_i) = d_k,
# \qquad\text{so}\qquad \operatorname{Var}\Big(\frac{q \cdot k}{\sqrt{d_k}}\Big) = 1 .$$
#
# The raw scores spread like $\sqrt{d_k}$: with $d_k = 64$, a score has standard deviation $\sqrt{64} = 8$. What the
# softmax sees is the *difference* of two scores of the same query, $q \cdot k_1 - q \cdot k_2 = q \cdot (k_1 - k_2)$,
# whose variance is $2 d_k$: standard deviation $\sqrt{128} \approx 11.3$, and a difference that size makes one
# weight $e^{11.3} \approx 8 \cdot 10^4$ times the other. Measured on 5000 random pairs for each $d_k$, then the
# two standard deviations for $d_k = 64$:

# %%
rng = np.random.default_rng(0)
print("  d_k   Var(q·k)   Var(q·k)/d_k   Var(q·k/√d_k)")
for d_k in [1, 4, 16, 64, 256, 512]:
    q, k = rng.standard_normal((2, 5000, d_k))
    dots = np.sum(q * k, axis=1)                                 # 5000 dot products, one per pair
    print(f"{d_k:5d} {dots.var():10.1f} {dots.var() / d_k:14.2f} {(dots / np.sqrt(d_k)).var():15.2f}")
    assert abs(dots.var() / d_k - 1) < 0.08

q, k_1, k_2 = np.random.default_rng(1).standard_normal((3, 5000, 64))
score_sd, difference_sd = np.sum(q * k_1, axis=1).std(), np.sum(q * (k_1 - k_2), axis=1).std()
print(f"d_k = 64: s.d. of a score {score_sd:.1f} (√64 = {np.sqrt(64):.1f}), of a difference of two scores "
      f"{difference_sd:.1f} (√128 = {np.sqrt(128):.1f}); e^√128 = {np.exp(np.sqrt(128)):.1e}")
assert abs(score_sd - 8) < 0.3 and abs(difference_sd - np.sqrt(128)) < 0.4

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 10.2 — scaled scores for a batch of heads
#
# In a real model the scores are computed for a whole batch and every head at once: `q` has shape
# $(\dots, T_q, d_k)$, `k` $(\dots, T_k, d_k)$, with any leading axes (batch $N$, heads $h$). Write
# `scaled_scores(q, k)` returning $q k^\top / \sqrt{d_k}$ of shape $(\dots, T_q, T_k)$. Careful with two things:
# which axis is $d_k$, and how to transpose only the last two axes of `k`.

# %%
def scaled_scores(q, k):
    """q kᵀ / √d_k over the last two axes: q (..., T_q, d_k), k (..., T_k, d_k) → (..., T_q, T_k)."""
    ### BEGIN SOLUTION
    return q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_scaled_scores(scaled_scores)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Why it matters: softmax saturation.** Large scores push the softmax to a one-hot vector: each query attends to
# one key only, whatever the others hold. Worse, a saturated softmax has (almost) no gradient. Its Jacobian is
# $\partial a_i / \partial s_j = a_i(\delta_{ij} - a_j)$ (lesson 02); with $a$ one-hot every entry is 0, so no
# gradient reaches the queries and keys — the notes' "improving gradient stability". For 500 random queries over
# 16 keys, the mean largest weight, the entropy of the weights (uniform over 16 keys: $\ln 16 \approx 2.77$; one-hot:
# 0) and the size of the softmax Jacobian, without and with the scaling:

# %%
def entropy(weights):
    """Entropy (nats) of each row of attention weights (..., T_k) → (...,)."""
    return -np.sum(weights * np.log(np.where(weights > 0, weights, 1.0)), axis=-1)


def softmax_jacobian_norm(weights):
    """Frobenius norm of each row's softmax Jacobian diag(a) − a aᵀ, (..., T_k) → (...,)."""
    jacobian = weights[..., :, None] * (np.eye(weights.shape[-1]) - weights[..., None, :])
    return np.linalg.norm(jacobian, axis=(-2, -1))


rng = np.random.default_rng(3)
saturation = {}
print("  d_k  scaling   max weight   entropy   |Jacobian|")
for d_k in [4, 64, 1024]:
    q, k = rng.standard_normal((500, d_k)), rng.standard_normal((16, d_k))
    for name, weights in [("none", F.softmax(q @ k.T)), ("√d_k", F.scaled_dot_product_attention(q, k, k)[1])]:
        saturation[d_k, name] = (weights.max(axis=1).mean(), entropy(weights).mean(),
                                 softmax_jacobian_norm(weights).mean())
        print(f"{d_k:5d}  {name:7s} {saturation[d_k, name][0]:10.2f} {saturation[d_k, name][1]:9.2f} "
              f"{saturation[d_k, name][2]:11.3f}")

assert saturation[1024, "none"][0] > 0.9 and saturation[1024, "none"][1] < 0.2       # nearly one-hot
assert saturation[1024, "√d_k"][1] > 2.0                                              # still spread out
assert saturation[1024, "none"][2] < 0.25 * saturation[1024, "√d_k"][2]             # and 4× less gradient
assert abs(saturation[64, "√d_k"][1] - saturation[1024, "√d_k"][1]) < 0.1                 # the same at any d_k

# %% [markdown] slideshow={"slide_type": "subslide"}
# With the scaling, the weights look the same whatever $d_k$ — which is the point. Dividing by $\sqrt{d_k}$ is a
# **temperature**: $\operatorname{softmax}(s / \tau)$ is sharper for $\tau < 1$ and flatter for $\tau > 1$. Explore
# one query against ten keys:

# %% tags=["nbval-ignore-output"] jupyter={"source_hidden": true}
def show_attention_weights(d_k=64, temperature=1.0, scaled=True):
    """Bar plot of one random query's weights over 10 random keys (unit-variance components)."""
    draw = np.random.default_rng(d_k)
    q, k = draw.standard_normal(d_k), draw.standard_normal((10, d_k))
    weights = F.softmax(k @ q / (temperature * (np.sqrt(d_k) if scaled else 1.0)))
    fig, ax = plt.subplots(figsize=(7, 3), layout="constrained")
    ax.bar(range(10), weights, color="C0")
    ax.set(xlabel="key j", ylabel="weight $a_j$", ylim=(0, 1), xticks=range(10),
           title=f"d_k = {d_k}, {'÷√d_k' if scaled else 'no scaling'}, τ = {temperature:.1f}: "
                 f"max weight {weights.max():.2f}, entropy {entropy(weights):.2f} (uniform {np.log(10):.2f})")
    plt.show()


_ = interact(show_attention_weights,
             d_k=SelectionSlider(options=[2**i for i in range(11)], value=64, continuous_update=False),
             temperature=FloatSlider(value=1.0, min=0.1, max=5.0, step=0.1, continuous_update=False),
             scaled=Checkbox(value=True, description="divide by √d_k"))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Backpropagation through attention
#
# To train attention we need the gradients of the loss $L$ with respect to $Q$, $K$ and $V$, given
# $G = \partial L / \partial O$ $(T_q, d_v)$ from the layers above. The backward pass reuses what the forward pass
# computed — the weights $A$ — so we first write the forward pass the way a layer runs it: for a whole batch of
# heads at once, returning the weights with the output, and with an optional **mask**. A mask is a boolean array
# broadcastable to $(\dots, T_q, T_k)$, True where query $i$ may attend to key $j$; a blocked score is set to
# $-\infty$ before the softmax, so its weight is exactly $e^{-\infty} = 0$ and the allowed weights of the row are
# renormalised (section 6 shows what masks are for).
#
# ### Exercise 10.3 — the forward pass, with a mask
#
# Write `attention_forward(q, k, v, mask=None)` for `q` $(\dots, T_q, d_k)$, `k` $(\dots, T_k, d_k)$, `v`
# $(\dots, T_k, d_v)$: return `(output, weights)`, the output $AV$ $(\dots, T_q, d_v)$ and the weights $A$
# $(\dots, T_q, T_k)$. Build new arrays — do not change `q`, `k` or `v` in place: a layer keeps them for backward.

# %%
def attention_forward(q, k, v, mask=None):
    """(softmax(q kᵀ/√d_k) v, weights), blocked scores (mask False) at −∞: q (..., T_q, d_k), k (..., T_k, d_k),
    v (..., T_k, d_v), mask bool broadcastable to (..., T_q, T_k) or None → ((..., T_q, d_v), (..., T_q, T_k))."""
    ### BEGIN SOLUTION
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = e / e.sum(axis=-1, keepdims=True)
    return weights @ v, weights
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_attention_forward(attention_forward)

# %% [markdown] slideshow={"slide_type": "subslide"}
# The check also plugged your function into the reversal transformer of section 10 (one block, trained a few steps
# in float64): it must follow nnlib's losses exactly. Now backwards, through the three steps
# $S = QK^\top / \sqrt{d_k}$, $A = \operatorname{softmax}(S)$ (row by row), $O = AV$, one chain rule at a time.
#
# **Through $O = AV$.** $O_{ij} = \sum_k A_{ik} V_{kj}$, so $\partial O_{ij} / \partial V_{kj} = A_{ik}$ and
# $\partial O_{ij} / \partial A_{ik} = V_{kj}$:
#
# $$\frac{\partial L}{\partial V_{kj}} = \sum_i G_{ij} A_{ik} \;\Rightarrow\; \boxed{dV = A^\top G}, \qquad
# \frac{\partial L}{\partial A_{ik}} = \sum_j G_{ij} V_{kj} \;\Rightarrow\; \boxed{dA = G V^\top} .$$
#
# **Through the softmax.** Each row is a separate softmax, with Jacobian
# $\partial A_{ik} / \partial S_{il} = A_{ik}(\delta_{kl} - A_{il})$:
#
# $$dS_{il} = \sum_k dA_{ik}\, A_{ik} (\delta_{kl} - A_{il}) = A_{il}\Big(dA_{il} - \sum_k dA_{ik} A_{ik}\Big)
# \;\Rightarrow\; \boxed{dS = A \odot \big(dA - \operatorname{rowsum}(dA \odot A)\big)} .$$
#
# Summing over $l$: $\sum_l dS_{il} = \sum_l A_{il} dA_{il} - \big(\sum_l A_{il}\big)\sum_k dA_{ik} A_{ik} = 0$ —
# **every row of $dS$ sums to zero**, because adding the same number to a whole row of scores does not change the
# softmax.
#
# **Through $S = QK^\top / \sqrt{d_k}$.** $S_{il} = \sum_m Q_{im} K_{lm} / \sqrt{d_k}$, linear in each:
#
# $$\boxed{dQ = \frac{dS\, K}{\sqrt{d_k}}, \qquad dK = \frac{dS^\top Q}{\sqrt{d_k}}} .$$
#
# With a mask, blocked entries have $A = 0$, so $dS = 0$ there: blocked keys receive no gradient from that query —
# as long as the backward uses the forward's weights.
#
# ### Exercise 10.4 — attention backward
#
# Write `attention_backward(grad_out, q, k, v, weights)`: given $G$ = `grad_out` $(\dots, T_q, d_v)$ and the
# forward's `weights` $A$, return `(dq, dk, dv)`, shaped like `q`, `k` and `v` — the four boxes, for any leading
# batch and head axes (transpose the last two axes only). The check compares them with nnlib's
# `scaled_dot_product_attention_backward` (masks included) and with finite differences, then trains the reversal
# transformer with your two functions inside its multi-head attention.

# %%
def attention_backward(grad_out, q, k, v, weights):
    """dL/dq, dL/dk, dL/dv of attention given G = dL/d(output) (..., T_q, d_v) and the forward's weights A
    (..., T_q, T_k) → arrays shaped like q (..., T_q, d_k), k (..., T_k, d_k), v (..., T_k, d_v)."""
    ### BEGIN SOLUTION
    grad_v = np.swapaxes(weights, -1, -2) @ grad_out                        # dV = Aᵀ G
    grad_weights = grad_out @ np.swapaxes(v, -1, -2)                        # dA = G Vᵀ
    grad_scores = weights * (grad_weights - np.sum(grad_weights * weights, axis=-1, keepdims=True))
    grad_scores = grad_scores / np.sqrt(q.shape[-1])                        # dS / √d_k
    return grad_scores @ k, np.swapaxes(grad_scores, -1, -2) @ q, grad_v
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_attention_backward(attention_backward, forward=attention_forward)

# %% [markdown] slideshow={"slide_type": "subslide"}
# nnlib's `scaled_dot_product_attention_backward` implements the same boxes. Against finite differences of
# $L = \sum G \odot O$ in float64, with a causal mask — and the two facts derived above: the rows of $dS$ sum to 0,
# and the keys a query may not see get no gradient from it:

# %%
rng = np.random.default_rng(4)
q, k, v = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 4, 5))
G, MASK = rng.standard_normal((2, 4, 5)), F.causal_mask(4)
_, weights = F.scaled_dot_product_attention(q, k, v, MASK)
nnlib_grads = F.scaled_dot_product_attention_backward(G, q, k, v, weights)


def loss():
    return np.sum(G * F.scaled_dot_product_attention(q, k, v, MASK)[0])


for name, array, grad in zip(["dQ", "dK", "dV"], [q, k, v], nnlib_grads, strict=True):
    error = relative_error(grad, numerical_gradient(loss, array))
    print(f"{name} {str(grad.shape):10s} = finite differences (relative error < 1e-8): {error < 1e-8}")
    assert error < 1e-8

dA = G @ np.swapaxes(v, -1, -2)
dS = weights * (dA - np.sum(dA * weights, axis=-1, keepdims=True))
print("every row of dS sums to 0:", np.allclose(dS.sum(axis=-1), 0), "| dS is exactly 0 where the mask blocks:",
      np.all(dS[..., ~MASK] == 0))
assert np.allclose(dS.sum(axis=-1), 0) and np.all(dS[..., ~MASK] == 0)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Self-attention on a sentence
#
# In a transformer the queries, keys and values are **learned linear projections** of the same token vectors $X$
# $(T, E)$: $Q = X W_Q$, $K = X W_K$, $V = X W_V$. The projections decide *what each token looks for* ($W_Q$), *what
# it can be found by* ($W_K$) and *what it passes on* ($W_V$). To see what that can do, let us design them by hand
# for the sentence "the cat ate because it was hungry", with six hand-made features per word.
#
# Queries ask two questions: column 0, "where is an animate thing?" — asked by the pronoun "it" and the adjective
# "hungry"; column 1, "where is a noun?" — asked by the verbs, looking for their subject. Keys answer them: an
# animate word has a 1 in column 0, a noun a 1 in column 1. The values are the features themselves.

# %%
WORDS = ["the", "cat", "ate", "because", "it", "was", "hungry"]
FEATURES = ["noun", "animate", "verb", "pronoun", "adjective", "function word"]
X_sentence = np.array([
    [0, 0, 0, 0, 0, 1],      # the
    [1, 1, 0, 0, 0, 0],      # cat
    [0, 0, 1, 0, 0, 0],      # ate
    [0, 0, 0, 0, 0, 1],      # because
    [0, 0, 0, 1, 0, 0],      # it
    [0, 0, 1, 0, 0, 0],      # was
    [0, 0, 0, 0, 1, 0],      # hungry
], dtype=np.float64)
W_Q = np.zeros((6, 2))
W_Q[[3, 4], 0] = 4.0         # pronouns and adjectives look for an animate thing
W_Q[2, 1] = 4.0              # verbs look for a noun
W_K = np.zeros((6, 2))
W_K[1, 0] = W_K[0, 1] = 1.0  # "I am animate", "I am a noun"
W_V = np.eye(6)

context, A_sentence = F.scaled_dot_product_attention(X_sentence @ W_Q, X_sentence @ W_K, X_sentence @ W_V)


plot_attention_weights(A_sentence, WORDS, WORDS, title="self-attention with hand-made $W_Q$, $W_K$")
plt.show()
looks_at = {WORDS[i]: WORDS[j] for i, j in enumerate(A_sentence.argmax(axis=1))}
print({word: looks_at[word] for word in ["it", "ate", "was", "hungry"]})
assert all(looks_at[word] == "cat" for word in ["it", "ate", "was", "hungry"])
assert np.allclose(A_sentence[[0, 3]], 1 / 7)                # "the", "because" ask nothing: uniform weights

# %% [markdown] slideshow={"slide_type": "subslide"}
# "it", "hungry" and the verbs all attend to "cat"; "the" and "because" ask nothing (a zero query) and spread their
# attention evenly. The output for "it" is mostly the value of "cat": added to the input by the residual connection
# of section 9, the token "it" now carries "animate noun" — a **contextual** representation, which is what the notes
# mean by "capturing contextual relationships":

# %%
contextual = X_sentence + context
for word in ["it", "hungry"]:
    i = WORDS.index(word)
    print(f"{word:7s} before: {X_sentence[i]}  after: {contextual[i]}   ({', '.join(FEATURES)})")
assert contextual[WORDS.index("it"), FEATURES.index("animate")] > 0.7

# %% [markdown] slideshow={"slide_type": "subslide"}
# A trained transformer learns $W_Q$, $W_K$, $W_V$ from data instead; section 10 shows what it learns for the
# reversal task.
#
# ## 6. Masks: no peeking at the future
#
# A model that **generates** a sequence one token at a time (a language model, a translation decoder) must not use
# the tokens it has not produced yet. A **causal mask** allows query $i$ to attend to keys $j \le i$ only: the
# forbidden scores are set to $-\infty$ before the softmax, so their weights are exactly $e^{-\infty} = 0$ and the
# allowed ones are renormalised. (Batches of sequences of different lengths use the same trick, with a **padding
# mask** that hides the padding tokens: `MultiHeadAttention(..., key_padding_mask=...)`.)
#
# ### Exercise 10.5 — the causal mask
#
# Write `causal_mask(T)`: a **boolean** array $(T, T)$, True where query $i$ may attend to key $j$, i.e. $j \le i$
# (nnlib's, and PyTorch's `scaled_dot_product_attention`, convention: True = may attend).

# %%
def causal_mask(T):
    """Boolean (T, T): True where query i may attend to key j, i.e. on and below the diagonal (j ≤ i)."""
    ### BEGIN SOLUTION
    return np.tril(np.ones((T, T), dtype=bool))
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_causal_mask(causal_mask)

# %% [markdown] slideshow={"slide_type": "subslide"}
# The sentence again, with nnlib's `functional.causal_mask`: the upper triangle is empty, "the" can only attend to
# itself, and "it" still finds "cat", which came before it.

# %%
Q, K, V = X_sentence @ W_Q, X_sentence @ W_K, X_sentence @ W_V
_, A_causal = F.scaled_dot_product_attention(Q, K, V, F.causal_mask(7))
plot_attention_weights(A_causal, WORDS, WORDS, title="causal self-attention")
plt.show()

renormalised = np.tril(np.exp(Q @ K.T / np.sqrt(2)))       # the allowed terms of each row's softmax, rescaled
renormalised /= renormalised.sum(axis=1, keepdims=True)
print("weights above the diagonal:", A_causal[np.triu_indices(7, 1)].max(), "| 'it' attends most to:",
      WORDS[A_causal[WORDS.index("it")].argmax()])
assert np.all(A_causal[np.triu_indices(7, 1)] == 0) and np.allclose(A_causal, renormalised)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Multi-head attention
#
# One attention gives each query **one** weighted average. But a word may need several things at once — its subject,
# the previous word, the word it refers to. **Multi-head attention** "uses multiple attention mechanisms in parallel
# to focus on different parts of the input simultaneously": $h$ heads, each with its own projections, and one more
# projection $W_O$ to mix their results:
#
# $$\text{head}_j = \operatorname{softmax}\Big(\frac{(XW_Q^{(j)})(XW_K^{(j)})^\top}{\sqrt{E/h}}\Big) X W_V^{(j)},
# \qquad \operatorname{MHA}(X) = [\text{head}_1, \dots, \text{head}_h]\, W_O .$$
#
# In practice the $h$ projections $E \to E/h$ are one $E \to E$ projection whose $E$ output features are cut into
# $h$ groups: the $(N, T, E)$ array is reshaped to $(N, T, h, E/h)$ and its head axis moved forward, giving
# $(N, h, T, E/h)$ — a batch of $N \cdot h$ independent attentions that `scaled_dot_product_attention` runs at once
# (its leading axes broadcast). $h$ heads of size $E/h$ cost the same as one head of size $E$.
#
# ### Exercise 10.6 — splitting the heads
#
# Write `split_heads(x, h)`: $(N, T, E) \to (N, h, T, E/h)$, head $j$ getting the features
# $j \cdot E/h, \dots, (j+1) \cdot E/h - 1$ of every token. One `reshape` and one `transpose`; in which order?

# %%
def split_heads(x, h):
    """(N, T, E) → (N, h, T, E/h): the E features of each token cut into h contiguous groups, one per head."""
    ### BEGIN SOLUTION
    n, t, e = x.shape
    return x.reshape(n, t, h, e // h).transpose(0, 2, 1, 3)
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_split_heads(split_heads)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 10.7 — merging the heads
#
# After attention, each head's output $(N, h, T, d)$ must be put back side by side: token $t$ gets head 0's $d$
# features, then head 1's, … — $(N, T, h \cdot d)$, the input of the output projection $W_O$. Write
# `merge_heads(x)`, the inverse of `split_heads`.

# %%
def merge_heads(x):
    """(N, h, T, d) → (N, T, h·d): the heads' outputs side by side for every token (the inverse of split_heads)."""
    ### BEGIN SOLUTION
    n, h, t, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(n, t, h * d)
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_merge_heads(merge_heads)

# %% [markdown] slideshow={"slide_type": "subslide"}
# `nnlib.MultiHeadAttention(E, h)` has four `Linear(E, E)` layers `q_proj`, `k_proj`, `v_proj`, `out_proj` (PyTorch's
# `nn.MultiheadAttention(E, h, batch_first=True)`, which stacks the first three in one `in_proj_weight`). Its forward,
# rebuilt from the parts — nnlib's own `functional.split_heads` and `merge_heads` (its inverse) — and the weights of
# every head, $(N, h, T_q, T_k)$:

# %%
rng = np.random.default_rng(7)
mha = MultiHeadAttention(8, 2, rng=0, dtype=np.float64)
x = rng.standard_normal((3, 5, 8))                                           # (N, T, E)

heads = [F.split_heads(proj(x), mha.num_heads) for proj in (mha.q_proj, mha.k_proj, mha.v_proj)]   # 3 × (N, h, T, E/h)
attended, weights = F.scaled_dot_product_attention(*heads)
by_hand = mha.out_proj(F.merge_heads(attended))
output = mha(x)
print("q, k, v per head:", heads[0].shape, "| weights:", mha.weights.shape, "| output:", output.shape,
      "| parameters:", mha.num_parameters(), "= 4·(E² + E)")
assert np.allclose(output, by_hand) and np.allclose(mha.weights, weights)
assert mha.num_parameters() == 4 * (8 * 8 + 8)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **A gradient that is exactly zero.** The key projection has a bias $b_K$: every key becomes $k_j + b_K$, and every
# score of query $i$ gains the same $q_i \cdot b_K$. Adding the same number to a whole row of scores does not change
# the softmax — so $b_K$ cannot change the loss, and $\partial L/\partial b_K = 0$. In the formulas of section 4:
# $\partial L/\partial b_K = \sum_l dK_l = \frac{1}{\sqrt{d_k}} \sum_i Q_i \sum_l dS_{il} = 0$, since the rows of $dS$
# sum to zero. nnlib's backward agrees, and all the other gradients match finite differences (`gradcheck`, in
# float64; for the key bias, finite differences only see rounding noise, so we compare it with 0 directly):

# %%
ZERO_GRADIENT = "k_proj.bias"


def assert_gradients_match(module, *inputs):
    """gradcheck, with the key bias — exactly zero in theory — compared with 0 rather than relatively."""
    errors = gradcheck(module, *inputs, tol=None)
    for name, error in errors.items():
        if name.endswith(ZERO_GRADIENT):
            bias = dict(module.named_parameters())[name]
            assert np.abs(bias.grad).max() < 1e-12 and error < 1e-5, name
        else:
            assert error < 1e-7, (name, error)
    return errors


mha.zero_grad()
mha(x)
mha.backward(rng.standard_normal((3, 5, 8)))
print("dL/db_K is zero: largest |entry| < 1e-12:", np.abs(mha.k_proj.bias.grad).max() < 1e-12)
errors = assert_gradients_match(mha, x)
print(f"gradcheck: {len(errors)} gradients (the input and {len(errors) - 1} parameters) match finite differences")

# %% [markdown] slideshow={"slide_type": "subslide"}
# What the heads of a *trained* model look at is in section 10.
#
# ## 8. Positional encoding
#
# Attention compares tokens by content only. Shuffle the tokens, and the outputs are shuffled the same way — nothing
# else changes: self-attention is **permutation-equivariant**, and "the cat ate" is the same bag of words as "ate
# the cat". Checked on the sentence:

# %%
def self_attention(X):
    return F.scaled_dot_product_attention(X @ W_Q, X @ W_K, X @ W_V)[0]


order = np.random.default_rng(8).permutation(7)
print("shuffled:", " ".join(WORDS[i] for i in order))
assert np.allclose(self_attention(X_sentence[order]), self_attention(X_sentence)[order])
print("self_attention(shuffled X) == shuffled self_attention(X): True")

# %% [markdown] slideshow={"slide_type": "subslide"}
# An RNN knows the order because it reads the tokens one after the other; a transformer must be *told*. The original
# transformer **adds** to each token's vector a vector that depends on its position $t$ only — the **sinusoidal
# positional encoding**, $d$ features in pairs, pair $i$ a clock at angular frequency $\omega_i$:
#
# $$PE_{t,\,2i} = \sin(\omega_i t), \qquad PE_{t,\,2i+1} = \cos(\omega_i t), \qquad
# \omega_i = \frac{1}{10000^{2i/d}} .$$
#
# The first pair turns once every $2\pi \approx 6.3$ positions, the slowest (for large $d$) once every
# $2\pi \cdot 10000$: like the hands of a clock, fast pairs tell nearby positions apart and slow pairs far ones.
# The table for 64 positions and $d = 32$, and each position's vector:

# %%
PE_TABLE = F.sinusoidal_positions(64, 32)                          # (positions, d)
OMEGA = 1 / 10000 ** (np.arange(0, 32, 2) / 32)                  # ω_i, one per pair


# %% tags=["nbval-ignore-output"] jupyter={"source_hidden": true}
def show_positional_encoding(position=10, dimension=4):
    """The table PE (dimension × position), one dimension over all positions, and one position's vector."""
    fig, (table, column, row) = plt.subplots(1, 3, figsize=(13, 3.3), layout="constrained")
    table.imshow(PE_TABLE.T, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1)
    table.axvline(position, color="k", lw=1)
    table.axhline(dimension, color="k", lw=1)
    table.set(xlabel="position t", ylabel="dimension", title="PE (red +1, blue −1)")
    column.plot(PE_TABLE[:, dimension])
    column.plot(position, PE_TABLE[position, dimension], "o", color="C3")
    column.set(xlabel="position t", ylim=(-1.1, 1.1),
               title=f"dimension {dimension}: {'sin' if dimension % 2 == 0 else 'cos'}, one turn per "
                     f"{2 * np.pi / OMEGA[dimension // 2]:.0f} positions")
    row.bar(range(32), PE_TABLE[position], color="C3")
    row.set(xlabel="dimension", ylim=(-1.1, 1.1), title=f"the vector added at position {position}")
    plt.show()


_ = interact(show_positional_encoding, position=IntSlider(value=10, min=0, max=63, continuous_update=False),
             dimension=IntSlider(value=4, min=0, max=31, continuous_update=False))

# %% [markdown] slideshow={"slide_type": "subslide"}
# **The rotation property.** Why sines and cosines? Shift the position by $k$. By the addition formulas
# $\sin(a + b) = \sin a \cos b + \cos a \sin b$ and $\cos(a + b) = \cos a \cos b - \sin a \sin b$, each pair turns
# by the angle $\omega_i k$:
#
# $$\begin{pmatrix} PE_{t+k,\,2i} \\ PE_{t+k,\,2i+1} \end{pmatrix} =
# \begin{pmatrix} \cos \omega_i k & \sin \omega_i k \\ -\sin \omega_i k & \cos \omega_i k \end{pmatrix}
# \begin{pmatrix} PE_{t,\,2i} \\ PE_{t,\,2i+1} \end{pmatrix} .$$
#
# The matrix depends on the offset $k$, **not on $t$**: "$k$ positions further" is the same linear map everywhere,
# which $W_Q$ and $W_K$ can learn. And since a rotation preserves dot products,
# $PE_t \cdot PE_{t+k} = \sum_i \cos(\omega_i k)$ depends on the distance $k$ only. Both checked for every $t$:

# %%
def rotate(pe, k):
    """Each (sin, cos) pair of pe (..., d) turned by the angle ω_i k."""
    sin, cos = pe[..., 0::2], pe[..., 1::2]
    c, s = np.cos(OMEGA * k), np.sin(OMEGA * k)
    rotated = np.empty_like(pe)
    rotated[..., 0::2], rotated[..., 1::2] = sin * c + cos * s, cos * c - sin * s
    return rotated


for k in [1, 5, 20]:
    assert np.allclose(PE_TABLE[k:], rotate(PE_TABLE[:-k], k))
    dots = np.sum(PE_TABLE[k:] * PE_TABLE[:-k], axis=1)              # PE_t · PE_{t+k} for every t
    assert np.allclose(dots, np.cos(OMEGA * k).sum())
    print(f"k = {k:2d}: PE[t + k] = R_k PE[t] for all t; PE[t]·PE[t + k] = {dots[0]:.3f} for all t")

layer = PositionalEncoding(32, max_len=64, dtype=np.float64)
x = np.random.default_rng(9).standard_normal((2, 10, 32))
assert np.allclose(layer(x), x + PE_TABLE[:10])                      # nnlib's layer adds the table

# %% [markdown] slideshow={"slide_type": "subslide"}
# `nnlib.PositionalEncoding` adds this table (it has no parameters); `TransformerModel` multiplies the token
# embeddings by $\sqrt{d}$ first, as the original did, so the positions do not drown the content. Learned position
# embeddings and relative encodings (rotary, ALiBi) are the common alternatives.
#
# ## 9. The transformer block
#
# A transformer encoder is a stack of identical blocks. Each block has two sub-layers: **multi-head self-attention**
# (tokens exchange information) and a **feed-forward network** applied to every token separately,
# $\operatorname{FF}(x) = \operatorname{ReLU}(x W_1 + b_1) W_2 + b_2$ (tokens think on their own, usually with a
# hidden layer 2–4 times wider). Each sub-layer is wrapped in a **residual connection** and a **layer normalization**.
# The original transformer normalises after the residual sum (**post-norm**); most modern ones normalise the
# sub-layer's input (**pre-norm**):
#
# $$\text{post-norm:}\quad x \leftarrow \operatorname{LN}\big(x + \operatorname{MHA}(x)\big), \quad
# x \leftarrow \operatorname{LN}\big(x + \operatorname{FF}(x)\big)$$
#
# $$\text{pre-norm:}\quad x \leftarrow x + \operatorname{MHA}\big(\operatorname{LN}(x)\big), \quad
# x \leftarrow x + \operatorname{FF}\big(\operatorname{LN}(x)\big)$$
#
# * **Residuals** $x + f(x)$ have Jacobian $I + \partial f/\partial x$: the gradient always has a direct path down
#   the stack, as through the LSTM's additive cell state. In pre-norm that path is a pure identity from the last
#   block to the first, which is why pre-norm stacks train stably without a learning-rate warm-up (Xiong et al.,
#   2020).
# * **LayerNorm** standardises each token's $d$ features, $\hat x = (x - \mu)/\sqrt{\sigma^2 + \epsilon}$, then
#   rescales them, $\gamma \odot \hat x + \beta$: it keeps the inputs of the next attention at unit scale, as the
#   $\sqrt{d_k}$ argument of section 3 assumes. Unlike batch normalization it uses no statistics across the batch,
#   so it works the same for one sequence or many.
#
# ### Exercise 10.8 — the pre-norm block's forward
#
# Build the pre-norm block from nnlib's parts. `__init__` is given: two `LayerNorm`s, a `MultiHeadAttention`, and
# the feed-forward network `Linear` → `ReLU` → `Linear` (no dropout), named as in nnlib's `TransformerEncoderLayer`
# so that the check can copy its weights in. Write `forward(x, causal=False)`: $x$ $(N, T, d)$ → $(N, T, d)$, passing
# `causal` on to the attention. Call the sub-layers (`self.norm1(x)`, …): each keeps its own cache for backward.

# %%
class PreNormBlock(Module):
    """x ← x + MHA(LN₁(x)); x ← x + FF(LN₂(x)) with FF(z) = ReLU(z W₁ + b₁) W₂ + b₂: (N, T, d) → (N, T, d)."""

    def __init__(self, d_model, nhead, dim_feedforward, rng=None, dtype=np.float32):
        rng = np.random.default_rng(rng)
        self.norm1 = LayerNorm(d_model, dtype=dtype)
        self.self_attn = MultiHeadAttention(d_model, nhead, rng=rng, dtype=dtype)
        self.norm2 = LayerNorm(d_model, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, rng=rng, dtype=dtype)
        self.activation = ReLU()
        self.linear2 = Linear(dim_feedforward, d_model, rng=rng, dtype=dtype)

    def forward(self, x, causal=False):
        ### BEGIN SOLUTION
        x = x + self.self_attn(self.norm1(x), causal=causal)                 # residual 1
        hidden = self.activation(self.linear1(self.norm2(x)))                # ReLU(LN₂(x) W₁ + b₁)
        return x + self.linear2(hidden)                                      # residual 2
        ### END SOLUTION

    def backward(self, grad_out):
        ### BEGIN SOLUTION
        grad_hidden = self.activation.backward(self.linear2.backward(grad_out))
        grad = grad_out + self.norm2.backward(self.linear1.backward(grad_hidden))   # both paths of residual 2
        return grad + self.norm1.backward(self.self_attn.backward(grad))           # both paths of residual 1
        ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_block_forward(PreNormBlock)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 10.9 — the pre-norm block's backward
#
# Backward runs the two residual sums in reverse. Write $h = x + \operatorname{MHA}(\operatorname{LN}_1(x))$ and
# $y = h + \operatorname{FF}(\operatorname{LN}_2(h))$, with $g = \partial L / \partial y$. A sum passes its gradient
# to **both** of its terms, so
#
# $$\frac{\partial L}{\partial h} = g + \operatorname{LN}_2^{\,\prime\top}\,\operatorname{FF}^{\prime\top} g,
# \qquad \frac{\partial L}{\partial x} = \frac{\partial L}{\partial h}
# + \operatorname{LN}_1^{\,\prime\top}\,\operatorname{MHA}^{\prime\top} \frac{\partial L}{\partial h},$$
#
# where each transposed Jacobian is a sub-layer's `backward`, called in the reverse order of the forward (the
# feed-forward network's: `linear2`, `activation`, `linear1`). Write `PreNormBlock.backward(grad_out)` above and run
# the check: it compares $\partial L / \partial x$ and every parameter's gradient with nnlib's block, runs
# `gradcheck`, and trains the reversal transformer of section 10 with your block in place of nnlib's.

# %% slideshow={"slide_type": "fragment"}
check_block_backward(PreNormBlock)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 10.10 (challenge, optional) — the post-norm block's backward
#
# The original transformer's block normalises **after** each residual sum:
# $h = \operatorname{LN}_1(x + \operatorname{MHA}(x))$, $y = \operatorname{LN}_2(h + \operatorname{FF}(h))$. Its
# forward is given; write its backward. Now the gradient meets a LayerNorm before it reaches a residual sum — and
# the attention's input is $x$ itself. (Unsolved, the check waits with ⏳; the lesson runs on either way.)

# %%
class PostNormBlock(PreNormBlock):
    """x ← LN₁(x + MHA(x)); x ← LN₂(x + FF(x)): the block of "Attention is all you need", (N, T, d) → (N, T, d)."""

    def forward(self, x, causal=False):
        x = self.norm1(x + self.self_attn(x, causal=causal))
        return self.norm2(x + self.linear2(self.activation(self.linear1(x))))

    def backward(self, grad_out):
        ### BEGIN SOLUTION
        grad = self.norm2.backward(grad_out)                                 # through LN₂ first
        grad = grad + self.linear1.backward(self.activation.backward(self.linear2.backward(grad)))
        grad = self.norm1.backward(grad)
        return grad + self.self_attn.backward(grad)
        ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_post_norm_backward(PostNormBlock)

# %% [markdown] slideshow={"slide_type": "subslide"}
# From here on the lesson uses nnlib's `TransformerEncoderLayer` (PyTorch's
# `nn.TransformerEncoderLayer(batch_first=True)`), which computes the same block, post-norm by default and pre-norm
# with `norm_first=True`. Its size, what LayerNorm does to each token, and its backward against finite differences:

# %%
x = np.random.default_rng(10).standard_normal((2, 6, 16))
for norm_first in (False, True):
    block = TransformerEncoderLayer(16, 4, dim_feedforward=32, dropout=0.0, norm_first=norm_first, rng=0,
                                    dtype=np.float64)
    print(f"{'pre' if norm_first else 'post'}-norm block {x.shape} -> {block(x).shape}; "
          f"{block.num_parameters()} parameters")
    assert block.num_parameters() == 4 * (16 * 16 + 16) + (16 * 32 + 32) + (32 * 16 + 16) + 2 * (2 * 16)

normalised = LayerNorm(16, dtype=np.float64)(x)
print("after LayerNorm, every token has mean 0 and std 1:",
      np.allclose(normalised.mean(axis=-1), 0), np.allclose(normalised.std(axis=-1), 1, atol=1e-4))
assert np.allclose(normalised.mean(axis=-1), 0) and np.allclose(normalised.std(axis=-1), 1, atol=1e-4)

small = TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, norm_first=True, rng=1, dtype=np.float64)
errors = assert_gradients_match(small, np.random.default_rng(11).standard_normal((2, 4, 8)))
print(f"the block's backward: {len(errors)} gradients match finite differences")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 10. A tiny transformer learns to reverse digits
#
# `nnlib.TransformerModel` stacks token embedding (×√d) + positional encoding → encoder blocks (pre-norm) → a
# `Linear` on every position: an encoder-only transformer whose output at position $t$ can depend on the whole
# input. For the reversal task it needs no blanks: output $t$ simply has to copy input $T - 1 - t$. One block,
# $d = 32$, 4 heads, feed-forward width 64, trained on $T = 8$ with the same budget as the LSTMs of section 1:

# %%
def transformer_reverser():
    """Embedding(10, 32) + positions → 1 pre-norm block (4 heads, feed-forward 64) → Linear(32, 10)."""
    return TransformerModel(10, 10, d_model=32, nhead=4, num_layers=1, dim_feedforward=64, rng=0)


(digits, targets), (test_digits, test_targets) = DATA[8]
transformer = transformer_reverser()
start = time.perf_counter()
history = train(transformer, digits, targets)
seconds = time.perf_counter() - start
transformer_positions = {8: position_accuracy(transformer, test_digits, test_targets)}
print(f"{transformer.num_parameters()} parameters; test accuracy on 1000 new sequences: "
      f"{transformer_positions[8].mean():.2f}")
print("input :", test_digits[0])
print("output:", transformer(test_digits[:1]).argmax(axis=-1)[0])
assert transformer_positions[8].mean() >= 0.95

# %% tags=["nbval-ignore-output", "timing"]
print(f"training time: {seconds:.1f} s")

# %% jupyter={"source_hidden": true}
ax = history.plot()
ax.set_title("training the reversal transformer (T = 8)")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The accuracy creeps along for a few epochs and then jumps, once the attention has found the right positions — a
# sudden transition typical of such algorithmic tasks. **Where does each head look?** The weights of the four heads
# for one test sequence (rows: output positions; columns: input positions, labelled with the digits):

# %%
def show_heads(model, sequence):
    """Heatmaps of every head's attention weights in the model's first block, for one sequence (T,)."""
    model(sequence[None])
    weights = model.layers[0].self_attn.weights[0]                     # (h, T, T)
    labels = [str(d) for d in sequence]
    fig, axes = plt.subplots(2, len(weights) // 2, figsize=(4.5 * len(weights) // 2, 8.6), layout="constrained")
    for j, (ax, head) in enumerate(zip(axes.flat, weights, strict=True)):
        plot_attention_weights(head, [f"out {t}" for t in range(len(sequence))], labels, ax, f"head {j + 1}")
        ax.set(xlabel="input digit", ylabel="")
    plt.show()
    return weights


head_weights = show_heads(transformer, test_digits[0])
mirror = head_weights.mean(axis=0).argmax(axis=1)                       # averaged over the heads
print("output position t looks most at input position", mirror, "= T - 1 - t")
assert np.array_equal(mirror, 7 - np.arange(8))

# %% [markdown] slideshow={"slide_type": "subslide"}
# The **anti-diagonal**: output $t$ attends to input $T - 1 - t$, the digit it must copy. The heads share the work —
# some are sharp on the anti-diagonal, others spread over it and its neighbours — and the output projection combines
# them. Nobody designed this pattern: the model found it, using only the sinusoidal positions to tell the places
# apart. Look at other test sequences:

# %% tags=["nbval-ignore-output"] jupyter={"source_hidden": true}
def show_trained_attention(sample=0):
    """The four heads of the T = 8 reversal transformer on test sequence number ``sample``."""
    show_heads(transformer, test_digits[sample])


_ = interact(show_trained_attention, sample=IntSlider(value=0, min=0, max=999, continuous_update=False))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 11. Transformer vs RNN: the notes' table, measured
#
# The notes compare the two architectures:
#
# <table>
#   <tr><th>Aspects</th><th>Transformer</th><th>RNN</th></tr>
#   <tr><td><b>Architecture</b></td><td>Based on attention mechanisms, no recurrence.</td>
#     <td>Relies on sequential recurrence with hidden states.</td></tr>
#   <tr><td><b>Parallelization</b></td><td>Highly parallelizable, faster training on large data.</td>
#     <td>Sequential processing, slower due to time dependency.</td></tr>
#   <tr><td><b>Long-Term Dependencies</b></td><td>Effectively captures long-range dependencies via attention.</td>
#     <td>Struggles with vanishing/exploding gradients over long sequences.</td></tr>
#   <tr><td><b>Memory Usage</b></td><td>Fixed memory, independent of sequence length.</td>
#     <td>Memory grows with sequence length due to recurrence.</td></tr>
# </table>
#
# The first row is the definition. Let us measure the other three.
#
# ### Long-term dependencies: accuracy against sequence length
#
# The same reversal task, the same training budget (4000 sequences, 12 epochs, Adam $10^{-2}$, clipping), for
# $T = 4, 8, 16$. The LSTM needs the blanks, the transformer does not — the comparison is of two architectures
# solving one task as each naturally can.

# %%
for length in LENGTHS:
    if length not in transformer_positions:
        (digits, targets), (test_digits_t, test_targets_t) = DATA[length]
        model = transformer_reverser()
        train(model, digits, targets)
        transformer_positions[length] = position_accuracy(model, test_digits_t, test_targets_t)

transformer_accuracy = {length: transformer_positions[length].mean() for length in LENGTHS}
print(f"test accuracy      LSTM ({lstm_models[4].num_parameters()} param.)   "
      f"transformer ({transformer.num_parameters()} param.)")
for length in LENGTHS:
    print(f"  T = {length:2d} {lstm_accuracy[length]:20.2f} {transformer_accuracy[length]:26.2f}")
assert all(transformer_accuracy[length] >= 0.95 for length in LENGTHS)
assert transformer_accuracy[16] > lstm_accuracy[16] + 0.2

fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
ax.plot(np.arange(16), lstm_positions[16], "s-", label="LSTM", color="C1")
ax.plot(np.arange(16), transformer_positions[16], "o-", label="transformer", color="C0")
ax.set(xlabel="output position j (the LSTM read that digit 2j + 1 steps earlier)", ylabel="test accuracy",
       ylim=(0, 1.05), title="T = 16: accuracy at each output position")
ax.legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The notes are right here: with every input position one attention step away, the transformer's accuracy does not
# depend on how far back the digit is, while the LSTM's falls with the distance (section 1). The reason is not only
# vanishing gradients: even with perfect gradients, the LSTM must squeeze the sequence through its fixed-size state.
#
# ### Parallelization: time per training step
#
# The LSTM's step $t$ needs $h_{t-1}$: its $T$ steps run **one after the other**. Attention has no such chain: all
# $T^2$ scores and all outputs are a handful of matrix products, whatever $T$ — but the work grows like
# $T^2 \cdot E$ (every pair of positions) against the LSTM's $T \cdot E^2$. The time of one forward + backward pass
# of `MultiHeadAttention(32, 4)` and `LSTM(32, 32)`, batch 8, as $T$ grows (this depends on your machine):

# %%
def step_seconds(layer, x, repeats=3):
    """Best wall time, over ``repeats``, of one forward and one backward pass of ``layer`` on x."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        out = layer(x)
        out = out[0] if isinstance(out, tuple) else out                  # the LSTM returns (output, state)
        layer.backward(np.ones_like(out))
        best = min(best, time.perf_counter() - start)
    return best


SEQUENCE_LENGTHS = [16, 32, 64, 128, 256, 512]
attention_layer, lstm_layer = MultiHeadAttention(32, 4, rng=0), LSTM(32, 32, rng=0)
batches = {T: np.random.default_rng(T).standard_normal((8, T, 32)).astype(np.float32) for T in SEQUENCE_LENGTHS}

# %% tags=["nbval-ignore-output", "timing"]
timings = {T: (step_seconds(attention_layer, x), step_seconds(lstm_layer, x)) for T, x in batches.items()}
print("    T   attention (ms)   LSTM (ms)   time ratio to T/2: attention  LSTM")
for T, (attention_s, lstm_s) in timings.items():
    ratios = "" if T == SEQUENCE_LENGTHS[0] else (f"{attention_s / timings[T // 2][0]:26.1f}"
                                                f"{lstm_s / timings[T // 2][1]:6.1f}")
    print(f"{T:5d} {1e3 * attention_s:14.2f} {1e3 * lstm_s:11.2f}{ratios}")
plot_against_length(SEQUENCE_LENGTHS, {T: (1e3 * a, 1e3 * s) for T, (a, s) in timings.items()},
                    "forward + backward (ms)", "time of one training step")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["numbers-checked"]
# What a typical CPU shows: for short sequences attention is faster — a few large matrix products beat $T$ small
# sequential steps, each paying Python's and NumPy's overhead. For long sequences the $T^2$ work catches up and the
# attention layer becomes the slower one. The $T^2$ products alone would make its time quadruple per doubling of
# $T$, and the LSTM's double. The clock follows only roughly: in the stored run of this notebook the attention
# layer's time grew ×4.0 from $T = 128$ to 256 but ×10.3 from 256 to 512 — more than its arithmetic, a cost of the
# machine (memory traffic for the $T \times T$ arrays) — while the LSTM's grew ×1.9 to ×2.2 per doubling. Your
# machine's ratios are in the last columns of the table. So
# "highly parallelizable" is true, but it is a statement about the **number of sequential steps** (1 against $T$),
# which pays off on hardware that runs thousands of multiplications at once (GPUs) — not a promise of less work. On a
# GPU, the $T$ dependent steps of an RNN cannot be spread out however many cores there are; attention's $T^2$
# products can, which is why transformers train faster "on large data".
#
# ### Memory against sequence length
#
# Time depends on the machine; memory does not. For the backward pass, each layer keeps arrays from its forward pass
# (lessons 07–08: BPTT stores every state). Let us add up the bytes that each layer — and its sub-layers — holds in
# its cache (`module.cache`, the named tuple its backward reads) after a forward pass, counting every buffer once:

# %%
def cache_of(module):
    """What ``module`` keeps for backward after the latest forward, or None if it keeps nothing."""
    try:
        return module.cache
    except RuntimeError:                                               # no forward yet, or nothing to keep
        return None


def bytes_kept_for_backward(layer):
    """Bytes of the arrays that ``layer`` and its sub-layers cached in forward (shared buffers counted once)."""
    buffers = {}

    def collect(item):
        if isinstance(item, np.ndarray):
            while isinstance(item.base, np.ndarray):                   # a view shares its base's memory
                item = item.base
            buffers[id(item)] = item.nbytes
        elif isinstance(item, (tuple, list)):
            for part in item:
                collect(part)

    for module in layer.modules():
        collect(cache_of(module))
    return sum(buffers.values())


memory = {}
for T, x in batches.items():
    attention_layer(x)
    lstm_layer(x)
    memory[T] = (bytes_kept_for_backward(attention_layer), bytes_kept_for_backward(lstm_layer))
    assert attention_layer.weights.nbytes == 8 * 4 * T * T * 4           # N · h · T² float32 weights

print("    T   attention (KiB)   LSTM (KiB)   ×attention   ×LSTM  (per doubling of T)")
for T in SEQUENCE_LENGTHS:
    growth = (memory[T][0] / memory[T // 2][0], memory[T][1] / memory[T // 2][1]) if T // 2 in memory else None
    print(f"{T:5d} {memory[T][0] / 1024:15.0f} {memory[T][1] / 1024:12.0f}"
          + (f" {growth[0]:12.2f} {growth[1]:7.2f}" if growth else ""))

# %% [markdown] slideshow={"slide_type": "subslide"}
# The attention layer keeps its $(N, h, T, T)$ weights — **quadratic** in $T$ — plus the projected queries, keys and
# values and its input — linear. The LSTM keeps its $T$ states and gates — **linear**. Exactly, with $N = 8$,
# $E = H = 32$, $h = 4$ and 4 bytes per float32 number:
#
# $$\text{attention: } 4\,(5 N T E + N h T^2), \qquad \text{LSTM: } 4\,N\big(T I + 2(T+1)H + T H + 4 T H\big)$$
#
# (attention: input, Q, K, V, merged heads, weights; LSTM: input, $h_t$ and $c_t$ with the initial ones,
# $\tanh c_t$, the four gates). The log–log slopes are 2 and 1:

# %%
N, E, N_HEADS, H, INPUTS = 8, 32, 4, 32, 32
for T in SEQUENCE_LENGTHS:
    assert memory[T][0] == 4 * (5 * N * T * E + N * N_HEADS * T**2)
    assert memory[T][1] == 4 * N * (T * INPUTS + 2 * (T + 1) * H + T * H + 4 * T * H)
slopes = np.log2(memory[512][0] / memory[256][0]), np.log2(memory[512][1] / memory[256][1])
print(f"from T = 256 to 512: attention memory × {memory[512][0] / memory[256][0]:.2f} (slope {slopes[0]:.2f}), "
      f"LSTM memory × {memory[512][1] / memory[256][1]:.2f} (slope {slopes[1]:.2f})")
assert slopes[0] > 1.85 and abs(slopes[1] - 1) < 0.01

plot_against_length(SEQUENCE_LENGTHS, {T: (a / 2**20, s / 2**20) for T, (a, s) in memory.items()},
                    "MiB kept for backward", "memory of one layer, batch 8",
                    labels=("multi-head attention (∝ T²)", "LSTM (∝ T)"))
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# **The notes' last row is wrong for the transformer.** Its memory is *not* "fixed, independent of sequence
# length": self-attention stores a $T \times T$ weight matrix per head and sample, so its memory grows with the
# **square** of the length — 36 MB for this one small layer at $T = 512$; at $T = 4096$ the weights alone would take
# $8 \cdot 4 \cdot 4096^2 \cdot 4$ bytes $\approx 2.1$ GB. This is
# *the* limit of transformers on long inputs, and why long-context models use tricks such as FlashAttention (which
# recomputes the weights in backward instead of storing them) or sparse and linear attention. What *is* fixed is the
# number of **parameters**, for both architectures. The RNN row is true but incomplete: its training memory grows
# only **linearly** (the $T$ states BPTT keeps), and when only running it (no backward) an RNN needs nothing but its
# current state — constant memory, however long the sequence.
#
# The notes' table, corrected with this lesson's measurements:
#
# <table>
#   <tr><th>Aspects</th><th>Transformer</th><th>RNN (LSTM)</th></tr>
#   <tr><td><b>Architecture</b></td><td>attention, no recurrence</td>
#     <td>sequential recurrence with hidden states</td></tr>
#   <tr><td><b>Parallelization</b></td><td>1 sequential step, but O(T²·E) work: fast where parallel hardware
#     absorbs the work, slower than the LSTM on our CPU for long T</td>
#     <td>T sequential steps of O(E²) work each: cannot be parallelised over time</td></tr>
#   <tr><td><b>Long-term dependencies</b></td><td>every position one attention step away: the reversal is solved
#     at every length tried</td><td>information must survive the fixed-size state: accuracy falls with the
#     distance and the length</td></tr>
#   <tr><td><b>Memory</b> (training)</td><td>grows with T² (the attention weights), not fixed</td>
#     <td>grows with T (the states BPTT keeps); constant when only running</td></tr>
# </table>
#
# ## Summary
#
# * An RNN encoder must squeeze a whole sequence into a fixed-size state: on the reversal task an LSTM's accuracy
#   falls with the length and with how long ago a digit was read. **Attention** lets every position look at every
#   other directly.
# * **Scaled dot-product attention**: $A = \operatorname{softmax}(QK^\top/\sqrt{d_k})$ row by row, output $AV$ — a
#   soft lookup of values by query–key similarity. In self-attention $Q, K, V$ are learned projections of the same
#   tokens, and the outputs are contextual representations.
# * $\operatorname{Var}(q \cdot k) = d_k$ for unit-variance components; dividing by $\sqrt{d_k}$ keeps the scores at
#   unit variance, so the softmax neither saturates nor loses its gradient (its Jacobian $a_i(\delta_{ij} - a_j)$
#   vanishes when $a$ is one-hot).
# * **Backward**: $dV = A^\top G$, $dA = G V^\top$, $dS = A \odot (dA - \operatorname{rowsum}(dA \odot A))$,
#   $dQ = dS\,K/\sqrt{d_k}$, $dK = dS^\top Q/\sqrt{d_k}$. The rows of $dS$ sum to 0, which is why the key bias gets
#   exactly zero gradient. Written as two NumPy functions, they train a transformer exactly as nnlib's do.
# * A **causal mask** (True on and below the diagonal) keeps a generating model from seeing the future.
#   **Multi-head** attention cuts $E$ features into $h$ groups: $(N, T, E) \to (N, T, h, E/h) \to (N, h, T, E/h)$.
# * Attention is permutation-equivariant, so positions are **added**: sinusoidal encodings, where a shift by $k$ is
#   a rotation that does not depend on $t$.
# * A **transformer block** = multi-head self-attention + a per-token feed-forward network, each with a residual
#   connection and LayerNorm (post-norm in the original, pre-norm in most modern models). Its backward passes the
#   gradient through every residual sum along both paths, so the gradient always reaches the layers below. A
#   one-block transformer learns to reverse digit sequences almost perfectly, attending along the anti-diagonal.
# * Measured against the notes' table: transformers do capture long-range dependencies; they are parallel in
#   *steps*, not cheaper in *work*; and their memory grows with the **square** of the sequence length — not fixed,
#   as the notes claim — while an RNN's grows linearly.
#
# ## Review questions
#
# 1. What is the bottleneck of an RNN encoder–decoder, and how does attention remove it? Why did the LSTM of
#    section 1 recall the most recent digits best?
# 2. Write scaled dot-product attention in matrix form, with the shapes of $Q$, $K$, $V$, $A$ and the output. What do
#    the rows of $A$ sum to, and why?
# 3. Compute by hand the attention weights of the query $q = (1, 1)$ over the keys $k_1 = (1, 0)$, $k_2 = (0, 2)$,
#    $k_3 = (-1, 1)$, with the scaling.
# 4. Derive $\operatorname{Var}(q \cdot k) = d_k$. What happens to the softmax and to its gradient without the
#    $1/\sqrt{d_k}$? Why is the scaling a temperature?
# 5. Derive $dV$, $dA$, $dS$, $dQ$ and $dK$ for $O = \operatorname{softmax}(QK^\top/\sqrt{d_k})V$. Why does the bias of
#    the key projection always get a zero gradient? Would the bias of the *query* projection too?
# 6. What is a causal mask for, and what does `np.triu(np.ones((T, T), dtype=bool), 1)` compute instead?
# 7. Why does `x.reshape(N, h, T, E // h)` not split the heads correctly? What does multi-head attention gain over
#    one head of the same total size, and what does it cost?
# 8. Why does a transformer need positional encodings and an RNN not? Show that a shift of the sinusoidal encoding
#    by $k$ positions is a rotation independent of the position.
# 9. Write the post-norm and pre-norm transformer blocks. What do the residual connections do for the gradient?
# 10. For each row of the notes' "Transformer vs RNN" table, say what this lesson measured and whether the notes are
#     right. How much memory do the attention weights of one layer with 8 heads need for a batch of 16 sequences of
#     2048 tokens in float32?
