"""`grader release`: build the bundle students get from an instructor's assignment folder.

The bundle holds the notebook with the solution code blanked, the support modules, the prelude
and the public cases with their expected values, in `public_cases.json`. Nothing hidden goes in:
no reference solution, no hidden case, no `assignment.py`. The instructor notebook is graded
first, against every case: a solution that does not earn full marks is not released.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from grader.compare import Close, Expectation, Within
from grader.diagnose import recorded
from grader.i18n import CATALOG_FOLDER, read_catalog
from grader.sandbox.protocol import encode
from grader.score import ordered_calls
from grader.spec import (
    RELEASE_FORMAT,
    RELEASED_CASES,
    Assignment,
    AssignmentError,
    Mistake,
    load_assignment,
    load_released,
)

NOTEBOOK = "assignment.ipynb"
PRELUDE = "provided.py"
STUDENT_README = "README.md"
RELEASED_CATALOG = "assignment.po"
# The notebook's metadata key naming its assignment, so tools can find it without a flag.
METADATA_KEY = "grader"
_START = re.compile(r"^([ \t]*)###[ \t]*START CODE HERE[ \t]*###")
_END = re.compile(r"^[ \t]*###[ \t]*END CODE HERE[ \t]*###")


class UsageError(Exception):
    """The folders given cannot be used; the message says why."""


class ReleaseError(Exception):
    """The assignment cannot be released as it is; the message says where."""


@dataclass(frozen=True)
class Bundle:
    folder: Path
    title: str
    support_modules: tuple[str, ...]
    blanked: int
    public_cases: int
    hidden_cases: int
    model_cases: int
    languages: tuple[str, ...] = ()  # of the assignment's catalogs, copied with it

    def summary(self) -> str:
        """What was written, for the instructor."""
        modules = ", ".join(f"{name}.py" for name in self.support_modules)
        return "\n".join(
            [
                f"Released {self.title} to {self.folder}:",
                f"  {NOTEBOOK}: solution code blanked in {self.blanked} places, outputs cleared",
                f"  {modules}: support modules; {PRELUDE}: prelude",
                *(
                    [f"  {CATALOG_FOLDER}/: the assignment's texts in {', '.join(self.languages)}"]
                    if self.languages
                    else []
                ),
                f"  {RELEASED_CASES}: {self.public_cases} public cases "
                f"({self.hidden_cases} hidden cases left out"
                + (
                    f", and {self.model_cases} public case{'s' if self.model_cases > 1 else ''} "
                    "answered by a model that only the instructor's grader has)"
                    if self.model_cases
                    else ")"
                ),
            ]
        )


def release(assignment_dir: Path, out: Path) -> Bundle:
    """Write the student bundle of the instructor folder `assignment_dir` into `out`."""
    source = assignment_dir.resolve()
    if not (source / "assignment.py").is_file():
        raise UsageError(f"{assignment_dir} has no assignment.py: give an instructor folder.")
    if not (source / NOTEBOOK).is_file():
        raise UsageError(f"{assignment_dir} has no {NOTEBOOK} to release.")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out} is not a new or empty folder; choose another --out.")
    try:
        assignment = load_assignment(source)
    except AssignmentError as problem:
        raise UsageError(str(problem)) from None
    verify_solution(assignment, source / NOTEBOOK)
    notebook, blanked = blank_notebook(source / NOTEBOOK)
    notebook.metadata[METADATA_KEY] = {"assignment": assignment.name, "title": assignment.title}
    cases = public_spec(assignment)
    out.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, out / NOTEBOOK)
    (out / STUDENT_README).write_text(student_readme(assignment), encoding="utf-8")
    for name, text in assignment.support_modules.items():
        (out / f"{name}.py").write_text(text, encoding="utf-8")
    (out / PRELUDE).write_text(assignment.prelude, encoding="utf-8")
    (out / RELEASED_CASES).write_text(json.dumps(cases, indent=1) + "\n", encoding="utf-8")
    languages = write_catalogs(source, out)
    return Bundle(
        folder=out,
        title=assignment.title,
        support_modules=tuple(assignment.support_modules),
        blanked=blanked,
        public_cases=len(cases["cases"]),
        hidden_cases=sum(case.hidden for case in assignment.cases),
        model_cases=sum(not case.hidden and case.model is not None for case in assignment.cases),
        languages=languages,
    )


def write_catalogs(source: Path, out: Path) -> tuple[str, ...]:
    """The translations of the bundle's own texts, so that `grader check --lang` speaks them
    there; returns their languages. Only the public texts go: a hidden case's name stays with
    the instructor, as its inputs do."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    public = load_released(out).texts()
    languages = sorted(path.name for path in (source / CATALOG_FOLDER).glob("*") if path.is_dir())
    for code in languages:
        translated: dict[str, str] = {}
        for path in sorted((source / CATALOG_FOLDER / code).glob("LC_MESSAGES/*.po")):
            translated.update(read_catalog(path)[0])
        catalog = Catalog(locale=code, project=source.name, fuzzy=False)
        for text in public:
            if text in translated:
                catalog.add(text, translated[text])
        target = out / CATALOG_FOLDER / code / "LC_MESSAGES" / RELEASED_CATALOG
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as written:
            write_po(written, catalog, width=100)
    return tuple(languages)


