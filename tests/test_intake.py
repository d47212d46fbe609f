"""Intake: who each file belongs to, in the layouts LMSs download, and which file is graded.

Real folders and real zips, named as Canvas, Moodle and Gradescope name them; nothing here is
graded (see test_intake_class.py for that), so these run in milliseconds.
"""

from __future__ import annotations

import io
import unicodedata
import zipfile
from pathlib import Path

import pytest

from grader.intake.choose import choose
from grader.intake.gather import Intake, MissingInput, gather
from grader.intake.identity import Layout, Student, folder_name
from grader.intake.roster import RosterError, load_roster
from tests.conftest import CORRECT, FORWARD, IMPORTS, notebook

FUNCTIONS = ("forward_propagation", "backward_propagation", "gradient_check", "gradient_check_n")
SUPPORT = ("gc_utils", "testCases")
FULL = notebook(*CORRECT)
DRAFT = notebook(IMPORTS, FORWARD)  # defines one graded function of four
GC_UTILS = "def sigmoid(x):\n    return x\n"


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write `files` (relative path → content) under `root`; returns `root`."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def zipped(files: dict[str, str | bytes]) -> bytes:
    """A zip holding `files` (member name → content), as an LMS would serve it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def students(intake: Intake) -> dict[str, Student]:
    return {planned.folder: planned.student for planned in intake.planned}


def reasons(intake: Intake) -> dict[str, str]:
    """Each skipped input's last path component (or member name), with its reason."""
    return {item.input.replace("!", "/").rsplit("/", 1)[-1]: item.reason for item in intake.skipped}


def graded_names(intake: Intake) -> dict[str, str]:
    """Each student's folder and the file chosen to be graded."""
    return {
        planned.folder: Path(choose(planned, FUNCTIONS).submission.source.replace("!", "/")).name
        for planned in intake.planned
    }


CANVAS = {
    "chenalice_12345_987600_Gradient_Checking.ipynb": DRAFT,
    "chenalice_LATE_12345_987654_Gradient_Checking-1.ipynb": FULL,
    "chenalice_12345_987601_gc_utils.py": GC_UTILS,
    "王小明_23456_987700_submission.ipynb": FULL,
    "anon_7aX3b_987800_hw.ipynb": FULL,
    "muellerzoe_34567_987900_notes.txt": "my notes",
    "muellerzoe_34567_987901_Gradient_Checking.IPYNB": FULL,
}


def test_canvas_download_gives_user_ids_names_lateness_and_attempts(tmp_path):
    write(tmp_path / "canvas", CANVAS)
    intake = gather([str(tmp_path / "canvas")], SUPPORT)
    assert students(intake) == {
        "canvas-12345": Student("12345", "chenalice", Layout.CANVAS),
        "canvas-23456": Student("23456", "王小明", Layout.CANVAS),
        "canvas-34567": Student("34567", "muellerzoe", Layout.CANVAS),
        "canvas-anon_7aX3b": Student("anon_7aX3b", None, Layout.CANVAS),
    }
    alice = next(p for p in intake.planned if p.folder == "canvas-12345")
    chosen = choose(alice, FUNCTIONS)
    # The resubmission (`-1`, later attachment id) is graded even though the first defines less.
    assert chosen.submission.source.endswith(
        "chenalice_LATE_12345_987654_Gradient_Checking-1.ipynb"
    )
    assert chosen.late is True and chosen.selection is None
    assert [(Path(a.source).name, a.graded) for a in chosen.attempts] == [
        ("chenalice_12345_987600_Gradient_Checking.ipynb", False),
        ("chenalice_LATE_12345_987654_Gradient_Checking-1.ipynb", True),
    ]
    assert "earlier attempt of Gradient_Checking-1.ipynb" in chosen.skipped[0].reason
    assert chosen.provenance()["late"] is True
    skipped = reasons(intake)
    assert "support module" in skipped["chenalice_12345_987601_gc_utils.py"]
    assert "not a notebook" in skipped["muellerzoe_34567_987900_notes.txt"]
    on_time = next(p for p in intake.planned if p.folder == "canvas-23456")
    assert choose(on_time, FUNCTIONS).late is False


