"""Lesson 10 checks: ✅ for a right answer, ❌ naming the typical mistake, ⏳ for an unsolved stub."""

import numpy as np
import pytest
from exercise_helpers import failure_hint, run, todo

from nnlib import LayerNorm, Linear, Module, MultiHeadAttention, ReLU, TransformerEncoderLayer
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
from nnlib.exercises.lesson10 import REVERSAL, reference_scores, reversal_run


def softmax_rows(s, axis=-1):
    e = np.exp(s - s.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def attention_weights(q, k):
    return softmax_rows(q @ k.T / np.sqrt(q.shape[-1]))


def attention_weights_without_max_shift(q, k):
    e = np.exp(q @ k.T / np.sqrt(k.shape[1]))
    return e / e.sum(axis=1, keepdims=True)


def scaled_scores(q, k):
    return q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])


def scaled_scores_einsum(q, k):
    return np.einsum("...qd,...kd->...qk", q, k) / q.shape[-1] ** 0.5


def causal_mask(T):
    return np.tril(np.ones((T, T), dtype=bool))


def causal_mask_by_comparison(T):
    return np.arange(T)[None, :] <= np.arange(T)[:, None]


def split_heads(x, h):
    n, t, e = x.shape
    return x.reshape(n, t, h, e // h).transpose(0, 2, 1, 3)


def split_heads_by_slicing(x, h):
    size = x.shape[-1] // h
    return np.stack([x[..., j * size:(j + 1) * size] for j in range(h)], axis=1)


def attention_forward(q, k, v, mask=None):
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = softmax_rows(scores)
    return weights @ v, weights


def attention_forward_einsum(q, k, v, mask=None):
    scores = np.einsum("...qd,...kd->...qk", q, k) / q.shape[-1] ** 0.5
    weights = softmax_rows(scores if mask is None else np.where(mask, scores, -1e30))
    return np.einsum("...qk,...kd->...qd", weights, v), weights


def attention_backward(grad_out, q, k, v, weights):
    grad_v = np.swapaxes(weights, -1, -2) @ grad_out
    grad_weights = grad_out @ np.swapaxes(v, -1, -2)
    grad_scores = weights * (grad_weights - np.sum(grad_weights * weights, axis=-1, keepdims=True))
    grad_scores = grad_scores / np.sqrt(q.shape[-1])
    return grad_scores @ k, np.swapaxes(grad_scores, -1, -2) @ q, grad_v


def merge_heads(x):
    n, h, t, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(n, t, h * d)


def merge_heads_by_concatenation(x):
    return np.concatenate(list(np.moveaxis(x, 1, 0)), axis=-1)


class PreNormBlock(Module):
    """The lesson's class: __init__ as given, forward and backward solved."""

    def __init__(self, d_model, nhead, dim_feedforward, rng=None, dtype=np.float32):
        rng = np.random.default_rng(rng)
        self.norm1 = LayerNorm(d_model, dtype=dtype)
        self.self_attn = MultiHeadAttention(d_model, nhead, rng=rng, dtype=dtype)
        self.norm2 = LayerNorm(d_model, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, rng=rng, dtype=dtype)
        self.activation = ReLU()
        self.linear2 = Linear(dim_feedforward, d_model, rng=rng, dtype=dtype)

    def attention(self, x, causal):
        return self.self_attn(self.norm1(x), causal=causal)

    def feed_forward(self, x, relu=True):
        hidden = self.linear1(self.norm2(x))
        return self.linear2(self.activation(hidden) if relu else hidden)

    def forward(self, x, causal=False):
        x = x + self.attention(x, causal)
        return x + self.feed_forward(x)

    def feed_forward_backward(self, grad, relu=True):
        grad = self.linear2.backward(grad)
        return self.norm2.backward(self.linear1.backward(self.activation.backward(grad) if relu else grad))

    def backward(self, grad_out):
        grad = grad_out + self.feed_forward_backward(grad_out)
        return grad + self.norm1.backward(self.self_attn.backward(grad))


class PostNormBlock(PreNormBlock):
    def forward(self, x, causal=False):
        x = self.norm1(x + self.self_attn(x, causal=causal))
        return self.norm2(x + self.linear2(self.activation(self.linear1(x))))

    def backward(self, grad_out):
        grad = self.norm2.backward(grad_out)
        grad = grad + self.linear1.backward(self.activation.backward(self.linear2.backward(grad)))
        grad = self.norm1.backward(grad)
        return grad + self.self_attn.backward(grad)


class StubBlock(PreNormBlock):
    """What the learner starts from: the methods raise."""

    def forward(self, x, causal=False):
        raise NotImplementedError("Exercise 10.8: implement forward")

    def backward(self, grad_out):
        raise NotImplementedError("Exercise 10.9: implement backward")


class StubPostNorm(PostNormBlock):
    def backward(self, grad_out):
        raise NotImplementedError("Exercise 10.10: implement backward")


@pytest.mark.parametrize(("check", "fn", "exercise"), [
    (check_attention_weights, attention_weights, "10.1"), (check_attention_weights, attention_weights_without_max_shift,
                                                           "10.1"),
    (check_scaled_scores, scaled_scores, "10.2"), (check_scaled_scores, scaled_scores_einsum, "10.2"),
    (check_attention_forward, attention_forward, "10.3"), (check_attention_forward, attention_forward_einsum, "10.3"),
    (check_attention_backward, attention_backward, "10.4"),
    (check_causal_mask, causal_mask, "10.5"), (check_causal_mask, causal_mask_by_comparison, "10.5"),
    (check_split_heads, split_heads, "10.6"), (check_split_heads, split_heads_by_slicing, "10.6"),
    (check_merge_heads, merge_heads, "10.7"), (check_merge_heads, merge_heads_by_concatenation, "10.7"),
    (check_block_forward, PreNormBlock, "10.8"), (check_block_backward, PreNormBlock, "10.9"),
    (check_post_norm_backward, PostNormBlock, "10.10 (challenge)"),
])
def test_right_answer_passes_and_stub_waits(check, fn, exercise, capsys):
    out = run(check, fn, capsys)
    assert out.startswith(f"✅ correct — Exercise {exercise}:") and out.count("\n") == 1, out
    out = run(check, todo, capsys)
    assert out.startswith(f"⏳ to do — Exercise {exercise}:") and "not implemented" in out and out.count("\n") == 1, out


@pytest.mark.parametrize(("check", "stub", "exercise"), [
    (check_block_forward, StubBlock, "10.8"), (check_block_backward, StubBlock, "10.9"),
    (check_post_norm_backward, StubPostNorm, "10.10 (challenge)"),
    (check_block_backward, type("Half", (PreNormBlock,), {"backward": StubBlock.backward}), "10.9"),
])
def test_the_lessons_stub_classes_wait(check, stub, exercise, capsys):
    out = run(check, stub, capsys)
    assert out.startswith(f"⏳ to do — Exercise {exercise}:") and "not implemented" in out and out.count("\n") == 1, out


def test_attention_backward_trains_with_the_learners_forward_when_it_is_right(capsys):
    out = run(lambda fn: check_attention_backward(fn, attention_forward), attention_backward, capsys)
    assert out.startswith("✅ correct — Exercise 10.4") and "and your attention_forward" in out
    out = run(lambda fn: check_attention_backward(fn, todo), attention_backward, capsys)
    assert out.startswith("✅ correct — Exercise 10.4") and "your" not in out


def test_references_agree_with_nnlib():
    rng = np.random.default_rng(0)
    q, k = rng.normal(size=(2, 3, 4, 8)), rng.normal(size=(2, 3, 5, 8))
    np.testing.assert_allclose(F.softmax(reference_scores(q, k)), F.scaled_dot_product_attention(q, k, k)[1],
                               rtol=1e-12)
    x = rng.normal(size=(2, 3, 8))
    np.testing.assert_array_equal(F.split_heads(x, 2), split_heads(x, 2))


def sqrt_d(q):
    return np.sqrt(q.shape[-1])


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda q, k: softmax_rows(q @ k.T), "scaling is missing"),
    (lambda q, k: softmax_rows(q @ k.T / q.shape[-1]), "you divided by d_k"),
    (lambda q, k: softmax_rows(q @ k.T / sqrt_d(q), axis=0), "wrong axis"),
    (lambda q, k: q @ k.T / sqrt_d(q), "these are the scaled scores"),
    (lambda q, k: softmax_rows(k @ q.T / sqrt_d(q), axis=0), "transposed"),
    (lambda q, k: softmax_rows((q @ k.T / sqrt_d(q)).ravel()).reshape(len(q), len(k)), "each query's row"),
    (lambda q, k: softmax_rows(q @ k.T / np.sqrt(len(k))), "compute the scores q @ k.T / np.sqrt(d_k)"),
    (lambda q, k: softmax_rows(q @ k.T * sqrt_d(q)), "compute the scores q @ k.T / np.sqrt(d_k)"),
])
def test_attention_weights_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_attention_weights, fn, capsys)
    assert out.startswith("❌ not yet — Exercise 10.1") and hint in out.partition("Hint: ")[2]


