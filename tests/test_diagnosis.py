"""Diagnosis: a known mistake is named, in every style a student writes it; nothing else is.

`tests/mistakes/<function>/` holds graded cells of one function, each as a student would write
it, named `<mistake id>-<style>.py`: the mistake of the catalog
(reference_solutions/gradient_checking/mistakes.py) the cell makes, written in one code style.
Files named `not_in_catalog-<what>.py` are wrong in a way the catalog does not know; their
first comment says what is wrong. Each file becomes a notebook with the correct cells of the
other three functions, and the whole corpus is graded in one batch, twice: with every case
(`grader grade`) and with the public cases alone (`grader check`; the probes are public).

- a catalog mistake is named by its id, in both runs; on public cases alone, the few listed in
  PUBLIC_PASSES pass every public case and are named from the probes, before the hidden
  cases fail them;
- the three other functions stay passed, with no diagnosis;
- a mistake outside the catalog fails and is named nothing: a wrong name is worse than none;
- correct submissions of tests/styles carry no diagnosis, and its stubs only `hard_coded`
  when they return a value the notebook shows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import BACKWARD, CHECK, CHECK_N, FORWARD, IMPORTS, ROOT, notebook
from test_styles import CORRECT as STYLE_CORRECT
from test_styles import STUBS as STYLE_STUBS

from grader.grade import grade_batch

HERE = Path(__file__).resolve().parent
MISTAKES = HERE / "mistakes"
STYLES = HERE / "styles"
UNNAMED = "not_in_catalog"
CORRECT_CELLS = {
    "forward_propagation": FORWARD,
    "backward_propagation": BACKWARD,
    "gradient_check": CHECK,
    "gradient_check_n": CHECK_N,
}
FILES = sorted(f"{p.parent.name}/{p.name}" for p in MISTAKES.glob("*/*.py"))
NAMED = [f for f in FILES if not Path(f).name.startswith(UNNAMED + "-")]
UNKNOWN = [f for f in FILES if Path(f).name.startswith(UNNAMED + "-")]

# Mistakes whose function passes every public case: `grader check` names them from the probes
# all the same, on a function it shows as passed. With the hidden cases (`grader grade`) each
# of them fails.
PUBLIC_PASSES = {
    ("forward_propagation", "hard_coded"): "its one public case is (2, 4), the value copied",
    ("backward_propagation", "hard_coded"): "its one public case is (2, 4), the value copied",
    ("gradient_check", "hard_coded"): "the value copied is (2, 4)'s, and the public "
    "wrong-gradient case, for code that calls no backward_propagation, expects noise below 1e-7",
    ("gradient_check", "grad_is_gradapprox"): "it returns 0 at (2, 4), and calling no "
    "backward_propagation, the public wrong-gradient case expects noise below 1e-7 from it",
    ("gradient_check", "one_sided_difference"): "for J = θx a one-sided difference is as exact "
    "as the centred one; only the hidden J = xθ³ case (with ε = 1e-2) is off",
}
# Submissions of tests/styles graded with the corpus: every correct one (no diagnosis anywhere)
# and every stub, with the name its stubbed function gets with every case and with the public
# ones. A value the notebook shows is `hard_coded`; 0, 1e-8 or noise is a value no mutant
# returns, so it is named nothing. Stubs of values the public cases expect pass them, and are
# named from the probes.
STUB_DIAGNOSES: dict[str, tuple[str, str | None, str | None]] = {
    "stub_forward_returns_8.ipynb": ("forward_propagation", "hard_coded", "hard_coded"),
    "stub_backward_returns_2.ipynb": ("backward_propagation", "hard_coded", "hard_coded"),
    "stub_gradient_check_returns_expected_output.ipynb": (
        "gradient_check",
        "hard_coded",
        "hard_coded",
    ),
    "stub_gradient_check_returns_zero.ipynb": ("gradient_check", None, None),
    "stub_gradient_check_n_returns_zero.ipynb": ("gradient_check_n", None, None),
    "stub_gradient_check_n_returns_1e-8.ipynb": ("gradient_check_n", None, None),
    "stub_gradient_check_n_random_noise.ipynb": ("gradient_check_n", None, None),
    "stub_gradient_check_n_returns_shipped_value.ipynb": (
        "gradient_check_n",
        "hard_coded",
        "hard_coded",
    ),
}
STYLE_SAMPLES = [*STYLE_CORRECT, *STUB_DIAGNOSES]


def mistake_id(file: str) -> str:
    return Path(file).name.split("-", 1)[0]


def student(file: str) -> str:
    """The notebook's name in the batch: unique across the function folders."""
    return file.replace("/", "__").removesuffix(".py") + ".ipynb"


