# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # Lesson 06 — Convolution and CNNs
#
# The lecture notes introduce convolution as "a mathematical operation used in signal and image processing to
# extract features by applying a filter (or kernel) over an input", and the **convolutional neural network
# (CNN)** as the architecture built on it for grid-like data such as images. This lesson slides filters over a
# signal, over a real photograph and over handwritten digits; derives the output size, pooling, and
# backpropagation through a convolution layer in the notes' δ notation; assembles the notes' six layer types into
# a CNN; and trains it. As always, every formula is checked by code — against `nnlib.Conv2d`, `MaxPool2d` and
# `AvgPool2d`, which implement exactly what the lesson derives.
#
# ## Learning goals
#
# By the end of this lesson you can
#
# 1. compute 1-D and 2-D convolutions and **cross-correlations** by hand and with NumPy, and explain why deep
#    learning's "convolution" is a cross-correlation (the kernel is not flipped);
# 2. read what a 3×3 filter does to an image — blur, sharpen, edges (Sobel, Laplacian) — and design your own;
# 3. derive and apply the output size $H' = \lfloor (H + 2P - K)/S \rfloor + 1$ for padding $P$ and stride $S$;
# 4. explain **max** and **average pooling**, forward and backward: max routes $\delta$ to the first maximum,
#    average spreads $\delta / K^2$;
# 5. name the six layer types of a CNN, follow the shapes through one, and count its parameters and the
#    **receptive field** of its units;
# 6. derive backpropagation through a convolution layer: $\Delta w$ is a correlation of the input with $\delta$,
#    the input's $\delta$ a full convolution of $\delta$ with the kernel — and build your own convolution layer,
#    forward and backward, that trains a CNN exactly like `nnlib.Conv2d`;
# 7. train a small CNN to more than 97% test accuracy on handwritten digits and inspect its filters, feature maps
#    and confusion matrix, and measure what dropout does to it;
# 8. say how CNNs serve the applications the notes list.

# %%
import itertools
import time
from typing import NamedTuple

import matplotlib.pyplot as plt
import numpy as np
from ipywidgets import Dropdown, IntSlider, interact
from matplotlib.cbook import get_sample_data
from scipy.signal import convolve2d
from sklearn.metrics import ConfusionMatrixDisplay

from nnlib import (
    AvgPool2d,
    Conv2d,
    Dropout,
    Flatten,
    Linear,
    MaxPool2d,
    Module,
    Parameter,
    ReLU,
    Sequential,
    Softmax,
)
from nnlib import functional as F
from nnlib.data import load_digits, train_test_split
from nnlib.exercises import (
    check_col2im,
    check_conv2d_backward,
    check_conv2d_forward,
    check_conv_output_size,
    check_correlate2d,
    check_maxpool_backward,
)
from nnlib.gradcheck import gradcheck, numerical_gradient
from nnlib.losses import CrossEntropyLoss
from nnlib.optim import Adam
from nnlib.training import evaluate, fit
from nnlib.viz import kernel_editor, show_feature_map  # noqa: F401 - show_feature_map: for the learner

np.set_printoptions(precision=3, suppress=True)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Convolution in one dimension, and cross-correlation
#
# Slide a short **kernel** $w$ (length $K$) along a signal $x$ and take a weighted sum at every position. Signal
# processing defines the **convolution** with the kernel *flipped*,
#
# $$(x * w)[n] = \sum_m x[m]\, w[n - m],$$
#
# (as $m$ grows, the kernel index $n - m$ shrinks), and the **cross-correlation** with the kernel as it is:
#
# $$(x \star w)[n] = \sum_m x[n + m]\, w[m].$$
#
# They differ only by the flip. Take the "valid" outputs — the positions where the kernel lies entirely inside the
# signal, $i = 0, \dots, N - K$. The convolution there is
# $(x * w)[i + K - 1] = \sum_{j=0}^{K-1} x[i + K - 1 - j]\, w[j]$; substitute $j = K - 1 - m$:
#
# $$(x * w)[i + K - 1] = \sum_{m=0}^{K-1} x[i + m]\, w[K - 1 - m] = (x \star \tilde w)[i], \qquad
# \tilde w[m] = w[K - 1 - m].$$
#
# **A convolution is a cross-correlation with the flipped kernel $\tilde w$.** NumPy has both: `np.convolve` flips
# the kernel, `np.correlate` does not. With the difference kernel $w = (1, -1)$ one gives $x[i+1] - x[i]$, the other
# $x[i] - x[i+1]$:

# %%
signal = np.array([0, 0, 1, 3, 3, 3, 0, 0], dtype=np.float64)
difference = np.array([1.0, -1.0])
print("signal:                        ", signal)
print("np.convolve  (kernel flipped): ", np.convolve(signal, difference, "valid"))
print("np.correlate (kernel as is):   ", np.correlate(signal, difference, "valid"))

rng = np.random.default_rng(0)
x, w = rng.normal(size=9), rng.normal(size=4)
for mode in ["valid", "full"]:
    assert np.allclose(np.convolve(x, w, mode), np.correlate(x, w[::-1], mode))
print("np.convolve(x, w) == np.correlate(x, w flipped), 'valid' and 'full' modes: True")

# %% [markdown] slideshow={"slide_type": "subslide"}
# Which one does deep learning use? In a network the kernel is **learned**: whatever a convolution with $w$ can
# compute, a correlation with $\tilde w$ computes too, and training would simply find the flipped kernel. So every
# deep-learning library — PyTorch, TensorFlow, nnlib — computes a **cross-correlation** and calls it a
# convolution. (Real convolution is commutative and associative, which matters in signal processing, not here.)
#
# Filters as feature extractors: on a noisy step, a **moving average** (a box kernel $\frac{1}{5}(1, 1, 1, 1, 1)$)
# smooths the noise, and a **difference** kernel $\frac{1}{2}(-1, 0, 1)$ applied to the result responds most where
# the signal jumps — a 1-D edge detector.

# %%
steps = np.arange(60)
noisy = (steps >= 30).astype(np.float64) + 0.15 * rng.normal(size=60)
smooth = np.correlate(noisy, np.ones(5) / 5, "valid")          # smooth[i] is centred on steps[i + 2]
slope = np.correlate(smooth, [-0.5, 0.0, 0.5], "valid")         # slope[i] is centred on steps[i + 3]
edge_at = int(np.argmax(slope)) + 3

