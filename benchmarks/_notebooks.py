"""Synthetic batches for the benchmarks: correct submissions, each one slightly different.

Every generated file is one of the correct sample submissions with a few edits a real student
might make: renamed local variables, comments, whitespace, a debug print, a helper function,
an IPython magic. Each keeps its sample's format (notebook v4, v3 or exported script) and
all of them still earn full marks.
"""

from __future__ import annotations

import copy
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CORRECT_SAMPLES = (
    "alice_chen.ipynb",
    "nadia_rahman.ipynb",
    "bo_zhang.ipynb",
    "ivan_petrov.py",
    "julia_schmidt.ipynb",
)
FIRST_NAMES = ("Ana", "Ben", "Chloe", "Dev", "Eli", "Femi", "Gul", "Hana", "Iker", "Jun", "Kai")
LAST_NAMES = ("Abe", "Berg", "Costa", "Diaz", "Eze", "Fox", "Gupta", "Haas", "Ito", "Jovic")
RENAMES = {
    "numerator": ("num", "top", "norm_of_difference"),
    "denominator": ("denom", "bottom", "sum_of_norms"),
    "thetaplus": ("theta_plus", "tp"),
    "thetaminus": ("theta_minus", "tm"),
    "gradapprox": ("grad_approx", "approx_grad"),
}
NOTES = (
    "two-sided difference, see formula (1)",
    "TODO: ask about the threshold in office hours",
    "this part took me a while",
    "checked against the lecture notes",
    "epsilon is tiny so no limit needed",
)
HELPER = '''

def relative_difference(a, b):
    """My helper: ||a - b|| / (||a|| + ||b||)."""
    return np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b))
'''
_GC_UTILS_IMPORT = re.compile(r"^from gc_utils import .*$", re.M)
_DIFFERENCE = re.compile(r"^([ \t]+)difference = (?:np\.divide\()?numerator\b.*$", re.M)
_RETURN_DIFFERENCE = re.compile(r"^    return difference$", re.M)
_START_CODE = re.compile(r"^([ \t]*)### START CODE HERE ###", re.M)

Transform = Callable[[str], str | None]


@dataclass(frozen=True)
class Sample:
    """A correct submission: its parsed notebook (or script text) and its file suffix."""

    name: str
    suffix: str
    document: dict | str


def load_samples(folder: Path) -> list[Sample]:
    """The correct sample submissions from `folder` (the repository's submissions/)."""
    samples = []
    for name in CORRECT_SAMPLES:
        path = folder / name
        text = path.read_text(encoding="utf-8")
        document = text if path.suffix == ".py" else json.loads(text)
        samples.append(Sample(path.stem, path.suffix, document))
    return samples


def generate(samples: list[Sample], folder: Path, count: int, seed: int = 0) -> list[Path]:
    """Write `count` distinct, correct submissions into `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        rng = random.Random(seed * 1_000_003 + index)
        sample = samples[index % len(samples)]
        student = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        path = folder / f"{index:05d}_{student.replace(' ', '_').lower()}{sample.suffix}"
        path.write_text(_render(sample, _variations(rng, index, student, sample)), "utf-8")
        paths.append(path)
    return paths


def edit(path: Path, note: str) -> None:
    """Change a submission's content the way a late fix would: one more comment line."""
    if path.suffix == ".py":
        path.write_text(path.read_text(encoding="utf-8") + f"\n# {note}\n", "utf-8")
        return
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = _code_cells(notebook)
    key = "input" if "worksheets" in notebook else "source"
    cells[0][key] = _source(cells[0][key]) + f"\n# {note}\n"
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", "utf-8")