def verify_solution(assignment: Assignment, notebook: Path) -> None:
    """Grade the instructor notebook on every case; refuse a solution short of full marks, so
    the notebook students get and the reference the grader uses cannot disagree."""
    from grader.pipeline import grade_one
    from grader.read import read_submission
    from grader.run import sandbox_setup
    from grader.sandbox.pool import WorkerPool

    submission = read_submission("instructor", str(notebook), notebook)
    with WorkerPool(sandbox_setup(assignment), 1) as pool:
        result = grade_one(pool, assignment, submission)
    if result.score == result.max_score:
        return
    short = [f for f in result.functions.values() if f.score != f.max_score]
    details = "; ".join(f"{f.name} {f.score:g}/{f.max_score:g}: {f.message}" for f in short)
    raise ReleaseError(
        f"{notebook.name} scores {result.score:g}/{result.max_score:g} against its own "
        f"assignment, so its solution and the reference disagree: {details}"
    )


def student_readme(assignment: Assignment) -> str:
    """What students read first in the bundle: how to install, check and submit."""
    return f"""# {assignment.title}

Work in `{NOTEBOOK}`: fill in the code between `### START CODE HERE ###` and
`### END CODE HERE ###` in each cell marked `# GRADED FUNCTION`, keeping each function's name.

## Check your work before you submit

Install the grader once (Python 3.11 or newer):

```sh
python -m venv .venv
.venv/bin/pip install grader   # or the wheel or folder your course gives you
```

Then, in this folder:

```sh
.venv/bin/grader check {NOTEBOOK}
```

It runs the public cases of every graded function in a fraction of a second and says what
to fix. It finds this assignment by itself, from `{RELEASED_CASES}` beside the notebook.
Hidden cases, run after you submit, use other inputs: hard-code nothing.
`--lang zh_CN` says it all in Simplified Chinese (用中文显示检查结果).

## Submit

Upload `{NOTEBOOK}` as your course asks. Outputs do not count and need not be cleared.
"""


def public_spec(assignment: Assignment) -> dict[str, Any]:
    """The public part of the spec as JSON-ready data: what `grader.spec.load_released` reads."""
    mistakes = [_released_mistake(assignment, mistake) for mistake in assignment.mistakes]
    # Probes serve only to tell mistakes apart: those of a function no mistake is recorded for
    # would be calls for nothing.
    diagnosed = {function for mistake in mistakes for function in mistake["mutants"]}
    return {
        "format": RELEASE_FORMAT,
        "name": assignment.name,
        "title": assignment.title,
        "points": dict(assignment.points),
        "time_limit": assignment.time_limit,
        "support_modules": list(assignment.support_modules),
        "prelude": PRELUDE,
        "provided": sorted(assignment.provided),
        "cases": [
            {
                "function": case.function,
                "name": case.name,
                "weight": case.weight,
                "args": encode(list(case.args)),
                "expect": _expectation(case.expect),
            }
            for case in assignment.cases
            if not case.hidden and case.model is None
        ],
        "probes": [
            {"function": probe.function, "args": encode(list(probe.args))}
            for probe in assignment.probes
            if probe.function in diagnosed
        ],
        "noise": dict(assignment.noise),
        "mistakes": [mistake for mistake in mistakes if mistake["mutants"]],
        # Ungraded, on public inputs; what they expect is the reference's value there (for
        # Gradient Checking, the corrected gradients a public case already passes as arguments).
        "inspections": [
            {
                "function": inspection.function,
                "args": encode(list(inspection.args)),
                "expected": encode(dict(inspection.expected)),
                "about": inspection.about,
                "tolerance": inspection.tolerance,
            }
            for inspection in assignment.inspections
        ],
    }


