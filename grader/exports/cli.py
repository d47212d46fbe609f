"""`grader export canvas|moodle|gradescope`: registered on the `grader` command's subparsers.

Importing this module costs argparse only, so `grader check` starts as fast as before; each
export loads what it needs when it runs. Exit codes: 0 written, 2 for input that cannot be used
(one line on stderr says what to fix).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from grader.i18n import ENGLISH, LANGUAGES

if TYPE_CHECKING:
    from grader.exports.results import ClassResults
    from grader.exports.table import FillReport

OUT_HELP = "the output folder of `grader grade` (its */results.json are read)"


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register `export` and its `canvas`, `moodle` and `gradescope` commands."""
    export = subparsers.add_parser(
        "export",
        help="hand grades back in an LMS's own format",
        description="Write a class's grades in the format an LMS imports, or build a Gradescope "
        "autograder. Only results documents are read, so any output folder can be exported.",
    )
    lms = export.add_subparsers(dest="lms", required=True, metavar="{canvas,moodle,gradescope}")

    canvas = lms.add_parser(
        "canvas",
        help="fill a column of the gradebook CSV exported from Canvas",
        description="Fill one assignment column of Canvas's gradebook export, matching rows by "
        "the ID column; every other cell, and every student without a result, stays as it was.",
    )
    canvas.add_argument("out", metavar="OUT", help=OUT_HELP)
    canvas.add_argument("--gradebook", required=True, help="the CSV exported from Canvas")
    canvas.add_argument(
        "--column", required=True, help='the assignment column to fill, e.g. "Lab 3 (12345)"'
    )
    canvas.add_argument("--output", required=True, help="where to write the filled CSV")
    canvas.set_defaults(handler=_canvas)

    moodle = lms.add_parser(
        "moodle",
        help="fill Moodle's offline grading worksheet",
        description="Fill Grade and Feedback comments of the assignment's offline grading "
        "worksheet, matching rows by Identifier (Participant N); every other cell, and every "
        "participant without a result, stays as it was.",
    )
    moodle.add_argument("out", metavar="OUT", help=OUT_HELP)
    moodle.add_argument("--worksheet", required=True, help="the worksheet Moodle downloaded")
    moodle.add_argument("--output", required=True, help="where to write the filled worksheet")
    moodle.add_argument(
        "--lang",
        choices=LANGUAGES,
        default=ENGLISH,
        help="language of the feedback comments' words: en (the default) or zh_CN",
    )
    moodle.set_defaults(handler=_moodle)

    gradescope = lms.add_parser(
        "gradescope",
        help="build a Gradescope autograder (zip) that grades with this grader",
        description="Build autograder.zip: setup.sh installs the grader's dependencies, "
        "run_autograder grades each submission into Gradescope's results.json.",
    )
    gradescope.add_argument(
        "assignment_dir",
        metavar="ASSIGNMENT_DIR",
        help="the instructor's assignment folder (with assignment.py)",
    )
    gradescope.add_argument("--output", required=True, help="the zip to write")
    gradescope.add_argument(
        "--lang",
        choices=LANGUAGES,
        default=ENGLISH,
        help="language of what students read of their grade: en (the default) or zh_CN",
    )
    gradescope.set_defaults(handler=_gradescope)


def _canvas(args: argparse.Namespace) -> int:
    from grader.exports.canvas import fill_canvas

    def fill(results: ClassResults) -> FillReport:
        return fill_canvas(results, Path(args.gradebook), args.column, Path(args.output))

    return _fill("canvas", args, fill)


def _moodle(args: argparse.Namespace) -> int:
    from grader.exports.moodle import fill_moodle

    def fill(results: ClassResults) -> FillReport:
        return fill_moodle(results, Path(args.worksheet), Path(args.output), args.lang)

    return _fill("moodle", args, fill)


def _fill(lms: str, args: argparse.Namespace, fill: Callable[[ClassResults], FillReport]) -> int:
    """Read the class, fill the LMS's file, and say what was and was not written."""
    from grader.exports import ExportError
    from grader.exports.results import read_class

    try:
        results = read_class(Path(args.out), lms)
        report = fill(results)
    except ExportError as problem:
        print(f"grader export {lms}: {problem}", file=sys.stderr)
        return 2
    for unusable in results.unusable:
        print(f"warning: left out {unusable}", file=sys.stderr)
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    if report.missing:
        print(
            f"{len(report.missing)} student(s) with a result are not in {lms.title()}'s file, "
            f"so not written: {', '.join(report.missing)}",
            file=sys.stderr,
        )
    print(
        f"Wrote {args.output}: {report.filled} student(s) filled, {report.without_result} "
        f"without a result left as they were, {len(report.missing)} with a result not in the "
        "file."
    )
    return 0


def _gradescope(args: argparse.Namespace) -> int:
    from grader.exports import ExportError
    from grader.exports.gradescope import build_bundle

    try:
        bundle = build_bundle(Path(args.assignment_dir), Path(args.output), args.lang)
    except ExportError as problem:
        print(f"grader export gradescope: {problem}", file=sys.stderr)
        return 2
    print(bundle.summary())
    return 0
