"""Lesson 11 checks: ✅ for the lesson's own solutions, ❌ naming each typical mistake, ⏳ for an unsolved stub."""

import numpy as np
import pytest
from exercise_helpers import failure_hint, run, solution_code, stub_of, todo

import nnlib
from nnlib import LayerNorm, Module, MultiHeadAttention, no_grad
from nnlib import functional as F
from nnlib.exercises import (
    check_beam_search,
    check_cross_attention_block,
    check_cross_attention_weights,
    check_greedy_decode,
    check_shift_right,
)
from nnlib.exercises.lesson11 import decoding_models

SOLUTION = solution_code("11_sequence_to_sequence",
                         ("shift_right", "cross_attention_weights", "CrossAttentionBlock", "greedy_decode",
                          "beam_search"),
                         {"np": np, "F": F, "Module": Module, "LayerNorm": LayerNorm,
                          "MultiHeadAttention": MultiHeadAttention, "no_grad": no_grad})
shift_right, cross_attention_weights = SOLUTION["shift_right"], SOLUTION["cross_attention_weights"]
CrossAttentionBlock, greedy_decode, beam_search = (SOLUTION[name] for name in
                                                   ("CrossAttentionBlock", "greedy_decode", "beam_search"))

RIGHT = [(check_shift_right, shift_right, "11.1"), (check_cross_attention_weights, cross_attention_weights, "11.2"),
         (check_cross_attention_block, CrossAttentionBlock, "11.3"), (check_greedy_decode, greedy_decode, "11.4"),
         (check_beam_search, beam_search, "11.5 (challenge)")]


@pytest.mark.parametrize(("check", "fn", "exercise"), RIGHT, ids=[r[2] for r in RIGHT])
def test_right_answer_passes_and_stub_waits(check, fn, exercise, capsys):
    out = run(check, fn, capsys)
    assert out.startswith(f"✅ correct — Exercise {exercise}:") and out.count("\n") == 1, out
    out = run(check, stub_of(fn), capsys)
    assert out.startswith(f"⏳ to do — Exercise {exercise}:") and "not implemented" in out and out.count("\n") == 1, out


def test_a_block_with_only_forward_solved_waits_for_backward(capsys):
    half = type("Half", (CrossAttentionBlock,), {"backward": todo})
    out = run(check_cross_attention_block, half, capsys)
    assert out.startswith("⏳ to do — Exercise 11.3:") and "backward" in out, out


# --- 11.1 ----------------------------------------------------------------------------------------------------

def shifted_left(targets, bos):
    return np.concatenate([targets[:, 1:], np.full((len(targets), 1), bos)], axis=1)


def bos_overwrites(targets, bos):
    out = targets.copy()
    out[:, 0] = bos
    return out


def bos_prepended_only(targets, bos):
    return np.concatenate([np.full((len(targets), 1), bos), targets], axis=1)


@pytest.mark.parametrize(("wrong", "hint"), [
    (shifted_left, "shifted LEFT"),
    (bos_overwrites, "first target token was overwritten"),
    (lambda targets, bos: targets.copy(), "came back unchanged"),
    (bos_prepended_only, "prepend a column of bos and drop the last column"),
])
def test_shift_right_mistakes_are_named(wrong, hint, capsys):
    assert hint in failure_hint(check_shift_right, wrong, capsys, "11.1")


# --- 11.2 ----------------------------------------------------------------------------------------------------

