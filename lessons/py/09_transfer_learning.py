# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # Lesson 09 — Transfer learning
#
# Training a network from scratch needs many labelled examples; often we have a few dozen. **Transfer learning**
# starts instead from a network already trained on a related task with plenty of data, and adapts it. This lesson
# does it for real, on a small scale: a CNN pre-trained on the digits 0–4 (its weights ship with nnlib) is adapted
# to the digits 5–9 with 10 to 100 labelled examples per class — from scratch, with its features frozen under a new
# head, and fine-tuned. Along the way it derives why a frozen feature extractor needs no gradient, builds the three
# tools transfer needs (freezing, replacing a head, loading weights by name), looks at what the pre-trained features
# see, and measures where transfer helps and where it stops helping.
#
# ## Learning goals
#
# By the end of this lesson you can
#
# 1. state what transfer learning is, in the notes' words, and say for each of the notes' applications what is
#    pre-trained and what is adapted;
# 2. inspect, save and load a **checkpoint** by parameter name, load only the feature extractor into a model with
#    a new head, and explain why checkpoints are not pickles;
# 3. **replace the head** of a network and **freeze** its feature extractor, count what remains trainable, and
#    extract features once, in evaluation mode;
# 4. derive why a frozen extractor needs no gradient — the head's gradient is the δ rule on fixed features,
#    $\partial E / \partial W = \phi^\top (P - T) / N$ — and why training it equals training a linear classifier on
#    features computed once;
# 5. compare **training from scratch**, **frozen features** and **fine-tuning** as the number of labelled examples
#    grows, and say where transfer helps and where it stops helping;
# 6. write the frozen and fine-tuning recipes as code, and explain why fine-tuning trains the new head first and
#    uses a **lower learning rate**;
# 7. show what pre-trained features separate that random ones do not.

# %%
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from ipywidgets import SelectionSlider, fixed, interact

import nnlib
from nnlib import Adam, CrossEntropyLoss, Linear, accuracy, fit
from nnlib.data import load_digits, one_hot, place_on_canvas, take_per_class, train_test_split
from nnlib.exercises import check_count_trainable, check_extract_features, check_freeze, check_new_head, check_transfer
from nnlib.functional import softmax
from nnlib.pretrained import (
    CANVAS,
    METHODS,
    N_FEATURES,
    NOISE,
    SOURCE_DIGITS,
    TARGET_DIGITS,
    WEIGHTS,
    adapt,
    digits_cnn,
    load_digits_cnn,
    scanned_digits,
)

np.set_printoptions(precision=3, suppress=True)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. What transfer learning is
#
# The notes (§4.1) give two definitions:
#
# > Transfer learning is a machine learning technique where a model trained on a large, general dataset is
# > fine-tuned for a specific task with a smaller dataset.
#
# > Transfer learning is a machine learning technique where knowledge gained from solving one task is leveraged to
# > improve a model's performance on a different but related task. Instead of training a model from scratch for
# > every new problem, transfer learning uses a pre-trained model — typically trained on a large dataset for a
# > source task — and adapts it (often by fine-tuning) for a target task, which may have less data or slightly
# > different requirements.
#
# So there are two tasks: a **source task** with much data, on which the model is **pre-trained**, and a **target
# task**, related, usually with little data. What is transferred is the knowledge held in the weights. The notes
# (§4.2) list where it is used; for each, what is pre-trained and what is adapted:
#
# * **Image classification** — "adapts pre-trained models (e.g., ResNet) for new image categories with limited
#   data". *Pre-trained*: a ResNet classifying ImageNet's 1.28 million photos into 1000 classes. *Adapted*: its
#   1000-class output layer is replaced by one for the new categories, which is trained (or all layers are) on the
#   few labelled images.
# * **Natural language processing** — "fine-tunes models like BERT for tasks such as sentiment analysis or question
#   answering". *Pre-trained*: BERT, predicting masked-out words in 3.3 billion words of books and Wikipedia.
#   *Adapted*: a small head (the sentiment classes; or an answer's start and end positions) is added, and the whole
#   network fine-tuned at a small learning rate.
# * **Medical imaging** — "utilizes pre-trained models to detect diseases in X-rays or MRIs with small labeled
#   datasets". *Pre-trained*: a CNN trained on natural photographs (ImageNet). *Adapted*: a head for the diseases,
#   and the network fine-tuned on a few thousand labelled scans.
# * **Speech recognition** — "adjusts pre-trained audio models for specific languages or accents". *Pre-trained*: a
#   speech model trained on tens or hundreds of thousands of hours of audio (wav2vec 2.0, Whisper). *Adapted*: an
#   output layer for the new language's characters, or continued training on recordings of the accent.
#
# Why does it work? A network trained on a large task learns **features** on the way: lesson 06's CNN learned edge
# detectors in its first layer, and deeper layers combine them into strokes and shapes. The early features are
# general — edges are edges in any image — and only the last layers are specific to the source classes. The
# recipe is then always the same: keep the **feature extractor** $\phi$ (every layer but the last), put a new
# **head** for the target classes on top, and train — the head alone (**frozen features**) or everything
# (**fine-tuning**). The baseline to beat is training the same network **from scratch** on the target data.
#
# ## 2. The source and target tasks: scanned digits
#
# Our "large, general dataset" is generated. `nnlib.pretrained.scanned_digits` takes the 8×8 handwritten digits of
# earlier lessons and "scans" each one: pasted at a random position on a 12×12 canvas, plus Gaussian noise of
# standard deviation 0.1. The **source task** is the digits 0–4; the **target task** the digits 5–9 (relabelled
# 0–4). Same kind of images, different classes: related tasks, as the definition asks.

# %%
X_source, y_source = scanned_digits(SOURCE_DIGITS, rng=0)
X, y = scanned_digits(TARGET_DIGITS, rng=5)                 # the target task; label 0 is the digit 5, …, 4 is 9
print(f"source task: {len(y_source)} images of the digits {SOURCE_DIGITS}, shape {X_source.shape[1:]}")
print(f"target task: {len(y)} images of the digits {TARGET_DIGITS}, labels {np.unique(y)}")