def raw(q, k):
    return q @ np.swapaxes(k, -1, -2)


@pytest.mark.parametrize(("fn", "hint"), [
    (raw, "scaling is missing"),
    (lambda q, k: raw(q, k) / q.shape[-1], "not by d_k"),
    (lambda q, k: raw(q, k) / np.sqrt(k.shape[-2]), "number of keys"),
    (lambda q, k: raw(q, k) / np.sqrt(q.shape[0]), "q.shape[0] is the first axis"),
    (lambda q, k: q @ k.T / np.sqrt(q.shape[-1]), "swapaxes(k, -1, -2) transposes each"),   # fine in 2-D only
    (lambda q, k: raw(q, k) * np.sqrt(q.shape[-1]), "q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])"),
])
def test_scaled_scores_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_scaled_scores, fn, capsys)
    assert out.startswith("❌ not yet — Exercise 10.2") and hint in out.partition("Hint: ")[2]


def test_scaled_scores_with_k_T_is_caught_on_a_batch(capsys):
    out = run(check_scaled_scores, lambda q, k: q @ k.T / np.sqrt(q.shape[-1]), capsys)
    assert "raised ValueError" in out and "(2, 3, 9)" in out


def ones(t):
    return np.ones((t, t), dtype=bool)


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda t: np.triu(ones(t), 1), "INVERSE mask"),
    (lambda t: np.triu(ones(t)), "upper triangle"),
    (lambda t: np.tril(ones(t), -1), "diagonal is missing"),
    (ones, "no mask at all"),
    (lambda t: np.eye(t, dtype=bool), "np.tril(np.ones((T, T), dtype=bool))"),
])
def test_causal_mask_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_causal_mask, fn, capsys)
    assert out.startswith("❌ not yet — Exercise 10.5") and hint in out.partition("Hint: ")[2]


