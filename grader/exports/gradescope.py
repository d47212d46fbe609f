"""Gradescope: an autograder bundle that grades each submission with this grader.

The bundle (`autograder.zip`) holds, at its root, what Gradescope runs (`setup.sh` once when it
builds the image, `run_autograder` for every submission), `requirements.txt`, the grader's own
package source and the assignment folder. Run in the image, this module grades
`$AUTOGRADER_ROOT/submission` into `$AUTOGRADER_ROOT/results/results.json`, Gradescope's
results format, which the grader's `tests` already follow.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, requires
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grader
from grader.exports import ExportError
from grader.exports.table import points, status_in_words
from grader.i18n import ENGLISH, _, language, sentences

if TYPE_CHECKING:
    from grader.spec import Assignment

PACKAGE = Path(grader.__file__).resolve().parent
BUNDLED_ASSIGNMENT = "assignment"  # the assignment folder's parent in the bundle
# Fixed entry times: the same sources give the same bundle, byte for byte.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)

SETUP = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image: a Python of at
# least 3.11 (Ubuntu 22.04's python3 is 3.10) and, in a virtual environment, the grader's
# dependencies. The grader itself runs from source/, where Gradescope unpacks the bundle.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"

usable() {
    command -v "$1" >/dev/null 2>&1 &&
        "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

PYTHON=""
for candidate in python3 python3.13 python3.12 python3.11; do
    if usable "$candidate"; then PYTHON="$candidate"; break; fi
done
if [ -z "$PYTHON" ]; then
    apt-get update
    apt-get install -y python3.11 python3.11-venv
    PYTHON=python3.11
fi
if ! "$PYTHON" -m venv "$ROOT/venv"; then
    # Ubuntu packages venv apart from Python.
    VERSION=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    apt-get update
    apt-get install -y "python$VERSION-venv"
    rm -rf "$ROOT/venv"
    "$PYTHON" -m venv "$ROOT/venv"
fi
"$ROOT/venv/bin/python" -m pip install --no-cache-dir -r "$ROOT/source/requirements.txt"
# The sandbox's workers only read bytecode, never write it: compile it once, here.
"$ROOT/venv/bin/python" -m compileall -q "$ROOT/source"
"""

RUN = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission: it grades $ROOT/submission into
# $ROOT/results/results.json. GRADER_PYTHON names another Python to grade with.
set -euo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{GRADER_PYTHON:-$ROOT/venv/bin/python}}"
ASSIGNMENT={assignment}
export PYTHONPATH="$ROOT/source"
exec "$PYTHON" -m grader.exports.gradescope "$ROOT" "$ROOT/source/$ASSIGNMENT" {lang}
"""


@dataclass(frozen=True)
class AutograderBundle:
    path: Path
    title: str
    files: int

    def summary(self) -> str:
        """What was written, and what to do with it."""
        return (
            f"Wrote {self.path}: the Gradescope autograder for {self.title} ({self.files} files). "
            "Upload it in the assignment's Configure Autograder page (Ubuntu 22.04 or later)."
        )


def build_bundle(assignment_dir: Path, output: Path, lang: str = ENGLISH) -> AutograderBundle:
    """Write the autograder zip for the instructor folder `assignment_dir` to `output`; what
    students read of their grade is in `lang`."""
    from grader.spec import load_assignment

    if not assignment_dir.is_dir():
        raise ExportError(f"{assignment_dir} is not a folder: give the assignment's folder")
    try:
        assignment = load_assignment(assignment_dir)
    except Exception as problem:  # assignment.py is the instructor's code: it may raise anything
        reason = str(problem).replace("\n  - ", "; ").replace("\n", " ")
        raise ExportError(f"cannot load the assignment in {assignment_dir}: {reason}") from None
    if assignment.solution is None:
        raise ExportError(
            f"{assignment_dir} is a released bundle, with the public cases only: give the "
            "instructor's folder (with assignment.py), so that hidden cases are graded too"
        )
    if not output.parent.is_dir():
        raise ExportError(f"cannot write {output}: its folder {output.parent} does not exist")
    folder = assignment_dir.resolve()
    inside = f"{BUNDLED_ASSIGNMENT}/{folder.name}"
    entries: dict[str, tuple[bytes, int]] = {
        "setup.sh": (SETUP.encode(), 0o755),
        "run_autograder": (
            RUN.format(assignment=shlex.quote(inside), lang=shlex.quote(lang)).encode(),
            0o755,
        ),
        "requirements.txt": ("\n".join(_requirements()).encode() + b"\n", 0o644),
    }
    for root, prefix in ((PACKAGE, "grader"), (folder, inside)):
        for path in _shipped(root, skip=output.resolve()):
            entries[f"{prefix}/{path.relative_to(root).as_posix()}"] = (path.read_bytes(), 0o644)
    temporary = output.with_name(f".{output.name}.tmp")
    try:
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as bundle:
            for name, (content, mode) in sorted(entries.items()):
                entry = zipfile.ZipInfo(name, _ZIP_TIME)
                entry.external_attr = (0o100000 | mode) << 16
                entry.compress_type = zipfile.ZIP_DEFLATED
                bundle.writestr(entry, content)
        os.replace(temporary, output)
    except OSError as problem:
        temporary.unlink(missing_ok=True)
        raise ExportError(f"cannot write {output}: {problem.strerror or problem}") from None
    return AutograderBundle(output, assignment.title, len(entries))


def _shipped(root: Path, skip: Path) -> list[Path]:
    """The files under `root` a bundle carries: no bytecode, hidden files or the bundle itself."""
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file()
        and path.resolve() != skip
        and not any(
            part == "__pycache__" or part.startswith(".") for part in path.relative_to(root).parts
        )
    )


def _requirements() -> list[str]:
    """The grader's own dependencies, as it declares them (no optional extras)."""
    try:
        declared = requires("grader") or []
    except PackageNotFoundError:
        raise ExportError(
            "the grader is not installed, so its dependencies are unknown: pip install -e ."
        ) from None
    return [r for r in declared if "extra" not in r.partition(";")[2]]


