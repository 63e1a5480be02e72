"""Helpers shared by the tests of the lessons' check functions (tests/test_exercises_lessonNN.py)."""

import ast
from pathlib import Path

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"


def todo(*args, **kwargs):
    """A learner's unsolved exercise: the stub make_lessons writes raises exactly this."""
    raise NotImplementedError("Exercise N.k: your turn")


def run(check, fn, capsys) -> str:
    """Run ``check(fn)``, which must return None (it never raises), and return what it printed."""
    assert check(fn) is None
    return capsys.readouterr().out


def failure_hint(check, fn, capsys, exercise: str) -> str:
    """The hint of a ❌ verdict for ``exercise`` (e.g. "3.1"); fails unless the output is exactly verdict + hint."""
    out = run(check, fn, capsys)
    assert out.startswith(f"❌ not yet — Exercise {exercise}") and out.count("\n") == 2, out
    return out.partition("Hint: ")[2]


def stub_of(fn):
    """What make_lessons leaves the learner: each method a class defines (or the function itself) raises
    NotImplementedError; ``__init__`` and the other dunders stay."""
    if not isinstance(fn, type):
        return todo
    methods = [name for name, value in vars(fn).items() if callable(value) and not name.startswith("__")]
    return type(fn.__name__, (fn,), dict.fromkeys(methods, todo))


def solution_code(lesson: str, names: tuple[str, ...], namespace: dict) -> dict:
    """Run the top-level definitions ``names`` of ``solutions/<lesson>.py`` in ``namespace`` (the imports they use).

    Tests then put the solution's own code through the checks, so the solutions and the checks cannot drift apart.
    """
    path = SOLUTIONS / f"{lesson}.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = [node for node in tree.body if getattr(node, "name", None) in names]
    assert sorted(node.name for node in nodes) == sorted(names), f"{path.name} lacks some of {names}"
    exec(compile(ast.Module(nodes, type_ignores=[]), str(path), "exec"), namespace)  # noqa: S102
    return namespace
