"""Parameter, Module and Sequential: the three classes every layer is built from.

The contract, shared with every layer in :mod:`nnlib.layers`:

* ``forward(x)`` computes the output and stores what ``backward`` needs as ``self.cache = SomeCache(...)``, a
  named tuple documented by the layer (``layer.cache.x``); ``forward`` runs through ``layer(x)``.
* ``backward(grad_out)`` takes dL/d(output), reads ``self.cache``, ACCUMULATES (``+=``) dL/d(parameter) into each
  ``Parameter.grad`` whose ``requires_grad`` is true, and returns dL/d(input). It never modifies ``grad_out``.
* Recurrent layers return ``(output, state)`` and take ``backward(grad_output, grad_state=None)``;
  ``Embedding.backward`` returns None; cross-attention returns a triple.
* ``zero_grad()`` resets the accumulated gradients, ``train()`` / ``eval()`` switch modes.

Skipping dL/dx nobody needs, an explicit opt-in. A layer whose class sets ``can_skip_input_gradient = True`` also takes
``backward(grad_out, input_gradient=False)``: it then accumulates its parameters' gradients exactly as before and
returns None instead of dL/dx (``Linear`` skips ``grad_out @ Wᵀ``). Only such layers may be asked; any other layer
(a learner's plain ``backward(self, grad_out)``) is always called as before, and asking it raises an InputError.
The opt-in belongs to the class that defines ``backward``: a subclass that overrides ``backward`` (of ``Linear``, say)
has not opted in unless it sets the attribute again.
``Sequential`` and the models opt in: told ``input_gradient=False`` they run backward only for the layers at and
above the lowest one with a ``requires_grad`` parameter, ask that one to skip its dL/dx when it can, and return None.
The layers below compute nothing, but their caches are released exactly as their backward would have (a leaf layer
or a ``Sequential`` of them; any other module below still runs its backward, so nothing stale is left). The default,
``input_gradient=True``, is the full backward: ``model.backward(g)`` on a frozen model returns the true dL/dx (a
saliency map). :func:`backward_without_input_gradient` is how ``fit`` calls a model: with the option when the model
opted in, else plainly.

Caches are stacks, so reuse is exact. Every call pushes its cache and every backward pops the latest one, so one
instance used twice in a forward (a shared ``ReLU()``, a weight-shared ``Linear``, the same sub-``Sequential``
twice) gets one backward per use, in reverse order, and its gradients add up, as in PyTorch.

A call made from outside any other module's forward (a *top-level* forward, ``model(x)``) waits for its backward.
``model.backward(g)`` takes the forward whose output the loss received when ``g`` is that loss's gradient, else the
latest waiting forward whose output has ``g``'s shape (a loss's ``backward()`` takes its latest forward), and then
frees everything that forward stored. A second backward for the same forward raises, and so does a backward that
could belong to two waiting forwards on different inputs of the same shape. Run a forward you only look at under
:class:`no_grad` (``evaluate`` and ``predict`` do): it stores nothing. Calling the same forward again on the same
input replaces the waiting one, so re-running a notebook cell is harmless, and at most ``MAX_WAITING`` forwards
wait: older ones are dropped.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np

from ._checks import InputError

MAX_WAITING = 4  # top-level forwards of one module that may wait for their backward


class _Recording:
    """Global state of forward and backward calls (nnlib is single-threaded). Slots: read at every module call."""

    __slots__ = ("grad_enabled", "detect_anomaly", "forward_tape", "holders", "last_gradient", "backward_tape",
                 "depth", "last_tape")

    def __init__(self):
        self.grad_enabled = True
        self.detect_anomaly = False
        self.forward_tape: int | None = None   # the top-level forward running now
        self.holders: list | None = None       # ... and the modules that stored a cache during it
        self.last_gradient: tuple = (None, None)  # (dL/d input, that input) of the latest top-level backward
        self.backward_tape: int | None = None  # the forward whose backward is running now
        self.depth = 0                         # how many module forwards are running, one inside another
        self.last_tape = 0


_recording = _Recording()


class no_grad:
    """Context manager (like ``torch.no_grad()``): forwards inside it store no cache, so nothing can be backpropagated.

    Use it for forwards you only look at (predictions, plots, a validation loss); memory then stays flat.

    Examples::

        >>> import numpy as np, nnlib
        >>> layer = nnlib.Linear(3, 2, rng=0)
        >>> with nnlib.no_grad():
        ...     y = layer(np.ones((4, 3), np.float32))
        >>> nnlib.is_grad_enabled()
        True
    """

    def __enter__(self) -> no_grad:
        self.previous = _recording.grad_enabled
        _recording.grad_enabled = False
        return self

    def __exit__(self, *exc) -> None:
        _recording.grad_enabled = self.previous


@contextmanager
def evaluating(model: Module):
    """Eval mode and :class:`no_grad` for the block; the model's mode is restored afterwards.

    ``evaluate``, ``predict`` and the decoding loops of :class:`~nnlib.models.Seq2SeqTransformer` run inside it.
    """
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            yield
    finally:
        model.train(was_training)


class detect_anomaly:
    """Context manager (PyTorch's name): name the first layer whose forward or backward makes NaN or inf.

    Inside it every module's output and input gradient is checked (one pass over each array), and a floating-point
    error raised by NumPy (under ``np.errstate(... = "raise")``) is re-raised naming the innermost module it came
    from, as :class:`NonFiniteError`. ``fit`` uses it to say which layer failed when a step diverges.

    Examples::

        with nnlib.detect_anomaly():
            out = model(x)                    # NonFiniteError: "Linear(...): forward made NaN or inf"
            model.backward(loss.backward())
    """

    def __enter__(self) -> detect_anomaly:
        self.previous = _recording.detect_anomaly
        _recording.detect_anomaly = True
        return self

    def __exit__(self, *exc) -> None:
        _recording.detect_anomaly = self.previous


class NonFiniteError(FloatingPointError):
    """A module's forward or backward made NaN or inf (raised under :class:`detect_anomaly`)."""


def _check_finite_result(module, value, what: str) -> None:
    while isinstance(value, (tuple, list)) and value:
        for item in value[1:]:
            _check_finite_result(module, item, what)
        value = value[0]
    if isinstance(value, np.ndarray) and value.dtype.kind == "f" and not np.isfinite(value).all():
        raise NonFiniteError(f"{module.short_name()}: {what} made NaN or inf")


def is_grad_enabled() -> bool:
    """False inside :class:`no_grad`."""
    return _recording.grad_enabled


def _same_inputs(a, b) -> bool:
    """Whether two calls got the same arguments (arrays by value): a re-run of the same forward."""
    if a is b:
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and a.dtype == b.dtype and bool(np.array_equal(a, b)))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(map(_same_inputs, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_inputs(a[k], b[k]) for k in a)
    return type(a) is type(b) and bool(a == b)


def _shape_of(value) -> tuple | None:
    """The shape of an output or gradient: of its first array when it is a tuple such as (output, state)."""
    while isinstance(value, (tuple, list)) and value:
        value = value[0]
    return None if value is None else np.shape(value)


def _pop_cache(caches: list | None, tape) -> None:
    """Remove the latest cache that ``tape``'s forward stored in a module's stack."""
    for i in range(len(caches or ()) - 1, -1, -1):
        if caches[i][0] == tape:
            del caches[i]
            return


def _forget(tape: int, holders: list) -> None:
    """Drop every cache that one top-level forward stored (what its backward did not pop)."""
    for module in holders:
        caches = module._caches
        if caches:
            caches[:] = [entry for entry in caches if entry[0] != tape]


class _WaitingForward(NamedTuple):
    """A top-level forward whose backward has not run yet."""

    tape: int
    inputs: tuple
    output: Any  #: what the forward returned (a loss receives it; its gradient then leads back here)
    holders: list  #: the modules that stored a cache during it (one entry per cache)


def _check_input_gradient_option(module: Module, value) -> None:
    """``backward(..., input_gradient=value)`` is only for layers that opted in, and takes True or False."""
    if not type(module).can_skip_input_gradient:
        raise InputError(f"{module.short_name()}.backward: input_gradient is only for layers whose class sets "
                         "`can_skip_input_gradient = True`; this one always returns dL/dx, so call backward(grad_out) "
                         "without it (or use nnlib.module.backward_without_input_gradient, which asks only layers "
                         "that can)")
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(f"{module.short_name()}.backward: input_gradient must be True or False, got {value!r}")


def backward_without_input_gradient(model: Module, grad_out) -> None:
    """``model.backward(grad_out)`` for the parameters' gradients only (what ``fit`` calls): dL/dx is not needed.

    A model that opted in (``can_skip_input_gradient``, e.g. ``Sequential``) is told so and skips the layers below
    its lowest trainable one; any other model runs its plain backward, whose dL/dx is dropped.
    """
    if type(model).can_skip_input_gradient:
        model.backward(grad_out, input_gradient=False)
    else:
        model.backward(grad_out)


def _tracked_backward(backward):
    """Wrap a layer's ``backward``: pick which forward it belongs to, and pop that forward's cache after it."""

    @functools.wraps(backward)
    def tracked(self, *args, **kwargs):
        recording = _recording
        if type(self).backward is not tracked:  # a subclass's backward calling super().backward()
            return backward(self, *args, **kwargs)
        if kwargs and "input_gradient" in kwargs:
            _check_input_gradient_option(self, kwargs["input_gradient"])
        tape, waiting = recording.backward_tape, None
        if tape is None:  # called by the user, not by a model's backward
            waiting = self._waiting_for(args[0] if args else None)
            if waiting is None:  # a model whose layers were called one by one: each layer takes its own forward
                return backward(self, *args, **kwargs)
            tape = recording.backward_tape = waiting.tape
        try:
            # As in __call__: a call with one plain argument stays in Python's own loop; a starred call goes through C
            result = backward(self, args[0]) if len(args) == 1 and not kwargs else backward(self, *args, **kwargs)
        finally:
            if waiting is not None:
                recording.backward_tape = None
        if recording.detect_anomaly:
            _check_finite_result(self, result, "backward")
        caches = self._caches
        if caches and caches[-1][0] == tape:  # the usual case, inlined: this runs for every layer
            caches.pop()
        else:
            _pop_cache(caches, tape)
        if waiting is not None:
            self._release(waiting)
            recording.last_gradient = (result, waiting.inputs[0][0] if waiting.inputs and waiting.inputs[0] else None)
        return result

    return tracked


class Parameter:
    """A trainable array with its gradient.

    Attributes:
        data: the values, any shape.
        grad: dL/d(data), same shape and dtype as ``data``; layers accumulate into it.
        name: the attribute name inside its layer (``"weight"``, ``"bias"``).
        requires_grad: when false, backward leaves ``grad`` untouched and optimizers skip it.
    """

    def __init__(self, data, name: str = "", requires_grad: bool = True):
        self.data = np.asarray(data)
        if self.data.dtype.kind != "f":
            raise InputError(f"Parameter {name!r}: data must be floating point, got dtype {self.data.dtype}")
        self.grad = np.zeros_like(self.data)
        self.name = name
        self.requires_grad = requires_grad

    def _set_requires_grad(self, flag: bool) -> None:
        if not isinstance(flag, (bool, np.bool_)):
            raise InputError(f"Parameter {self.name!r}: requires_grad must be True or False, got {flag!r}")
        self._requires_grad = bool(flag)

    # Read several times per training step by layers and optimizers: the getters are C attribute lookups
    # (operator.attrgetter), not Python functions, which cost a frame each.
    requires_grad = property(operator.attrgetter("_requires_grad"), _set_requires_grad,
                             doc="When false, backward leaves ``grad`` untouched and optimizers skip the parameter.")
    shape = property(operator.attrgetter("data.shape"), doc="``data.shape``")
    dtype = property(operator.attrgetter("data.dtype"), doc="``data.dtype``")
    size = property(operator.attrgetter("data.size"), doc="``data.size``")

    def zero_grad(self) -> None:
        self.grad.fill(0)

    def __repr__(self) -> str:
        frozen = "" if self.requires_grad else ", requires_grad=False"
        return f"Parameter({self.name!r}, shape={self.shape}, dtype={self.dtype}{frozen})"


class LoadResult(NamedTuple):
    """What :meth:`Module.load_state_dict` with ``strict=False`` left out: parameter names, sorted."""

    missing: list[str]
    unexpected: list[str]


class Module:
    """Base class of every layer and model. Subclasses implement ``forward`` and ``backward``."""

    training: bool = True
    #: True when ``backward`` also takes ``input_gradient=False`` (then skips dL/dx and returns None): see the contract
    can_skip_input_gradient: bool = False
    buffer_names: tuple[str, ...] = ()  #: array attributes that are state but not trained (BatchNorm's running stats)
    # Bookkeeping of the contract above, as class defaults so that a subclass need not call Module.__init__:
    _caches: list | None = None      # [(tape, cache)], a stack: what each forward stored for its backward
    _waiting: list | None = None     # [_WaitingForward], the top-level forwards waiting for their backward
    _call_mark: int | None = None    # during forward: how many caches there were when the call began

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "backward" in cls.__dict__:
            cls.backward = _tracked_backward(cls.__dict__["backward"])
            if "can_skip_input_gradient" not in cls.__dict__:  # the opt-in belongs to the backward that declared it
                cls.can_skip_input_gradient = False

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, grad_out):
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, *args, **kwargs):
        recording = _recording
        top_level = recording.depth == 0 and recording.grad_enabled
        if top_level:
            if self._waiting:
                self._forget_waiting(args, kwargs)
            tape = recording.last_tape = recording.last_tape + 1
            holders = []
            recording.forward_tape, recording.holders = tape, holders
        caches = self._caches
        self._call_mark = len(caches) if caches else 0
        recording.depth += 1
        try:  # forward(*args, **kwargs) always goes through C; the usual one-argument call is cheaper written out
            output = self.forward(args[0]) if len(args) == 1 and not kwargs else self.forward(*args, **kwargs)
            if recording.detect_anomaly:
                _check_finite_result(self, output, "forward")
        except BaseException as err:
            if top_level:
                _forget(tape, holders)
            if recording.detect_anomaly and type(err) is FloatingPointError:  # NumPy's, not yet named
                raise NonFiniteError(f"{self.short_name()}: forward raised {err}") from err
            raise
        finally:
            recording.depth -= 1
            self._call_mark = None
            if top_level:
                recording.forward_tape = recording.holders = None
        if top_level:
            if self._waiting is None:
                self._waiting = []
            self._waiting.append(_WaitingForward(tape, (args, kwargs), output, holders))
        return output

    # --- the cache: what forward stored for backward -----------------------------------------------
    @property
    def cache(self) -> Any:
        """What the latest forward stored for backward (the layer's named tuple); during a backward, its own forward's.

        Raises RuntimeError when there is none: forward has not run, ran under ``no_grad``, or its backward already
        ran.
        """
        if not _recording.grad_enabled and self._call_mark is not None:
            raise RuntimeError(f"{self.short_name()}: no cache is kept under no_grad, so a forward must not read "
                               "self.cache back: keep the value in a local variable")
        tape, caches = _recording.backward_tape, self._caches
        if caches and (tape is None or caches[-1][0] == tape):
            return caches[-1][1]
        for entry_tape, value in reversed(caches or ()):
            if entry_tape == tape:
                return value
        raise RuntimeError(f"{self}: no cache — backward called before forward, or twice for one forward (a forward "
                           "under no_grad stores nothing, and each forward can be backpropagated once)")

    @cache.setter
    def cache(self, value) -> None:
        """Store ``value`` for backward; ``None`` forgets every stored cache of this module."""
        if value is None:
            self.__dict__.pop("_caches", None)
            return
        if not _recording.grad_enabled:
            return
        caches = self._caches
        if caches is None:
            caches = self._caches = []
        mark = self._call_mark
        tape = _recording.forward_tape
        if mark is not None and len(caches) > mark:  # a second assignment in the same forward replaces the first
            caches[-1] = (tape, value)
            return
        if tape is None:  # forward called as .forward(), outside any call: keep only the latest such cache
            caches[:] = [entry for entry in caches if entry[0] is not None]
        else:
            _recording.holders.append(self)
        caches.append((tape, value))

    def clear_caches(self) -> None:
        """Forget every cache and waiting forward of this module and its sub-modules (``fit`` does, to start clean)."""
        for module in self.modules():
            module.__dict__.pop("_caches", None)
            module.__dict__.pop("_waiting", None)

    def _release(self, waiting: _WaitingForward) -> None:
        """Forget one top-level forward: its place in the queue and every cache it left in this tree."""
        queue = self._waiting or []
        if len(queue) == 1 and queue[0] is waiting:
            queue.clear()
        else:
            queue[:] = [w for w in queue if w.tape != waiting.tape]
        _forget(waiting.tape, waiting.holders)

    def _forget_waiting(self, args, kwargs) -> None:
        """Before a new top-level forward: drop waiting forwards on the same inputs, and the oldest beyond the limit."""
        queue = self._waiting or []
        for old in list(queue):
            if _same_inputs(old.inputs, (args, kwargs)):
                self._release(old)
        while len(queue) >= MAX_WAITING:
            self._release(queue[0])

    def _waiting_for(self, grad) -> _WaitingForward | None:
        """The waiting forward a top-level ``backward(grad)`` belongs to: the latest whose output has grad's shape.

        None for a model whose layers were called one by one (``model[1](model[0](x))``): each layer's backward then
        takes its own forward.
        """
        waiting = self._waiting or []
        if len(waiting) == 1:  # the usual case; the layer checks the gradient's shape itself
            return waiting[0]
        if not waiting:
            caches = self._caches
            if caches:  # forward called as .forward() or from inside another module's forward
                return _WaitingForward(caches[-1][0], (), None, [])
            if any(m._waiting or m._caches for m in self.modules()):
                return None
            raise RuntimeError(f"{self.short_name()}: backward called before forward, or twice for one forward — "
                               "run the forward pass first (each forward can be backpropagated once, and a forward "
                               "under no_grad stores nothing)")
        gradient, of_input = _recording.last_gradient
        if grad is not None and grad is gradient:  # loss.backward()'s result: the forward whose output the loss got
            for w in waiting:
                if w.output is of_input:
                    return w
        shape = _shape_of(grad)
        if shape is None:  # a loss's backward() has no gradient to match: its latest forward, as losses are used
            return waiting[-1]
        fits = [w for w in waiting if _shape_of(w.output) == shape] or waiting[-1:]
        if any(not _same_inputs(w.inputs, fits[-1].inputs) for w in fits[:-1]):
            for w in fits:
                self._release(w)
            raise RuntimeError(
                f"{self.short_name()}: {len(fits)} forwards on different inputs with outputs of shape {shape} were "
                "waiting for backward, so this gradient could belong to either. Both were dropped: run the forward "
                "you want to backpropagate again, then backward; run forwards you only look at under "
                "`with nnlib.no_grad():` (model.clear_caches() forgets every waiting forward)")
        return fits[-1]

    # --- the tree of sub-modules and parameters -------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct sub-modules, in the order they were assigned (lists of modules count too)."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, Module):
                        yield f"{name}.{i}", item

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """``("0.weight", Parameter)`` pairs, depth first, each parameter once (shared ones too)."""
        seen: set[int] = set()
        for name, param in self._named_parameters_with_duplicates(prefix):
            if id(param) not in seen:
                seen.add(id(param))
                yield name, param

    def _named_parameters_with_duplicates(self, prefix: str):
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
        for name, child in self.named_children():
            yield from child._named_parameters_with_duplicates(f"{prefix}{name}.")

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        """``("1.running_mean", array)`` pairs: the state that is not trained but saved and restored with the model
        (each module lists the attribute names in ``buffer_names``), depth first."""
        for name in self.buffer_names:
            yield prefix + name, getattr(self, name)
        for name, child in self.named_children():
            yield from child.named_buffers(f"{prefix}{name}.")

    def _named_state(self) -> dict[str, np.ndarray]:
        """Every array :meth:`state_dict` saves, by dotted name: parameters' values, then buffers."""
        state = {name: param.data for name, param in self.named_parameters()}
        state.update(self.named_buffers())
        return state

    def parameters(self) -> list[Parameter]:
        return [param for _, param in self.named_parameters()]

    def modules(self) -> Iterator[Module]:
        """This module and every sub-module, depth first."""
        yield self
        for _, child in self.named_children():
            yield from child.modules()

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.size for p in self.parameters() if p.requires_grad or not trainable_only)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (``False``) or unfreeze (``True``) every parameter of this module; returns the module.

        A frozen parameter keeps its values: backward still passes dL/d(input) through the layer but leaves the
        parameter's ``grad`` alone, and every optimizer, penalty and clipping function skips it.
        """
        for param in self.parameters():
            param.requires_grad = requires_grad
        return self

    # --- state -------------------------------------------------------------------------------
    def zero_grad(self) -> None:
        for param in self.parameters():
            param.zero_grad()

    def train(self, mode: bool = True) -> Module:
        """Training mode (``True``, e.g. dropout active) or evaluation mode (``False``) for every sub-module."""
        if not isinstance(mode, (bool, np.bool_)):
            raise InputError(f"{self.short_name()}.train: mode must be True or False, got {mode!r} "
                             "(model.eval() switches to evaluation mode)")
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter's values and every buffer (e.g. BatchNorm's running statistics), keyed by its
        dotted name."""
        return {name: array.copy() for name, array in self._named_state().items()}

    def load_state_dict(self, state: dict, strict: bool = True) -> LoadResult:
        """Copy values into the parameters and buffers, matched by name; shapes and dtypes must match exactly.

        With ``strict=True`` the names must match too. With ``strict=False`` only the names both sides share are
        loaded (e.g. a pretrained feature extractor into a model with a new head), and the returned
        :class:`LoadResult` lists the ``missing`` and ``unexpected`` names. A shared name with the wrong shape or
        dtype is an error either way. Nothing is modified unless everything checks, so a failed load leaves the
        model as it was.
        """
        who = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, dict):
            raise InputError(f"{who}: state must be a dict of {{name: array}} (as state_dict() returns), "
                             f"got {type(state).__name__}")
        params = self._named_state()
        result = LoadResult(sorted(set(params) - set(state)), sorted(set(state) - set(params)))
        if strict and (result.missing or result.unexpected):
            raise InputError(f"{who}: names do not match; missing {result.missing or 'none'}, "
                             f"unexpected {result.unexpected or 'none'} (strict=False loads the shared names only)")
        shared = {name: (param, np.asarray(state[name])) for name, param in params.items() if name in state}
        for name, (param, value) in shared.items():
            if value.shape != param.shape or value.dtype != param.dtype:
                raise InputError(f"{who}: parameter {name!r} expects shape {param.shape} and dtype {param.dtype}, "
                                 f"got shape {value.shape} and dtype {value.dtype}")
        for array, value in shared.values():
            array[...] = value
        return result

    def short_name(self) -> str:
        """The repr of a layer, the class name of a model (whose repr spans many lines): for error messages."""
        return type(self).__name__ if next(self.named_children(), None) else repr(self)

    def extra_repr(self) -> str:
        """The constructor arguments shown by ``repr`` (override in layers)."""
        return ""

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({name}): " + repr(child).replace("\n", "\n  ") for name, child in children]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