@pytest.mark.parametrize("fn", [
    lambda t: np.tril(np.ones((t, t))),
    lambda t: np.tril(np.ones((t, t), dtype=int)),
])
def test_causal_mask_must_be_boolean(fn, capsys):
    out = run(check_causal_mask, fn, capsys)
    assert out.startswith("❌ not yet — Exercise 10.5") and "must be boolean" in out and "dtype=bool" in out


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda x, h: x.reshape(x.shape[0], h, x.shape[1], -1), "scrambled"),
    (lambda x, h: x.reshape(*x.shape[:2], h, -1), "head axis must come before the time axis"),
    (lambda x, h: x.reshape(*x.shape[:2], -1, h).transpose(0, 3, 1, 2), "interleave"),
    (lambda x, h: x.reshape(*x.shape[:2], h, -1).transpose(0, 2, 3, 1), "last two axes are swapped"),
    (lambda x, h: x.reshape(x.shape[0], x.shape[1], h, -1).transpose(2, 0, 1, 3), "x.reshape(N, T, h, E // h)"),
])
def test_split_heads_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_split_heads, fn, capsys)
    assert out.startswith("❌ not yet — Exercise 10.6") and hint in out.partition("Hint: ")[2]


def test_answers_that_mutate_their_inputs_still_pass(capsys):
    def in_place_weights(q, k):
        result = attention_weights(q, k)
        q *= 0
        return result

    def in_place_split(x, h):
        result = split_heads(x, h).copy()
        x[...] = 0
        return result

    # twice: the checks' own cases must not be altered by a learner's in-place edits
    outs = [run(check, fn, capsys)[0] for check, fn in [(check_attention_weights, in_place_weights),
                                                         (check_split_heads, in_place_split)] for _ in range(2)]
    assert outs == ["✅"] * 4