def test_a_canvas_zip_given_directly_is_the_same_class(tmp_path):
    (tmp_path / "submissions.zip").write_bytes(zipped(CANVAS))
    from_zip = gather([str(tmp_path / "submissions.zip")], SUPPORT)
    write(tmp_path / "canvas", CANVAS)
    from_folder = gather([str(tmp_path / "canvas")], SUPPORT)
    assert students(from_zip) == students(from_folder)
    assert graded_names(from_zip) == graded_names(from_folder)
    source = next(p for p in from_zip.planned if p.folder == "canvas-23456").candidates[0]
    assert (
        source.found.source
        == f"{tmp_path / 'submissions.zip'}!王小明_23456_987700_submission.ipynb"
    )
    from_zip.close()


def test_a_flat_folder_is_not_taken_for_canvas_by_one_name(tmp_path):
    write(tmp_path / "flat", {"lab_1_2_final.ipynb": FULL, "alice.ipynb": FULL, "bob.ipynb": FULL})
    assert set(students(gather([str(tmp_path / "flat")], SUPPORT))) == {
        "lab_1_2_final",
        "alice",
        "bob",
    }


MOODLE = {
    "Zoë Müller_123456_assignsubmission_file_/Gradient_Checking.ipynb": FULL,
    "Zoë Müller_123456_assignsubmission_file_/gc_utils.py": GC_UTILS,
    "Zoë Müller_123456_assignsubmission_file_/testCases.py": "x = 1\n",
    "Zoë Müller_123456_assignsubmission_file_/draft.ipynb": DRAFT,
    "王小明_234567_assignsubmission_file/submission.ipynb": FULL,  # recent: no trailing _
    "Participant_345678_assignsubmission_file_/hw.ipynb": FULL,  # blind marking
    "Alice Chen_456789_assignsubmission_file_hw.ipynb": FULL,  # an older, flattened download
    "Alice Chen_456789_assignsubmission_onlinetext_/onlinetext.html": "<p>hi</p>",
}


def test_moodle_download_gives_participant_ids_and_full_names(tmp_path):
    write(tmp_path / "moodle", MOODLE)
    intake = gather([str(tmp_path / "moodle")], SUPPORT)
    assert students(intake) == {
        "moodle-123456": Student("123456", "Zoë Müller", Layout.MOODLE),
        "moodle-234567": Student("234567", "王小明", Layout.MOODLE),
        "moodle-345678": Student("345678", None, Layout.MOODLE),
        "moodle-456789": Student("456789", "Alice Chen", Layout.MOODLE),
    }
    assert (
        graded_names(intake)["moodle-456789"] == "Alice Chen_456789_assignsubmission_file_hw.ipynb"
    )
    zoe = next(p for p in intake.planned if p.folder == "moodle-123456")
    chosen = choose(zoe, FUNCTIONS)
    assert chosen.submission.source.endswith("/Gradient_Checking.ipynb")
    assert chosen.selection == (
        "Graded Gradient_Checking.ipynb, the file of yours that defines the most of the 4 graded "
        "functions (4; draft.ipynb defines 1 graded function)."
    )
    (draft,) = chosen.skipped
    assert draft.input.endswith("/draft.ipynb") and draft.student == zoe.student
    assert "Gradient_Checking.ipynb of the same student was graded instead" in draft.reason
    skipped = reasons(intake)
    assert (
        "support module" in skipped["gc_utils.py"] and "support module" in skipped["testCases.py"]
    )
    assert "not a notebook" in skipped["onlinetext.html"]


TOP = "Week 3 Gradient Checking-42"  # Moodle's zip holds the participants' folders in one


def test_moodle_zip_with_a_top_folder_and_student_zips_inside(tmp_path):
    inner = zipped({"work/Gradient_Checking.ipynb": FULL, "work/gc_utils.py": GC_UTILS})
    (tmp_path / "moodle.zip").write_bytes(
        zipped(
            {
                f"{TOP}/王小明_234567_assignsubmission_file_/work.zip": inner,
                f"{TOP}/Zoë Müller_123456_assignsubmission_file_/hw.ipynb": FULL,
            }
        )
    )
    intake = gather([str(tmp_path / "moodle.zip")], SUPPORT)
    assert set(students(intake)) == {"moodle-234567", "moodle-123456"}
    graded = choose(intake.planned[1], FUNCTIONS).submission
    assert graded.source.endswith("work.zip!work/Gradient_Checking.ipynb")
    assert graded.error is None and len(graded.cells) == len(CORRECT)
    assert "support module" in reasons(intake)["gc_utils.py"]
    intake.close()