class Sequential(Module):
    """Layers applied in order; backward runs them in reverse.

    ``Sequential(Linear(2, 2), Sigmoid(), Linear(2, 2), Sigmoid())`` is the 2-2-2 network of the notes;
    its parameters are named ``"0.weight"``, ``"0.bias"``, ``"2.weight"``, ``"2.bias"``.
    """

    def __init__(self, *layers: Module):
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise InputError(f"Sequential: argument {i} must be a Module, got {type(layer).__name__}")
        self.layers = list(layers)

    def named_children(self):
        for i, layer in enumerate(self.layers):
            yield str(i), layer

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    can_skip_input_gradient = True

    def backward(self, grad_out, input_gradient: bool = True):
        """grad_out → dL/dx through every layer in reverse; accumulates every trainable parameter's gradient.

        ``input_gradient=False`` (the caller does not need dL/dx, as in ``fit``): backward runs only for the layers at
        and above the lowest one with a trainable parameter, which skips its own dL/dx if it can; the layers below
        compute nothing (their caches are released as their backward would), and None is returned.
        """
        layers = self.layers
        if input_gradient:
            for layer in reversed(layers):
                grad_out = layer.backward(grad_out)
            return grad_out
        bottom = _lowest_to_backpropagate(layers)
        for layer in reversed(layers[bottom + 1:]):
            grad_out = layer.backward(grad_out)
        if bottom < len(layers):
            backward_without_input_gradient(layers[bottom], grad_out)
        tape = _recording.backward_tape
        for layer in reversed(layers[:bottom]):
            _release_tree(layer, tape)  # what release_backward(layer) does, its checks already made
        return None

    def append(self, layer: Module) -> Sequential:
        if not isinstance(layer, Module):
            raise InputError(f"Sequential.append: expected a Module, got {type(layer).__name__}")
        self.layers.append(layer)
        return self

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(*self.layers[index])
        return self.layers[index]

    def __setitem__(self, index: int, layer: Module) -> None:
        if not isinstance(layer, Module):
            raise InputError(f"Sequential: item {index} must be a Module, got {type(layer).__name__}")
        self.layers[index] = layer

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)