def _variations(rng: random.Random, index: int, student: str, sample: Sample) -> list[Transform]:
    """A random subset of edits; the header comment alone makes every file unique."""
    header = f"# {student} (student {index:05d})\n"
    chosen: list[Transform] = [lambda text: _prepend_at(_GC_UTILS_IMPORT, text, header)]
    if rng.random() < 0.3 and sample.suffix != ".py":
        chosen.append(lambda text: _prepend_at(_GC_UTILS_IMPORT, text, "%matplotlib inline\n"))
    if rng.random() < 0.4:
        chosen.append(_with_helper)
    if rng.random() < 0.5:
        names = rng.sample(sorted(RENAMES), rng.randint(1, 3))
        mapping = {name: rng.choice(RENAMES[name]) for name in names}
        chosen.append(lambda text: _rename(text, mapping))
    if rng.random() < 0.3:
        chosen.append(_debug_print)
    if rng.random() < 0.5:
        chosen.append(lambda text: _note(text, rng.choice(NOTES)))
    if rng.random() < 0.5:
        chosen.append(lambda text: _whitespace(text, rng))
    return chosen


def _render(sample: Sample, transforms: list[Transform]) -> str:
    if isinstance(sample.document, str):
        texts = [sample.document]
        for transform in transforms:
            texts = _apply(texts, transform)
        return texts[0]
    notebook = copy.deepcopy(sample.document)
    cells = _code_cells(notebook)
    key = "input" if "worksheets" in notebook else "source"
    texts = [_source(cell[key]) for cell in cells]
    for transform in transforms:
        texts = _apply(texts, transform)
    for cell, text in zip(cells, texts, strict=True):
        cell[key] = text.splitlines(keepends=True)
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def _apply(texts: list[str], transform: Transform) -> list[str]:
    """Apply a transform to every cell it fits; a transform returns None where it does not."""
    return [new if (new := transform(text)) is not None else text for text in texts]


def _code_cells(notebook: dict) -> list[dict]:
    if "worksheets" in notebook:
        cells = [cell for sheet in notebook["worksheets"] for cell in sheet["cells"]]
    else:
        cells = notebook["cells"]
    return [cell for cell in cells if cell.get("cell_type") == "code"]


def _source(source: str | list[str]) -> str:
    return source if isinstance(source, str) else "".join(source)


def _prepend_at(anchor: re.Pattern[str], text: str, line: str) -> str | None:
    found = anchor.search(text)
    return None if found is None else text[: found.start()] + line + text[found.start() :]


def _rename(text: str, mapping: dict[str, str]) -> str:
    """Rename local variables everywhere (they are locals of the graded functions only)."""
    for old, new in mapping.items():
        text = re.sub(rf"\b{old}\b", new, text)
    return text


def _with_helper(text: str) -> str | None:
    """Define a helper next to the imports and use it in `gradient_check` (same arithmetic)."""
    if _GC_UTILS_IMPORT.search(text):
        text = _GC_UTILS_IMPORT.sub(lambda m: m.group(0) + HELPER, text, count=1)
    if "def gradient_check(" in text:
        text = _DIFFERENCE.sub(r"\1difference = relative_difference(grad, gradapprox)", text, 1)
    return text


def _debug_print(text: str) -> str | None:
    """A leftover debug print in `gradient_check`, the first function returning `difference`."""
    if "def gradient_check(" not in text:
        return None
    return _RETURN_DIFFERENCE.sub('    print("debug: difference =", difference)\n\\g<0>', text, 1)


def _note(text: str, note: str) -> str | None:
    if "def gradient_check" not in text:
        return None
    return _START_CODE.sub(lambda m: f"{m.group(1)}# {note}\n{m.group(0)}", text, count=1)


def _whitespace(text: str, rng: random.Random) -> str:
    """Trailing spaces on some lines (never after a line continuation), blank lines at the end."""

    def pad(line: str) -> str:
        fits = line.strip() and not line.endswith("\\") and rng.random() < 0.1
        return line + " " * rng.randint(1, 3) if fits else line

    return "\n".join(map(pad, text.split("\n"))) + "\n" * rng.randint(0, 2)