fig, axes = plt.subplots(2, 10, figsize=(12, 2.8), layout="constrained")
for row, (images, labels, digits) in enumerate([(X_source, y_source, SOURCE_DIGITS), (X, y, TARGET_DIGITS)]):
    for col in range(10):
        i = np.flatnonzero(labels == col % 5)[col // 5]
        axes[row, col].imshow(images[i, 0], cmap="gray_r")
        axes[row, col].set_title(f"{'source' if row == 0 else 'target'}: {digits[labels[i]]}", fontsize=8)
        axes[row, col].axis("off")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["numbers-checked"]
# **Why scanned, and not the clean 8×8 digits?** On the clean digits, the raw pixels already separate the classes
# well — the measurement below shows how well — and there is little left for transferred features to add (this
# lesson does not run the transfer comparison on clean digits). The scanner moves every digit around and adds
# noise, so pixels stop lining up — exactly what a learned, shift-tolerant feature extractor is for. A quick
# measurement makes the difference visible: a
# **nearest class mean** classifier on raw pixels (predict the class whose mean image is closest), with 10 labelled
# images per class.
#
# The target data are split once: a **pool** of 100 images per class from which every labelled training set is
# drawn, and the remaining images as the **test set**, never trained on.

# %%
def nearest_mean_accuracy(train, train_labels, test_rows, test_labels):
    """Accuracy of predicting, for each test row, the class whose mean training row is closest (Euclidean).

    train (N, F), test_rows (M, F): any features — raw pixels or a network's.
    """
    means = np.stack([train[train_labels == c].mean(axis=0) for c in np.unique(train_labels)])   # (C, F)
    distances = ((test_rows[:, None, :] - means[None]) ** 2).sum(axis=-1)                         # (M, C)
    return np.mean(distances.argmin(axis=1) == test_labels)


pool = take_per_class(y, 100, rng=0)                       # 100 images per class: labelled sets come from here
test = np.setdiff1d(np.arange(len(y)), pool)               # everything else: the test set
SEEDS = (0, 1, 2)                                          # every measurement is repeated with three draws


def labelled(k, seed):
    """Indices of k labelled target images per class, drawn from the pool with ``seed``."""
    return pool[take_per_class(y[pool], k, rng=seed)]


def raw_pixel_accuracy(images, k=10):
    """Nearest-class-mean test accuracy on the raw pixels of images (N, 1, H, W), k per class, mean over SEEDS."""
    rows = images.reshape(len(images), -1)
    return np.mean([nearest_mean_accuracy(rows[labelled(k, s)], y[labelled(k, s)], rows[test], y[test])
                    for s in SEEDS])


digits_8x8, all_labels = load_digits(images=True)
clean = digits_8x8[np.isin(all_labels, TARGET_DIGITS)]    # the same images as X, in the same order, unscanned
assert np.array_equal(all_labels[np.isin(all_labels, TARGET_DIGITS)] - 5, y)
print(f"pool: {len(pool)} images, test set: {len(test)} images")
raw = {"clean 8×8": raw_pixel_accuracy(clean), "scanned 12×12": raw_pixel_accuracy(X)}
for name, acc in raw.items():
    print(f"{name:14s} digits, raw pixels, nearest class mean, 10 per class: test accuracy {acc:.3f} (3 draws)")
assert raw["clean 8×8"] > 0.9 > 0.4 > raw["scanned 12×12"]

# %% [markdown] slideshow={"slide_type": "subslide"}
# From 0.94 to 0.29 (chance is 0.2): on scanned digits, raw pixels say almost nothing about the class.
#
# ## 3. The pre-trained model and its checkpoint
#
# The source model is lesson 06's CNN, sized for the 12×12 canvas (`nnlib.pretrained.digits_cnn`):
#
# `Conv2d(1, 16, 3, padding=1)` → ReLU → `MaxPool2d(2)` → `Conv2d(16, 32, 3, padding=1)` → ReLU → `MaxPool2d(2)` →
# `Flatten` → `Linear(288, 5)`
#
# Layers 0–6 are the feature extractor $\phi$: an image in, $32 \times 3 \times 3 = 288$ numbers out. Layer 7 is
# the head: 5 class scores. It was trained on the "larger generated set": four fifths of the 0–4 images, each
# scanned 16 times (11,536 images), Adam ($\eta = 2 \cdot 10^{-3}$), 6 epochs. That takes a few seconds, but there
# is no need to repeat it here: its weights are committed to the repository, as `nnlib/pretrained/digits_cnn_0_4.npz`,
# and the command that produced them, deterministically, is
#
# ```
# make pretrained                 # = python -m nnlib.pretrained
# digits 0–4 CNN: held-out source accuracy 0.983; 6245 parameters written to …/digits_cnn_0_4.npz
# ```
#
# Pre-training, for real networks, is the expensive step done once by whoever has the data and the computers; the
# rest of us download the checkpoint. So does this lesson: `load_digits_cnn()` builds the CNN and loads the file.
# First, its accuracy on the held-out fifth of the source images (split with the seed `pretrain` used, and scanned
# anew — `make pretrained` printed 0.983 for its own scan of the same images; other positions and noise give a
# slightly different number):

# %%
source_model = load_digits_cnn()
print(source_model)

source_images = digits_8x8[np.isin(all_labels, SOURCE_DIGITS)]
_, held_out, _, held_out_labels = train_test_split(source_images, all_labels[np.isin(all_labels, SOURCE_DIGITS)],
                                                   test_fraction=0.2, rng=np.random.default_rng(0))
source_accuracy = accuracy(source_model(place_on_canvas(held_out, CANVAS, NOISE, rng=1)), held_out_labels)
n_pretrained = 16 * (len(source_images) - len(held_out))
print(f"pre-trained on 16 × {len(source_images) - len(held_out)} = {n_pretrained} scanned images; held-out source "
      f"accuracy: {source_accuracy:.3f} on {len(held_out)} images")
assert source_accuracy > 0.95 and n_pretrained == 11536

# %% [markdown] slideshow={"slide_type": "subslide"}
# Its head knows only the classes 0–4. Shown the target digits, it answers with the source digit that looks most
# alike (rows: the true target digit; columns: what the source model says):

# %%
said = source_model(X).argmax(axis=1)
counts = np.zeros((5, 5), dtype=int)
np.add.at(counts, (y, said), 1)
print("true \\ said " + "".join(f"{d:>6d}" for d in SOURCE_DIGITS))
for digit, row in zip(TARGET_DIGITS, counts, strict=True):
    print(f"{digit:>11d} " + "".join(f"{n:6d}" for n in row))

# %% [markdown] slideshow={"slide_type": "subslide"}
# Most 5s, 7s and 9s are "3"s, most 6s are "4"s. The head is of no use for the new classes — but the features under
# it may be. That is what the rest of the lesson tests.
#
# ### 3.1 Checkpoints: parameters by name
#
# A checkpoint maps each parameter's **name** to its array. The name is the parameter's path in the module tree:
# `"7.weight"` is the `weight` of layer 7 of the `Sequential`. `nnlib.io.save(model, path)` writes the dictionary
# `model.state_dict()` as a NumPy `.npz` archive (a zip of plain arrays, written to a temporary file and then
# renamed, so a crash never leaves half a checkpoint); `nnlib.io.load(model, path)` checks every name, shape and
# dtype against the model **before** changing a single weight. `nnlib.io.load_state(path)` just reads the
# dictionary:

# %%
checkpoint = nnlib.io.load_state(WEIGHTS)
for name, array in checkpoint.items():
    print(f"{name:9s} {str(array.shape):16s} {array.dtype}  ({array.size} numbers)")
print("total:", sum(array.size for array in checkpoint.values()), "numbers")
assert list(checkpoint) == [name for name, _ in source_model.named_parameters()]

with tempfile.TemporaryDirectory() as folder:
    path = nnlib.io.save(source_model, Path(folder) / "copy")               # ".npz" is added
    print("saved as", path.name, "| archive members:", np.load(path, allow_pickle=False).files)
    restored = nnlib.io.load(digits_cnn(), path)                               # a fresh random CNN, then the weights
assert all(np.array_equal(restored.state_dict()[name], array) for name, array in checkpoint.items())

# %% [markdown] slideshow={"slide_type": "subslide"}
# Because the names are checked, a checkpoint cannot be loaded into the wrong architecture by accident. Our target
# model will be the same CNN with a different head. Try loading the checkpoint into a CNN with a **10-class** head:
# the shapes of `7.weight` and `7.bias` do not match, the load fails with an error naming the parameter, and the
# model is left exactly as it was:

# %%
ten_classes = digits_cnn(n_classes=10, rng=1)
before = ten_classes.state_dict()
try:
    nnlib.io.load(ten_classes, WEIGHTS)
    raise AssertionError("the load should have failed")
except nnlib.InputError as err:
    message = str(err).replace(str(WEIGHTS), WEIGHTS.name)
print(message)
assert "7.weight" in message
assert all(np.array_equal(ten_classes.state_dict()[name], before[name]) for name in before)

# %% [markdown] slideshow={"slide_type": "subslide"}
# To reuse the extractor, load only its names. `load_state_dict(state, strict=False)` loads the names the
# checkpoint and the model share, and returns what it left out: `missing` (in the model, not in the checkpoint —
# here the new head, which keeps its fresh random weights) and `unexpected` (in the checkpoint, not in the model).
# A shared name with the wrong shape is still an error, `strict` or not.

# %%
extractor_state = {name: array for name, array in checkpoint.items() if not name.startswith("7.")}
result = ten_classes.load_state_dict(extractor_state, strict=False)
print(result)
assert result.missing == ["7.bias", "7.weight"] and result.unexpected == []
assert all(np.array_equal(ten_classes.state_dict()[name], array) for name, array in extractor_state.items())
assert np.array_equal(ten_classes.state_dict()["7.weight"], before["7.weight"])      # the new head is untouched

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Why by name, and why not pickle?** Python's `pickle` could save the whole model object in one line. But
# unpickling **runs code**: a pickle can call any function while it loads, so opening a checkpoint from the
# internet would mean trusting it like a program. It also ties the file to the exact classes and module paths that
# wrote it — rename a class and old checkpoints no longer load. A checkpoint of named plain arrays has neither
# problem (`np.load(..., allow_pickle=False)` reads numbers, never code), and the names make partial loading —
# transfer learning's everyday operation — possible, with errors that say which parameter is wrong. The field went
# the same way: PyTorch's `torch.load` has defaulted to `weights_only=True` since version 2.6, and Hugging Face
# created the *safetensors* format for exactly this reason.
#
# ## 4. A new head on frozen features
#
# Indexing a `Sequential` gives its layers: `model[-1]` is the head, and `model[:-1]` a `Sequential` of the other
# layers — the feature extractor — that **shares** the same layer objects, so whatever we do to it happens to the
# model. Replacing a head is an assignment, `model[-1] = Linear(288, 5)`.

# %%
model = load_digits_cnn()
extractor, head = model[:-1], model[-1]
print(f"{len(model)} layers; the head: {head}; the extractor: {len(extractor)} layers")
print("features of 3 images:", extractor(X[:3]).shape)
assert extractor[0] is model[0] and extractor(X[:3]).shape == (3, N_FEATURES)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Freezing** a parameter means: keep its value. In nnlib, as in PyTorch, each `Parameter` has a flag
# `requires_grad`. When it is `False`, a layer's backward still returns $\partial E / \partial x$ (the layers below
# may need it) but leaves the parameter's `.grad` alone, and every optimizer — and every penalty and gradient
# clipping — skips it.
#
# ### Exercise 9.1 — freeze a module
#
# Write `freeze(module)`: set `requires_grad` to `False` on every parameter of `module` (every layer, weights and
# biases, nested modules too — `module.parameters()` walks them all), and return the module.

# %%
def freeze(module):
    """Freeze every parameter of ``module`` (requires_grad = False), in place; return ``module``."""
    raise NotImplementedError("Exercise 9.1: implement freeze")


# %% slideshow={"slide_type": "fragment"}
check_freeze(freeze)

# %% [markdown] slideshow={"slide_type": "subslide"}
# nnlib's version is `Module.requires_grad_(False)` (PyTorch's name; `requires_grad_(True)` unfreezes). We use it
# from now on. A frozen parameter shows it in its `repr`:

# %%
model[:-1].requires_grad_(False)
for name, param in model.named_parameters():
    print(f"{name:9s} {param}")
assert not any(p.requires_grad for p in extractor.parameters()) and all(p.requires_grad for p in head.parameters())

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 9.2 — count what is left to train
#
# Write `count_trainable(model)`: the number of trainable **numbers** (not arrays) in `model` — the sizes of the
# parameters with `requires_grad` added up, as an `int`.

# %%
def count_trainable(model):
    """The number of trainable scalar parameters of ``model`` (an int)."""
    raise NotImplementedError("Exercise 9.2: implement count_trainable")


# %% slideshow={"slide_type": "fragment"}
check_count_trainable(count_trainable)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 9.3 — a new head
#
# The pre-trained head scores the wrong classes. Write `new_head(n_features, n_classes, rng)`: a fresh, trainable
# `Linear` layer from the `n_features` features to `n_classes` class scores, initialised from `rng` (so that a seed
# gives the same head every time).

# %%
def new_head(n_features, n_classes, rng):
    """A fresh Linear(n_features, n_classes) head with random weights drawn from ``rng``."""
    raise NotImplementedError("Exercise 9.3: implement new_head")


# %% slideshow={"slide_type": "fragment"}
check_new_head(new_head)

# %% [markdown] slideshow={"slide_type": "subslide"}
# With nnlib's `Linear` as the new head and `num_parameters(trainable_only=True)` as the count: of the CNN's 6,245
# parameters, only the head's $288 \times 5 + 5 = 1445$ will train.

# %%
model[-1] = Linear(N_FEATURES, len(TARGET_DIGITS), rng=0)
print(f"parameters: {model.num_parameters()}, trainable: {model.num_parameters(trainable_only=True)}")
assert model.num_parameters(trainable_only=True) == N_FEATURES * 5 + 5 == model[-1].num_parameters()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Why a frozen extractor needs no gradient
#
# Write $\phi_n = \phi(x_n) \in \mathbb{R}^{288}$ for the features of image $n$ (the rows of $\Phi$, shape
# $(N, 288)$), $W$ $(288, 5)$ and $b$ $(5,)$ for the head, and $t_n$ for the one-hot target (the rows of $T$). The
# head computes the scores, the softmax their probabilities, and `CrossEntropyLoss` the mean loss:
#
# $$s_n = \phi_n W + b, \qquad p_n = \operatorname{softmax}(s_n), \qquad
# E = \frac{1}{N} \sum_n E_n, \quad E_n = -\log p_{n, y_n}.$$
#
# **Step 1, the output delta** (lesson 01 derived the cross-entropy from the likelihood and this gradient; here it
# is in the head's notation). $E_n = -s_{n,y_n} + \log \sum_j e^{s_{nj}}$, so
# $\partial E_n / \partial s_{nk} = -t_{nk} + e^{s_{nk}} / \sum_j e^{s_{nj}} = p_{nk} - t_{nk}$. In the notes' sign
# convention $\delta_{nk} = -\partial E_n / \partial s_{nk} = t_{nk} - p_{nk}$: lesson 03's output delta
# $(t_k - out_k)\, f'(net_k)$ in its softmax–cross-entropy form, where the factor $f'$ drops out.
#
# **Step 2, the weights.** $s_{nk} = \sum_j \phi_{nj} W_{jk} + b_k$, so
# $\partial s_{nk} / \partial W_{jk} = \phi_{nj}$ and $\partial s_{nk} / \partial b_k = 1$. The chain rule, summed
# over the samples:
#
# $$\frac{\partial E}{\partial W_{jk}} = \frac{1}{N} \sum_n \phi_{nj}\,(p_{nk} - t_{nk})
# \quad\Longrightarrow\quad
# \boxed{\;\frac{\partial E}{\partial W} = \frac{1}{N}\, \Phi^\top (P - T), \qquad
# \frac{\partial E}{\partial b} = \frac{1}{N} \sum_n (p_n - t_n)\;}$$
#
# — the δ rule $\Delta w_{jk} = \varepsilon\, \delta_k\, a_j$ with the features as the inputs $a_j = \phi_j$.
#
# **Step 3, what is missing.** The extractor's parameters $\theta$ appear nowhere in the box. $E$ does depend on
# $\theta$, through $\phi$, but a frozen $\theta$ is not updated — the gradient step
# $w^+ = w - \eta\, \partial E / \partial w$ runs for $W$ and $b$ only, and $\theta^+ = \theta$ — so
# $\partial E / \partial \theta$ is never needed. Two consequences:
#
# * Training the head is **softmax regression** on fixed inputs $\phi_n$: a convex problem in $(W, b)$, without the
#   local minima of lesson 04.
# * The features of the training images never change, so they can be **computed once**, and the head trained on
#   them alone.
#
# Three checks. **(a)** Train the frozen model on 20 labelled images per class: every extractor parameter must stay
# bit-identical to the checkpoint, while the head moves. (The optimizer is built on *all* the parameters: it skips
# the frozen ones by itself.)

# %%
small = labelled(20, seed=0)
X_small, y_small = X[small], y[small]
head_start = model[-1].state_dict()
fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=3e-3), X_small, y_small, epochs=20, batch_size=16,
    rng=0)