fig, (ax_signal, ax_slope) = plt.subplots(1, 2, figsize=(11, 3), layout="constrained")
ax_signal.plot(steps, noisy, ".", color="grey", label="noisy step")
ax_signal.plot(steps[2:-2], smooth, label="moving average (K = 5)")
ax_signal.legend()
ax_slope.plot(steps[3:-3], slope, color="C1", label="difference of the average")
ax_slope.axvline(edge_at, color="k", ls=":", label=f"largest response at {edge_at}")
ax_slope.legend()
plt.show()
print("the edge is found at step", edge_at)
assert abs(edge_at - 30) <= 1

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Two dimensions: sliding a kernel over an image
#
# An image $x$ of $H \times W$ pixels and a kernel $w$ of $K_H \times K_W$ weights. The (deep-learning) 2-D
# convolution puts the kernel on every position where it fits and takes the weighted sum — plus a bias:
#
# $$y_{i,j} = b + \sum_{p=0}^{K_H - 1} \sum_{q=0}^{K_W - 1} w_{p,q}\; x_{i+p,\, j+q}, \qquad
# 0 \le i \le H - K_H,\quad 0 \le j \le W - K_W .$$
#
# The output, a **feature map**, has $(H - K_H + 1) \times (W - K_W + 1)$ values. With $C$ input channels (colours,
# or the feature maps of a previous layer) the kernel has a slice per channel and the sum runs over them too;
# $C_{out}$ kernels give $C_{out}$ feature maps:
#
# $$y_{o,i,j} = b_o + \sum_{c=0}^{C-1} \sum_{p,q} w_{o,c,p,q}\; x_{c,\,i+p,\,j+q} .$$
#
# That is `nnlib.Conv2d`: weight of shape $(C_{out}, C, K_H, K_W)$ — PyTorch's layout —, input $(N, C, H, W)$.
#
# **By hand.** A 5×5 image that is dark on the left and bright on the right, and the **Sobel** kernel
# $\begin{pmatrix} 1 & 0 & -1 \\ 2 & 0 & -2 \\ 1 & 0 & -1 \end{pmatrix}$, which compares the column on the left of
# each pixel with the column on its right. At $(i, j) = (0, 0)$ the window covers columns 0–2, whose rows are
# $(0, 0, 1)$:
#
# $$y_{0,0} = (1 \cdot 0 + 0 \cdot 0 - 1 \cdot 1) + (2 \cdot 0 + 0 \cdot 0 - 2 \cdot 1) + (1 \cdot 0 + 0 \cdot 0 - 1
# \cdot 1) = -4 .$$
#
# At $j = 2$ the window covers columns 2–4, all bright: $y_{0,2} = (1 - 1) + (2 - 2) + (1 - 1) = 0$. The kernel
# answers where the brightness changes from left to right, and not where it is uniform. The same numbers from
# `nnlib.functional.conv2d_naive` — the definition written as four nested loops — and from a `Conv2d` layer whose
# weight we set:

# %%
edge_image = np.repeat([[0.0, 0.0, 1.0, 1.0, 1.0]], 5, axis=0)
sobel_x = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])

by_hand = np.sum(edge_image[0:3, 0:3] * sobel_x)
naive = F.conv2d_naive(edge_image[None, None], sobel_x[None, None])[0, 0]
layer = Conv2d(1, 1, 3, bias=False, dtype=np.float64)
layer.weight.data[0, 0] = sobel_x
print("y[0, 0] by hand:", by_hand)
print("conv2d_naive:\n", naive)
assert by_hand == -4 and np.allclose(layer(edge_image[None, None])[0, 0], naive)

# %% [markdown] slideshow={"slide_type": "subslide"}
# `Conv2d` does not loop over pixels. `im2col` unfolds every 3×3 window into a column of 9 numbers; the
# convolution is then **one matrix product**, weight $(C_{out}, C K_H K_W)$ times columns $(C K_H K_W, H' W')$ —
# which is why it runs at the speed of NumPy's matrix multiply. And the textbook convolution (SciPy's
# `convolve2d`) is the same sliding sum with the kernel rotated by 180° — flipped along both axes:

# %%
columns = F.im2col(edge_image[None, None], kernel_size=3)          # (N, C·KH·KW, H'·W') = (1, 9, 9)
as_matmul = (sobel_x.reshape(1, 9) @ columns[0]).reshape(3, 3)
print("im2col shape:", columns.shape, "| one matrix product gives the same map:", np.allclose(as_matmul, naive))
assert np.allclose(as_matmul, naive)

true_convolution = convolve2d(edge_image, sobel_x, mode="valid")
print("true convolution with the Sobel kernel:\n", true_convolution)
assert np.allclose(true_convolution, F.conv2d_naive(edge_image[None, None], sobel_x[None, None, ::-1, ::-1])[0, 0])

# %% [markdown] slideshow={"slide_type": "subslide"}
# The true convolution gives $+4$: flipping the Sobel kernel flips its sign. For a learned kernel this does not
# matter; for a hand-designed one, always check which of the two a library computes.
#
# ## 3. Padding, stride and the output size
#
# Two settings change where the kernel lands:
#
# * **Padding** $P$: add $P$ rows and columns of zeros on *every* side, so the padded input has $H + 2P$ rows.
# * **Stride** $S$: move the kernel $S$ pixels at a time instead of 1.
#
# **Derivation** (one axis; the other is the same). The kernel's first row sits at rows $0, S, 2S, \dots$ of the
# padded input. Position $t \cdot S$ is allowed as long as the kernel still fits, $tS + K \le H + 2P$, that is
# $t \le (H + 2P - K)/S$. The allowed $t$ are the integers $0, 1, \dots, \lfloor (H + 2P - K)/S \rfloor$, so
#
# $$\boxed{\;H' = \left\lfloor \frac{H + 2P - K}{S} \right\rfloor + 1\;}$$
#
# The $+1$ counts position $t = 0$; the floor drops a last step that would stick out. Two special cases:
#
# * **"same" padding**: with $S = 1$ and an odd $K$, $P = (K - 1)/2$ gives $H' = H$ — the feature map keeps the size
#   of the image. Without it, every 3×3 layer would eat a pixel on each side, and a deep stack would shrink the
#   image to nothing. Padding also lets the border pixels be seen: without it a corner pixel enters a single
#   output, a central one $K^2$ of them.
# * **stride 2** roughly halves each side: a cheap way to downsample.
#
# ### Exercise 6.1 — the output size
#
# Write `conv_output_size(size, kernel, stride, padding)`: the number of outputs along one axis, as an `int`.

# %%
def conv_output_size(size, kernel, stride=1, padding=0):
    """Outputs along one axis (an int) of a convolution or pooling: ⌊(size + 2·padding − kernel)/stride⌋ + 1."""
    ### BEGIN SOLUTION
    return (size + 2 * padding - kernel) // stride + 1
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_conv_output_size(conv_output_size)

# %% [markdown] slideshow={"slide_type": "subslide"}
# Move the sliders to see where a kernel of width $K$ lands on a row of $H$ pixels (grey: the zero padding; red:
# pixels that no kernel position covers, which happens when $S$ does not divide $H + 2P - K$):

# %% tags=["nbval-ignore-output"]
def show_output_size(H=7, K=3, P=1, S=2):
    """Where a K-wide kernel lands on a row of H pixels with padding P and stride S (one axis of the image)."""
    length = H + 2 * P
    if K > length:
        print(f"The kernel ({K}) is longer than the padded row ({H} + 2·{P} = {length}): there is no output.")
        return
    n_out = (length - K) // S + 1
    covered = np.zeros(length, dtype=bool)
    for t in range(n_out):
        covered[t * S:t * S + K] = True
    fig, ax = plt.subplots(figsize=(0.5 * length + 1.5, 1.3 + 0.4 * n_out), layout="constrained")
    for c in range(length):
        is_padding = c < P or c >= P + H
        colour = "lightgrey" if is_padding else ("white" if covered[c] else "salmon")
        ax.add_patch(plt.Rectangle((c, 0), 1, 1, facecolor=colour, edgecolor="k"))
        ax.text(c + 0.5, 0.5, "0" if is_padding else f"$x_{{{c - P}}}$", ha="center", va="center", fontsize=8)
    for t in range(n_out):
        top = -0.45 * (t + 1)
        ax.add_patch(plt.Rectangle((t * S + 0.05, top), K - 0.1, 0.35, color=f"C{t % 10}", alpha=0.7))
        ax.text(t * S + K / 2, top + 0.17, f"$y_{{{t}}}$", ha="center", va="center", fontsize=8)
    ax.set(xlim=(-0.2, length + 0.2), ylim=(-0.45 * (n_out + 1), 1.1))
    ax.set_title(f"H' = ⌊({H} + 2·{P} − {K}) / {S}⌋ + 1 = {n_out}")
    ax.axis("off")
    plt.show()


_ = interact(show_output_size, H=IntSlider(value=7, min=1, max=16, continuous_update=False),
             K=IntSlider(value=3, min=1, max=7, continuous_update=False),
             P=IntSlider(value=1, min=0, max=3, continuous_update=False),
             S=IntSlider(value=2, min=1, max=4, continuous_update=False))