def grade_submission(root: Path, assignment_dir: Path, lang: str = ENGLISH) -> dict[str, Any]:
    """Grade the files in `root/submission` and return Gradescope's results document, its
    texts in `lang`.

    A student may upload several files (their notebook beside support modules or a draft):
    each is graded, and the best result counts; the output names the file it came from and
    every file not graded, with the reason.
    """
    from grader.spec import load_assignment

    assignment = load_assignment(assignment_dir)
    with language(lang, assignment.folder):
        return _grade_submission(root, assignment, lang)


def _grade_submission(root: Path, assignment: Assignment, lang: str) -> dict[str, Any]:
    from grader.grade import grade_batch

    submission = root / "submission"
    with tempfile.TemporaryDirectory(prefix="grader-") as scratch:
        out = Path(scratch)
        outcome = grade_batch([str(submission)], assignment, out, jobs=1, lang=lang)
        off = {name: state for name, state in outcome.host_protections.items() if state != "on"}
        for name, state in off.items():  # Gradescope shows this output to instructors only
            print(f"sandbox protection off on this host: {name} ({state})")
        documents = [
            json.loads(path.read_text(encoding="utf-8"))
            for path in sorted(out.glob("*/results.json"))
        ]
    not_graded = [_not_graded(item.input, item.reason, submission) for item in outcome.not_graded]
    if not documents:
        lines = [
            _(
                "No notebook (.ipynb) or Python script (.py) was found in your submission: "
                "upload your notebook."
            ),
            *not_graded,
        ]
        return {"score": 0.0, "output": "\n".join(lines), "tests": [], **_FOR_INSTRUCTORS}
    best = max(documents, key=lambda document: document["score"])
    others = [_relative(d["source"], submission) for d in documents if d is not best]
    return {
        "score": best["score"],
        "output": _overview(best, others, not_graded, submission),
        "tests": best["tests"],
        **_FOR_INSTRUCTORS,
    }


# The grader's own output (progress, sandbox protections) is for instructors.
_FOR_INSTRUCTORS = {"stdout_visibility": "hidden"}


def _overview(
    best: dict[str, Any], others: list[str], not_graded: list[str], submission: Path
) -> str:
    """The text Gradescope shows above the tests: score, file, what to fix per function, and
    the mistake named in it, if any."""
    lines = [
        _("Score: {score}/{max_score}, for {file}.").format(
            score=points(best["score"]),
            max_score=points(best["max_score"]),
            file=_relative(best["source"], submission),
        )
    ]
    if best.get("selection"):
        lines.append(best["selection"])
    if others:
        also = _("Also graded, not counted (a score no higher): {files}.")
        lines.append(also.format(files=", ".join(others)))
    lines += not_graded
    if best["error"]:
        lines.append(best["error"])
    for name, function in best["functions"].items():
        status = status_in_words(function["status"])
        got = f"{points(function['score'])}/{points(function['max_score'])}"
        said = _("{function}: {status}, {points}.").format(function=name, status=status, points=got)
        lines.append(sentences(said, function["message"]))
        diagnosis = function.get("diagnosis")
        if diagnosis:
            title = _("Likely mistake: {title}.").format(title=diagnosis["title"])
            lines.append("  " + sentences(title, diagnosis["explanation"]))
    return "\n".join(lines)


def _not_graded(source: str, reason: str, submission: Path) -> str:
    """A file of the upload that was not graded, and why (the reason may name it already)."""
    name = _relative(source, submission)
    reason = reason.removeprefix(f"{Path(name).name}: ")
    return _("Not graded: {file} ({reason}).").format(file=name, reason=reason)


def _relative(source: str, submission: Path) -> str:
    path = Path(source)
    return path.relative_to(submission).as_posix() if path.is_relative_to(submission) else source


def main(argv: list[str]) -> int:
    """`python -m grader.exports.gradescope ROOT ASSIGNMENT_DIR [LANG]`, as run_autograder
    calls it."""
    root, assignment_dir = Path(argv[0]), Path(argv[1])
    lang = argv[2] if len(argv) > 2 else ENGLISH
    document = grade_submission(root, assignment_dir, lang)
    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, ensure_ascii=False, indent=1)
    (results / "results.json").write_text(text + "\n", encoding="utf-8")
    print(f"Graded: {points(document['score'])} points; results in {results / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