trained = model.state_dict()
unchanged = [name for name in extractor_state if np.array_equal(trained[name], checkpoint[name])]
head_moved = max(np.abs(trained[f"7.{name}"] - start).max() for name, start in head_start.items())
print(f"extractor parameters bit-identical to the checkpoint: {unchanged}")
print(f"largest change of a head parameter: {head_moved:.2f}")
assert unchanged == list(extractor_state) and head_moved > 0.1

# %% [markdown] slideshow={"slide_type": "subslide"}
# **(b)** The head's gradient from nnlib's backward pass against the boxed formula, computed with NumPy on the
# features — and the extractor's `.grad` left at zero:

# %%
cross_entropy = CrossEntropyLoss()
model.zero_grad()
cross_entropy(model(X_small), y_small)
model.backward(cross_entropy.backward())

features = extractor(X_small).astype(np.float64)                                      # Φ (N, 288)
W, b = model[-1].weight.data.astype(np.float64), model[-1].bias.data.astype(np.float64)
P, T = softmax(features @ W + b, axis=1), one_hot(y_small, 5, dtype=np.float64)        # (N, 5) each
dE_dW, dE_db = features.T @ (P - T) / len(features), (P - T).mean(axis=0)

for name, nnlib_grad, formula in [("∂E/∂W", model[-1].weight.grad, dE_dW), ("∂E/∂b", model[-1].bias.grad, dE_db)]:
    same = np.allclose(nnlib_grad, formula, rtol=1e-4, atol=1e-7)
    print(f"{name} {formula.shape}: Φᵀ(P − T)/N formula = nnlib backward: {same}")
    assert same