# %% [markdown] slideshow={"slide_type": "subslide"}
# The boxed formula against the shape that `nnlib.Conv2d` really outputs, for every setting of a grid (a square
# image, so it is checked on both axes at once):

# %%
settings = 0
for H, K, P, S in itertools.product(range(1, 11), [1, 2, 3, 5], [0, 1, 2], [1, 2, 3]):
    if H + 2 * P < K:
        continue                                    # the kernel would not fit anywhere
    conv = Conv2d(1, 1, K, stride=S, padding=P, bias=False, dtype=np.float64)
    out_size = (H + 2 * P - K) // S + 1
    assert conv(np.zeros((1, 1, H, H))).shape == (1, 1, out_size, out_size), (H, K, P, S)
    settings += 1
print(f"H' = ⌊(H + 2P − K)/S⌋ + 1 matches Conv2d's output shape for all {settings} settings")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Filters on a photograph
#
# ### Exercise 6.2 — one convolution by hand
#
# Before letting `Conv2d` filter a photograph, write the sliding sum yourself. `correlate2d(image, kernel)` takes
# a 2-D image $(H, W)$ and a 2-D kernel $(K_H, K_W)$ and returns the "valid" cross-correlation
# $y_{i,j} = \sum_{p,q} w_{p,q}\, x_{i+p,\,j+q}$ (no bias), of shape $(H - K_H + 1, W - K_W + 1)$. Two loops over
# the output pixels are fine.

# %%
def correlate2d(image, kernel):
    """'Valid' 2-D cross-correlation: image (H, W), kernel (KH, KW) → (H − KH + 1, W − KW + 1), no flip."""
    ### BEGIN SOLUTION
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i:i + kh, j:j + kw] * kernel)
    return out
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_correlate2d(correlate2d)

# %% [markdown] slideshow={"slide_type": "subslide"}
# Now a real image: the portrait of Grace Hopper that ships with matplotlib (no download). We convert it to
# grey levels in $[0, 1]$ with the usual luminance weights, and halve each side by averaging 2×2 blocks, to keep
# things fast. The result is one channel of one image, shaped $(N, C, H, W) = (1, 1, 300, 256)$ for `Conv2d`.

# %%
photo = plt.imread(get_sample_data("grace_hopper.jpg"))               # (600, 512, 3) RGB, uint8
gray = photo @ np.array([0.299, 0.587, 0.114]) / 255                  # (600, 512) in [0, 1]
image = gray.reshape(300, 2, 256, 2).mean(axis=(1, 3))[None, None]    # (1, 1, 300, 256)
print("photo", photo.shape, "-> image", image.shape)

# %% [markdown] slideshow={"slide_type": "subslide"}
# Classic hand-designed kernels, each a 3×3 weighted sum:
#
# * **blur**: the **box** filter (the mean of the 9 pixels) and the **Gaussian** one
#   ($\frac{1}{16}(1, 2, 1)^\top (1, 2, 1)$, heavier in the centre). Their weights sum to 1: a uniform region keeps
#   its brightness.
# * **sharpen**: $5\times$ the pixel minus its 4 neighbours: it adds back the difference from the neighbourhood.
#   Its weights sum to 1 too.
# * **edges**: **Sobel x** (left minus right, found in section 2) and **Sobel y** (top minus bottom) respond to
#   vertical and horizontal edges; the **Laplacian** (4 neighbours minus 4× the centre) to edges in every direction.
#   Their weights sum to 0: a uniform region gives 0.
#
# One `Conv2d(1, 7, 3, padding=1)` with these seven kernels as its weight computes the seven feature maps in one
# pass ("same" padding keeps the image's size). We show $|y|$ for the edge kernels, whose responses have both signs,
# and combine the two Sobel maps into the **edge magnitude** $\sqrt{y_x^2 + y_y^2}$.

# %%
KERNELS = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]]),
    "box blur": np.ones((3, 3)) / 9,
    "Gaussian blur": np.outer([1, 2, 1], [1, 2, 1]) / 16,
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    "Sobel x": sobel_x,
    "Sobel y": sobel_x.T,
    "Laplacian": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]]),
}
bank = Conv2d(1, len(KERNELS), 3, padding=1, bias=False, dtype=np.float64)
bank.weight.data[:, 0] = np.stack(list(KERNELS.values()))
feature_maps = dict(zip(KERNELS, bank(image)[0], strict=True))       # name -> (300, 256)
edge_magnitude = np.hypot(feature_maps["Sobel x"], feature_maps["Sobel y"])

fig, axes = plt.subplots(2, 4, figsize=(14, 8.5), layout="constrained")
panels = [(name, fmap) for name, fmap in feature_maps.items()] + [("edge magnitude", edge_magnitude)]
for ax, (name, fmap) in zip(axes.flat, panels, strict=True):
    is_edge = name not in ("identity", "box blur", "Gaussian blur", "sharpen")
    ax.imshow(np.abs(fmap) if is_edge else fmap, cmap="gray")
    ax.set_title(f"|{name}|" if is_edge and name != "edge magnitude" else name)
    ax.axis("off")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# (The thin bright frame around the edge maps is an artefact of the zero padding: beyond the border, the padded
# "image" is black, so the kernels see an edge there.)
#
# The checks: on a patch of the photo, `Conv2d` (im2col and one matrix product) agrees with the four-loop
# definition; the identity kernel gives the image back; and on a uniform grey patch each kernel returns the grey
# level times the sum of its weights — 1 for blur and sharpen, 0 for the edge detectors.

# %%
patch = image[:, :, 120:144, 100:124]
assert np.allclose(bank(patch), F.conv2d_naive(patch, bank.weight.data, padding=1))
assert np.allclose(feature_maps["identity"], image[0, 0])
uniform = bank(np.full((1, 1, 5, 5), 0.6))[0, :, 2, 2]          # the centre, away from the zero padding
for (name, kernel), response in zip(KERNELS.items(), uniform, strict=True):
    print(f"{name:14s} weights sum to {kernel.sum():+.0f}: a uniform 0.6 gives {round(response, 3) + 0.0:+.3f}")
    assert np.isclose(response, 0.6 * kernel.sum())
print("Conv2d == conv2d_naive on a 24×24 patch of the photo: True")

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Your turn: design a kernel.** Pick a preset, or type any kernel into the text field — rows separated by `;`,
# entries by spaces, fractions such as `1/9` allowed — and press Enter. Any size works (5×5 blurs more). Try
# `-1 -1 -1; -1 8 -1; -1 -1 -1`, a diagonal edge `2 1 0; 1 0 -1; 0 -1 -2`, or a kernel that shifts the image.
# You can also call `show_feature_map(image[0, 0], "1 2 1; 0 0 0; -1 -2 -1")` (from `nnlib.viz`) directly.

# %% tags=["nbval-ignore-output"] jupyter={"source_hidden": true}
_ = kernel_editor(image[0, 0], KERNELS, start="Sobel x")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Pooling
#
# A **pooling layer** shrinks each feature map by summarising every $K \times K$ window with one number (the
# stride is usually $K$ too, so the windows do not overlap). It has no weights at all:
#
# $$\text{max pooling: } y_{i,j} = \max_{0 \le p, q < K} x_{iK + p,\, jK + q}, \qquad
# \text{average pooling: } y_{i,j} = \frac{1}{K^2} \sum_{p,q} x_{iK + p,\, jK + q} .$$
#
# The output size is the formula of section 3. On a small feature map, with ties in two windows:

# %%
fmap = np.array([[1, 3, 2, 1],
                 [4, 2, 0, 1],
                 [0, 0, 5, 6],
                 [0, 0, 6, 2]], dtype=np.float64)[None, None]            # (N, C, H, W) = (1, 1, 4, 4)