# --- 10.3 and 10.4: attention forward and backward ----------------------------------------------------------

def attend(q, k, v, mask, *, scale=True, use_mask=True, invert=False, fill=-np.inf, after=False, axis=-1):
    """An independent attention forward with the typical mistakes as switches."""
    scores = np.einsum("...qd,...kd->...qk", q, k) / (np.sqrt(q.shape[-1]) if scale else 1.0)
    if mask is not None and use_mask and not after:
        scores = np.where(np.logical_not(mask) if invert else mask, scores, fill)
    with np.errstate(invalid="ignore"):
        weights = softmax_rows(scores, axis=axis)
    if mask is not None and after:
        weights = np.where(mask, weights, 0.0)
    return weights @ v, weights


def scaling_q_in_place(q, k, v, mask=None):
    q /= np.sqrt(q.shape[-1])
    return attend(q, k, v, mask, scale=False)


@pytest.mark.parametrize(("switches", "hint"), [
    ({"scale": False}, "the scaling is missing"),
    ({"use_mask": False}, "the mask is ignored"),
    ({"invert": True}, "the mask is inverted"),
    ({"fill": 0.0}, "e⁰ > 0"),
    ({"after": True}, "applied after the softmax"),
    ({"axis": -2}, "runs over the queries"),
    ({"fill": 1e3}, "np.where(mask, scores, -np.inf)"),
])
def test_attention_forward_mistakes_get_specific_hints(switches, hint, capsys):
    def wrong(q, k, v, mask=None):
        return attend(q, k, v, mask, **switches)

    assert hint in failure_hint(check_attention_forward, wrong, capsys, "10.3")


@pytest.mark.parametrize(("fn", "message"), [
    (scaling_q_in_place, "changed its argument q in place"),
    (lambda q, k, v, mask=None: attend(q, k, v, mask)[::-1], "np.where(mask, scores, -np.inf)"),    # swapped
    (lambda q, k, v, mask=None: attend(q, k.T, v, mask), "np.where(mask, scores, -np.inf)"),       # raises
])
def test_attention_forward_other_mistakes(fn, message, capsys):
    failure_hint(check_attention_forward, fn, capsys, "10.3")
    assert message in run(check_attention_forward, fn, capsys)


def grads(g, q, k, v, a, *, divide=np.sqrt, rowsum=-1, dv_t=True, dk="dsT q", dq="ds k", weights=None):
    """An independent attention backward with the typical mistakes as switches."""
    t = lambda m: np.swapaxes(m, -1, -2)   # noqa: E731
    a = a if weights is None else weights(q, k, v)
    grad_v = (t(a) if dv_t else a) @ g
    grad_a = g @ t(v)
    grad_s = a * (grad_a - (grad_a * a).sum(axis=rowsum, keepdims=True)) if rowsum else a * grad_a
    grad_s = grad_s / divide(q.shape[-1])
    pick = {"ds k": lambda: grad_s @ k, "ds q": lambda: grad_s @ q, "dsT q": lambda: t(grad_s) @ q,
            "dsT k": lambda: t(grad_s) @ k}
    return pick[dq](), pick[dk](), grad_v


@pytest.mark.parametrize(("switches", "hint"), [
    ({"divide": lambda d: 1.0}, "the 1/√d_k is missing"),
    ({"divide": lambda d: d}, "not by d_k"),
    ({"divide": lambda d: d ** -0.5}, "you multiplied by √d_k"),
    ({"rowsum": None}, "lacks its row sum"),
    ({"rowsum": -2}, "row sum runs over the wrong axis"),
    ({"dv_t": False}, "dV = Aᵀ G"),
    ({"dk": "ds q"}, "transpose dS"),
    ({"dk": "dsT k"}, "by the QUERIES"),
    ({"dq": "ds q"}, "by the KEYS"),
    ({"weights": lambda q, k, v: attend(q, k, v, None)[1]}, "recomputed the weights without the mask"),
    ({"divide": lambda d: 2 * np.sqrt(d)}, "np.swapaxes(·, -1, -2) for every transpose"),
])
def test_attention_backward_mistakes_get_specific_hints(switches, hint, capsys):
    def wrong(grad_out, q, k, v, weights):
        return grads(grad_out, q, k, v, weights, **switches)

    assert hint in failure_hint(check_attention_backward, wrong, capsys, "10.4")