print("extractor gradients all zero:", all(not p.grad.any() for p in extractor.parameters()))
assert all(not p.grad.any() for p in extractor.parameters())

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 9.4 — extract the features once
#
# Write `extract_features(model, X, batch_size=256)`: the features $\Phi$ of every image of `X`, the output of
# `model[:-1]`, as one array $(N, F)$. Three things make it right: switch to **evaluation mode** first
# (`model.eval()`: layers such as Dropout act randomly in training mode), run the extractor under
# `with nnlib.no_grad():` (nothing is kept for a backward that never comes), and go **batch by batch** (the
# activations of 10,000 images at once may not fit in memory), joining the batches with `np.concatenate`.
# (`nnlib.predict(model[:-1], X, batch_size)` does all three; write them yourself.)

# %%
def extract_features(model, X, batch_size=256):
    """The features model[:-1](X) (N, F) of images X (N, ...), in eval mode, under no_grad, batch by batch."""
    raise NotImplementedError("Exercise 9.4: implement extract_features")


# %% slideshow={"slide_type": "fragment"}
check_extract_features(extract_features)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **(c)** Training the frozen model with `fit` is the same as training the head alone on the precomputed features
# $\Phi$ — with the same seeds (the head's initial weights and the batch order), the same weights come out:

# %%
def train_head(features, labels, epochs, seed=0):
    """A new Linear(F, 5) head trained alone on fixed features (N, F): Adam 3·10⁻³, batches of 16."""
    new = Linear(features.shape[1], 5, rng=seed)
    fit(new, CrossEntropyLoss(), Adam(new.parameters(), lr=3e-3), features, labels, epochs=epochs, batch_size=16,
        rng=seed)
    return new


