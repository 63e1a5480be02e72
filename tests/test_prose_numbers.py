"""Numbers quoted in a lesson's prose are backed by its code.

The marker. A markdown cell of ``solutions/NN_topic.py`` tagged ``numbers-checked``
(``# %% [markdown] tags=["numbers-checked"]``) promises that every number it quotes is backed: printed in a stored
output of the executed ``solutions/NN_topic.ipynb``, or written in one of the notebook's code cells (a literal,
typically in the assertion that checks the claim). Tag a cell once every number in it is backed; this test then
keeps it so when the code or the prose changes. A failure names the cell and the unbacked numbers: print them,
assert them, or correct the prose.

What counts as a quoted number: a decimal (``0.291027774``, ``1.44``; the mantissa ``7.6`` of ``7.6 · 10⁻³``) or an
integer of three digits or more (``1347``, ``10,000``). Not checked: integers below 100 (section and lesson numbers,
small counts, exponents, the constants of a formula), years 1900–2099 (citations), digits glued to letters
(``w1``, ``1950s``), and section numbers: heading lines (``### 5.1 …``) and ``section 5.3`` / ``§3.3`` references.

What backs it: a number of the outputs or the code that equals it at the precision it is quoted with — ``1.44`` is
backed by a printed ``1.443``, not by ``1.452``; an integer only by the same integer. A printed ``7.6e-03`` backs both
``0.0076`` and its mantissa ``7.6``. Signs are ignored (prose writes −, code writes -).
"""

import re
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.course

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
TAG = "numbers-checked"
# Lessons whose prose was made exact (issue 21): each must keep at least one checked cell.
CHECKED_LESSONS = ["01_neuron_and_perceptron", "02_activation_functions", "03_backpropagation_by_hand",
                   "04_gradient_descent_and_optimization", "05_regularization_and_dropout", "07_rnns_and_bptt",
                   "08_lstm_and_gru", "09_transfer_learning", "10_attention_and_transformers",
                   "11_sequence_to_sequence"]

PROSE_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\w]|\.\d|,\d{3})")
SECTION_REFERENCE = re.compile(r"(?:\b[Ss]ections?|§)\s*\d+(?:\.\d+)*")
BACKING_NUMBER = re.compile(r"(?<![\w.])(\d[\d_]*(?:\.\d+)?)(?:[eE]([-+]?\d+))?")


def quoted_numbers(markdown: str) -> list[str]:
    """The numbers of ``markdown`` this test checks, as written (thousands separators included)."""
    prose = "\n".join(line for line in markdown.splitlines() if not line.lstrip().startswith("#"))
    prose = SECTION_REFERENCE.sub(" ", prose)
    numbers = []
    for text in PROSE_NUMBER.findall(prose):
        plain = text.replace(",", "")
        if "." in plain or (int(plain) >= 100 and not 1900 <= int(plain) <= 2099):
            numbers.append(text)
    return numbers


def backing_numbers(text: str) -> set[float]:
    """Every number in ``text`` (outputs or code), and the mantissa of each one in scientific notation."""
    values = set()
    for digits, exponent in BACKING_NUMBER.findall(text):
        mantissa = float(digits.replace("_", ""))
        values.add(mantissa)
        if exponent:
            values.add(mantissa * 10.0 ** int(exponent))
    return values


def is_backed(quoted: str, backing: set[float]) -> bool:
    """True if some backing number rounds to ``quoted`` at the precision it is written with."""
    plain = quoted.replace(",", "")
    value = float(plain)
    if "." not in plain:
        return value in backing
    half_unit = 0.5 * 10.0 ** -len(plain.split(".")[1])
    return any(abs(candidate - value) <= half_unit * (1 + 1e-9) for candidate in backing)


def output_text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def unbacked(nb) -> dict[int, list[str]]:
    """{cell index: unbacked numbers} for the markdown cells of ``nb`` tagged ``numbers-checked``."""
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    backing = backing_numbers("\n".join(cell.source + "\n" + output_text(cell) for cell in code))
    found = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and TAG in cell.metadata.get("tags", ()):
            missing = [number for number in quoted_numbers(cell.source) if not is_backed(number, backing)]
            if missing:
                found[index] = missing
    return found


def checked_cells(nb) -> list:
    return [cell for cell in nb.cells if cell.cell_type == "markdown" and TAG in cell.metadata.get("tags", ())]


@pytest.mark.parametrize("name", sorted(p.stem for p in SOLUTIONS.glob("[0-9][0-9]_*.ipynb")))
def test_every_number_of_a_checked_cell_is_printed_or_in_code(name):
    nb = nbformat.read(SOLUTIONS / f"{name}.ipynb", as_version=4)
    found = unbacked(nb)
    report = "; ".join(f"cell {index} ({nb.cells[index].source.splitlines()[0][:60]!r}): {numbers}"
                       for index, numbers in found.items())
    assert not found, f"{name}: numbers quoted in {TAG} cells but neither printed nor in code — {report}"


@pytest.mark.parametrize("name", CHECKED_LESSONS)
def test_lessons_with_exact_prose_keep_their_checked_cells(name):
    nb = nbformat.read(SOLUTIONS / f"{name}.ipynb", as_version=4)
    assert checked_cells(nb), f"{name}: no markdown cell tagged {TAG!r} any more"


def notebook(markdown: str, code: str, printed: str, tags=(TAG,)):
    """A one-lesson notebook: a markdown cell with ``tags``, then a code cell that printed ``printed``."""
    cell = nbformat.v4.new_code_cell(code, outputs=[nbformat.v4.new_output("stream", name="stdout", text=printed)])
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(markdown, metadata={"tags": list(tags)}),
                                           cell])


@pytest.mark.parametrize("markdown, code, printed, expected", [
    ("the error drops to 0.291027774", "print(error)", "0.291027774\n", []),
    ("the error drops to 0.291027924", "print(error)", "0.291027774\n", ["0.291027924"]),   # a misquoted digit
    ("τ ≈ 1.44 steps", "print(tau)", "tau = 1.443\n", []),                                 # rounded as quoted
    ("τ ≈ 1.45 steps", "print(tau)", "tau = 1.443\n", ["1.45"]),
    ("a range of 7.6 · 10⁻³ to 1", "", "7.6e-03 1.0e+00\n", []),                            # mantissa of a print
    ("1347 updates per epoch", "assert updates == 1347", "", []),                          # backed by an assertion
    ("10,000 steps", "steps = 10_000", "", []),
    ("10,000 steps", "steps = 1_000", "", ["10,000"]),
    ("scratch 0.96, frozen 0.93 (Leshno et al., 1993), in section 5 and 12 layers", "", "", ["0.96", "0.93"]),
    ("in the 1950s, w1 and 2-16-16-3", "", "", []),                                        # not quoted numbers
    ("### 5.1 Parameters\nas section 5.3 and §3.3 show, 0.75 of it", "", "ratio 0.75", []),  # section numbers
])
def test_the_check_finds_exactly_the_unbacked_numbers(markdown, code, printed, expected):
    assert unbacked(notebook(markdown, code, printed)) == ({0: expected} if expected else {})


def test_untagged_cells_are_not_checked():
    assert unbacked(notebook("scratch 0.96", "", "", tags=())) == {}