def test_attention_backward_that_changes_the_weights_in_place_is_named(capsys):
    def in_place(grad_out, q, k, v, weights):
        result = attention_backward(grad_out, q, k, v, weights)
        weights *= 0
        return result

    failure_hint(check_attention_backward, in_place, capsys, "10.4")
    assert "changed its argument weights in place" in run(check_attention_backward, in_place, capsys)


def test_the_plug_in_catches_a_forward_that_is_wrong_inside_the_model_only(capsys):
    def wrong_on_long_sequences(q, k, v, mask=None):           # the checked cases are shorter than the model's
        out, weights = attention_forward(q, k, v, mask)
        return (1.01 * out if q.shape[-2] == REVERSAL["length"] else out), weights

    out = run(check_attention_forward, wrong_on_long_sequences, capsys)
    assert out.startswith("❌ not yet — Exercise 10.3")
    assert "the reversal transformer with" in out and "before step 1" in out


def test_reversal_run_is_deterministic_and_learns():
    losses, state = reversal_run()
    again, state_again = reversal_run()
    assert losses == again and all(np.array_equal(state[n], state_again[n]) for n in state)
    assert losses[-1] < losses[0]


# --- 10.7 merge_heads -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("fn", "hint"), [
    (lambda x: x.reshape(x.shape[0], x.shape[2], -1), "scrambled"),
    (lambda x: x.transpose(0, 2, 3, 1).reshape(x.shape[0], x.shape[2], -1), "interleave the heads"),
    (lambda x: x.transpose(0, 2, 1, 3), "now reshape to (N, T, h·d)"),
    (lambda x: x.transpose(2, 0, 1, 3).reshape(x.shape[0], x.shape[2], -1), "x.transpose(0, 2, 1, 3).reshape"),
])
def test_merge_heads_mistakes_get_specific_hints(fn, hint, capsys):
    assert hint in failure_hint(check_merge_heads, fn, capsys, "10.7")


def test_merge_undoes_split():
    x = np.random.default_rng(0).normal(size=(2, 3, 12))
    np.testing.assert_array_equal(merge_heads(split_heads(x, 4)), x)


# --- 10.8, 10.9, 10.10: the transformer block -------------------------------------------------------------

def block_with(forward=None, backward=None):
    """A PreNormBlock whose forward or backward is replaced by a wrong one."""
    methods = {name: method for name, method in (("forward", forward), ("backward", backward)) if method}
    return type("WrongBlock", (PreNormBlock,), methods)


@pytest.mark.parametrize(("forward", "hint"), [
    (PostNormBlock.forward, "that is the post-norm block"),
    (lambda self, x, causal=False: self.feed_forward(self.attention(x, causal)), "residual connections are missing"),
    (lambda self, x, causal=False: (h := x + self.attention(x, causal)) + self.feed_forward(h, relu=False),
     "has a ReLU"),
    (lambda self, x, causal=False: (h := x + self.attention(x, causal)) + self.linear2(self.activation(
        self.linear1(h))), "reads the normalised input LN₂(x)"),
    (lambda self, x, causal=False: (h := x + self.self_attn(x, causal=causal)) + self.feed_forward(h),
     "the attention reads the normalised input LN₁(x)"),
    (lambda self, x, causal=False: (h := x + self.attention(x, False)) + self.feed_forward(h), "the mask is lost"),
    (lambda self, x, causal=False: (h := x + 2 * self.attention(x, causal)) + self.feed_forward(h),
     "forward: x = x + self_attn(norm1(x), causal=causal)"),
])
def test_block_forward_mistakes_get_specific_hints(forward, hint, capsys):
    assert hint in failure_hint(check_block_forward, block_with(forward=forward), capsys, "10.8")


def without_ff_residual(self, grad_out):
    grad = self.feed_forward_backward(grad_out)
    return grad + self.norm1.backward(self.self_attn.backward(grad))