head_alone = train_head(extractor(X_small), y_small, epochs=20)
difference = max(np.abs(head_alone.weight.data - model[-1].weight.data).max(),
                 np.abs(head_alone.bias.data - model[-1].bias.data).max())
print("head trained on precomputed features = head of the frozen model (to 1e-6):", difference < 1e-6)
assert difference < 1e-6

# %% [markdown] slideshow={"slide_type": "subslide"}
# The same result, for much less work. Each of `fit`'s steps on the frozen model still runs both convolutions
# **forward**: the batch's features must be computed. Its backward stops at the head: `fit` tells the model that
# nobody needs $\partial E / \partial x$ of the images (`input_gradient=False`), so the `Sequential` runs backward only
# from its lowest layer with a trainable parameter upwards (as PyTorch's autograd records nothing below the layers that
# need a gradient), and the head skips $\delta W^\top$. On precomputed features, the extractor runs **once**, and each
# step is a $(16, 288) \times (288, 5)$ matrix product. Timed on this machine:

# %% tags=["nbval-ignore-output", "timing"]
start = time.perf_counter()
cnn = load_digits_cnn()
cnn[-1] = Linear(N_FEATURES, 5, rng=0)
cnn[:-1].requires_grad_(False)
fit(cnn, CrossEntropyLoss(), Adam(cnn.parameters(), lr=3e-3), X_small, y_small, epochs=20, batch_size=16, rng=0)
whole_model = time.perf_counter() - start
start = time.perf_counter()
train_head(load_digits_cnn()[:-1](X_small), y_small, epochs=20)
precomputed = time.perf_counter() - start
print(f"frozen model with fit: {whole_model:.3f} s | features once + head alone: {precomputed:.3f} s "
      f"({whole_model / precomputed:.0f}× faster)")

# %% [markdown] slideshow={"slide_type": "subslide"}
# With millions of images and a large extractor, computing the features once is what makes frozen-feature transfer
# cheap enough for a laptop. One thing it rules out: **data augmentation** (new random crops or shifts every epoch)
# changes the inputs, so the features would have to be recomputed each time.
#
# ## 6. What the features see
#
# Why should features learned on 0–4 help with 5–9? Compare the 288 features of the target test images computed by
# a **random** extractor (the same CNN, untrained) with those of the **pre-trained** one. Two 2-D views of each:
# the plane of largest variance (PCA, from NumPy's SVD), and the plane through the five class means (PCA of the
# class means of the labelled pool).

# %%
random_extractor, pretrained_extractor = digits_cnn(rng=0)[:-1], load_digits_cnn()[:-1]
feature_sets = {"random extractor": random_extractor(X), "pre-trained extractor": pretrained_extractor(X)}


def top_directions(rows, k=2):
    """The k orthonormal directions (k, F) of largest variance of rows (N, F): the first rows of Vᵀ in the SVD."""
    return np.linalg.svd(rows - rows.mean(axis=0), full_matrices=False)[2][:k]


fig, axes = plt.subplots(2, 2, figsize=(10, 8), layout="constrained")
for col, (name, feats) in enumerate(feature_sets.items()):
    class_means = np.stack([feats[pool][y[pool] == c].mean(axis=0) for c in range(5)])
    for row, (plane, directions) in enumerate([("largest variance", top_directions(feats[test])),
                                               ("plane of the class means", top_directions(class_means))]):
        projected = (feats[test] - feats[test].mean(axis=0)) @ directions.T
        for c, digit in enumerate(TARGET_DIGITS):
            axes[row, col].scatter(*projected[y[test] == c].T, s=7, label=str(digit))
        axes[row, col].set_title(f"{name}: {plane}", fontsize=10)
        axes[row, col].set(xticks=[], yticks=[])
axes[0, 0].legend(title="digit", fontsize=8)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The top row holds a surprise: for both extractors the directions of largest variance look alike, a ring with the
# classes mixed all over it. They encode **where** the digit sits on the canvas, not which digit it is: a linear
# fit from these two coordinates to the digit's position (its centre of mass) explains most of the position's
# variance, for either extractor. Convolutions — even random ones — respond to position:

# %%
ink = np.clip(X[test, 0], 0, None)                                        # (M, 12, 12), the noise below 0 cut off
centre = np.stack([(ink.sum(axis=2) * np.arange(CANVAS)).sum(axis=1),      # centre of mass: row, column
                   (ink.sum(axis=1) * np.arange(CANVAS)).sum(axis=1)], axis=1) / ink.sum(axis=(1, 2))[:, None]
for name, feats in feature_sets.items():
    top = (feats[test] - feats[test].mean(axis=0)) @ top_directions(feats[test]).T
    design = np.column_stack([top, np.ones(len(top))])
    fitted = design @ np.linalg.lstsq(design, centre, rcond=None)[0]
    explained = 1 - ((centre - fitted) ** 2).sum(axis=0) / ((centre - centre.mean(axis=0)) ** 2).sum(axis=0)
    print(f"{name:22s} share of the position's variance explained by the top 2 directions: row "
          f"{explained[0]:.2f}, column {explained[1]:.2f}")
    assert explained.min() > 0.8

# %% [markdown] slideshow={"slide_type": "subslide"}
# In the plane of the class means (bottom row of the figure), the pre-trained features pull the classes apart —
# 6s to one side, 7s to another — where the random ones leave them more mixed.
#
# Two numbers say the same thing: the nearest-class-mean accuracy on each set of features (means of the pool), and
# the accuracy of a **linear probe** — a head trained on the frozen features of the pool, with `train_head` of
# section 5 — which is the "frozen features" method itself:

