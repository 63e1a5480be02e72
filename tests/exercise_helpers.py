"""Helpers shared by the tests of the lessons' check functions (tests/test_exercises_lessonNN.py)."""


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
    assert out.startswith(f"❌ Exercise {exercise}") and out.count("\n") == 2, out
    return out.partition("Hint: ")[2]