GRADESCOPE_METADATA = """---
submission_111:
  :submitters:
  - :name: "Zo\\xEB M\\u00FCller"
    :sid: '100'
    :email: zoe@example.edu
  :created_at: 2026-11-20 18:10:32.546149000 -08:00
  :score:
  :history: []
submission_222:
  :submitters:
  - :name: 王小明
    :sid: '200'
    :email: wang@example.edu
  - :name: Pair Two  # a group submission
    :sid: 201
    :email: two@example.edu
submission_333:
  :submitters:
  - :name: No Sid
    :email: nosid@example.edu
"""


GRADESCOPE = {
    "assignment_9_export/submission_metadata.yml": GRADESCOPE_METADATA,
    "assignment_9_export/submission_111/Gradient_Checking.ipynb": FULL,
    "assignment_9_export/submission_222/hw.ipynb": FULL,
    "assignment_9_export/submission_222/gc_utils.py": GC_UTILS,
    "assignment_9_export/submission_333/hw.py": "def f():\n    pass\n",
    "assignment_9_export/submission_444/hw.ipynb": FULL,  # not in the metadata
}


def test_gradescope_export_gives_its_ids_and_names(tmp_path):
    (tmp_path / "export.zip").write_bytes(zipped(GRADESCOPE))
    unpacked = gather([str(write(tmp_path / "unpacked", GRADESCOPE))], SUPPORT)
    intake = gather([str(tmp_path / "export.zip")], SUPPORT)
    assert students(unpacked) == students(intake)
    no_sid = "nosid@example.edu"
    assert students(intake) == {
        "gradescope-100": Student("100", "Zoë Müller", Layout.GRADESCOPE),
        "gradescope-200": Student("200", "王小明 & Pair Two", Layout.GRADESCOPE),
        folder_name(Layout.GRADESCOPE, no_sid): Student(no_sid, "No Sid", Layout.GRADESCOPE),
        "submission_444": Student("submission_444", None, Layout.FILES),
    }
    assert "read for the names" in reasons(intake)["submission_metadata.yml"]
    intake.close()


def test_folders_per_student_flat_files_and_what_is_never_a_student(tmp_path):
    write(
        tmp_path / "downloads",
        {
            "class/alice/hw.ipynb": FULL,
            "class/alice/gc_utils.py": GC_UTILS,
            "class/王小明/submission.IPYNB": FULL,
            "class/bob.ipynb.txt": FULL,
            "class/carol.Py": "def f():\n    pass\n",
            "class/.ipynb_checkpoints/bob-checkpoint.ipynb": FULL,
            "class/__MACOSX/._bob.ipynb": "resource fork",
            "class/.DS_Store": "x",
            "class/README.md": "# hello",
            "class/index.html.ipynb": FULL,
        },
    )
    intake = gather([str(tmp_path / "downloads")], SUPPORT)  # `class/` is a wrapper: unwrapped
    folders = students(intake)
    assert set(folders) == {
        "alice",
        "王小明",
        "bob",
        "carol",
        "index_html-" + folders_hash(folders),
    }
    assert folders["王小明"] == Student("王小明", None, Layout.FILES)
    assert not any("." in folder for folder in folders)  # never a class file's name
    skipped = reasons(intake)
    assert "checkpoints" in skipped[".ipynb_checkpoints"]
    assert "__MACOSX" in skipped["__MACOSX"]
    assert "hidden file" in skipped[".DS_Store"]
    assert "not a notebook" in skipped["README.md"]
    assert "support module" in skipped["gc_utils.py"]


def folders_hash(folders: dict[str, Student]) -> str:
    (folder,) = (name for name in folders if name.startswith("index_html-"))
    return folder.removeprefix("index_html-")


def test_output_folders_do_not_move_when_students_come_and_go(tmp_path):
    everyone = {
        "alice.ipynb": FULL,
        "Alice.ipynb": FULL,
        "Zoë Müller.ipynb": FULL,
        "Zoë.Müller.ipynb": FULL,
        "王小明.ipynb": FULL,
        "陈静.ipynb": FULL,
        "a b.ipynb": FULL,
        "a_b.ipynb": FULL,
    }
    full = students(gather([str(write(tmp_path / "all", everyone))], SUPPORT))
    assert len(full) == len(everyone)  # no two students share a folder
    for left_out in everyone:
        fewer = {name: text for name, text in everyone.items() if name != left_out}
        some = students(gather([str(write(tmp_path / left_out, fewer))], SUPPORT))
        assert some == {folder: who for folder, who in full.items() if folder in some}
        assert len(some) == len(fewer)