# %%
feature_sets["raw pixels"] = X.reshape(len(X), -1)
probe = {}
for name, feats in feature_sets.items():
    nearest = nearest_mean_accuracy(feats[pool], y[pool], feats[test], y[test])
    probe[name] = accuracy(train_head(feats[pool], y[pool], epochs=6)(feats[test]), y[test])
    print(f"{name:22s} nearest class mean: {nearest:.3f} | linear probe: {probe[name]:.3f}")
assert probe["pre-trained extractor"] > probe["random extractor"] + 0.3

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["numbers-checked"]
# A linear classifier on random features barely beats chance (0.2) with 100 labelled images per class — no better
# than on the raw pixels; on pre-trained features it gets most digits right. What the source task taught the
# extractor — strokes, loops and their arrangement, wherever the digit sits — carries over to digits it never saw.
#
# ## 7. Scratch, frozen or fine-tuned: how many labels does it take?
#
# Now the real comparison, with `nnlib.pretrained.adapt(method, X, y, rng=seed)`, which trains one model on the
# labelled set it is given:
#
# | method | start | trained | budget (Adam, batches of 16) |
# |---|---|---|---|
# | `"scratch"` | `digits_cnn()`, random weights | every layer | 400 nominal steps at $\eta = 3 \cdot 10^{-3}$ |
# | `"frozen"` | pre-trained extractor, frozen; new head | the head | 200 nominal steps at $3 \cdot 10^{-3}$ |
# | `"fine-tune"` | the frozen model after its stage | then every layer | 200 more nominal steps at $10^{-3}$ |
#
# Scratch and fine-tuning get the same *nominal* number of steps. "Nominal", because the training loop runs whole
# epochs: `round(steps · 16 / N)` of them, each of $\lceil N / 16 \rceil$ batches for $N$ labelled images. The steps
# actually taken, for the labelled-set sizes of this section: 416 to 512 for the 400 nominal steps, 192 to 256 for
# the 200 — each within a third of its nominal count. Scratch and fine-tuning then take the same number, except
# with 100 images per class: 416 against $2 \times 192 = 384$.

# %%
def steps_taken(steps, n_labelled, batch_size=16):
    """The Adam steps adapt's loop makes for ``steps`` nominal ones on n_labelled images: epochs × batches."""
    return max(1, round(steps * batch_size / n_labelled)) * -(-n_labelled // batch_size)


taken = {nominal: [steps_taken(nominal, 5 * k) for k in (10, 20, 50, 100)] for nominal in (400, 200)}  # 5 classes
for nominal, counts in taken.items():
    print(f"{nominal} nominal steps -> taken, for 10, 20, 50, 100 images per class: {counts}")
    assert all(abs(count - nominal) <= nominal / 3 for count in counts)
fine_tune_steps = [2 * count for count in taken[200]]
print(f"scratch {taken[400]} against fine-tune (two stages) {fine_tune_steps}")
assert taken[400][:3] == fine_tune_steps[:3] and (taken[400][3], fine_tune_steps[3]) == (416, 384)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 9.5 — the recipe as code
#
# Before running `adapt` 36 times, write its two transfer methods yourself — the tools of sections 4 and 5 put
# together. `train_steps` below is `adapt`'s training loop: about `steps` Adam steps on batches of 16 (the optimizer
# may hold every parameter: it skips the frozen ones).
#
# Write `transfer(method, X, y, n_classes=5, steps=200, rng=0, fine_tune_lr=1e-3)` for `method` `"frozen"` or
# `"fine-tune"`: make ONE generator `rng = np.random.default_rng(rng)` and draw everything from it, in this order —
# load the pretrained CNN, give it a new head `Linear(N_FEATURES, n_classes, rng=rng)`, freeze the extractor, train
# `steps` steps at $3 \cdot 10^{-3}$; for `"fine-tune"`, then unfreeze every layer and train `steps` more at
# `fine_tune_lr`. Return the model in evaluation mode. The check runs both methods on two tiny tasks and compares
# your weights with `adapt`'s, bit for bit.

# %%
def train_steps(model, X, y, lr, steps, rng):
    """About ``steps`` Adam steps (lr) on batches of 16 of (X, y), batch order from ``rng``: adapt's training loop."""
    fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=lr), X, y, epochs=max(1, round(steps * 16 / len(X))),
        batch_size=16, rng=rng)


def transfer(method, X, y, n_classes=5, steps=200, rng=0, fine_tune_lr=1e-3):
    """adapt's "frozen" or "fine-tune" method on the target data (X, y): the trained model, in eval mode."""
    raise NotImplementedError("Exercise 9.5: implement transfer")


# %% slideshow={"slide_type": "fragment"}
check_transfer(transfer)

# %% [markdown] slideshow={"slide_type": "subslide"}
# From here on, `adapt` itself. For 10, 20, 50 and 100 labelled images per class, three
# draws each (seeds 0, 1, 2: different labelled images, initial head and batch order), all tested on the same
# 396 test images. That is 36 trainings, about 20 seconds. Each model's weights are kept as a `state_dict()` (a
# few kilobytes), with its test predictions.

# %%
SIZES = (10, 20, 50, 100)
runs = {}


def run(method, k, seed):
    """adapt(method, ...) on k labelled images per class drawn with ``seed``: (state_dict, test predictions), cached."""
    if (method, k, seed) not in runs:
        train = labelled(k, seed)
        trained_model = adapt(method, X[train], y[train], rng=seed)
        runs[method, k, seed] = trained_model.state_dict(), trained_model(X[test]).argmax(axis=1)
    return runs[method, k, seed]


scores = {(method, k, seed): np.mean(run(method, k, seed)[1] == y[test])
          for k in SIZES for method in METHODS for seed in SEEDS}
mean = {(method, k): np.mean([scores[method, k, seed] for seed in SEEDS]) for method in METHODS for k in SIZES}

print("test accuracy, mean of 3 seeds (each seed in brackets)")
print(f"{'per class':>9s}" + "".join(f"{method:>30s}" for method in METHODS))
for k in SIZES:
    cells = [f"{mean[m, k]:.3f} ({', '.join(f'{scores[m, k, s]:.3f}' for s in SEEDS)})" for m in METHODS]
    print(f"{k:9d}" + "".join(f"{cell:>30s}" for cell in cells))