def without_attention_residual(self, grad_out):
    grad = grad_out + self.feed_forward_backward(grad_out)
    return self.norm1.backward(self.self_attn.backward(grad))


def without_residuals(self, grad_out):
    return self.norm1.backward(self.self_attn.backward(self.feed_forward_backward(grad_out)))


def attention_gets_grad_out(self, grad_out):
    grad = grad_out + self.feed_forward_backward(grad_out)
    return grad + self.norm1.backward(self.self_attn.backward(grad_out))


def without_relu_backward(self, grad_out):
    grad = grad_out + self.feed_forward_backward(grad_out, relu=False)
    self.activation.clear_caches()
    return grad + self.norm1.backward(self.self_attn.backward(grad))


def adding_in_place(self, grad_out):
    grad_out += self.feed_forward_backward(grad_out)
    return grad_out + self.norm1.backward(self.self_attn.backward(grad_out))


def doubled(self, grad_out):
    return 2 * PreNormBlock.backward(self, grad_out)


@pytest.mark.parametrize(("backward", "hint"), [
    (without_ff_residual, "the second residual x + FF(LN₂(x))"),
    (without_attention_residual, "the first residual x + MHA(LN₁(x))"),
    (without_residuals, "both residual connections"),
    (attention_gets_grad_out, "not grad_out alone"),
    (without_relu_backward, "activation.backward"),
    (adding_in_place, "never modify the incoming gradient"),
    (doubled, "backward: grad = grad_out + norm2.backward"),
])
def test_block_backward_mistakes_get_specific_hints(backward, hint, capsys):
    assert hint in failure_hint(check_block_backward, block_with(backward=backward), capsys, "10.9")


def test_post_norm_challenge_rejects_the_pre_norm_backward(capsys):
    wrong = type("PostNormWithPreNormBackward", (PreNormBlock,), {"forward": PostNormBlock.forward})
    assert "backward, from the output down" in failure_hint(check_post_norm_backward, wrong, capsys,
                                                              "10.10 (challenge)")


class Renamed(PreNormBlock):
    def __init__(self, d_model, nhead, dim_feedforward, rng=None, dtype=np.float32):
        super().__init__(d_model, nhead, dim_feedforward, rng, dtype)
        self.attention_layer = self.__dict__.pop("self_attn")


@pytest.mark.parametrize(("check", "exercise"), [(check_block_forward, "10.8"), (check_block_backward, "10.9"),
                                                 (check_post_norm_backward, "10.10 (challenge)")])
@pytest.mark.parametrize(("block_class", "hint"), [
    (Renamed, "keep the sub-layers' names"),
    (lambda d, h, ff, rng, dtype: TransformerEncoderLayer(d, h, ff, 0.0, rng=rng, dtype=dtype).state_dict(),
     "not an nnlib Module"),
])
def test_a_block_of_the_wrong_kind_is_reported(check, exercise, block_class, hint, capsys):
    failure_hint(check, block_class, capsys, exercise)
    assert hint in run(check, block_class, capsys)


def value_error(*args, **kwargs):
    raise ValueError("a wrong answer whatever the exercise")


ALL_CHECKS = [(check_attention_weights, "10.1"), (check_scaled_scores, "10.2"), (check_attention_forward, "10.3"),
              (check_attention_backward, "10.4"), (check_causal_mask, "10.5"), (check_split_heads, "10.6"),
              (check_merge_heads, "10.7"), (check_block_forward, "10.8"), (check_block_backward, "10.9"),
              (check_post_norm_backward, "10.10 (challenge)")]


@pytest.mark.parametrize(("check", "exercise"), ALL_CHECKS)
@pytest.mark.parametrize("wrong", [value_error, PreNormBlock, attention_forward, 42])
def test_a_raising_or_wrong_kind_of_answer_is_a_failure_not_a_crash(check, exercise, wrong, capsys):
    if (check, wrong) in [(check_block_forward, PreNormBlock), (check_block_backward, PreNormBlock),
                          (check_attention_forward, attention_forward)]:
        return                                                               # those are right answers
    out = run(check, wrong, capsys)
    assert out.startswith(f"❌ not yet — Exercise {exercise}:") and out.count("\n") == 2, out
