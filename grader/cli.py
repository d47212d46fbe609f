"""The `grader` command line: it only parses arguments and composes the pipeline's stages."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from grader.exports.cli import add_commands as add_export_commands
from grader.i18n import ENGLISH, LANGUAGES
from grader.sandbox.launch import THREAD_VARIABLES
from grader.service.cli import add_commands as add_service_commands

if TYPE_CHECKING:
    from collections.abc import Iterator

    from grader.grade import Executor
    from grader.spec import Assignment


def _assignment(path: str | None):  # noqa: ANN202 - lazy import keeps `grader check` fast
    from grader.spec import default_assignment_dir, load_assignment

    return load_assignment(Path(path) if path else default_assignment_dir())


def _grade(args: argparse.Namespace) -> int:
    from grader.cluster import cluster_address
    from grader.sandbox.launch import default_size, discard, start_worker

    cluster = cluster_address(args.cluster) if args.paths else None
    # The workers load numpy while this process loads the rest and the assignment; a run that
    # only rebuilds the class files, or grades on a cluster, needs none.
    local = args.paths and not cluster
    started = [start_worker() for _ in range(args.jobs or default_size())] if local else []
    try:
        from grader.cluster import ClusterUnavailable
        from grader.grade import NoHiddenCases, OutputUnusable, grade_batch
        from grader.intake.gather import MissingInput
        from grader.intake.roster import RosterError, load_roster
        from grader.progress import Progress
        from grader.report import result_folders
        from grader.sandbox.pool import SandboxUnavailable
        from grader.spec import AssignmentError

        out = Path(args.out)
        if not args.paths and not any(True for _ in result_folders(out)):
            print(
                f"grader grade: nothing to grade: no paths were given and {out} holds no "
                "results to rebuild the class files from.",
                file=sys.stderr,
            )
            return 1
        if args.templates:
            from jinja2 import TemplateError

            from grader.pages import use_templates

            try:
                use_templates(Path(args.templates))
            except (NotADirectoryError, TemplateError) as problem:
                print(f"grader grade: --templates: {problem}", file=sys.stderr)
                return 2
        try:
            assignment = _assignment(args.assignment)
            roster = load_roster(Path(args.roster)) if args.roster else None
            # What is loaded now lives as long as the process: the cyclic collector can skip it,
            # and, with a batch's garbage being mostly acyclic, run a tenth as often.
            gc.freeze()
            gc.set_threshold(10_000, 10, 10)
            with _executor(cluster, assignment, args) as executor:
                outcome = grade_batch(
                    args.paths,
                    assignment,
                    out,
                    len(started) or None,
                    args.force,
                    args.require_isolation,
                    Progress(),
                    started,
                    args.public_only,
                    roster,
                    executor,
                    args.lang,
                )
        except (
            FileNotFoundError,
            AssignmentError,
            NoHiddenCases,
            SandboxUnavailable,
            MissingInput,
            OutputUnusable,
            RosterError,
            ClusterUnavailable,
        ) as problem:
            print(f"grader grade: {problem}", file=sys.stderr)
            return 2
    finally:
        for process in started:
            discard(process)
    off = {name: state for name, state in outcome.host_protections.items() if state != "on"}
    if off:
        reasons = "; ".join(f"{name} ({state})" for name, state in off.items())
        print(f"warning: sandbox protections off on this host: {reasons}", file=sys.stderr)
    _print_not_graded(outcome.not_graded)
    if args.paths:
        print(
            f"Graded {outcome.graded} submission(s), {outcome.skipped} unchanged and skipped, "
            f"{outcome.submissions} in all; {len(outcome.not_graded)} input(s) not graded."
        )
    print(
        f"Class: {outcome.class_size} result(s) in {out}; "
        f"class mean {outcome.mean:.1f} / {outcome.max_score:g}."
    )
    if outcome.class_size:
        print(
            f"Reports: {out / 'index.html'} · gradebook: {out / 'gradebook.csv'} · "
            f"summary: {out / 'summary.json'}"
        )
    if args.paths and not outcome.submissions:
        print(
            f"grader grade: nothing to grade in {', '.join(args.paths)}: no notebook (.ipynb) "
            "or script (.py) belongs to a student there.",
            file=sys.stderr,
        )
        return 1
    return 0


@contextmanager
def _executor(
    cluster: str | None, assignment: Assignment, args: argparse.Namespace
) -> Iterator[Executor | None]:
    """The Dask executor for `--cluster`, or None: the batch then grades on local workers."""
    if cluster is None:
        yield None
        return
    from grader.cluster.executor import open_cluster

    with open_cluster(
        cluster, assignment, args.public_only, args.require_isolation, lang=args.lang
    ) as executor:
        yield executor


_SHOWN_NOT_GRADED = 20  # lines of the command's output; summary.json lists them all


def _print_not_graded(not_graded: tuple) -> None:
    """The inputs not graded, each with why; the first few, then a count."""
    if not not_graded:
        return
    print(f"Not graded ({len(not_graded)}):")
    for item in not_graded[:_SHOWN_NOT_GRADED]:
        print(f"  {item.input}: {item.reason}")
    if len(not_graded) > _SHOWN_NOT_GRADED:
        print(f"  … and {len(not_graded) - _SHOWN_NOT_GRADED} more, listed in summary.json.")


def _isolation(args: argparse.Namespace) -> int:
    from grader.sandbox.harness import MODULE_WATCH, ModuleWatch
    from grader.sandbox.isolation import protections

    found = {**protections(), MODULE_WATCH: ModuleWatch().exactness()}
    width = max(map(len, found))
    for name, state in found.items():
        print(f"{name:<{width}}  {state}")
    return 0 if all(state == "on" for state in found.values()) else 1


def _check(args: argparse.Namespace) -> int:
    from grader.check import (
        UNUSABLE,
        CheckError,
        protections_note,
        render,
        run_check,
        to_json,
        wants_color,
    )
    from grader.i18n import _, language
    from grader.sandbox.pool import SandboxUnavailable

    try:
        outcome = run_check(args.notebook, args.assignment, args.lang)
    except CheckError as problem:
        print(f"grader check: {problem}", file=sys.stderr)
        return UNUSABLE
    except SandboxUnavailable as problem:
        with language(args.lang):
            said = _("the sandbox could not run: {problem}").format(problem=problem)
        print(f"grader check: {said}", file=sys.stderr)
        return 1
    if args.json:
        print(to_json(outcome))
        note = protections_note(outcome)
        if note:
            print(note, file=sys.stderr)
    else:
        sys.stdout.write(render(outcome, wants_color(sys.stdout, os.environ)))
    return outcome.exit_code


def _release(args: argparse.Namespace) -> int:
    from grader.release import ReleaseError, UsageError, release

    try:
        bundle = release(Path(args.assignment_dir), Path(args.out))
    except UsageError as problem:
        print(f"grader release: {problem}", file=sys.stderr)
        return 2
    except ReleaseError as problem:
        print(f"grader release: {problem}", file=sys.stderr)
        return 1
    print(bundle.summary())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    grade = commands.add_parser("grade", help="grade a batch of submissions into reports")
    grade.add_argument(
        "paths",
        nargs="*",
        help="notebooks, scripts, zips, LMS downloads or folders of them; none rebuilds the "
        "class files in --out",
    )
    grade.add_argument("--assignment", help="assignment folder (default: Gradient Checking)")
    grade.add_argument(
        "--out", default="reports", help="the class's output folder (default: reports)"
    )
    grade.add_argument("--roster", help="CSV with id, name (and email) columns: students' names")
    grade.add_argument("--jobs", type=int, help="parallel workers (default: all cores)")
    grade.add_argument("--force", action="store_true", help="re-grade unchanged submissions")
    grade.add_argument(
        "--require-isolation",
        action="store_true",
        help="refuse to run unless every sandbox protection is available",
    )
    grade.add_argument(
        "--public-only",
        action="store_true",
        help="grade on the public cases alone (required for a released bundle); every result "
        "says so",
    )
    grade.add_argument(
        "--cluster",
        help="grade on a Dask cluster: tcp://HOST:PORT of its scheduler, or local:N to start "
        "N worker processes here (default: $DASK_SCHEDULER_ADDRESS, else this machine's cores)",
    )
    _add_language(grade, "the reports, the class summary and results.json's texts")
    grade.add_argument(
        "--templates",
        metavar="DIR",
        help="Jinja2 templates (report.html, summary.html, _parts.html, base.css, ...) used "
        "instead of ours, file by file",
    )
    grade.set_defaults(handler=_grade)

    isolation = commands.add_parser("isolation", help="report the sandbox protections of this host")
    isolation.set_defaults(handler=_isolation)

    check = commands.add_parser(
        "check",
        help="run the public cases on one notebook before submitting it",
        description="Run the public cases on one notebook, in the sandbox. Exit code: 0 when "
        "every public case passes, 1 otherwise, 2 for a usage error or an unreadable file.",
    )
    check.add_argument("notebook", help="the notebook (.ipynb) or script (.py) to check")
    check.add_argument(
        "--assignment",
        help="instructor folder or released bundle (default: Gradient Checking)",
    )
    check.add_argument("--json", action="store_true", help="print the result as results.json")
    _add_language(check, "the check's output")
    check.set_defaults(handler=_check)

    release = commands.add_parser(
        "release",
        help="build the student bundle: blank notebook, support code and public cases",
    )
    release.add_argument("assignment_dir", help="instructor folder (with assignment.py)")
    release.add_argument("--out", required=True, help="new or empty folder for the bundle")
    release.set_defaults(handler=_release)

    add_service_commands(commands)
    add_export_commands(commands)
    return parser


def _add_language(command: argparse.ArgumentParser, what: str) -> None:
    """--lang: the same whatever the environment's locale, so that output is reproducible."""
    command.add_argument(
        "--lang",
        choices=LANGUAGES,
        default=ENGLISH,
        help=f"language of {what}: en (English, the default) or zh_CN (Simplified Chinese)",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # This process's numpy works on a few numbers at a time: BLAS threads would only spin,
    # on cores the sandbox needs. Set before numpy loads; the workers get their own.
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, "1")
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("Interrupted; finished results are kept and a re-run resumes.", file=sys.stderr)
        return 130


def run() -> NoReturn:
    """The `grader` command: `main`, then an exit without tearing the interpreter down.

    Every file is written and closed by then; freeing a batch's heap object by object would
    only keep the caller waiting (a quarter of a second after grading 400 notebooks).
    """
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # e.g. piped into `head`, which has stopped reading
            pass
    os._exit(code)


if __name__ == "__main__":
    run()
