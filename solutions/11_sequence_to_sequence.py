# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # Lesson 11 — Sequence to sequence: the encoder–decoder transformer
#
# The lecture notes define the **Transformer** as "a deep learning architecture introduced for sequence-to-sequence
# tasks, relying entirely on attention mechanisms and eliminating recurrent structures", and list **machine
# translation** ("translating sentences between languages") among the uses of recurrent networks. Lesson 10 built
# the transformer's *encoder*: every output position lined up with an input position. Translation is different:
# the output has its own length and its own order. This lesson builds the architecture the notes define — an
# **encoder** that reads the source sentence, and a **decoder** that writes the target one token at a time while
# looking back at the source through **cross-attention** — and trains it on a small translation task generated in
# code: dates written in English words into ISO form,
#
# > *the twenty third of march nineteen ninety nine* → `1999-03-23`.
#
# Every formula is checked by code against nnlib's `TransformerDecoderLayer` and `Seq2SeqTransformer` (which
# PyTorch's `nn.TransformerDecoderLayer` and `nn.Transformer` cross-check in nnlib's tests).
#
# ## Learning goals
#
# By the end of this lesson you can
#
# 1. write the encoder–decoder's factorisation $P(y \mid x) = \prod_t p(y_t \mid y_{<t}, x)$ and its loss, and
#    explain **teacher forcing** (the decoder reads the true previous tokens while training);
# 2. compute **cross-attention** — queries from the decoder, keys and values from the encoder's output, the
#    *memory* — and derive its backward, including why the memory's gradient is a sum over keys, values and layers;
# 3. build the decoder's cross-attention sub-block, forward and backward, and check it by finite differences;
# 4. build the **free-running** greedy decoding loop, and measure how it differs from teacher forcing;
# 5. read a cross-attention **alignment** map, and search with a **beam** instead of greedily;
# 6. reach ≥ 95 % exact match on sentences the model never saw, and compare with a recurrent encoder–decoder
#    trained on the same data with the same budget.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
from ipywidgets import FloatSlider, IntSlider, interact

from nnlib import (
    GRU,
    Adam,
    CrossEntropyLoss,
    Embedding,
    LayerNorm,
    Linear,
    Module,
    MultiHeadAttention,
    Seq2SeqTransformer,
    SequenceModel,
    TransformerDecoderLayer,
    gradcheck,
    no_grad,
    viz,
)
from nnlib import functional as F
from nnlib.exercises import (
    check_beam_search,
    check_cross_attention_block,
    check_cross_attention_weights,
    check_greedy_decode,
    check_shift_right,
)

np.set_printoptions(precision=3, suppress=True)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. A translation task generated in code
#
# Real translation needs large corpora; the ideas do not. Our "language pair" is English dates in words and their
# ISO 8601 form. The source has **two word orders** ("the … of *month* …" and "*month* the …"), a day written as an
# ordinal in one or two words, and a year from 1950 to 2029 in two to four words ("nineteen fifty", "two thousand
# and five", "twenty twelve"). The target is always ten characters. Words do not map one-to-one to characters, and
# the month can come before or after the day: the model must learn *where to look* as well as *what to write*.

# %%
ONES = "zero one two three four five six seven eight nine".split()
TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
ORDINALS = ("first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
            "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth").split()
MONTHS = "january february march april may june july august september october november december".split()
DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]   # no 29 February: every year works