def softmax_rows(s, axis=-1):
    e = np.exp(s - s.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def weights_with(queries_from_memory=False, axis=-1, divide_by=lambda w_q, x: np.sqrt(w_q.shape[1])):
    def fn(x, memory, w_q, w_k):
        q, k = (memory @ w_q, x @ w_k) if queries_from_memory else (x @ w_q, memory @ w_k)
        return softmax_rows(q @ k.T / divide_by(w_q, x), axis=axis)
    return fn


@pytest.mark.parametrize(("wrong", "hint"), [
    (weights_with(queries_from_memory=True), "the queries came from the memory"),
    (weights_with(axis=0), "softmax ran over the target steps"),
    (weights_with(divide_by=lambda w_q, x: np.sqrt(x.shape[1])), "divided by √E"),
    (weights_with(divide_by=lambda w_q, x: 1.0), "scaling is missing"),
    (weights_with(divide_by=lambda w_q, x: w_q.shape[1]), "Q = x @ w_q"),
])
def test_cross_attention_weight_mistakes_are_named(wrong, hint, capsys):
    assert hint in failure_hint(check_cross_attention_weights, wrong, capsys, "11.2")


# --- 11.3 ----------------------------------------------------------------------------------------------------

def block_with(forward=None, backward=None):
    methods = {k: v for k, v in (("forward", forward), ("backward", backward)) if v is not None}
    return type("Wrong", (CrossAttentionBlock,), methods)


def backward_returning(combine):
    def backward(self, grad_out):
        grad_q, grad_k, grad_v = self.multihead_attn.backward(grad_out)
        return combine(self, grad_out, grad_q, grad_k, grad_v)
    return backward


@pytest.mark.parametrize(("forward", "hint"), [
    (lambda self, x, m: self.multihead_attn(self.norm2(x), m, m), "residual connection is missing"),
    (lambda self, x, m: x + self.multihead_attn(x, m, m), "normalised input norm2(x)"),
    (lambda self, x, m: x + self.multihead_attn(self.norm2(x)), "that is self-attention"),
    (lambda self, x, m: self.norm2(x + self.multihead_attn(x, m, m)), "post-norm"),
])
def test_cross_attention_block_forward_mistakes_are_named(forward, hint, capsys):
    assert hint in failure_hint(check_cross_attention_block, block_with(forward=forward), capsys, "11.3")


@pytest.mark.parametrize(("combine", "hint"), [
    (lambda s, g, gq, gk, gv: (g + s.norm2.backward(gq), gk), "keys AND the values"),
    (lambda s, g, gq, gk, gv: (g + s.norm2.backward(gq), gv), "keys AND the values"),
    (lambda s, g, gq, gk, gv: (s.norm2.backward(gq), gk + gv), "residual's gradient is missing"),
    (lambda s, g, gq, gk, gv: (g + gq, gk + gv), "back through the LayerNorm"),
    (lambda s, g, gq, gk, gv: (gk + gv, g + s.norm2.backward(gq)), "the pair is swapped"),
])
def test_cross_attention_block_backward_mistakes_are_named(combine, hint, capsys):
    wrong = block_with(backward=backward_returning(combine))
    assert hint in failure_hint(check_cross_attention_block, wrong, capsys, "11.3")


def test_a_block_whose_backward_skips_a_parameter_gradient_is_caught(capsys):
    def backward(self, grad_out):
        grad_q, grad_k, grad_v = self.multihead_attn.backward(grad_out)
        grad_x = self.norm2.backward(grad_q)
        self.norm2.weight.grad[...] = 0.0           # e.g. zeroed by mistake
        return grad_out + grad_x, grad_k + grad_v

    failure_hint(check_cross_attention_block, block_with(backward=backward), capsys, "11.3")
    assert "norm2.weight.grad differs from nnlib's" in run(check_cross_attention_block, block_with(backward=backward),
                                                           capsys)


def test_a_block_that_is_not_a_module_is_reported(capsys):
    out = run(check_cross_attention_block, lambda *args: object(), capsys)
    assert out.startswith("❌ not yet — Exercise 11.3:") and "not an nnlib Module" in out


# --- 11.4 and 11.5 ---------------------------------------------------------------------------------------------

def greedy_with(step=-1, feed_back=True, pad=True, stop="all", keep_bos=False):
    """A learner's greedy loop with one mistake switched on (written apart from the check's own variants)."""
    def fn(model, src, max_len, bos, eos):
        with no_grad():
            memory = model.encode(src)
            out = np.full((len(src), 1), bos)
            done = np.zeros(len(src), dtype=bool)
            for _ in range(max_len):
                reading = out if feed_back else out[:, :1]
                token = model.decode(memory, reading, model.source_padding(src))[:, step].argmax(axis=-1)
                token = np.where(done, eos, token) if pad else token
                out = np.concatenate([out, token[:, None]], axis=1)
                done |= token == eos
                if (stop == "all" and done.all()) or (stop == "any" and done.any()):
                    break
        return out if keep_bos else out[:, 1:]
    return fn


@pytest.mark.parametrize(("wrong", "hint"), [
    (greedy_with(step=0), "predicted from bos alone"),
    (greedy_with(feed_back=False), "predicted from bos alone"),  # the same tokens: causal, position 0 sees bos only
    (greedy_with(pad=False), "keeps generating"),
    (greedy_with(stop="any"), "stopped when the FIRST row ended"),
    (greedy_with(stop="never"), "went on after every row had ended"),
    (greedy_with(keep_bos=True), "bos is still at the start"),
])
def test_greedy_decode_mistakes_are_named(wrong, hint, capsys):
    assert hint in failure_hint(check_greedy_decode, wrong, capsys, "11.4")


def test_the_decoding_models_end_some_rows_early_and_not_others():
    """Otherwise the eos mistakes of Exercise 11.4 could not be told apart."""
    ended_early = []
    for model, src, max_len, _ in decoding_models():
        out = model.greedy_decode(src, max_len, 0, 1)
        ended_early.append(np.any(out[:, :-1] == 1, axis=1))
    ended_early = np.concatenate(ended_early)
    assert ended_early.any() and not ended_early.all()


def beam_paying_after_eos(model, src, max_len, bos, eos, beam):
    """Beam search in which a finished hypothesis goes on adding log p(eos) at every step."""
    vocab, n = model.tgt_vocab_size, len(src)
    with no_grad():
        memory = np.repeat(model.encode(src), beam, axis=0)
        seqs, scores = np.full((n * beam, 1), bos), np.tile([0.0] + [-np.inf] * (beam - 1), n)
        for _ in range(max_len):
            log_p = F.log_softmax(model.decode(memory, seqs)[:, -1].astype(np.float64))
            finished = (seqs[:, 1:] == eos).any(axis=1)
            log_p[finished] = np.where(np.arange(vocab) == eos, log_p[finished], -np.inf)
            total = (scores[:, None] + log_p).reshape(n, -1)
            best = np.argsort(-total, axis=1, kind="stable")[:, :beam]
            seqs = np.concatenate([seqs[(np.arange(n)[:, None] * beam + best // vocab).ravel()],
                                   (best % vocab).reshape(-1, 1)], axis=1)
            scores = np.take_along_axis(total, best, axis=1).ravel()
            if (seqs[:, 1:] == eos).any(axis=1).all():
                break
    return seqs.reshape(n, beam, -1)[:, 0, 1:]


@pytest.mark.parametrize(("wrong", "hint"), [
    (beam_paying_after_eos, "keeps paying log p(eos)"),
    (lambda model, src, max_len, bos, eos, beam: greedy_decode(model, src, max_len, bos, eos), "that is the greedy"),
])
def test_beam_search_mistakes_are_named(wrong, hint, capsys):
    assert hint in failure_hint(check_beam_search, wrong, capsys, "11.5 (challenge)")


def value_error(*args, **kwargs):
    raise ValueError("a wrong answer whatever the exercise")


@pytest.mark.parametrize(("check", "exercise"), [(c, e) for c, _, e in RIGHT])
@pytest.mark.parametrize("wrong", [value_error, 42, nnlib.Linear])
def test_a_raising_or_wrong_kind_of_answer_is_a_failure_not_a_crash(check, exercise, wrong, capsys):
    out = run(check, wrong, capsys)
    assert out.startswith(f"❌ not yet — Exercise {exercise}:") and out.count("\n") == 2, out


def test_grading_mode_raises_on_a_wrong_answer(monkeypatch):
    monkeypatch.setenv("NNLIB_GRADING", "1")
    with pytest.raises(AssertionError, match="Exercise 11.4"):
        check_greedy_decode(greedy_with(step=0))