def _released_mistake(assignment: Assignment, mistake: Mistake) -> dict[str, Any]:
    """A mistake with its mutants' outcomes on the calls the bundle makes, recorded here: the
    bundle has no solution to run them with. Only for functions none of whose public calls a
    model answers: where the instructor's grader needs a model to tell two mistakes apart
    (a gradapprox doubled or halved gives 1/3 alike on J = θx), a bundle cannot."""
    mutants = {}
    for function, variants in mistake.mutants.items():
        calls = ordered_calls(assignment, function, public_only=True)
        if any(call.model is not None for call in calls):
            continue
        mutants[function] = [
            {
                key: None if outcome is None else [encode(outcome[0]), outcome[1]]
                for key, outcome in recorded(assignment, variant, calls).items()
            }
            for variant in variants
        ]
    return {
        "id": mistake.id,
        "title": mistake.title,
        "explanation": mistake.explanation,
        "formula": mistake.formula,
        "mutants": mutants,
    }


def _expectation(expect: Expectation) -> dict[str, Any]:
    if isinstance(expect, Close):
        return {
            "kind": "Close",
            "expected": encode(expect.expected),
            "rtol": expect.rtol,
            "atol": expect.atol,
        }
    if isinstance(expect, Within):
        return {"kind": "Within", "low": expect.low, "high": expect.high, "why": expect.why}
    raise ReleaseError(f"a public case expects {type(expect).__name__}, which cannot be released")


def blank_notebook(path: Path) -> tuple[nbformat.NotebookNode, int]:
    """The notebook with its solution code blanked and outputs cleared; and the regions blanked."""
    notebook = nbformat.read(path, as_version=4)
    blanked = 0
    for number, cell in enumerate(notebook.cells, 1):
        if cell.cell_type != "code":
            continue
        try:
            cell.source, count = blank_solutions(cell.source)
        except ReleaseError as problem:
            raise ReleaseError(f"{path.name}, cell {number}, {problem}") from None
        cell.outputs = []
        cell.execution_count = None
        blanked += count
    return notebook, blanked


def blank_solutions(source: str) -> tuple[str, int]:
    """Blank each START/END CODE HERE region of a cell; returns the new source and the count.

    Each solution assignment `target = expression` becomes `target = None` at the marker's
    indentation; every other statement and comment in the region is dropped.
    """
    out: list[str] = []
    region: list[str] | None = None
    indent, first, count = "", 0, 0
    for number, line in enumerate(source.split("\n"), 1):
        if region is None:
            if _END.match(line):
                raise ReleaseError(f"line {number}: END CODE HERE without a START before it")
            out.append(line)
            start = _START.match(line)
            if start:
                region, indent, first = [], start.group(1), number + 1
        elif _END.match(line):
            out.extend(_placeholders(region, indent, first))
            out.append(line)
            region, count = None, count + 1
        elif _START.match(line):
            raise ReleaseError(f"line {number}: START CODE HERE inside another START/END region")
        else:
            region.append(line)
    if region is not None:
        raise ReleaseError(f"line {first - 1}: START CODE HERE without an END after it")
    return "\n".join(out), count


def _placeholders(region: list[str], indent: str, first: int) -> list[str]:
    """The `target = None` lines that replace one region's solution code."""
    body = []
    for number, line in enumerate(region, first):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            body.append("")
        elif line.startswith(indent):
            body.append(line[len(indent) :])
        else:
            raise ReleaseError(f"line {number}: less indented than its START CODE HERE marker")
    code = "\n".join(body)
    try:
        tree = ast.parse(code)
    except SyntaxError as problem:
        line = first + (problem.lineno or 1) - 1
        message = f"line {line}: the solution code does not parse: {problem.msg}"
        raise ReleaseError(message) from None
    lines = []
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = " = ".join(ast.get_source_segment(code, t) for t in node.targets)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target = ast.get_source_segment(code, node.target)
            targets = f"{target}: {ast.get_source_segment(code, node.annotation)}"
        else:
            continue
        lines.append(f"{indent}{targets} = None")
    return lines or [f"{indent}pass"]
