"""Checks for lesson 11, sequence to sequence. Reference values come from nnlib: the cross-attention weights of
:class:`nnlib.MultiHeadAttention` (one head), the pre-norm cross-attention sub-block of
:class:`nnlib.TransformerDecoderLayer` (its ``norm2`` and ``multihead_attn``), and
:meth:`nnlib.Seq2SeqTransformer.greedy_decode` / :meth:`~nnlib.Seq2SeqTransformer.beam_search`.

When a learner's answer is wrong, each check also tries the typical mistakes (the target shifted the wrong way, the
queries taken from the memory, the softmax over the wrong axis, √E instead of √d_k, a missing residual, the memory's
gradient from the keys only, tokens predicted from bos alone, no eos padding, bos left in the
output, a finished hypothesis that keeps paying log-probabilities, ...) and names the one it finds.

The build exercises are checked against nnlib on several shapes and models; the cross-attention block is also
gradient-checked in float64 (``gradcheck``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import functional as F
from ..gradcheck import gradcheck
from ..layers.attention import TransformerDecoderLayer
from ..models import Seq2SeqTransformer
from ..module import Module, evaluating, no_grad
from ._core import Case, check_with_diagnosis, compare
from .lesson03 import call_learner, failure, matching_mistake, run_check

BOS, EOS = 0, 1


# --- Exercise 11.1: the decoder's input under teacher forcing ----------------------------------------------------

def _shift_cases() -> list[Case]:
    rng = np.random.default_rng(111)
    targets = [np.array([[5, 6, 7, 1]]), rng.integers(2, 9, (3, 6)), rng.integers(2, 9, (2, 1))]
    return [Case((t, BOS), np.concatenate([np.full((len(t), 1), BOS), t[:, :-1]], axis=1), label=f"targets {t.shape}")
            for t in targets]


def check_shift_right(fn: Callable) -> None:
    """Exercise 11.1: ``fn(targets, bos)`` with targets (N, T) ids returns ``[bos, y_1, …, y_{T-1}]`` (N, T)."""
    def left(t, bos):
        return np.concatenate([t[:, 1:], np.full((len(t), 1), bos)], axis=1)

    def overwrite(t, bos):
        out = t.copy()
        out[:, 0] = bos
        return out

    mistakes = [
        (left, "that is the target shifted LEFT: the decoder's input at step t must be the token BEFORE y_t, so bos "
               "comes first and the last target token is dropped."),
        (overwrite, "the first target token was overwritten by bos: shift the whole row right by one, "
                    "np.concatenate([bos column, targets[:, :-1]], axis=1)."),
        (lambda t, bos: t, "the targets came back unchanged: the decoder must see bos, then y_1 … y_{T-1}."),
    ]
    check_with_diagnosis("Exercise 11.1: shift_right", fn, _shift_cases(), mistakes,
                         hint="prepend a column of bos and drop the last column: the decoder's input keeps length T.")


# --- Exercise 11.2: cross-attention weights --------------------------------------------------------------------

def _cross_weights(x, memory, w_q, w_k, *, queries_from_memory=False, axis=-1, scale=None):
    q, k = (memory @ w_q, x @ w_k) if queries_from_memory else (x @ w_q, memory @ w_k)
    scores = q @ k.T / np.sqrt(w_q.shape[1] if scale is None else scale)
    return F.softmax(scores, axis=axis)


def _cross_cases() -> list[Case]:
    rng = np.random.default_rng(112)
    cases = []
    for t, s, e, d in [(3, 5, 6, 4), (4, 7, 8, 2), (1, 3, 9, 9)]:
        args = (rng.normal(size=(t, e)), rng.normal(size=(s, e)), rng.normal(size=(e, d)), rng.normal(size=(e, d)))
        cases.append(Case(args, _cross_weights(*args), label=f"x ({t}, {e}), memory ({s}, {e}), W ({e}, {d})"))
    return cases


def check_cross_attention_weights(fn: Callable) -> None:
    """Exercise 11.2: ``fn(x, memory, w_q, w_k)`` returns softmax((x W_q)(memory W_k)ᵀ / √d_k) over the memory,
    (T, S): row t says how much target step t reads from each source position."""
    mistakes = [
        (lambda *a: _cross_weights(*a, queries_from_memory=True), "the queries came from the memory: in cross-"
         "attention the DECODER asks (Q = x W_q) and the encoder's output answers (K = memory W_k)."),
        (lambda *a: _cross_weights(*a, axis=0), "the softmax ran over the target steps (axis 0): each target step's "
         "row of weights must sum to 1 over the source positions (axis -1)."),
        (lambda *a: _cross_weights(*a, scale=a[0].shape[1]), "the scores were divided by √E (the model width); "
         "divide by √d_k, the width of the queries and keys, w_q.shape[1]."),
        (lambda *a: _cross_weights(*a, scale=1.0), "the scaling is missing: divide the scores by √d_k."),
    ]
    check_with_diagnosis("Exercise 11.2: cross_attention_weights", fn, _cross_cases(), mistakes,
                         hint="Q = x @ w_q, K = memory @ w_k, scores = Q @ K.T / np.sqrt(w_q.shape[1]), softmax "
                              "along axis -1 (subtract each row's maximum first).")


# --- Exercise 11.3: the cross-attention sub-block, forward and backward -------------------------------------------

GRADCHECK_TOL = 1e-7
BLOCK_CASES = [((2, 4, 8), (2, 6, 8), 2), ((3, 3, 6), (3, 5, 6), 3), ((1, 5, 4), (1, 2, 4), 1)]  # x, memory, heads
BLOCK_HINT = ("forward: return x + multihead_attn(norm2(x), memory, memory). backward: grad_q, grad_k, grad_v = "
              "multihead_attn.backward(grad_out); return grad_out + norm2.backward(grad_q), grad_k + grad_v.")


def _block_pair(block_class, x_shape, m_shape, nhead, seed):
    """(learner block, nnlib pre-norm decoder layer with the same float64 weights), x and memory."""
    d_model = x_shape[-1]
    reference = TransformerDecoderLayer(d_model, nhead, 4, dropout=0.0, norm_first=True, rng=seed, dtype=np.float64)
    reference.norm2.weight.data[:] = 1 + 0.2 * np.random.default_rng(seed).normal(size=d_model)  # not the identity
    name = getattr(block_class, "__name__", "your class")
    call = f"{name}({d_model}, {nhead}, {seed}, np.float64)"
    block = call_learner(call, block_class, d_model, nhead, seed, np.float64,
                         hint="pass the class itself; keep its __init__(d_model, nhead, rng, dtype) as given.")
    if not isinstance(block, Module):
        raise failure(f"{call} is a {type(block).__name__}, not an nnlib Module",
                      "keep `class ...(Module):` and its __init__ as given.")
    state = {k: v for k, v in reference.state_dict().items() if k.startswith(("norm2.", "multihead_attn."))}
    call_learner(f"{call}.load_state_dict(the decoder layer's norm2 and multihead_attn)", block.load_state_dict, state,
                 hint="keep the sub-layers' names of the given __init__ (norm2, multihead_attn).")
    rng = np.random.default_rng(seed + 10)
    return block, reference, rng.normal(size=x_shape), rng.normal(size=m_shape)


def _reference(ref, x, memory):
    return x + ref.multihead_attn(ref.norm2(x), memory, memory)


def _forward_variants(ref, x, memory) -> list[tuple[np.ndarray, str]]:
    with no_grad():
        attn = ref.multihead_attn
        return [
            (attn(ref.norm2(x), memory, memory), "the residual connection is missing: return x + the attention."),
            (x + attn(x, memory, memory), "the query must be the normalised input norm2(x) (pre-norm)."),
            (x + attn(ref.norm2(x)), "that is self-attention: pass the memory as key and value, "
             "multihead_attn(norm2(x), memory, memory)."),
            (ref.norm2(x + attn(x, memory, memory)), "that is the post-norm block; this one is pre-norm: "
             "x + attention(norm2(x), memory, memory)."),
        ]


def _backward_variants(ref, x, memory, g) -> list[tuple[tuple, str]]:
    _reference(ref, x, memory)
    gq, gk, gv = ref.multihead_attn.backward(g)
    gx = ref.norm2.backward(gq)
    return [
        ((g + gx, gk), "the memory feeds the keys AND the values: its gradient is grad_k + grad_v."),
        ((g + gx, gv), "the memory feeds the keys AND the values: its gradient is grad_k + grad_v."),
        ((gx, gk + gv), "the residual's gradient is missing: dL/dx = grad_out + norm2.backward(grad_q)."),
        ((g + gq, gk + gv), "the query's gradient must go back through the LayerNorm: norm2.backward(grad_q)."),
        ((gk + gv, g + gx), "the pair is swapped: return (dL/dx, dL/dmemory), in that order."),
    ]


def _check_block(block_class) -> str:
    name = getattr(block_class, "__name__", "your class")
    for seed, (x_shape, m_shape, nhead) in enumerate(BLOCK_CASES):
        block, ref, x, memory = _block_pair(block_class, x_shape, m_shape, nhead, seed)
        got = call_learner(f"{name}.forward (x {x_shape}, memory {m_shape})", block, x.copy(), memory.copy(),
                           hint=BLOCK_HINT)
        with no_grad():
            expected = _reference(ref, x, memory)
        problem = compare(expected, got, 1e-9, 1e-12)
        if problem:
            raise failure(f"{name}.forward on x {x_shape}, memory {m_shape}: {problem}",
                          matching_mistake(got, _forward_variants(ref, x, memory)) or BLOCK_HINT)
        g = np.random.default_rng(seed).normal(size=x_shape)
        got = call_learner(f"{name}.backward", block.backward, g.copy(), hint=BLOCK_HINT)
        _reference(ref, x, memory)
        grad_q, grad_k, grad_v = ref.multihead_attn.backward(g)
        expected = (g + ref.norm2.backward(grad_q), grad_k + grad_v)
        problem = compare(expected, got, 1e-9, 1e-12)
        if problem:
            raise failure(f"{name}.backward (x {x_shape}, memory {m_shape}) should return (dL/dx, dL/dmemory): "
                          f"{problem}", matching_mistake(got, _backward_variants(ref, x, memory, g)) or BLOCK_HINT)
        for param in ("norm2.weight", "multihead_attn.k_proj.weight", "multihead_attn.v_proj.bias"):
            mine, theirs = dict(block.named_parameters()).get(param), dict(ref.named_parameters())[param]
            if mine is None or not np.allclose(mine.grad, theirs.grad, rtol=1e-9, atol=1e-12):
                raise failure(f"{name}.backward: {param}.grad differs from nnlib's",
                              "call the sub-layers' backward once each, in reverse order of the forward.")
    block, _, x, memory = _block_pair(block_class, *BLOCK_CASES[0], 0)
    errors = call_learner(f"gradcheck({name}, x, memory)", lambda: gradcheck(block, x, memory, tol=None),
                          hint=BLOCK_HINT)
    errors = {k: v for k, v in errors.items() if not k.endswith("k_proj.bias")}  # exactly 0: softmax ignores it
    worst = max(errors, key=errors.get)
    if errors[worst] > GRADCHECK_TOL:
        raise failure(f"gradcheck({name}): the gradient of {worst} is off by {errors[worst]:.1e} (relative)",
                      BLOCK_HINT)
    return (f"{name} matches nnlib's pre-norm cross-attention on {len(BLOCK_CASES)} shapes, forward, backward and "
            f"parameter gradients, and passes gradcheck in float64.")


def check_cross_attention_block(block_class) -> None:
    """Exercise 11.3: ``block_class(d_model, nhead, rng, dtype)`` is a Module with ``forward(x, memory) = x +
    multihead_attn(norm2(x), memory, memory)`` and ``backward(grad_out) → (dL/dx, dL/dmemory)``, checked against
    nnlib's pre-norm TransformerDecoderLayer's sub-layers on 3 shapes and by gradcheck in float64."""
    run_check("Exercise 11.3: cross-attention block", lambda: _check_block(block_class))


# --- Exercises 11.4 (greedy decoding) and 11.5 (beam search, challenge) -------------------------------------------

DECODING_MODELS = [(9, -0.5, 6), (10, 0.5, 6), (0, 1.5, 4)]  # (seed, extra eos bias, max_len), chosen so that some
# rows end early and others run to max_len, and each typical mistake of Exercise 11.4 changes some output


def decoding_models() -> list[tuple[Seq2SeqTransformer, np.ndarray, int, str]]:
    """(model, source ids (6, 4), max_len, label): small random models with sharpened outputs (head ×4)."""
    models = []
    for seed, eos_bias, max_len in DECODING_MODELS:
        model = Seq2SeqTransformer(8, 7, d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                                   dim_feedforward=16, rng=seed)
        model.head.weight.data *= 4
        model.head.bias.data[EOS] += eos_bias
        src = np.random.default_rng(seed).integers(0, 8, (6, 4))
        models.append((model, src, max_len, f"model {seed}, src {src.shape}, max_len={max_len}"))
    return models


def _greedy(model, src, max_len, bos, eos, *, pad=True, stop="all", step=-1, keep_bos=False):
    """Greedy decoding with switches that reproduce the typical mistakes of Exercise 11.4."""
    with evaluating(model):
        memory, padding = model.encode(src), model.source_padding(src)
        out, done = np.full((len(src), 1), bos), np.zeros(len(src), bool)
        for _ in range(max_len):
            best = model.decode(memory, out, padding)[:, step].argmax(axis=-1)
            next_ids = np.where(done, eos, best) if pad else best
            out, done = np.concatenate([out, next_ids[:, None]], axis=1), done | (next_ids == eos)
            if (done.all() if stop == "all" else done.any() if stop == "any" else False):
                break
    return out if keep_bos else out[:, 1:]


def check_greedy_decode(fn: Callable) -> None:
    """Exercise 11.4: ``fn(model, src, max_len, bos, eos)`` returns ``model.greedy_decode(src, max_len, bos, eos)``:
    (N, L) ids without bos, eos only after a row's eos, stopping when every row has ended or after max_len tokens."""
    cases = [Case((model, src, max_len, BOS, EOS), model.greedy_decode(src, max_len, BOS, EOS), label=label)
             for model, src, max_len, label in decoding_models()]
    mistakes = [
        (lambda *a: _greedy(*a, step=0), "every token was predicted from bos alone: the causal decoder's FIRST "
         "position sees only bos. Append each new token to the decoder's input and read the LAST position, "
         "logits[:, -1]."),
        (lambda *a: _greedy(*a, pad=False), "a row that has said eos keeps generating: after eos write eos only "
         "(np.where(done, eos, next_ids))."),
        (lambda *a: _greedy(*a, stop="any"), "decoding stopped when the FIRST row ended: stop when all have (or "
         "after max_len tokens)."),
        (lambda *a: _greedy(*a, stop="never"), "decoding went on after every row had ended: stop as soon as all "
         "have said eos."),
        (lambda *a: _greedy(*a, keep_bos=True), "bos is still at the start of the output: return out[:, 1:]."),
    ]
    check_with_diagnosis("Exercise 11.4: greedy_decode", fn, cases, mistakes,
                         hint="memory = model.encode(src); start from a column of bos; for each step: logits = "
                              "model.decode(memory, out, model.source_padding(src)); next = logits[:, -1].argmax(-1); "
                              "write eos where a row is done; append; stop when every row is done.")