assert mean["frozen", 10] > mean["scratch", 10] and mean["fine-tune", 10] > mean["scratch", 10]
assert mean["scratch", 100] > mean["frozen", 100]

# %%
fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
for n, method in enumerate(METHODS):
    per_seed = np.array([[scores[method, k, s] for s in SEEDS] for k in SIZES])           # (sizes, seeds)
    line, = ax.plot(SIZES, per_seed.mean(axis=1), "o-", label=f"{method} (mean)", zorder=3)
    ax.fill_between(SIZES, per_seed.min(axis=1), per_seed.max(axis=1), color=line.get_color(), alpha=0.15)
    ax.plot(np.repeat(SIZES, len(SEEDS)) * (1 + 0.02 * (n - 1)), per_seed.ravel(), "x", color=line.get_color(),
            alpha=0.7)
ax.set(xscale="log", xlabel="labelled images per class", ylabel="test accuracy", ylim=(0.4, 1),
       title="Digits 5–9: mean of 3 seeds (band: lowest to highest; ×: each seed)")
ax.set_xticks(SIZES, labels=[str(k) for k in SIZES])
ax.minorticks_off()
ax.legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# What the measurement says:
#
# * **With little data, transfer wins.** At 10 and 20 images per class both transfer methods beat training from
#   scratch — the notes' "new categories with limited data", confirmed.
# * **With more data, scratch catches up.** At 50 images per class fine-tuning and scratch are level, and at 100
#   training from scratch beats frozen features clearly. Frozen features **plateau**: a linear head cannot separate
#   what the fixed features do not, however many labels it gets. Fine-tuning keeps up with scratch, because it can
#   change the features too.
# * **The seeds matter**: which 10 images per class happen to be drawn moves the accuracy by several points. One run
#   per setting would prove little.
#
# So "transfer helps" is a statement about **data size**: it buys a head start, worth most when labels are scarce
# and less as they grow — at some point the target data alone can teach the network better, task-specific features.
# And it assumes related tasks. Features from an unrelated source (spoken audio for digit images) or a source whose
# features do not fit the target can make things *worse* than scratch: **negative transfer**. A milder form was
# found while designing this lesson: on clean 8×8 digits, frozen 0–4 features lost to scratch.
#
# ## 8. Fine-tuning: the head first, a lower learning rate
#
# Fine-tuning unfreezes the extractor, so the pre-trained features can adapt to the target task. Two precautions
# go with it (both in `adapt`):
#
# * **Train the new head first**, with the extractor frozen. A new head is random: its scores are noise, so at the
#   start $P - T$ is large and its direction says nothing useful. Unfrozen, the extractor would receive
#   $\partial E / \partial \phi = (P - T)\, W^\top / N$ through a random $W$ — large, random gradients into good
#   features, which would be damaged before the head has learned to use them. Once the head is trained, the loss is
#   small, and what reaches the features is a small, meaningful correction.
# * **A lower learning rate** ($10^{-3}$ instead of $3 \cdot 10^{-3}$; BERT is fine-tuned at $2$–$5 \cdot 10^{-5}$,
#   against $10^{-4}$ for its pre-training). The pre-trained weights are already good: fine-tuning should adjust
#   them, not overwrite them. With few labels, a large step size lets the features re-fit themselves to the few
#   training images — overfitting — and forget what the source task taught them.
#
# Measured at 10 images per class: the size of the gradient reaching the extractor at the start of fine-tuning,
# with a random and with a trained head (the frozen models of section 7 are exactly the trained-head start, since
# `adapt` draws the same head and batches for both methods), and how far fine-tuning moves the extractor's weights
# from the checkpoint, $\lVert \theta - \theta_0 \rVert / \lVert \theta_0 \rVert$, for `adapt`'s recipe and two
# variants: no head-first stage (400 steps with a random head), and a 10× larger learning rate.

# %%
def fine_tune(seed, lr, head_first=True, k=10):
    """adapt's fine-tuning on k labelled images per class, at learning rate lr, with or without the head-first
    stage: the state_dict of the trained model."""
    train = labelled(k, seed)
    return adapt("fine-tune", X[train], y[train], rng=seed, fine_tune_lr=lr, head_first=head_first).state_dict()


def extractor_drift(state):
    """‖θ − θ₀‖ / ‖θ₀‖ over the extractor's parameters: how far they moved from the checkpoint."""
    change = sum(np.sum((state[name] - start) ** 2) for name, start in extractor_state.items())
    return float(np.sqrt(change / sum(np.sum(start**2) for start in extractor_state.values())))


def extractor_gradient_norm(state, k=10, seed=0):
    """The norm of ∂E/∂θ over the extractor (every layer trainable) of the model ``state``, on the labelled set."""
    network = digits_cnn()
    network.load_state_dict(state)
    train, loss = labelled(k, seed), CrossEntropyLoss()
    loss(network(X[train]), y[train])
    network.backward(loss.backward())                        # a fresh model: the grads start at zero
    return float(np.sqrt(sum(np.sum(p.grad.astype(np.float64) ** 2) for p in network[:-1].parameters())))


def random_head_state(seed):
    """The checkpoint under the random head that adapt draws with ``seed``: fine-tuning's start without head-first."""
    network = load_digits_cnn()
    network[-1] = Linear(N_FEATURES, 5, rng=seed)
    return network.state_dict()


gradient = {"random head": [extractor_gradient_norm(random_head_state(s), seed=s) for s in SEEDS],
            "trained head": [extractor_gradient_norm(run("frozen", 10, s)[0], seed=s) for s in SEEDS]}
for name, norms in gradient.items():
    print(f"gradient reaching the extractor with a {name:12s}: {np.round(norms, 3)}")
assert all(r > t for r, t in zip(gradient["random head"], gradient["trained head"], strict=True))

# %% [markdown] slideshow={"slide_type": "subslide"}
# And how far each way of fine-tuning moves the pre-trained weights (three seeds each; `adapt`'s own runs come from
# section 7):

# %%
variants = {"head first, lr 1e-3 (adapt)": [run("fine-tune", 10, s)[0] for s in SEEDS],
            "no head first, lr 1e-3": [fine_tune(s, 1e-3, head_first=False) for s in SEEDS],
            "head first, lr 1e-2": [fine_tune(s, 1e-2) for s in SEEDS]}
