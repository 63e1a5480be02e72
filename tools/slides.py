"""Mark the cells of each lesson for a RISE slideshow, from the lesson's own structure.

The rules, applied to the ``solutions/NN_topic.py`` sources (``make_lessons`` carries them into lessons/):

* the title cell and every ``## `` section heading start a new **slide** (→ in the slideshow);
* every ``### `` heading, and every other Markdown cell that follows code, starts a **sub-slide** (↓);
* an exercise's check cell is a **fragment**: its ✅ / ❌ / ⏳ line appears on the next key press.

A cell that already has a slide type keeps it, so an instructor's hand-tuning wins over the rules.

    python tools/slides.py solutions/*.py           # add the missing slide types, in place
    python tools/slides.py --check solutions/*.py   # exit 1, listing the cells, if any is missing
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

MARKER = re.compile(r"^# %%( \[markdown\])?(.*)$")
CHECK_CALL = re.compile(r"^check_\w+\(")


def _cells(lines: list[str]) -> list[tuple[int, bool, list[str]]]:
    """(marker line index, is markdown, content lines) of every cell of a py:percent text."""
    markers = [i for i, line in enumerate(lines) if MARKER.match(line)]
    return [(start, bool(MARKER.match(lines[start]).group(1)), lines[start + 1:end])
            for start, end in zip(markers, markers[1:] + [len(lines)], strict=True)]


def _first_text(content: list[str]) -> str:
    return next((line for line in content if line.strip() and line.strip() != "#"), "")


def slide_type(is_markdown: bool, content: list[str], previous_is_markdown: bool | None) -> str | None:
    """The rules' slide type for a cell (None: it continues the current slide)."""
    first = _first_text(content)
    if is_markdown:
        if first.startswith(("# # ", "# ## ")):
            return "slide"
        if first.startswith("# ### ") or previous_is_markdown is False:
            return "subslide"
        return None
    return "fragment" if CHECK_CALL.match(first) else None


def missing_slide_types(text: str) -> list[tuple[int, str]]:
    """(line number, slide type) of every cell the rules mark that has no slide type yet."""
    lines, missing, previous = text.splitlines(), [], None
    for start, is_markdown, content in _cells(lines):
        wanted = slide_type(is_markdown, content, previous)
        if wanted and "slideshow=" not in lines[start]:
            missing.append((start + 1, wanted))
        previous = is_markdown
    return missing


def with_slide_types(text: str) -> str:
    """``text`` with the missing slide types written into the cell markers (jupytext's ``key=value`` syntax)."""
    lines = text.splitlines(keepends=True)
    for number, wanted in missing_slide_types(text):
        line = lines[number - 1].rstrip("\n")
        lines[number - 1] = f"{line} slideshow={json.dumps({'slide_type': wanted})}\n"
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", nargs="+", type=Path, help="solutions/NN_topic.py files")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a slide type is missing")
    args = parser.parse_args(argv)
    problems = 0
    for path in args.sources:
        text = path.read_text(encoding="utf-8")
        missing = missing_slide_types(text)
        if args.check:
            for number, wanted in missing:
                print(f"{path}:{number}: this cell should be a {wanted!r} (run: python tools/slides.py {path})")
            problems += len(missing)
        elif missing:
            path.write_text(with_slide_types(text), encoding="utf-8")
            print(f"{path}: {len(missing)} slide types added")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