max_pool, avg_pool = MaxPool2d(2), AvgPool2d(2)
print("max pooling:\n", max_pool(fmap)[0, 0])
print("average pooling:\n", avg_pool(fmap)[0, 0])
print("where each maximum is (offset p·K + q in its window):\n", max_pool.argmax[0, 0])
assert np.array_equal(max_pool(fmap)[0, 0], [[4, 2], [0, 6]])

# %% [markdown] slideshow={"slide_type": "subslide"}
# **What pooling buys:** 4× fewer values per 2×2 pooling, so less computation in the following layers; each later
# unit sees a larger part of the image (section 6); and some robustness to small shifts — max pooling reports
# *that* a feature is present in a window, wherever it is inside it. **What it loses:** the exact position (3 of
# every 4 values are gone, for 2×2), which is why tasks that need precise locations, such as segmentation, pool
# less or undo it. Max pooling keeps strong thin responses such as edges; average pooling dilutes them. On the
# edge magnitude of the photo:

# %% tags=["nbval-ignore-output"] jupyter={"source_hidden": true}
edges = edge_magnitude[None, None]                                     # (1, 1, 300, 256)


def show_pooling(kind="max", K=4):
    """The photo's edge magnitude and its K×K max- or average-pooled version (stride K)."""
    pool = MaxPool2d(K) if kind == "max" else AvgPool2d(K)
    pooled = pool(edges)
    fig, (ax_in, ax_out) = plt.subplots(1, 2, figsize=(10, 4.5), layout="constrained")
    ax_in.imshow(edges[0, 0], cmap="gray")
    ax_in.set_title(f"edge magnitude {edges.shape[2:]}")
    ax_out.imshow(pooled[0, 0], cmap="gray", vmin=0, vmax=edges.max())
    ax_out.set_title(f"{kind} pooling {K}×{K}: {pooled.shape[2:]}")
    for ax in (ax_in, ax_out):
        ax.axis("off")
    plt.show()


_ = interact(show_pooling, kind=Dropdown(options=["max", "average"], value="max"),
             K=IntSlider(value=4, min=1, max=12, continuous_update=False))

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Backward.** Pooling has no weights, so its backward only *routes* the gradient coming from above, $\delta_{i,j}$
# for output $y_{i,j}$, to the inputs; call what an input $x_{m,n}$ receives $\delta^x_{m,n}$. The rules are linear
# in $\delta$, so they hold alike for the notes' $\delta = -\partial E/\partial y$ (then
# $\delta^x = -\partial E/\partial x$) and for $\partial E / \partial y$, what nnlib's `backward` receives (then
# $\delta^x = \partial E / \partial x$, what it returns).
#
# * **Max.** Inside a window, $y = x_{p^*, q^*}$ where $(p^*, q^*)$ is the position of the maximum: a small change of
#   any *other* input does not change $y$. So $\partial y / \partial x_{p,q} = 1$ at the maximum and $0$ elsewhere,
#   and the chain rule gives
#
#   $$\delta^x_{iK + p,\, jK + q} = \begin{cases} \delta_{i,j} & (p, q) = (p^*, q^*) \\ 0 &
#   \text{otherwise.}\end{cases}$$
#
#   With **ties** the maximum is not differentiable; any one of the tied inputs is a valid choice (a subgradient).
#   PyTorch, and nnlib, send $\delta$ to the **first** maximum in row-major order.
# * **Average.** $\partial y / \partial x_{p,q} = 1/K^2$ for every input of the window: each gets $\delta_{i,j} / K^2$.
#
# Both backward passes against centred finite differences (`gradcheck`, float64), on random inputs (no ties), also
# with overlapping windows (a 3×3 window moved by 2):