drift = {}
print(f"{'fine-tuning variant':28s} {'weights moved':>14s}   test accuracy per seed")
for name, states in variants.items():
    drift[name] = np.mean([extractor_drift(state) for state in states])
    tested = []
    for state in states:
        network = digits_cnn()
        network.load_state_dict(state)
        tested.append(accuracy(network(X[test]), y[test]))
    print(f"{name:28s} {drift[name]:14.3f}   {np.round(tested, 3)}")
assert drift["no head first, lr 1e-3"] > 1.5 * drift["head first, lr 1e-3 (adapt)"]
assert drift["head first, lr 1e-2"] > 1.5 * drift["head first, lr 1e-3 (adapt)"]

# %% [markdown] slideshow={"slide_type": "subslide"}
# The gradient into the extractor is about 2 to 4 times larger with a random head; and without the head-first
# stage, or with a 10× larger learning rate, the pre-trained weights move more than twice as far. (With Adam the
# step size is set by the learning rate rather than by the gradient's size, so what a random head does is spend the
# steps pushing the features in useless directions.) The test accuracies, though, stay within the spread of the
# seeds: this CNN is small and the two tasks are close, so here the features survive the rough treatment. On large
# networks fine-tuned on small data, moving the weights far from the checkpoint is how the pre-trained knowledge
# gets lost (*catastrophic forgetting*) — which is why the head-first stage and small fine-tuning learning rates are
# standard practice.
#
# ## 9. Try it: how many labelled examples?
#
# Pick the number of labelled images per class. The three methods are trained on that many (seed 0; sizes from
# section 7 are reused, others take a few seconds), with their test accuracy and some of the test images each one
# gets wrong (true digit → predicted digit):

# %% tags=["nbval-ignore-output"]
def show_examples_per_class(k=10, n_shown=8):
    """Bars: test accuracy of the three methods with k labelled images per class; n_shown misclassified images each."""
    predictions = {method: run(method, k, 0)[1] for method in METHODS}
    fig = plt.figure(figsize=(12, 5), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[1, 2])
    ax = left.subplots()
    accuracies = [np.mean(predictions[m] == y[test]) for m in METHODS]
    ax.bar(METHODS, accuracies, color=["C0", "C1", "C2"])
    for i, acc in enumerate(accuracies):
        ax.text(i, acc + 0.01, f"{acc:.3f}", ha="center")
    ax.set(ylim=(0, 1.05), ylabel="test accuracy", title=f"{k} labelled images per class (seed 0)")
    cells = right.subplots(len(METHODS), n_shown)
    for row, method in enumerate(METHODS):
        wrong = np.flatnonzero(predictions[method] != y[test])[:n_shown]
        for col, cell in enumerate(cells[row]):
            cell.axis("off")
            if col < len(wrong):
                i = wrong[col]
                cell.imshow(X[test[i], 0], cmap="gray_r")
                cell.set_title(f"{TARGET_DIGITS[y[test[i]]]}→{TARGET_DIGITS[predictions[method][i]]}", fontsize=9)
        cells[row, 0].text(-0.3, 0.5, method, transform=cells[row, 0].transAxes, ha="right", va="center")
    right.suptitle("some test images each method gets wrong (true → predicted)")
    plt.show()


_ = interact(show_examples_per_class, k=SelectionSlider(options=[5, 10, 20, 50, 100], value=10,
                                                         description="per class", continuous_update=False),
             n_shown=fixed(8))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# * **Transfer learning** (notes §4.1): a model pre-trained on a large source task is adapted — often fine-tuned —
#   to a related target task with less data. The notes' applications all follow one recipe: keep the pre-trained
#   feature extractor (ResNet on ImageNet, BERT on raw text, ImageNet CNNs for X-rays, speech models on many hours
#   of audio), put a new head for the target on top, and train.
# * **Tools**: a checkpoint is a dictionary of named arrays (`state_dict`, `nnlib.io.save` / `load`, `.npz`, never
#   pickle); names are checked, shapes too, and `strict=False` loads just the shared names — the extractor into a
#   model with a new head. `model[-1] = Linear(...)` replaces the head; `model[:-1].requires_grad_(False)` freezes
#   the extractor, which then keeps its values exactly.
# * **Frozen features, derived**: the head's gradient is the δ rule on fixed features,
#   $\partial E / \partial W = \Phi^\top (P - T) / N$; the extractor's gradient is never needed. Training the head
#   is a convex softmax regression, and equals training it alone on features computed once — much cheaper.
# * **Measured** on digits 5–9 with a CNN pre-trained on 0–4: with 10–20 labels per class, frozen features and
#   fine-tuning beat training from scratch; by 50–100, scratch has caught up and overtaken frozen features, which
#   plateau; fine-tuning keeps up. Transfer is a head start, worth most when labels are scarce — and it needs
#   related tasks, or it turns into negative transfer.
# * **Fine-tuning**: train the new head first (a random head sends large, random gradients into the features), then
#   unfreeze with a lower learning rate, so that the pre-trained weights are adjusted rather than overwritten.
# * Pre-trained features separate the new classes where random ones do not (linear probe 0.86 against 0.33) —
#   even though the largest variation in both is where the digit sits.
#
# ## Review questions
#
# 1. Define transfer learning in your own words. What are the source and the target task, and what exactly is
#    transferred from one to the other?
# 2. For each application in the notes' table (image classification, NLP, medical imaging, speech), say what is
#    pre-trained, on what data, and which part is adapted to the target task.
# 3. When does transfer learning help most, and when can it hurt? What is **negative transfer**? Use this lesson's
#    measurements (10 against 100 images per class, clean against scanned digits) in your answer.
# 4. Frozen features or fine-tuning? Compare them in the data they need, the compute they cost (why can the
#    features be precomputed in one case only?), and their risk of overfitting. Which would you choose for a
#    hospital's 200 labelled X-rays, and for 200,000?
# 5. Derive $\partial E / \partial W$ for a softmax head with cross-entropy on a frozen extractor. Why is the
#    extractor's gradient never needed, and why is training the head a convex problem?
# 6. Why can data augmentation not be combined with features computed once?
# 7. Why is fine-tuning done with a lower learning rate than training from scratch, and why is the new head trained
#    first? With Adam, does the *size* of the gradient that a random head sends down matter — what does?
# 8. What does a checkpoint store? Why are the parameters stored **by name**? What happens when you load this
#    lesson's 5-class checkpoint into a 10-class model — with `strict=True`, and with `strict=False` after dropping
#    the head's names?
# 9. Why should a checkpoint not be a pickle?
# 10. In the PCA of the features, the largest variation was the digit's position, for random and pre-trained
#     features alike. Why would a convolutional extractor encode position, and why does the head not need to?