def _beam_without_finishing(model, src, max_len, bos, eos, beam):
    """Beam search where a finished hypothesis keeps adding the log-probability of eos at every later step."""
    vocab, n = model.tgt_vocab_size, len(src)
    with evaluating(model):
        memory, padding = np.repeat(model.encode(src), beam, axis=0), model.source_padding(src)
        padding = None if padding is None else np.repeat(padding, beam, axis=0)
        seqs = np.full((n * beam, 1), bos)
        scores = np.tile(np.r_[0.0, np.full(beam - 1, -np.inf)], n)
        for _ in range(max_len):
            log_p = F.log_softmax(model.decode(memory, seqs, padding)[:, -1].astype(np.float64))
            ended = np.any(seqs[:, 1:] == eos, axis=1)
            log_p[ended] = np.where(np.arange(vocab) == eos, log_p[ended], -np.inf)
            total = (scores[:, None] + log_p).reshape(n, beam * vocab)
            best = np.argsort(-total, axis=1, kind="stable")[:, :beam]
            parents = (np.arange(n)[:, None] * beam + best // vocab).ravel()
            seqs = np.concatenate([seqs[parents], (best % vocab).ravel()[:, None]], axis=1)
            scores = np.take_along_axis(total, best, axis=1).ravel()
            if np.all(np.any(seqs[:, 1:] == eos, axis=1)):
                break
    return seqs.reshape(n, beam, -1)[:, 0, 1:]


def check_beam_search(fn: Callable) -> None:
    """Exercise 11.5 (challenge): ``fn(model, src, max_len, bos, eos, beam)`` returns
    ``model.beam_search(src, max_len, bos, eos, beam)`` for beams of width 1, 2 and 4."""
    cases = [Case((model, src, max_len, BOS, EOS, beam), model.beam_search(src, max_len, BOS, EOS, beam),
                  label=f"{label}, beam={beam}")
             for (model, src, max_len, label), beam in zip(decoding_models(), (2, 4, 1), strict=True)]
    mistakes = [
        (_beam_without_finishing, "a finished hypothesis keeps paying log p(eos) at every later step: once a "
         "prefix has said eos, extend it by eos at cost 0 (log-probability 0), so it competes at its final score."),
        (lambda model, src, max_len, bos, eos, beam: model.greedy_decode(src, max_len, bos, eos),
         "that is the greedy decoding: keep the `beam` best prefixes at every step, not only the best one."),
    ]
    check_with_diagnosis("Exercise 11.5 (challenge): beam_search", fn, cases, mistakes,
                         hint="scores (N·k,) start at [0, -inf, ...]; each step: total = scores[:, None] + log p "
                              "(finished rows: 0 for eos, -inf otherwise), reshaped (N, k·V); keep the k best per "
                              "sentence (np.argsort); parent = index // V, token = index % V; return beam 0.")