def two_digits(n):
    """Words for 10–99 as said inside a year: 17 → seventeen, 40 → forty, 42 → forty two."""
    if n < 20:
        return [TEENS[n - 10]]
    return [TENS[n // 10]] + ([ONES[n % 10]] if n % 10 else [])


def day_words(d):
    """1 → first, 20 → twentieth, 23 → twenty third."""
    if d < 20:
        return [ORDINALS[d - 1]]
    if d % 10 == 0:
        return [TENS[d // 10][:-1] + "ieth"]
    return [TENS[d // 10], ORDINALS[d % 10 - 1]]


def year_words(y):
    """1999 → nineteen ninety nine, 2005 → two thousand and five, 2000 → two thousand, 2012 → twenty twelve."""
    if 2000 <= y < 2010:
        return ["two", "thousand"] + (["and", ONES[y - 2000]] if y > 2000 else [])
    return two_digits(y // 100) + two_digits(y % 100)


def date_in_words(year, month, day, style):
    if style == 0:
        return ["the", *day_words(day), "of", MONTHS[month - 1], *year_words(year)]
    return [MONTHS[month - 1], "the", *day_words(day), *year_words(year)]


print(" ".join(date_in_words(1999, 3, 23, 0)), "|", " ".join(date_in_words(2005, 11, 30, 1)))

# %% [markdown] slideshow={"slide_type": "subslide"}
# Both languages become token ids. The source vocabulary has a padding word at id 0 (sentences have 5 to 9 words and
# are padded to 9); the model masks padding out of every attention. The target vocabulary is the 11 characters plus
# two control tokens: **bos** (beginning of sentence, the decoder's first input) and **eos** (end of sentence, the
# decoder's way of saying it is done).

# %%
SOURCE_WORDS = ["<pad>"] + sorted({*ONES, *TEENS, *TENS[2:], *ORDINALS, "twentieth", "thirtieth", *MONTHS, "the", "of",
                                   "and", "thousand"})
TARGET_TOKENS = ["<bos>", "<eos>", *"0123456789-"]
PAD, BOS, EOS = 0, 0, 1                     # PAD in the source vocabulary; BOS and EOS in the target one
SOURCE_ID = {word: i for i, word in enumerate(SOURCE_WORDS)}
TARGET_ID = {token: i for i, token in enumerate(TARGET_TOKENS)}
S_MAX, T_OUT = 9, 11                        # longest source sentence; target: 10 characters + eos


def make_dates(n, seed):
    """n random dates (years 1950–2029, both word orders): source ids (n, S_MAX) padded with PAD, targets (n, 11)."""
    rng = np.random.default_rng(seed)
    years, months, styles = rng.integers(1950, 2030, n), rng.integers(1, 13, n), rng.integers(0, 2, n)
    days = [rng.integers(1, DAYS_IN_MONTH[m - 1] + 1) for m in months]
    source, target = np.full((n, S_MAX), PAD), np.zeros((n, T_OUT), int)
    for i, (y, m, d, style) in enumerate(zip(years, months, days, styles, strict=True)):
        words = date_in_words(y, m, d, style)
        source[i, :len(words)] = [SOURCE_ID[w] for w in words]
        target[i] = [TARGET_ID[c] for c in f"{y}-{m:02d}-{d:02d}"] + [EOS]
    return source, target


def words(ids):
    return " ".join(SOURCE_WORDS[i] for i in ids if i != PAD)


def text(ids):
    """Target ids → the characters before the first eos."""
    ids = list(ids)
    return "".join(TARGET_TOKENS[i] for i in ids[:ids.index(EOS) if EOS in ids else len(ids)])


train_src, train_tgt = make_dates(4000, seed=0)
candidates_src, candidates_tgt = make_dates(2000, seed=1)
seen = {tuple(row) for row in train_src}
held_out = np.array([tuple(row) not in seen for row in candidates_src])
test_src, test_tgt = candidates_src[held_out][:500], candidates_tgt[held_out][:500]
lengths = np.sum(train_src != PAD, axis=1)
print(f"{len(SOURCE_WORDS)} source words, {len(TARGET_TOKENS)} target tokens; {len(train_src)} training pairs, "
      f"{len(test_src)} held-out pairs (sentences absent from the training set); {lengths.min()} to "
      f"{lengths.max()} words per sentence")
for i in range(3):
    print(f"  {words(train_src[i]):<48} → {text(train_tgt[i])}")
assert not {tuple(row) for row in test_src} & seen and len(test_src) == 500

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. The encoder–decoder and teacher forcing
#
# Write the source sentence $x = (x_1, \dots, x_S)$ and the target $y = (y_1, \dots, y_T)$, with $y_T$ = eos. By the
# chain rule of probability, any distribution over target sentences factorises into next-token predictions:
#
# $$P(y \mid x) = \prod_{t=1}^{T} p(y_t \mid y_1, \dots, y_{t-1}, x).$$
#
# The **encoder** reads all of $x$ once and produces the **memory** $M = \operatorname{Enc}(x)$, one $d$-vector per
# source token $(S, d)$ — the output of lesson 10's encoder blocks. The **decoder** computes, at every step $t$, a
# vector $h_t$ from the previous target tokens (through *causal* self-attention: step $t$ may not look at the tokens
# it has to predict) and from $M$ (through cross-attention, section 3), and turns it into probabilities with a
# linear layer and a softmax, $p(\cdot \mid y_{<t}, x) = \operatorname{softmax}(h_t W_o + b_o)$. Training maximises
# $\log P(y \mid x)$, i.e. minimises the cross-entropy summed over the steps,
#
# $$L = -\log P(y \mid x) = -\sum_{t=1}^{T} \log p(y_t \mid y_{<t}, x).$$
#
# Each term needs the true prefix $y_{<t}$. **Teacher forcing** feeds it: the decoder's input is the target
# shifted right by one, $(\text{bos}, y_1, \dots, y_{T-1})$, and its $T$ outputs are compared with
# $(y_1, \dots, y_T)$. Thanks to the causal mask, all $T$ steps are computed in one parallel pass, exactly like
# lesson 10's encoder — no loop over time while training.
#
# ### Exercise 11.1 — the decoder's input
#
# Write `shift_right(targets, bos)`: for target ids `targets` $(N, T)$ return the decoder's input $(N, T)$: a column
# of `bos`, then every target token but the last.

# %%
def shift_right(targets, bos):
    """Teacher forcing's decoder input: (N, T) ids → [bos, y_1, …, y_{T-1}] (N, T)."""
    ### BEGIN SOLUTION
    return np.concatenate([np.full((len(targets), 1), bos), targets[:, :-1]], axis=1)
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_shift_right(shift_right)

# %% [markdown] slideshow={"slide_type": "subslide"}
# For the first training pair, the decoder reads the upper row and must predict the lower one, each prediction
# from the tokens to its left only:

# %%
decoder_input = np.concatenate([np.full((len(train_tgt), 1), BOS), train_tgt[:, :-1]], axis=1)  # nnlib's solution
print("decoder input :", [TARGET_TOKENS[i] for i in decoder_input[0]])
print("decoder target:", [TARGET_TOKENS[i] for i in train_tgt[0]])
assert np.array_equal(decoder_input[:, 1:], train_tgt[:, :-1]) and np.all(decoder_input[:, 0] == BOS)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Cross-attention: the decoder reads the source
#
# Self-attention (lesson 10) takes queries, keys and values from the same sequence. **Cross-attention** takes the
# **queries from the decoder** and the **keys and values from the memory**. With the decoder's states
# $X$ $(T, E)$ and the memory $M$ $(S, E)$:
#
# $$Q = X W_q, \quad K = M W_k, \quad V = M W_v, \qquad
# A = \operatorname{softmax}\Big(\frac{Q K^\top}{\sqrt{d_k}}\Big) \;(T, S), \qquad \text{output} = A V\, W_o .$$
#
# Row $t$ of $A$ is a probability distribution over the **source** positions: what output step $t$ reads from the
# source. For a translation this is the **alignment** between the two sentences, which the model learns without
# ever being told it (section 6 shows it). Nothing restricts it to be monotone, so "march" can be read for the
# month digits whether it comes first or fourth.
#
# ### Exercise 11.2 — cross-attention weights
#
# Write `cross_attention_weights(x, memory, w_q, w_k)` for one sentence and one head: `x` $(T, E)$, `memory`
# $(S, E)$, `w_q` and `w_k` $(E, d_k)$; return $A$ $(T, S)$, each row summing to 1 over the source positions.

# %%
def cross_attention_weights(x, memory, w_q, w_k):
    """softmax((x W_q)(memory W_k)ᵀ / √d_k) over the memory: x (T, E), memory (S, E), w (E, d_k) → A (T, S)."""
    ### BEGIN SOLUTION
    scores = (x @ w_q) @ (memory @ w_k).T / np.sqrt(w_q.shape[1])
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_cross_attention_weights(cross_attention_weights)

# %% [markdown] slideshow={"slide_type": "subslide"}
# nnlib's `MultiHeadAttention(query, key, value)` computes the same with `key = value = memory` (here one head, so
# $d_k = E$; its projections have biases, set to zero to match the formula):

# %%
rng = np.random.default_rng(11)
attention = MultiHeadAttention(8, 1, rng=0, dtype=np.float64)
for projection in (attention.q_proj, attention.k_proj):
    projection.bias.data[:] = 0.0
X_dec, M_enc = rng.normal(size=(1, 4, 8)), rng.normal(size=(1, 6, 8))
with no_grad():
    attention(X_dec, M_enc, M_enc)
scores = (X_dec[0] @ attention.q_proj.weight.data) @ (M_enc[0] @ attention.k_proj.weight.data).T / np.sqrt(8)
A_formula = F.softmax(scores, axis=-1)
print("weights (T = 4 decoder steps, S = 6 source positions):\n", attention.weights[0, 0])
assert attention.weights.shape == (1, 1, 4, 6) and np.allclose(attention.weights[0, 0], A_formula, atol=1e-12)

# %% [markdown] slideshow={"slide_type": "subslide"}
# How sharp an alignment is depends on the size of the scores. Scale the decoder's state (the query) and watch one
# row of $A$ go from uniform (scale 0: every source position gets $1/S$) to one-hot (the softmax picks the best
# key):

# %% tags=["nbval-ignore-output"]
def show_query_scale(scale=1.0):
    """One decoder step's cross-attention weights over the 6 source positions, for the query scaled by ``scale``."""
    weights = F.softmax(scale * scores[0], axis=-1)
    plt.figure(figsize=(5, 2.4))
    plt.bar(range(6), weights)
    plt.ylim(0, 1)
    plt.xlabel("source position")
    plt.ylabel("weight")
    plt.title(f"query × {scale:.1f}: largest weight {weights.max():.2f}")
    plt.show()


_ = interact(show_query_scale, scale=FloatSlider(value=1.0, min=0.0, max=8.0, step=0.5, continuous_update=False))

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Backward.** Given $G = \partial L / \partial(\text{attention output})$, lesson 10's derivation gives
# $\partial L/\partial Q$, $\partial L/\partial K$ and $\partial L/\partial V$ unchanged — it never assumed that
# $Q$, $K$ and $V$ came from the same place. What changes is where they go: $Q = X W_q$ sends
# $\partial L / \partial X = (\partial L / \partial Q) W_q^\top$ to the decoder, while the memory feeds **both** the
# keys and the values, so by the multivariable chain rule its two contributions add:
#
# $$\frac{\partial L}{\partial M} = \frac{\partial L}{\partial K} W_k^\top + \frac{\partial L}{\partial V} W_v^\top .$$
#
# Every decoder layer reads the same memory, so the encoder receives the **sum over the decoder layers** of these
# gradients — `Seq2SeqTransformer.backward` adds them before running the encoder backward.
#
# In a pre-norm decoder layer (lesson 10's pre-norm block, with one more sub-block) the cross-attention sits between
# masked self-attention and the feed-forward network:
#
# $$y = x + \operatorname{MHA}(\operatorname{LN}(x), M, M), \qquad
# \frac{\partial L}{\partial x} = G + \operatorname{LN}^\top\!\Big(\frac{\partial L}{\partial Q_{\text{in}}}\Big),
# \qquad \frac{\partial L}{\partial M} = \frac{\partial L}{\partial K_{\text{in}}}
# + \frac{\partial L}{\partial V_{\text{in}}}$$
#
# where $\operatorname{LN}^\top$ is the LayerNorm's backward and the three input gradients are what
# `MultiHeadAttention.backward` returns for cross-attention: the triple (dL/dquery, dL/dkey, dL/dvalue).
#
# ### Exercise 11.3 — the cross-attention sub-block, forward and backward
#
# Complete `CrossAttentionBlock`: `forward(x, memory)` returns $x + \operatorname{MHA}(\operatorname{LN}(x), M, M)$
# with the sub-layers `norm2` and `multihead_attn` (the names of `nnlib.TransformerDecoderLayer`), and
# `backward(grad_out)` returns the pair `(dL/dx, dL/dmemory)`. The check compares it with nnlib's decoder layer on
# three shapes (parameter gradients included) and runs `gradcheck` in float64.

# %%
class CrossAttentionBlock(Module):
    """Pre-norm cross-attention: x (N, T, d), memory (N, S, d) → x + MHA(LN(x), memory, memory) (N, T, d)."""

    def __init__(self, d_model, nhead, rng=None, dtype=np.float32):
        self.norm2 = LayerNorm(d_model, dtype=dtype)
        self.multihead_attn = MultiHeadAttention(d_model, nhead, rng=rng, dtype=dtype)

    def forward(self, x, memory):
        ### BEGIN SOLUTION
        return x + self.multihead_attn(self.norm2(x), memory, memory)
        ### END SOLUTION

    def backward(self, grad_out):
        """dL/d(output) (N, T, d) → (dL/dx (N, T, d), dL/dmemory (N, S, d))."""
        ### BEGIN SOLUTION
        grad_query, grad_key, grad_value = self.multihead_attn.backward(grad_out)
        return grad_out + self.norm2.backward(grad_query), grad_key + grad_value
        ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_cross_attention_block(CrossAttentionBlock)

# %% [markdown] slideshow={"slide_type": "subslide"}
# nnlib's `TransformerDecoderLayer` is this sub-block between a masked self-attention block and a feed-forward
# block. Its gradient with respect to the memory, against finite differences in float64 (both normalisation
# orders):

# %%
for norm_first in (False, True):
    layer = TransformerDecoderLayer(8, 2, 16, dropout=0.0, norm_first=norm_first, rng=0, dtype=np.float64)
    errors = gradcheck(layer, rng.normal(size=(2, 4, 8)), rng.normal(size=(2, 6, 8)), tol=None)
    errors = {name: e for name, e in errors.items() if not name.endswith("k_proj.bias")}  # exactly 0 (lesson 10)
    print(f"norm_first={norm_first}: dL/dx error {errors['input0']:.0e}, dL/dmemory error {errors['input1']:.0e}, "
          f"largest over {len(errors)} gradients {max(errors.values()):.0e}")
    assert max(errors.values()) < 1e-7

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Training with teacher forcing
#
# `nnlib.Seq2SeqTransformer` assembles the whole model: source and target embeddings (×√d) plus sinusoidal
# positions, `num_encoder_layers` encoder blocks and a final LayerNorm (the memory), `num_decoder_layers` decoder
# layers and a final LayerNorm, and a linear layer to the target vocabulary. `forward(src, tgt_in)` is the teacher-
# forced pass: logits $(N, T, V)$ for every step at once. One block each, $d = 32$, 4 heads:

# %%
EPOCHS, BATCH, LR = 8, 32, 3e-3            # one budget for both models of this lesson


def train(model, inputs, targets, epochs=EPOCHS, seed=0):
    """Adam, mini-batches of BATCH, the learning rate decaying linearly from LR; ``model(*inputs[batch])``.
    Returns the mean training loss of each epoch."""
    loss, optimizer, rng = CrossEntropyLoss(), Adam(model.parameters(), lr=LR), np.random.default_rng(seed)
    history = []
    for epoch in range(epochs):
        optimizer.lr = LR * (1 - epoch / epochs) + 1e-4
        order, losses = rng.permutation(len(targets)), []
        for start in range(0, len(order), BATCH):
            batch = order[start:start + BATCH]
            optimizer.zero_grad()
            losses.append(loss(model(*(x[batch] for x in inputs)), targets[batch]))
            model.backward(loss.backward())
            optimizer.step()
        history.append(float(np.mean(losses)))
    return history


transformer = Seq2SeqTransformer(len(SOURCE_WORDS), len(TARGET_TOKENS), d_model=32, nhead=4, num_encoder_layers=1,
                                 num_decoder_layers=1, dim_feedforward=64, max_len=16, src_pad_id=PAD, rng=0)
start = time.perf_counter()
transformer_losses = train(transformer, (train_src, decoder_input), train_tgt)
transformer_seconds = time.perf_counter() - start
print(f"{transformer.num_parameters()} parameters; training loss per epoch:", np.round(transformer_losses, 3))
assert transformer_losses[-1] < 0.05

# %% tags=["nbval-ignore-output", "timing"]
print(f"training time: {transformer_seconds:.1f} s")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Free-running decoding
#
# At test time there is no true prefix to feed. The decoder runs **free**: start from bos, predict a token, append
# it to the decoder's input, predict the next, until eos (or a length limit). The simplest rule picks the most
# probable token at every step — **greedy decoding**. nnlib's version re-runs the decoder on the whole prefix at
# every step (no cache of earlier steps: $T$ steps cost $1 + 2 + \dots + T$ decoder rows, fine for short targets).
#
# ### Exercise 11.4 — build the greedy decoding loop
#
# Write `greedy_decode(model, src, max_len, bos, eos)` for a `Seq2SeqTransformer`: encode once
# (`model.encode(src)`), then for at most `max_len` steps run `model.decode(memory, out, model.source_padding(src))`
# on the tokens so far, take the most probable token at the **last** position, and append it. A row that has
# produced eos gets eos from then on; stop as soon as every row has. Return the generated ids without the leading
# bos, $(N, L)$ with $L \le$ `max_len`. Run it under `no_grad()`: nothing will be backpropagated.

# %%
def greedy_decode(model, src, max_len, bos, eos):
    """Free-running greedy decoding: src (N, S) ids → (N, L) ids, L ≤ max_len, eos-padded after each row's eos."""
    ### BEGIN SOLUTION
    with no_grad():
        memory, padding = model.encode(src), model.source_padding(src)
        out, done = np.full((len(src), 1), bos), np.zeros(len(src), dtype=bool)
        for _ in range(max_len):
            logits = model.decode(memory, out, padding)                     # (N, t, V): every step so far
            next_ids = np.where(done, eos, logits[:, -1].argmax(axis=-1))   # the newest step's best token
            out = np.concatenate([out, next_ids[:, None]], axis=1)
            done = done | (next_ids == eos)
            if done.all():
                break
    return out[:, 1:]
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_greedy_decode(greedy_decode)

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["numbers-checked"]
# The trained model on the 500 held-out sentences, decoded free-running (nnlib's `generate`, greedy by default).
# A sentence counts only if **every** character is right — **exact match**:

# %%
def exact_match(predicted, targets):
    """Fraction of rows equal to their target up to and including eos (shorter outputs padded with eos)."""
    width = targets.shape[1]
    padded = np.pad(predicted[:, :width], ((0, 0), (0, width - min(width, predicted.shape[1]))),
                    constant_values=EOS)
    return float(np.mean(np.all(padded == targets, axis=1)))


greedy = transformer.generate(test_src, max_len=T_OUT, bos=BOS, eos=EOS)
transformer_exact = exact_match(greedy, test_tgt)
print(f"exact match on 500 held-out sentences, free-running: {transformer_exact:.3f}")
for i in range(4):
    print(f"  {words(test_src[i]):<48} → {text(greedy[i])}   (true {text(test_tgt[i])})")
assert transformer_exact >= 0.95

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Teacher forcing vs free-running.** Under teacher forcing every step sees the *true* prefix, so one early
# mistake cannot derail the rest; free-running, the decoder reads its own output, mistakes included — the training
# and test conditions differ (*exposure bias*). The same model measured both ways, on the same held-out sentences:

# %%
test_input = np.concatenate([np.full((len(test_tgt), 1), BOS), test_tgt[:, :-1]], axis=1)  # the true prefixes
with no_grad():
    forced = transformer.eval()(test_src, test_input).argmax(axis=-1)
forced_tokens, free_tokens = np.mean(forced == test_tgt), np.mean(greedy[:, :T_OUT] == test_tgt)
forced_exact = exact_match(forced, test_tgt)
print(f"teacher-forced: token accuracy {forced_tokens:.4f}, exact match {forced_exact:.3f}")
print(f"free-running  : token accuracy {free_tokens:.4f}, exact match {transformer_exact:.3f}")
assert forced_exact >= transformer_exact and abs(forced_tokens - free_tokens) < 0.01

# %% [markdown] slideshow={"slide_type": "subslide"}
# Teacher forcing scores at least as high (asserted above): it is an **optimistic** measure, since the model never
# has to live with its own errors, and only free-running accuracy tells how the model translates. For this
# accurate model the two differ by a fraction of a percent (printed above); for a weaker model, or a longer
# target, one wrong token changes what the decoder reads at every later step.
#
# ## 6. Alignment: what the decoder reads
#
# The cross-attention weights of the decoder layer, averaged over its 4 heads, for a held-out sentence: row $t$
# says which source words output character $t$ read. Two sentences, one of each word order:

# %%
def alignment(model, src, out):
    """Cross-attention weights (T, S) of the last decoder layer, averaged over heads, for one sentence and its
    decoded output (teacher-forced on that output: the same weights as free-running)."""
    with no_grad():
        model.eval()(src[None], np.concatenate([[BOS], out[:-1]])[None])
    return model.decoder_layers[-1].cross_attn.weights[0].mean(axis=0)


def show_alignment(sample=0):
    length = int(np.sum(test_src[sample] != PAD))
    weights = alignment(transformer, test_src[sample], greedy[sample, :T_OUT])[:, :length]
    viz.plot_alignment(weights, [SOURCE_WORDS[i] for i in test_src[sample, :length]],
                       [TARGET_TOKENS[i] for i in greedy[sample, :T_OUT]], title=text(greedy[sample]))
    plt.show()


first_order = int(np.argmax(test_src[:, 0] == SOURCE_ID["the"]))
other_order = int(np.argmax(test_src[:, 0] != SOURCE_ID["the"]))
for sample in (first_order, other_order):
    show_alignment(sample)

# %% [markdown] slideshow={"slide_type": "subslide"}
# Move the slider through the held-out sentences:

# %% tags=["nbval-ignore-output"]
_ = interact(show_alignment, sample=IntSlider(value=0, min=0, max=len(test_src) - 1, continuous_update=False))

# %% [markdown] slideshow={"slide_type": "subslide"}
# Is the month read from the month word? For every held-out sentence, take the source word that the two month
# characters (positions 5 and 6 of `YYYY-MM-DD`) attend to most, and count how often it is the month's name:

# %%
def attended_word(sample, positions):
    weights = alignment(transformer, test_src[sample], greedy[sample, :T_OUT])
    return SOURCE_WORDS[test_src[sample, weights[positions].sum(axis=0).argmax()]]


month_read = np.mean([attended_word(i, [5, 6]) in MONTHS for i in range(len(test_src))])
print(f"month characters attend most to the month's name in {month_read:.1%} of the held-out sentences")

# %% [markdown] slideshow={"slide_type": "subslide"}
# The fraction is printed rather than asserted high: nothing forces cross-attention to be the only route — the
# decoder's self-attention and the encoder's own mixing of the words (its self-attention already moved information
# between source positions) can carry the month too. The alignment map is a view of one mechanism, not a proof of
# how the model decides.
#
# ## 7. Beam search
#
# Greedy decoding maximises each $p(y_t \mid y_{<t}, x)$ separately, which need not maximise their product
# $P(y \mid x)$: a slightly less probable first token can lead to a much more probable sentence. **Beam search**
# keeps the $k$ most probable prefixes (by $\sum_t \log p$) at every step, extends each by every token, and keeps
# the $k$ best of the $k \cdot V$ candidates. A prefix that has produced eos is finished: it is extended by eos at
# no cost, so it competes with the others at its final score. $k = 1$ is greedy decoding; $k = V^{T}$ would be an
# exhaustive search. nnlib's `Seq2SeqTransformer.beam_search` does this without caching earlier steps, like greedy.
#
# ### Exercise 11.5 (challenge, optional) — beam search
#
# Write `beam_search(model, src, max_len, bos, eos, beam)`, returning the best hypothesis of each sentence like
# `model.beam_search`. Hints: keep `scores` of shape $(N k,)$, starting at $(0, -\infty, \dots, -\infty)$ for each
# sentence (one live prefix); `np.argsort(-total, axis=1, kind="stable")[:, :beam]` on the $(N, k V)$ candidates.

# %%
def beam_search(model, src, max_len, bos, eos, beam):
    """Beam search of width ``beam``: src (N, S) ids → the most probable hypothesis of each sentence (N, L)."""
    ### BEGIN SOLUTION
    vocab, n = model.tgt_vocab_size, len(src)
    with no_grad():
        memory, padding = np.repeat(model.encode(src), beam, axis=0), model.source_padding(src)
        padding = None if padding is None else np.repeat(padding, beam, axis=0)
        seqs, done = np.full((n * beam, 1), bos), np.zeros(n * beam, dtype=bool)
        scores = np.tile(np.r_[0.0, np.full(beam - 1, -np.inf)], n)
        for _ in range(max_len):
            log_p = F.log_softmax(model.decode(memory, seqs, padding)[:, -1].astype(np.float64))
            log_p[done] = -np.inf
            log_p[done, eos] = 0.0                                  # a finished prefix stays as it is, at no cost
            total = (scores[:, None] + log_p).reshape(n, beam * vocab)
            best = np.argsort(-total, axis=1, kind="stable")[:, :beam]
            parents = (np.arange(n)[:, None] * beam + best // vocab).ravel()
            tokens, scores = (best % vocab).ravel(), np.take_along_axis(total, best, axis=1).ravel()
            seqs, done = np.concatenate([seqs[parents], tokens[:, None]], axis=1), done[parents] | (tokens == eos)
            if done.all():
                break
    return seqs.reshape(n, beam, -1)[:, 0, 1:]
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_beam_search(beam_search)

# %% [markdown] slideshow={"slide_type": "subslide"}
# On the trained model, a beam of 3 against greedy decoding: the exact match, and the mean of $\log P(y \mid x)$
# that each search found (`sequence_log_prob`), over the held-out sentences:

# %%
beam = transformer.generate(test_src, max_len=T_OUT, bos=BOS, eos=EOS, beam=3)
beam_exact = exact_match(beam, test_tgt)
greedy_score = transformer.sequence_log_prob(test_src, greedy[:, :T_OUT], BOS, EOS)
beam_score = transformer.sequence_log_prob(test_src, beam[:, :T_OUT], BOS, EOS)
print(f"greedy: exact match {transformer_exact:.3f}, mean log P {greedy_score.mean():.4f}")
print(f"beam 3: exact match {beam_exact:.3f}, mean log P {beam_score.mean():.4f}; "
      f"different outputs: {int(np.sum(np.any(beam[:, :T_OUT] != greedy[:, :T_OUT], axis=1)))} of 500")
assert beam_score.mean() >= greedy_score.mean() - 1e-9

# %% [markdown] slideshow={"slide_type": "subslide"}
# A search maximises the model's probability, not correctness. This model is so confident that the beam changes
# little or nothing here (the count of different outputs above); a higher $\log P$ can only help where the model's
# second choice at some step was the right one, which is more common for weaker models and longer sentences.
#
# ## 8. Transformer vs RNN on this task
#
# The classic neural translator before 2017 was a recurrent encoder–decoder (lesson 10, section 1): one recurrent
# network reads the source and then writes the target, everything about the source passing through its fixed-size
# state. The cheapest such model here is lesson 10's: a GRU that reads the source words followed by 11 **blank**
# tokens, and answers while reading the blanks (its outputs during the source are trained to be bos, a "nothing
# yet" token, and ignored). Hidden size 64 makes it about as large as the transformer. Same data, same epochs,
# batch size, optimiser and learning rate schedule:

# %%
BLANK = len(SOURCE_WORDS)                           # one more input token


def with_blanks(src):
    return np.concatenate([src, np.full((len(src), T_OUT), BLANK)], axis=1)


assert S_MAX + T_OUT - 1 == 19        # state updates between the first source word and the last output
gru_targets = np.concatenate([np.full((len(train_tgt), S_MAX), BOS), train_tgt], axis=1)
gru = SequenceModel(GRU(32, 64, rng=0), Linear(64, len(TARGET_TOKENS), rng=1), Embedding(BLANK + 1, 32, rng=2))
start = time.perf_counter()
gru_losses = train(gru, (with_blanks(train_src),), gru_targets)
gru_seconds = time.perf_counter() - start
with no_grad():
    gru_out = gru.eval()(with_blanks(test_src))[:, S_MAX:].argmax(axis=-1)
gru_exact, gru_tokens = exact_match(gru_out, test_tgt), float(np.mean(gru_out == test_tgt))
print(f"GRU encoder-decoder: {gru.num_parameters()} parameters, final training loss {gru_losses[-1]:.3f}")
print(f"  held-out exact match {gru_exact:.3f}, token accuracy {gru_tokens:.3f}")
print(f"transformer        : {transformer.num_parameters()} parameters, held-out exact match {transformer_exact:.3f}, "
      f"token accuracy {free_tokens:.3f}")
assert transformer_exact > gru_exact and free_tokens > gru_tokens
assert gru_exact < 0.1 and gru_tokens > 0.5 and 0.8 < gru.num_parameters() / transformer.num_parameters() < 1.2

# %% tags=["nbval-ignore-output", "timing"]
print(f"training time: GRU {gru_seconds:.1f} s, transformer {transformer_seconds:.1f} s")

# %% [markdown] slideshow={"slide_type": "subslide"}
# With this budget the transformer translates almost every held-out date and the GRU fewer than one in ten,
# although it gets most single characters right (the numbers above). What this comparison does and does not show:
#
# * the GRU has no attention: every source word must survive up to 19 state updates before it is written out,
#   while the transformer's decoder looks at the source words directly at every step;
# * the GRU is not given teacher forcing (it never reads its own output), a simplification of the classic RNN
#   encoder–decoder; with more epochs, a larger state, or attention added to the RNN (Bahdanau et al., 2014, the
#   step that led to the transformer) it would do much better. The measurement is of these two models under one
#   small budget, not of the best each architecture can do.
#
# **Machine translation, for real.** The notes list machine translation as a use of sequence models, and the
# transformer was introduced for it. What a real translator adds to this lesson's model: sub-word vocabularies
# of tens of thousands of tokens learned from data; six or more layers on each side with $d = 512$ and more;
# millions of sentence pairs; dropout and label smoothing; beam search with a length penalty; a **cache** of the
# decoder's keys and values so that each new token costs one decoder row instead of the whole prefix; and
# evaluation with a similarity score such as BLEU instead of exact match, because a sentence has many correct
# translations.
#
# ## Summary
#
# * The encoder–decoder factorises $P(y \mid x) = \prod_t p(y_t \mid y_{<t}, x)$: the **encoder** turns the source
#   into a memory $M$ $(S, d)$; the **decoder** predicts each target token from the previous ones (causal
#   self-attention) and from $M$ (cross-attention). Training minimises $-\sum_t \log p(y_t \mid y_{<t}, x)$.
# * **Teacher forcing** feeds the true prefix, shifted right after bos, so all steps train in one parallel pass.
#   At test time decoding is **free-running**, one token at a time; teacher-forced accuracy is an optimistic
#   measure.
# * **Cross-attention**: $Q = X W_q$ from the decoder, $K = M W_k$ and $V = M W_v$ from the memory; its weights
#   $(T, S)$ are a learned **alignment**. Backward: $\partial L/\partial M = \partial L/\partial K\, W_k^\top +
#   \partial L/\partial V\, W_v^\top$, summed over every decoder layer.
# * **Greedy decoding** takes the most probable token at each step; **beam search** keeps the $k$ best prefixes
#   and finds sentences of higher $\log P(y \mid x)$; $k = 1$ is greedy.
# * On dates in words → ISO form, a one-layer encoder–decoder transformer reaches ≥ 95 % exact match on unseen
#   sentences; a GRU encoder–decoder of the same size and budget, without attention, does much worse.
#
# ## Review questions
#
# 1. Write $P(y \mid x)$ as a product of next-token probabilities. Which rule of probability justifies it, and which
#    loss does maximising it give?
# 2. What is the decoder's input under teacher forcing, and why can all steps then be computed at once? Which mask
#    makes that legal?
# 3. In cross-attention, where do the queries, keys and values come from? What are the shapes of $A$ for a target of
#    $T$ tokens and a source of $S$ tokens, and what does row $t$ mean?
# 4. Derive $\partial L / \partial M$ for one cross-attention layer. Why is it a sum of two terms, and why does the
#    encoder receive a sum over the decoder layers?
# 5. Why can teacher-forced accuracy be higher than free-running accuracy on the same model? What is exposure bias?
# 6. Give an example where greedy decoding misses the most probable sentence. What does beam search keep, and why
#    must a finished hypothesis be extended at no cost?
# 7. The cache-free decoding loops re-run the decoder on the whole prefix. How many decoder rows does a target of
#    $T$ tokens cost, and what would a cache of keys and values save?
# 8. What did the Transformer-vs-GRU comparison measure, and what would make it fairer to the recurrent model?