def _cells(file: str) -> list[str]:
    function = file.split("/")[0]
    cell = (MISTAKES / file).read_text(encoding="utf-8")
    return [IMPORTS, *(cell if name == function else c for name, c in CORRECT_CELLS.items())]


def _grade(folder: Path, assignment, public_only: bool) -> dict[str, dict]:
    paths = []
    for file in FILES:
        path = folder / student(file)
        path.write_text(notebook(*_cells(file)), encoding="utf-8")
        paths.append(str(path))
    paths += [str(STYLES / name) for name in STYLE_SAMPLES]
    out = folder / "out"
    grade_batch(paths, assignment, out, jobs=2, public_only=public_only)
    graded = {}
    for path in out.glob("*/results.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        graded[Path(result["source"]).name] = result
    return graded


@pytest.fixture(scope="module")
def full(tmp_path_factory, assignment) -> dict[str, dict]:
    return _grade(tmp_path_factory.mktemp("mistakes_full"), assignment, public_only=False)


@pytest.fixture(scope="module")
def public(tmp_path_factory, assignment) -> dict[str, dict]:
    return _grade(tmp_path_factory.mktemp("mistakes_public"), assignment, public_only=True)


def _functions(results: dict[str, dict], name: str) -> dict[str, dict]:
    result = results.get(name)
    assert result is not None, f"{name}: no results.json was written"
    assert result["error"] is None, f"{name}: the file was not read: {result['error']}"
    return result["functions"]


def _named(graded: dict) -> str | None:
    return graded["diagnosis"]["id"] if graded["diagnosis"] else None


def _others_untouched(functions: dict[str, dict], wrong: str) -> list[str]:
    return [
        f"{name} is {graded['status']} with diagnosis {_named(graded)}"
        for name, graded in functions.items()
        if name != wrong and (graded["status"] != "passed" or graded["diagnosis"] is not None)
    ]


def test_every_catalog_mistake_has_two_styles_per_function(assignment):
    ids = {mistake.id for mistake in assignment.mistakes}
    assert UNNAMED not in ids
    for file in NAMED:
        function, id_ = file.split("/")[0], mistake_id(file)
        assert id_ in ids, f"{file}: no mistake {id_!r} in the catalog"
        mistake = next(m for m in assignment.mistakes if m.id == id_)
        assert function in mistake.mutants, f"{file}: {id_} has no mutant for {function}"
    behind = [
        f"{mistake.id} × {function}: {count} file(s)"
        for mistake in assignment.mistakes
        for function in mistake.mutants
        if (count := sum(f.startswith(f"{function}/{mistake.id}-") for f in NAMED)) < 2
    ]
    assert not behind, "every mistake needs two styles per function:\n  " + "\n  ".join(behind)
    assert len(UNKNOWN) >= 6
    for file in UNKNOWN:
        first = (MISTAKES / file).read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# Wrong, not in the catalog: "), f"{file}: say what is wrong"


@pytest.mark.parametrize("file", NAMED)
def test_a_catalog_mistake_is_named(full, file):
    function, id_ = file.split("/")[0], mistake_id(file)
    functions = _functions(full, student(file))
    graded = functions[function]
    assert graded["status"] == "failed", f"{file}: {function} is {graded['status']}"
    assert _named(graded) == id_, f"{file}: {function} is named {_named(graded)}, not {id_}"
    assert set(graded["diagnosis"]) == {"id", "title", "explanation"}
    assert not (problems := _others_untouched(functions, function)), f"{file}: {problems}"


@pytest.mark.parametrize("file", NAMED)
def test_a_catalog_mistake_is_named_by_grader_check(public, file):
    function, id_ = file.split("/")[0], mistake_id(file)
    functions = _functions(public, student(file))
    graded = functions[function]
    status = "passed" if (function, id_) in PUBLIC_PASSES else "failed"
    assert graded["status"] == status, f"{file}: {function} is {graded['status']}"
    assert _named(graded) == id_, f"{file}: {function} is named {_named(graded)}, not {id_}"
    assert not (problems := _others_untouched(functions, function)), f"{file}: {problems}"


@pytest.mark.parametrize("file", UNKNOWN)
def test_a_mistake_outside_the_catalog_is_named_nothing(full, public, file):
    function = file.split("/")[0]
    functions = _functions(full, student(file))
    graded = functions[function]
    assert graded["status"] == "failed", f"{file}: {function} is {graded['status']}"
    assert graded["diagnosis"] is None, f"{file}: {function} is named {_named(graded)}"
    assert not (problems := _others_untouched(functions, function)), f"{file}: {problems}"
    graded = _functions(public, student(file))[function]
    assert graded["diagnosis"] is None, f"{file}, public only: named {_named(graded)}"


def test_every_stub_of_the_styles_corpus_is_expected_here():
    assert set(STUB_DIAGNOSES) == set(STYLE_STUBS)
    assert all(STYLE_STUBS[name][0] == STUB_DIAGNOSES[name][0] for name in STUB_DIAGNOSES)


@pytest.mark.parametrize("name", STYLE_SAMPLES)
@pytest.mark.parametrize("run", ["full", "public"])
def test_submissions_of_the_styles_corpus(request, run, name):
    functions = _functions(request.getfixturevalue(run), name)
    named = {function: _named(graded) for function, graded in functions.items()}
    want = dict.fromkeys(functions)
    if name in STUB_DIAGNOSES:
        function, in_full, in_public = STUB_DIAGNOSES[name]
        want[function] = in_full if run == "full" else in_public
    assert named == want, f"{name} ({run}): diagnoses {named}, expected {want}"


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> dict[str, dict]:
    """The corpus checked against a released bundle, as a student runs `grader check` there:
    no reference solution, the mutants' outcomes recorded in public_cases.json."""
    from grader.release import release
    from grader.spec import load_released

    folder = tmp_path_factory.mktemp("mistakes_released")
    release(ROOT / "reference_solutions" / "gradient_checking", folder / "bundle")
    return _grade(folder, load_released(folder / "bundle"), public_only=True)


def test_a_released_bundle_names_what_the_instructor_s_grader_names_or_nothing(public, released):
    """Without the models' answers or the calls a function makes, a bundle can tell fewer
    mistakes apart: it may name nothing where grader check names one, never another one."""
    named_there = 0
    for file in FILES:
        function = file.split("/")[0]
        here = _named(_functions(released, student(file))[function])
        there = _named(_functions(public, student(file))[function])
        assert here in (there, None), f"{file}: the bundle names {here}, the grader {there}"
        named_there += here is not None
    for name in STYLE_SAMPLES:
        for function, graded in _functions(released, name).items():
            assert _named(graded) in (_named(_functions(public, name)[function]), None), name
    assert named_there >= len(NAMED) // 2, f"only {named_there} of {len(NAMED)} named"


@pytest.mark.parametrize("public_only", [False, True])
def test_every_mutant_is_named_as_its_own_mistake(assignment, public_only):
    """The catalog tells its mistakes apart on the calls the grader makes: a student who
    behaves exactly like a mutant (calling every function a model answers) gets its id."""
    from grader.diagnose import _mutant_outcome, diagnose
    from grader.sandbox.pool import CallResult
    from grader.score import ordered_calls

    misnamed = []
    for mistake in assignment.mistakes:
        for function, variants in mistake.mutants.items():
            calls = ordered_calls(assignment, function, public_only)
            for index, variant in enumerate(variants):
                results = []
                for call in calls:
                    answered = frozenset(assignment.models.get(call.model, {}))
                    value, made = _mutant_outcome(assignment, variant, call, answered)
                    results.append(
                        CallResult(value=value, called=answered if made else frozenset())
                    )
                named = diagnose(assignment, function, calls, results)
                if named is None or named.id != mistake.id:
                    misnamed.append(f"{mistake.id} #{index} of {function}: {named and named.id}")
    assert misnamed == []