# %%
x_pool = np.random.default_rng(1).normal(size=(2, 3, 6, 6))
for pool in [MaxPool2d(2), AvgPool2d(2), MaxPool2d(3, stride=2), AvgPool2d(3, stride=2)]:
    errors = gradcheck(pool, x_pool)                                   # raises above a relative error of 1e-7
    print(f"{str(pool):60s} backward == finite differences: {errors['input0'] < 1e-7}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# And on the small map above, with $\delta = \begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}$: max pooling puts each
# $\delta$ on one input (the *first* 0 of the all-zero window, the *first* 6 of the last one), average pooling
# spreads $\delta / 4$:

# %%
delta_pool = np.array([[1.0, 2.0], [3.0, 4.0]])[None, None]
max_pool(fmap)
routed = max_pool.backward(delta_pool)[0, 0]
avg_pool(fmap)
spread = avg_pool.backward(delta_pool)[0, 0]
print("max pooling backward:\n", routed)
print("average pooling backward:\n", spread)
assert routed.sum() == delta_pool.sum() and np.count_nonzero(routed) == 4
assert routed[2, 0] == 3 and routed[2, 3] == 4 and routed[3, 2] == 0         # ties: the first maximum wins
assert np.allclose(spread, np.kron(delta_pool[0, 0], np.ones((2, 2))) / 4)

# %% [markdown] slideshow={"slide_type": "subslide"}
# Why a convention is needed at a tie: there, centred differences give *each* tied input $\delta/2$ (nudging it up
# raises the maximum, nudging it down does not lower it). That is not a gradient at all — the one-sided slopes
# disagree, and the all-zero window even hands out $4 \cdot \delta/2 = 2\delta$ in total. Finite differences of
# $E = \sum_{i,j} \delta_{i,j}\, y_{i,j}$ on the same map:

# %%
x_tie = fmap.copy()


def pooled_loss():
    return float(np.sum(delta_pool * max_pool(x_tie)))


numerical = numerical_gradient(pooled_loss, x_tie)[0, 0]
print("finite differences:\n", numerical)
assert np.allclose(numerical[:2, :2], [[0, 0], [1, 0]])             # no tie: the gradient, as max pooling routes it
assert np.allclose(numerical[2:, :2], 3 / 2) and np.allclose(numerical[2:, 2:], [[0, 2], [2, 0]])  # ties: δ/2 each

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 6.3 — max-pool backward routing
#
# Write `maxpool_backward(x, grad_out, k)` for one feature map `x` $(H, W)$ — $H$ and $W$ multiples of $k$ —, max
# pooled with non-overlapping $k \times k$ windows (stride $k$), and the incoming gradient `grad_out`
# $(H/k, W/k)$. Return $\partial E / \partial x$ $(H, W)$: each window's $\delta$ goes to its **first** maximum
# (row-major, as `np.argmax` finds it), everything else is 0. (`np.unravel_index` turns a flat index into $(p, q)$.)

# %%
def maxpool_backward(x, grad_out, k):
    """dE/dx (H, W) of k×k max pooling (stride k): each δ of grad_out (H/k, W/k) to its window's first maximum."""
    ### BEGIN SOLUTION
    grad_x = np.zeros_like(x)
    for i in range(grad_out.shape[0]):
        for j in range(grad_out.shape[1]):
            window = x[i * k:(i + 1) * k, j * k:(j + 1) * k]
            p, q = np.unravel_index(np.argmax(window), window.shape)
            grad_x[i * k + p, j * k + q] = grad_out[i, j]
    return grad_x
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_maxpool_backward(maxpool_backward)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. The layers of a CNN
#
# The notes list six kinds of layer. Here is each one, and what implements it in nnlib:
#
# | notes' layer | its purpose | nnlib |
# |---|---|---|
# | 1. **input layer** | receives the raw pixel values | the array `X` of shape $(N, C, H, W)$ |
# | 2. **convolution layer** | filters extract features: edges, textures, patterns | `Conv2d` |
# | 3. **activation layer** | non-linearity, so that stacked layers learn complex patterns | `ReLU` |
# | 4. **pooling layer** | reduces the spatial size, keeps the important information | `MaxPool2d`, `AvgPool2d` |
# | 5. **fully connected layer** | combines all features for the final decision | `Flatten` then `Linear` |
# | 6. **output layer** | class probabilities or a label | softmax of the 10 scores |
#
# For the 8×8 handwritten digits (1797 images, 10 classes) we stack two convolution–activation–pooling blocks,
# then the fully connected layer. `CrossEntropyLoss` applies the output layer's softmax itself during training
# (from the scores, for numerical stability); to read probabilities, apply `Softmax` to the scores.

# %%
def digits_cnn():
    """The lesson's CNN for 8×8 digits: two conv–ReLU–max-pool blocks, then a fully connected layer to 10 scores."""
    return Sequential(
        Conv2d(1, 16, 3, padding=1, rng=0), ReLU(), MaxPool2d(2),       # (N, 1, 8, 8) → (N, 16, 4, 4)
        Conv2d(16, 32, 3, padding=1, rng=10), ReLU(), MaxPool2d(2),     # → (N, 32, 2, 2)
        Flatten(), Linear(128, 10, rng=20),                             # → (N, 128) → (N, 10) scores
    )


X, y = load_digits(images=True)                                         # X (1797, 1, 8, 8) in [0, 1], float32
cnn = digits_cnn()
print(cnn)

# %% [markdown] slideshow={"slide_type": "subslide"}
# Follow two images through it, layer by layer:

# %%
ROLE = {Conv2d: "convolution", ReLU: "activation", MaxPool2d: "pooling", Flatten: "fully connected",
        Linear: "fully connected"}
h = X[:2]
print(f"{'input layer':22s} {'X':10s} output {str(h.shape):16s}")
for layer in cnn:
    h = layer(h)
    print(f"{ROLE[type(layer)] + ' layer':22s} {type(layer).__name__:10s} output {str(h.shape):16s} "
          f"{layer.num_parameters():5d} parameters")
probabilities = Softmax(axis=1)(h)
print(f"{'output layer':22s} {'Softmax':10s} output {str(probabilities.shape):16s} each row sums to 1")
assert probabilities.shape == (2, 10) and np.allclose(probabilities.sum(axis=1), 1)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Weight sharing.** A convolution layer has $C_{out} \cdot C \cdot K_H K_W$ weights and $C_{out}$ biases, *whatever
# the image size*: the same small kernel is used at every position. A fully connected layer producing the same
# output connects every input to every output. For the first layer of our CNN, and for a layer with our seven
# filters on the photo:

# %%
def conv_parameters(c_in, c_out, k):
    return c_out * c_in * k * k + c_out


def dense_parameters(n_in, n_out):
    return n_in * n_out + n_out


assert cnn[0].num_parameters() == conv_parameters(1, 16, 3) and cnn[3].num_parameters() == conv_parameters(16, 32, 3)
for what, (c_in, c_out, size) in {"digits, first layer": (1, 16, 8 * 8), "photo, 7 filters": (1, 7, 300 * 256)}.items():
    print(f"{what:20s}: convolution {conv_parameters(c_in, c_out, 3):,} parameters, "
          f"fully connected {dense_parameters(c_in * size, c_out * size):,}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# Fewer weights need fewer examples to learn, and a feature learned in one corner is detected everywhere. The
# price is an assumption — *the same pattern matters wherever it appears, and depends on a small neighbourhood* —
# which suits images well.
#
# **The receptive field grows with depth.** A unit of the first 3×3 layer sees 3×3 pixels. Each later layer widens
# what a unit sees by $(K - 1)$ times the **jump** $J$, the distance in input pixels between two neighbouring units
# of the layer below, and each stride multiplies the jump:
#
# $$r_\ell = r_{\ell - 1} + (K_\ell - 1)\, J_{\ell - 1}, \qquad J_\ell = J_{\ell - 1}\, S_\ell, \qquad r_0 = J_0 = 1 .$$
#
# Measured by backpropagation: send a gradient of 1 from one unit in the middle of a layer's output back to the
# input, and count the input pixels it reaches (all weights 1, and average pooling, so that every pixel a unit
# depends on gets a non-zero gradient):

# %%
def receptive_field(layers):
    """Side of the square of input pixels one output unit depends on: r += (K − 1)·J, then J *= S, per layer."""
    r, jump = 1, 1
    for layer in layers:
        if hasattr(layer, "kernel_size"):          # activations and Flatten do not change what a unit sees
            r, jump = r + (layer.kernel_size[0] - 1) * jump, jump * layer.stride[0]
    return r


probe = Sequential(Conv2d(1, 1, 3, bias=False, dtype=np.float64), AvgPool2d(2),
                   Conv2d(1, 1, 3, bias=False, dtype=np.float64), AvgPool2d(2))
for layer in probe:
    if isinstance(layer, Conv2d):
        layer.weight.data[...] = 1.0
for depth in range(1, len(probe) + 1):
    stack = probe[:depth]
    out = stack(np.zeros((1, 1, 24, 24)))
    one_unit = np.zeros_like(out)
    one_unit[0, 0, out.shape[2] // 2, out.shape[3] // 2] = 1.0
    reached = stack.backward(one_unit)[0, 0] != 0
    side = np.flatnonzero(reached.any(axis=1)).size
    print(f"after {' → '.join(type(layer).__name__ for layer in stack)}: receptive field {side}×{side}")
    assert side == receptive_field(stack) and np.count_nonzero(reached) == side**2
print("the digits CNN, before its fully connected layer:", receptive_field(cnn[:6]), "pixels wide")

# %% [markdown] slideshow={"slide_type": "subslide"}
# So the first layer finds small local patterns (edges), and each unit of a deeper layer combines them over a
# wider region (corners, strokes, loops, then whole digits or faces). Pooling speeds the growth by doubling the jump.
#
# ## 7. Backpropagation through a convolution layer
#
# Training the CNN needs $\partial E / \partial w$ for every kernel weight, and the $\delta$ to pass to the layer
# below. We derive them in the notes' notation, for one channel, stride 1 and no padding (padding just means the
# input is the padded one). The layer receives the activations $a$ of the layer below (the input image, for the
# first layer) and computes
#
# $$net_{i,j} = b + \sum_{p,q} w_{p,q}\; a_{i+p,\,j+q} .$$
#
# As in the backpropagation lessons, each output has a delta $\delta_{i,j} = -\partial E / \partial net_{i,j}$,
# handed down by the layers above.
#
# **The weights.** Weight sharing: $w_{p,q}$ appears in *every* $net_{i,j}$, with
# $\partial net_{i,j} / \partial w_{p,q} = a_{i+p,\,j+q}$. The chain rule sums over all the places where the weight
# was used:
#
# $$\frac{\partial E}{\partial w_{p,q}} = \sum_{i,j} \frac{\partial E}{\partial net_{i,j}}\,
# \frac{\partial net_{i,j}}{\partial w_{p,q}} = -\sum_{i,j} \delta_{i,j}\, a_{i+p,\,j+q}
# \quad\Longrightarrow\quad
# \boxed{\;\Delta w_{p,q} = \varepsilon \sum_{i,j} \delta_{i,j}\, a_{i+p,\,j+q}
# = \varepsilon\, (a \star \delta)_{p,q}\;}$$
#
# It is the notes' rule $\Delta w = \varepsilon\, \delta\, a$, summed over the positions, and the sum is a valid
# **cross-correlation of the input $a$ with $\delta$** (used as the kernel; the result has the kernel's size,
# $(H - H' + 1) = K$). Likewise $\Delta b = \varepsilon \sum_{i,j} \delta_{i,j}$.
#
# **The input.** The pixel $a_{m,n}$ enters $net_{i,j}$ when $m = i + p$ and $n = j + q$, with the weight
# $w_{m-i,\,n-j}$. Summing over those outputs (the notes' $\sum_k \delta_k w_{kj}$):
#
# $$-\frac{\partial E}{\partial a_{m,n}} = \sum_{i,j} \delta_{i,j}\, w_{m-i,\,n-j}
# = \sum_{p,q} \bar\delta_{m - p + K - 1,\; n - q + K - 1}\; w_{p,q}
# = \sum_{p',q'} \bar\delta_{m + p',\, n + q'}\; \tilde w_{p',q'},$$
#
# where $\bar\delta$ is $\delta$ zero-padded by $K - 1$ on every side (the missing outputs near the border count as
# 0), $p' = K - 1 - p$, and $\tilde w_{p',q'} = w_{K-1-p',\,K-1-q'}$ is the kernel rotated by 180°. So
#
# $$\boxed{\;-\frac{\partial E}{\partial a} = \bar\delta \star \tilde w = \delta \ast_{\text{full}} w\;}$$
#
# — a **full convolution of $\delta$ with the kernel**: the transposed operation of the forward pass. Its size is
# $H' + 2(K - 1) - K + 1 = H$, the input's. The layer below then gets
# $\delta_{m,n}^{\text{below}} = -\frac{\partial E}{\partial a_{m,n}}\, f'(net_{m,n}^{\text{below}})$, the notes'
# $\delta_j = \sum_k \delta_k w_{kj} \cdot f'(net_j)$.
#
# With channels and a batch: $\Delta w_{o,c,p,q} = \varepsilon \sum_{n,i,j} \delta_{n,o,i,j}\, a_{n,c,i+p,j+q}$ and
# $-\partial E/\partial a_{n,c} = \sum_o \bar\delta_{n,o} \star \tilde w_{o,c}$. Both are again convolutions, so we
# can compute them with `conv2d_naive` — after swapping axes so that its sum over channels becomes the sum we need:

# %%
def weight_delta(a, delta):
    """Σ_{n,i,j} δ[n,o,i,j]·a[n,c,i+p,j+q] → (C_out, C, KH, KW): the valid correlation of the input with δ.

    a (N, C, H, W), δ (N, C_out, H', W'). Swapping the batch and channel axes turns conv2d_naive's sum over
    channels into the sum over the N samples.
    """
    return F.conv2d_naive(a.transpose(1, 0, 2, 3), delta.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)


def input_delta(delta, weight):
    """−∂E/∂a (N, C, H, W) = Σ_o δ̄[n,o] ⋆ w̃[o,c]: δ padded by K − 1, correlated with the kernel rotated by 180°."""
    kh, kw = weight.shape[2:]
    rotated = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)              # (C, C_out, KH, KW)
    return F.conv2d_naive(delta, rotated, padding=(kh - 1, kw - 1))


rng = np.random.default_rng(7)
a = rng.normal(size=(2, 3, 6, 5))                                        # (N, C, H, W)
conv = Conv2d(3, 4, 3, rng=0, dtype=np.float64)                          # weight (4, 3, 3, 3)
net = conv(a)                                                            # (2, 4, 4, 3)
delta = rng.normal(size=net.shape)                                       # δ = −∂E/∂net: any values will do

conv.zero_grad()
grad_a = conv.backward(-delta)                                           # nnlib's backward takes ∂E/∂net = −δ
checks = {
    "∂E/∂w = −(a ⋆ δ)": (conv.weight.grad, -weight_delta(a, delta)),
    "∂E/∂b = −Σ δ": (conv.bias.grad, -delta.sum(axis=(0, 2, 3))),
    "∂E/∂a = −(δ full-convolved with w)": (grad_a, -input_delta(delta, conv.weight.data)),
}
for name, (from_nnlib, from_formula) in checks.items():
    assert np.allclose(from_nnlib, from_formula, rtol=1e-12, atol=1e-12)
    print(f"{name:36s} shape {str(from_formula.shape):14s} = Conv2d.backward: True")

errors = gradcheck(conv, a)                                              # raises above a relative error of 1e-7
print("and Conv2d.backward == finite differences:", {name: bool(err < 1e-7) for name, err in errors.items()})

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Stride.** With stride $S$ the layer computes the stride-1 output at every $S$-th position only. The gradient
# with respect to the full stride-1 output is therefore $\delta$ spread out with $S - 1$ zeros between its entries
# ("dilated"), and the two formulas above apply unchanged to that:

# %%
strided = Conv2d(3, 4, 3, stride=2, rng=1, dtype=np.float64)
delta_strided = rng.normal(size=strided(a).shape)                          # (2, 4, 2, 2)
dilated = np.zeros((2, 4, 6 - 3 + 1, 5 - 3 + 1))                           # the stride-1 output's shape
dilated[:, :, ::2, ::2] = delta_strided
strided.zero_grad()
grad_a_strided = strided.backward(-delta_strided)
assert np.allclose(strided.weight.grad, -weight_delta(a, dilated))
assert np.allclose(grad_a_strided, -input_delta(dilated, strided.weight.data))
print("stride 2: δ dilated to", dilated.shape[2:], "-> both formulas match Conv2d.backward: True")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 6.4 — your own `Conv2d` layer (build)
#
# Now write the layer itself, forward and backward, as an nnlib `Module`, with one loop over the output positions
# $(i, j)$ (vectorised over the batch and the channels). Its window is
# `x_padded[:, :, i*S:i*S + K, j*S:j*S + K]`, of shape $(N, C, K, K)$, and
#
# * **forward**: $y_{n,o,i,j} = b_o + \sum_{c,p,q} w_{o,c,p,q}\, \text{window}_{n,c,p,q}$ — pad $x$ first
#   (`np.pad`), keep the kernel as it is (a cross-correlation), and store `self.cache = MyConv2dCache(x_padded)`;
# * **backward**, with `grad_out` $= \partial E/\partial y$ (the $-\delta$ of the derivation) of shape
#   $(N, C_{out}, H', W')$: every output position sends its gradient back along the weights it used,
#   `weight.grad[o] += Σ_n grad_out[n, o, i, j] · window[n]` (section 7's correlation of the input with δ),
#   `dx_padded[window] += Σ_o grad_out[n, o, i, j] · w[o]` (the full convolution, built window by window),
#   and `bias.grad += grad_out` summed over the samples and the positions. Return `dx_padded` without its padding:
#   the zeros of `np.pad` are not inputs of the layer.
#
# `np.einsum` writes each sum as it reads: `np.einsum("ncpq,ocpq->no", window, w)` is
# $\sum_{c,p,q} \text{window}_{n,c,p,q}\, w_{o,c,p,q}$. Accumulate parameter gradients with `+=`, as every nnlib
# layer does.
#
# The checks compare your layer with `nnlib.Conv2d` on random float64 inputs of five shapes, strides and paddings,
# call `backward` twice to see that it accumulates, run `nnlib.gradcheck` on it, and finally **build a small CNN
# from two of your layers** (the second with stride 2), train it for a few Adam steps on 64 digits and compare its
# losses and weights with the same CNN built from `nnlib.Conv2d`. (Python loops are slow, so a few full-batch steps
# rather than the 20 epochs of section 8.)

# %%
class MyConv2dCache(NamedTuple):
    """What MyConv2d keeps for backward."""

    x_padded: np.ndarray  # the zero-padded input (N, C, H + 2P, W + 2P)


class MyConv2d(Module):
    """A square-kernel convolution. x (N, C, H, W) → y (N, C_out, H', W'), weight (C_out, C, K, K), bias (C_out,)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, rng=0):
        rng, bound = np.random.default_rng(rng), 1 / np.sqrt(in_channels * kernel_size**2)
        self.stride, self.padding = stride, padding
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        self.weight = Parameter(rng.uniform(-bound, bound, shape), "weight")
        self.bias = Parameter(rng.uniform(-bound, bound, out_channels), "bias")

    def forward(self, x):
        """x (N, C, H, W) → y (N, C_out, H', W'): y[:, :, i, j] = Σ_{c,p,q} window · w + b; caches x_padded."""
        ### BEGIN SOLUTION
        s, p, k = self.stride, self.padding, self.weight.shape[2]
        x_padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        out_h, out_w = (x_padded.shape[2] - k) // s + 1, (x_padded.shape[3] - k) // s + 1
        y = np.zeros((x.shape[0], self.weight.shape[0], out_h, out_w))
        for i in range(out_h):
            for j in range(out_w):
                window = x_padded[:, :, i * s:i * s + k, j * s:j * s + k]               # (N, C, K, K)
                y[:, :, i, j] = np.einsum("ncpq,ocpq->no", window, self.weight.data)
        self.cache = MyConv2dCache(x_padded)
        return y + self.bias.data[:, None, None]
        ### END SOLUTION

    def backward(self, grad_out):
        """grad_out ∂E/∂y (N, C_out, H', W') → ∂E/∂x (N, C, H, W); adds ∂E/∂w and ∂E/∂b to the .grad arrays."""
        ### BEGIN SOLUTION
        x_padded = self.cache.x_padded
        s, p, k = self.stride, self.padding, self.weight.shape[2]
        dx_padded = np.zeros_like(x_padded)
        for i in range(grad_out.shape[2]):
            for j in range(grad_out.shape[3]):
                rows, cols = slice(i * s, i * s + k), slice(j * s, j * s + k)
                delta = grad_out[:, :, i, j]                                             # (N, C_out)
                self.weight.grad += np.einsum("no,ncpq->ocpq", delta, x_padded[:, :, rows, cols])
                dx_padded[:, :, rows, cols] += np.einsum("no,ocpq->ncpq", delta, self.weight.data)
        self.bias.grad += grad_out.sum(axis=(0, 2, 3))
        height, width = dx_padded.shape[2:]
        return dx_padded[:, :, p:height - p, p:width - p]
        ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_conv2d_forward(MyConv2d)

# %% slideshow={"slide_type": "fragment"}
check_conv2d_backward(MyConv2d)

# %% [markdown] slideshow={"slide_type": "subslide"}
# With both checks green, a CNN built from your layer has trained like nnlib's. `nnlib.Conv2d` computes the same
# numbers without a Python loop over positions: `im2col` (section 2) unfolds every window into a column, so the
# forward is one matrix product, and its backward folds the columns' gradients back onto the pixels with `col2im`.
# The rest of the lesson uses `nnlib.Conv2d`.
#
# ### Exercise 6.5 — `col2im` (challenge, optional)
#
# Write `col2im(cols, x_shape, k, stride, padding)`, the adjoint of `im2col`: `cols` $(N, C K^2, H' W')$ holds one
# column per window, ordered like `F.im2col`'s — reshape it to $(N, C, K, K, H', W')$ —, and every entry goes back
# onto the pixel $(i S + p,\, j S + q)$ of the padded input it was read from. A pixel read by several windows
# receives the **sum** of their entries; return the result without its padding, of shape `x_shape`. Loop over the
# $K^2$ kernel offsets (strided slices), or use `np.add.at`. Skip it if you like: the check then waits (⏳).

# %%
def col2im(cols, x_shape, k, stride=1, padding=0):
    """cols (N, C·K·K, H'·W') → (N, C, H, W): every column entry added onto the input pixel it was read from."""
    ### BEGIN SOLUTION
    n, c, h, w = x_shape
    out_h, out_w = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
    blocks = cols.reshape(n, c, k, k, out_h, out_w)
    padded = np.zeros((n, c, h + 2 * padding, w + 2 * padding))
    for p in range(k):
        for q in range(k):
            padded[:, :, p:p + stride * out_h:stride, q:q + stride * out_w:stride] += blocks[:, :, p, q]
    return padded[:, :, padding:padding + h, padding:padding + w]
    ### END SOLUTION


# %% slideshow={"slide_type": "fragment"}
check_col2im(col2im)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. A CNN on handwritten digits
#
# The CNN of section 6, trained with cross-entropy and Adam ($\eta = 0.003$), mini-batches of 32, for 20 epochs, on
# 75% of the digits; the other 25% are the test set.

# %%
X_train, X_test, y_train, y_test = train_test_split(X, y, test_fraction=0.25, rng=0)
cross_entropy = CrossEntropyLoss()
cnn = digits_cnn()
start = time.perf_counter()
history = fit(cnn, cross_entropy, Adam(cnn.parameters(), lr=3e-3), X_train, y_train, epochs=20, batch_size=32, rng=0)
seconds = time.perf_counter() - start
test_accuracy = evaluate(cnn, cross_entropy, X_test, y_test)["accuracy"]
print(f"{len(y_train)} training and {len(y_test)} test images; test accuracy after 20 epochs: {test_accuracy:.3f}")
assert test_accuracy >= 0.97

# %% tags=["nbval-ignore-output", "timing"]
print(f"training time: {seconds:.1f} s")

# %% [markdown] slideshow={"slide_type": "subslide"}
# **What did it learn?** The sixteen 3×3 filters of the first layer (red positive, blue negative). Several put a
# positive side against a negative one, like the Sobel kernels of section 4: edge detectors that nobody designed.
# (On 8×8 images of 3×3 kernels they stay rougher than the filters of networks trained on photographs.)

# %% jupyter={"source_hidden": true}
filters = cnn[0].weight.data[:, 0]                                        # (16, 3, 3)
limit = np.abs(filters).max()
fig, axes = plt.subplots(2, 8, figsize=(12, 3.2), layout="constrained")
for i, (ax, kernel) in enumerate(zip(axes.flat, filters, strict=True)):
    ax.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_title(f"filter {i}", fontsize=9)
    ax.axis("off")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The sixteen feature maps of one test digit after the first convolution and its ReLU: each highlights the places
# where its filter's pattern appears — strokes of one orientation, their ends, the background. A map that stays
# dark belongs to a filter whose response is negative all over this digit: the ReLU sets it to 0.

# %%
digit = X_test[:1]
maps = cnn[:2](digit)[0]                                                  # (16, 8, 8)
fig, axes = plt.subplots(2, 9, figsize=(13, 3.4), layout="constrained")
axes[0, 0].imshow(digit[0, 0], cmap="gray_r")
axes[0, 0].set_title(f"digit {y_test[0]}", fontsize=9)
for i, (ax, fmap) in enumerate(zip([*axes[0, 1:], *axes[1, 1:]], maps, strict=True)):
    ax.imshow(fmap, cmap="viridis")
    ax.set_title(f"map {i}", fontsize=9)
for ax in axes.flat:
    ax.axis("off")
plt.show()
assert maps.shape == (16, 8, 8) and maps.min() >= 0                        # after ReLU

# %% [markdown] slideshow={"slide_type": "subslide"}
# The **confusion matrix**: row = true digit, column = predicted digit; everything off the diagonal is a mistake.

# %%
predictions = cnn(X_test).argmax(axis=1)
fig, ax = plt.subplots(figsize=(5.5, 5), layout="constrained")
ConfusionMatrixDisplay.from_predictions(y_test, predictions, ax=ax, colorbar=False)
ax.set_title(f"test set: {np.sum(predictions != y_test)} mistakes out of {len(y_test)}")
plt.show()
assert np.isclose(np.mean(predictions == y_test), test_accuracy)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Compared with the MLP of lesson 04** ($64 \to 128 \to 10$, ReLU), trained the same way on the same split:

# %%
mlp = Sequential(Flatten(), Linear(64, 128, rng=0), ReLU(), Linear(128, 10, rng=1))
fit(mlp, cross_entropy, Adam(mlp.parameters(), lr=3e-3), X_train, y_train, epochs=20, batch_size=32, rng=0)
mlp_accuracy = evaluate(mlp, cross_entropy, X_test, y_test)["accuracy"]
for name, model, acc in [("CNN", cnn, test_accuracy), ("MLP 64-128-10", mlp, mlp_accuracy)]:
    # two digits: the MLP's third (0.964 or 0.967) depends on the CPU that OpenBLAS's float32 kernels run on
    print(f"{name:14s}: {model.num_parameters():5,} parameters, test accuracy {acc:.2f}")
assert cnn.num_parameters() < mlp.num_parameters()

# %% [markdown] slideshow={"slide_type": "subslide"}
# With fewer parameters the CNN does at least as well: it does not have to learn separately that a stroke at the
# top and the same stroke one pixel lower are alike. On 8×8 images the difference is small; on real photographs
# (a 224×224 RGB image has 150,528 inputs) a fully connected network is hopeless and CNNs win by far.
#
# **Dropout in the CNN.** The notes list dropout among the CNN key concepts (lesson 05 derives it). The usual place
# is before the fully connected layers, where most of the weights of a large CNN sit. The same CNN with
# `Dropout(0.5)` between `Flatten` and the final `Linear`, trained the same way (same initial weights, same
# batches), against the one above:

# %%
def digits_cnn_with_dropout(p=0.5):
    """digits_cnn with Dropout(p) on the 128 features before the output layer."""
    layers = list(digits_cnn())
    return Sequential(*layers[:-1], Dropout(p, rng=30), layers[-1])


cnn_dropout = digits_cnn_with_dropout()
fit(cnn_dropout, cross_entropy, Adam(cnn_dropout.parameters(), lr=3e-3), X_train, y_train, epochs=20, batch_size=32,
    rng=0)
dropout_rows = {}
for name, model in [("CNN", cnn), ("CNN + dropout 0.5", cnn_dropout)]:
    train_metrics = evaluate(model, cross_entropy, X_train, y_train)
    test_metrics = evaluate(model, cross_entropy, X_test, y_test)
    dropout_rows[name] = (train_metrics["accuracy"], test_metrics["accuracy"], test_metrics["loss"])
    print(f"{name:18s}: training accuracy {train_metrics['accuracy']:.3f}, test accuracy "
          f"{test_metrics['accuracy']:.3f} (gap {train_metrics['accuracy'] - test_metrics['accuracy']:.3f}), "
          f"test loss {test_metrics['loss']:.3f}")
difference_in_images = (dropout_rows["CNN + dropout 0.5"][1] - dropout_rows["CNN"][1]) * len(y_test)
print(f"test accuracy with dropout minus without: {difference_in_images:+.0f} of {len(y_test)} test images")
assert abs(difference_in_images) <= 5

# %% [markdown] slideshow={"slide_type": "subslide"}
# Measured, dropout changes little here: the two test accuracies differ by the few images printed above, within
# what another seed would change. The reason is the network, not dropout: this CNN has few weights, shared over the
# image, and its training accuracy does not race far ahead of its test accuracy, so there is little overfitting for
# dropout to remove — while its noise slows training. Dropout pays off where lesson 05 used it: large fully
# connected layers that can memorise a small training set (the 4096-unit layers of AlexNet and VGG are where it
# made its name).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 9. What CNNs are used for
#
# The notes' list of applications, and how a CNN does each:
#
# * **Image classification** (identifying objects in photographs): convolution blocks turn the image into features,
#   a fully connected output layer scores the classes — exactly our digits network, only deeper (ResNet, VGG).
# * **Object detection** (locating multiple objects): the same feature maps feed a head that predicts, at every
#   position of the map, boxes and class scores (YOLO, Faster R-CNN).
# * **Facial recognition** (identifying individuals): a CNN maps each face to a vector (an embedding) such that
#   photos of the same person land close together; recognising is comparing distances.
# * **Image segmentation** (dividing an image into segments): a fully convolutional network predicts a class for
#   *every pixel*, upsampling the pooled feature maps back to full resolution (U-Net).
# * **Medical image analysis** (abnormalities in X-rays or MRIs): classification and segmentation CNNs, often
#   pretrained on natural images and fine-tuned (transfer learning) on a few thousand labelled scans.
# * **Video analysis** (activities or events in frames): a CNN extracts features from every frame — or 3-D
#   convolutions slide over time as well as space — and a recurrent or attention layer combines the frames.
#
# ## Summary
#
# * A **convolution** slides a kernel over the input and takes a weighted sum at each position; the textbook
#   version flips the kernel (`np.convolve`), the **cross-correlation** does not (`np.correlate`). Deep learning
#   computes cross-correlations and calls them convolutions: a learned kernel makes the flip irrelevant.
# * Hand-made 3×3 kernels blur (weights summing to 1), sharpen, or detect edges (weights summing to 0: Sobel,
#   Laplacian). A CNN **learns** its kernels, and its first layer's often look like these.
# * Output size: $H' = \lfloor (H + 2P - K)/S \rfloor + 1$. "Same" padding $P = (K-1)/2$ keeps the size; stride
#   $S$ divides it.
# * **Pooling** shrinks feature maps: max keeps the strongest response, average the mean. Backward: max routes
#   $\delta$ to the (first) maximum, average gives each input $\delta / K^2$.
# * A CNN stacks the notes' six layer types: input, convolution, activation, pooling, fully connected, output.
#   **Weight sharing** makes a convolution layer's parameter count independent of the image size; the
#   **receptive field** grows with depth, faster after pooling.
# * **Backprop through a convolution**: $\Delta w = \varepsilon\, (a \star \delta)$, a correlation of the input with
#   $\delta$ (the notes' $\varepsilon\, \delta\, a$ summed over positions), $\Delta b = \varepsilon \sum \delta$, and
#   $-\partial E/\partial a$ is the full convolution of $\delta$ with the kernel. Stride: dilate $\delta$ first.
#   Written as a loop over output positions, each window sends its gradient back along the weights it used.
# * A 6,090-parameter CNN reaches more than 97% test accuracy on the digits in a few seconds.
#
# ## Review questions
#
# 1. What is the difference between a convolution and a cross-correlation? Which one does `np.convolve` compute,
#    which one does a deep-learning "convolution layer" compute, and why does the difference not matter there?
# 2. Compute by hand the valid cross-correlation of
#    $\begin{pmatrix} 1 & 2 & 0 \\ 0 & 1 & 3 \\ 2 & 0 & 1 \end{pmatrix}$ with the kernel
#    $\begin{pmatrix} 1 & 0 \\ 0 & -1 \end{pmatrix}$.
# 3. Derive $H' = \lfloor (H + 2P - K)/S \rfloor + 1$. What padding keeps a 5×5 convolution with stride 1 from
#    shrinking the image? What is the output size of a 7×7 convolution with stride 2 and padding 3 on a 224×224
#    image?
# 4. Why do we pad at all? Give two reasons.
# 5. **Why weight sharing?** Count the parameters of a `Conv2d(3, 64, 3)` layer on a 224×224 RGB image, and of a
#    fully connected layer that produces the same $64 \times 222 \times 222$ output from the same image. What
#    assumption about images makes the sharing reasonable?
# 6. What does pooling buy, and what does it lose? Why might a segmentation network pool less than a classifier?
# 7. Derive the backward pass of max pooling and of average pooling. Why does max pooling need a rule for ties,
#    and which rule do PyTorch and nnlib use?
# 8. How does the receptive field grow with depth? Compute it for three 3×3 convolutions with stride 1, and for
#    conv 3×3 → max-pool 2×2 → conv 3×3 → max-pool 2×2.
# 9. Derive $\Delta w_{p,q}$ for a convolution layer in the notes' $\delta$ notation. Why is it a *sum* over
#    positions, and which correlation is it? What is $-\partial E / \partial a$, and why is its size the input's?
# 10. Name the six layer types of a CNN from the notes and their roles, and say which nnlib class implements each.
# 11. Pick two applications from the notes' list and explain how a CNN is used for each.
