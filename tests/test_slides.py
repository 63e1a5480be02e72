"""tools/slides.py: the slideshow rules, hand-tuned slide types kept, idempotence, and --check."""

import sys
from pathlib import Path

import jupytext

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import slides  # noqa: E402

SOURCE = '''# %% [markdown]
# # Lesson 99 — Title
#
# An introduction.

# %% [markdown]
# ## 1. A section

# %%
x = 1

# %% [markdown]
# Text that follows code.

# %% [markdown]
# More text on the same sub-slide.

# %% [markdown] slideshow={"slide_type": "skip"}
# ### 1.1 A subsection an instructor chose to skip

# %% tags=["nbval-ignore-output"]
check_answer(answer)

# %% [markdown]
# ### 1.2 Another subsection
'''


def slide_types(text: str) -> list:
    cells = jupytext.reads(text, fmt="py:percent").cells
    return [cell.metadata.get("slideshow", {}).get("slide_type") for cell in cells]


def test_rules_mark_headings_text_after_code_and_checks_and_keep_hand_tuning():
    marked = slides.with_slide_types(SOURCE)
    assert slide_types(marked) == ["slide", "slide", None, "subslide", None, "skip", "fragment", "subslide"]
    assert '# %% tags=["nbval-ignore-output"] slideshow={"slide_type": "fragment"}' in marked
    assert slides.missing_slide_types(marked) == []
    assert slides.with_slide_types(marked) == marked


def test_check_lists_the_missing_cells_and_exits_1(tmp_path, capsys):
    path = tmp_path / "99_title.py"
    path.write_text(SOURCE)
    assert slides.main(["--check", str(path)]) == 1
    assert f"{path}:1: this cell should be a 'slide'" in capsys.readouterr().out
    assert path.read_text() == SOURCE
    assert slides.main([str(path)]) == 0
    assert slides.main(["--check", str(path)]) == 0