def test_a_name_written_in_nfd_by_macos_is_the_same_student(tmp_path):
    nfd = unicodedata.normalize("NFD", "Zoë Müller_123456_assignsubmission_file_")
    (tmp_path / "first.zip").write_bytes(zipped({f"{nfd}/hw.ipynb": DRAFT}))
    write(tmp_path / "late", {"Zoë Müller_123456_assignsubmission_file_/hw.ipynb": FULL})
    intake = gather([str(tmp_path / "first.zip"), str(tmp_path / "late")], SUPPORT)
    (planned,) = intake.planned
    assert planned.student == Student("123456", "Zoë Müller", Layout.MOODLE)
    assert len(planned.candidates) == 2
    intake.close()


def test_a_late_file_given_alone_keeps_its_lms_identity(tmp_path):
    write(tmp_path, {"Zoë Müller_123456_assignsubmission_file_/hw.ipynb": FULL})
    write(tmp_path, {"chenalice_LATE_12345_987654_hw.ipynb": FULL})
    moodle = gather([str(tmp_path / "Zoë Müller_123456_assignsubmission_file_" / "hw.ipynb")])
    canvas = gather([str(tmp_path / "chenalice_LATE_12345_987654_hw.ipynb")])
    assert list(students(moodle)) == ["moodle-123456"]
    assert list(students(canvas)) == ["canvas-12345"]


def test_a_missing_path_is_refused_before_anything_is_read(tmp_path):
    write(tmp_path, {"a.ipynb": FULL})
    with pytest.raises(MissingInput, match="nope"):
        gather([str(tmp_path / "a.ipynb"), str(tmp_path / "nope")])


def test_a_roster_names_students_and_a_bad_one_says_why(tmp_path):
    roster_file = tmp_path / "roster.csv"
    roster_file.write_text(
        "\ufeffID,Name,Email\n345678,Ana Costa,ana@example.edu\nalice,Alice Chen,a@x\n",
        encoding="utf-8",
    )
    roster = load_roster(roster_file)
    write(tmp_path / "moodle", MOODLE)
    write(tmp_path / "folders", {"alice/hw.ipynb": FULL, "bob/hw.ipynb": FULL})
    named = students(gather([str(tmp_path / "moodle"), str(tmp_path / "folders")], SUPPORT, roster))
    assert named["moodle-345678"].name == "Ana Costa"  # blind marking, named by the roster
    assert named["alice"].name == "Alice Chen" and named["bob"].name is None
    assert named["moodle-123456"].name == "Zoë Müller"
    (tmp_path / "bad.csv").write_text("who,what\n1,2\n", encoding="utf-8")
    with pytest.raises(RosterError, match="`id` and a `name` column"):
        load_roster(tmp_path / "bad.csv")


@pytest.mark.parametrize(
    ("student_id", "folder"),
    [
        ("alice", "alice"),
        ("Zoë Müller", "Zoë Müller"),
        ("王小明", "王小明"),
        ("हिन्दी", "हिन्दी"),  # combining marks are letters' parts
        ("index.html", None),
        ("../../etc", None),
        ("canvas-12345", None),  # a file named like a Canvas folder is not that student
        ("CON", None),
        ("", None),
    ],
)
def test_folder_names_are_the_id_where_safe_else_safe_and_hashed(student_id, folder):
    made = folder_name(Layout.FILES, student_id)
    if folder is not None:
        assert made == folder
    else:
        assert made != student_id and "." not in made and "/" not in made
        assert len(made.rsplit("-", 1)[1]) == 12
        assert made == folder_name(Layout.FILES, student_id)  # the same every time


def test_the_output_folder_inside_the_class_folder_is_not_read(tmp_path):
    write(tmp_path / "class", {"alice.ipynb": FULL, "reports/alice/results.json": "{}"})
    write(tmp_path / "class", {"reports/alice/report.html": "<p>", "reports/index.html": "<p>"})
    intake = gather([str(tmp_path / "class")], SUPPORT, output=tmp_path / "class" / "reports")
    assert list(students(intake)) == ["alice"]
    assert [item.reason for item in intake.skipped] == [
        "the output folder (--out): its reports are not read"
    ]