def _is_plain_sequential(module: Module) -> bool:
    return type(module).forward is Sequential.forward and type(module).backward is Sequential.backward


def _releasable(module: Module) -> bool:
    """Whether :func:`release_backward` can stand in for ``module``'s backward: a leaf layer, or a plain Sequential
    of such (another composite may call its sub-modules any number of times)."""
    if _is_plain_sequential(module):
        return all(_releasable(layer) for layer in module.layers)
    return next(module.named_children(), None) is None


def _skippable(module: Module) -> bool:
    """Whether ``module``'s backward can be left out when nobody needs its dL/dx: it trains no parameter and is
    :func:`_releasable`. (One pass over the attributes: this runs for every frozen layer at every training step.)"""
    if _is_plain_sequential(module):
        return all(_skippable(layer) for layer in module.layers)
    for value in vars(module).values():
        if isinstance(value, Parameter):
            if value.requires_grad:
                return False
        elif isinstance(value, Module) or (isinstance(value, (list, tuple))
                                           and any(isinstance(item, Module) for item in value)):
            return False  # a composite: only its own backward knows what its forward stored
    return True


def _lowest_to_backpropagate(layers: list[Module]) -> int:
    """The index of the lowest layer whose backward must run when nobody needs dL/dx (len(layers) if none must).

    That is the lowest layer with a trainable parameter, or lower, the lowest whose caches only its own backward can
    release. Outside a tracked backward (layers called one by one, each waiting for its own backward), every layer.
    """
    if _recording.backward_tape is None:
        return 0
    for i, layer in enumerate(layers):
        if not _skippable(layer):
            return i
    return len(layers)


def can_release_backward(module: Module) -> bool:
    """Whether :func:`release_backward` can stand in for ``module``'s backward now: inside a model's backward, for a
    leaf layer or a Sequential of them."""
    return _recording.backward_tape is not None and _releasable(module)


def release_backward(module: Module) -> None:
    """Release what ``module``'s backward would, without computing anything: the cache its forward stored (in every
    layer of a Sequential). Used for layers below the lowest trainable one when nobody needs dL/dx.

    Only inside a model's backward, for a leaf layer or a Sequential of them (``input_gradient=False`` chooses such).
    """
    tape = _recording.backward_tape
    if not can_release_backward(module):
        raise RuntimeError(f"{module.short_name()}: release_backward stands in for the backward of a leaf layer or a "
                           "Sequential of them, inside a model's backward; run its backward instead")
    _release_tree(module, tape)


def _release_tree(module: Module, tape: int) -> None:
    if isinstance(module, Sequential):
        for layer in reversed(module.layers):
            _release_tree(layer, tape)
    _pop_cache(module._caches, tape)  # what the tracked backward pops after running
