"""Zips as LMSs serve them and as students make them: hostile members are refused one by one,
the rest is graded, member names in any encoding are decoded, and nothing is ever written
outside the output folder."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from grader.grade import grade_batch
from grader.intake.gather import gather
from tests.conftest import CORRECT, notebook
from tests.test_intake import FULL, SUPPORT, reasons, students, zipped


def build(members: list[tuple[zipfile.ZipInfo | str, bytes | str]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, content in members:
            archive.writestr(info, content)
    return buffer.getvalue()


def link(name: str, target: str) -> tuple[zipfile.ZipInfo, str]:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix, where the mode says it is a link
    info.external_attr = 0o120777 << 16
    return info, target


def encrypted(archive: bytes, name: str) -> bytes:
    """The archive with a member marked as encrypted (zipfile writes no encryption), in its
    local header and in the directory."""
    data = bytearray(archive)
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        offsets = [opened.getinfo(name).header_offset + 6]  # the local header's flags
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        length = struct.unpack("<H", data[at + 28 : at + 30])[0]
        if data[at + 46 : at + 46 + length] == name.encode():
            offsets.append(at + 8)  # the directory entry's flags
        at = data.find(b"PK\x01\x02", at + 46)
    for offset in offsets:
        data[offset] |= 0x1
    return bytes(data)


def renamed(archive: bytes, placeholder: str, raw_name: bytes) -> bytes:
    """The archive with a member's name replaced by raw bytes, in its local header and in the
    directory, with the UTF-8 flag left unset: as old archivers write names."""
    encoded = placeholder.encode("ascii")
    assert len(encoded) == len(raw_name) and archive.count(encoded) == 2
    return archive.replace(encoded, raw_name)


def test_hostile_members_are_refused_one_by_one_and_the_rest_is_read(tmp_path):
    bomb = b"\0" * (30 * 2**20)  # deflates about 1,000 to 1
    archive = build(
        [
            ("alice.ipynb", FULL),
            ("../../evil.ipynb", FULL),
            ("/etc/cron.d/evil.ipynb", FULL),
            ("C:/Users/evil.ipynb", FULL),
            ("sub/../../evil2.ipynb", FULL),
            link("linked.ipynb", "/etc/passwd"),
            ("locked.ipynb", FULL),
            ("bomb.ipynb", bomb),
            ("nul_Xname.ipynb", FULL),
            ("bob.ipynb", FULL),
        ]
    )
    archive = encrypted(archive.replace(b"nul_X", b"nul_\0"), "locked.ipynb")  # a NUL in a name
    (tmp_path / "class.zip").write_bytes(archive)
    intake = gather([str(tmp_path / "class.zip")], SUPPORT)
    assert set(students(intake)) == {"alice", "bob"}
    refused = {item.input.split("!", 1)[1]: item.reason for item in intake.skipped}
    assert "climbs out" in refused["../../evil.ipynb"]
    assert "climbs out" in refused["sub/../../evil2.ipynb"]
    assert "absolute path" in refused["/etc/cron.d/evil.ipynb"]
    assert "absolute path" in refused["C:/Users/evil.ipynb"]
    assert "symbolic link" in refused["linked.ipynb"]
    assert "encrypted" in refused["locked.ipynb"]
    assert "zip bomb" in refused["bomb.ipynb"]
    assert "NUL" in refused["nul_\ufffdname.ipynb"]
    assert all(reason.startswith("refused: ") for reason in refused.values())
    intake.close()


def test_members_over_the_limits_are_refused_with_the_limit_named(tmp_path, monkeypatch):
    monkeypatch.setattr("grader.intake.archive.MAX_MEMBERS", 3)
    monkeypatch.setattr("grader.intake.archive.MAX_MEMBER_BYTES", len(FULL) - 1)
    big = json.loads(FULL)
    big["metadata"]["padding"] = "x" * 100  # larger than FULL, so over the limit
    archive = build([("big.ipynb", json.dumps(big)), *((f"s{n}.ipynb", "{}") for n in range(4))])
    (tmp_path / "class.zip").write_bytes(archive)
    intake = gather([str(tmp_path / "class.zip")])
    refused = reasons(intake)
    assert "limit on any file" in refused["big.ipynb"]
    assert "past the 3 members" in refused["s2.ipynb"]  # refused members count too
    assert "past the 3 members" in refused["s3.ipynb"]
    assert set(students(intake)) == {"s0", "s1"}
    intake.close()


def test_an_archive_listing_too_many_members_or_not_a_zip_is_skipped_whole(tmp_path, monkeypatch):
    monkeypatch.setattr("grader.intake.archive.MAX_LISTED", 4)
    (tmp_path / "many.zip").write_bytes(build([(f"s{n}.ipynb", "{}") for n in range(5)]))
    (tmp_path / "fake.zip").write_bytes(b"this is not a zip at all")
    (tmp_path / "ok.ipynb").write_text(FULL)
    intake = gather([str(tmp_path)])
    assert set(students(intake)) == {"ok"}
    skipped = reasons(intake)
    assert "lists 5 members, more than the 4" in skipped["many.zip"]
    assert "not a zip archive" in skipped["fake.zip"]


def test_member_names_in_any_encoding_are_decoded_sensibly(tmp_path):
    cp437 = renamed(build([("ZoX_hw.ipynb", FULL)]), "ZoX_hw", "Zoë_hw".encode("cp437"))
    utf8 = renamed(build([("XXXXXXXXX.ipynb", FULL)]), "XXXXXXXXX", "王小明".encode())
    unicode_field = zipfile.ZipInfo("chen.ipynb")
    name = "陈静.ipynb".encode()
    unicode_field.extra = (
        struct.pack("<HHBI", 0x7075, 5 + len(name), 1, zlib.crc32(b"chen.ipynb")) + name
    )
    info_zip = build([(unicode_field, FULL)])
    for archive_name, content in (("a.zip", cp437), ("b.zip", utf8), ("c.zip", info_zip)):
        (tmp_path / archive_name).write_bytes(content)
    intake = gather([str(tmp_path / name) for name in ("a.zip", "b.zip", "c.zip")])
    assert set(students(intake)) == {"Zoë_hw", "王小明", "陈静"}
    intake.close()


def test_a_damaged_member_costs_only_itself(tmp_path):
    marker = "# a line only in this file"
    damaged = notebook(*CORRECT[:-1], CORRECT[-1] + marker)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("damaged.ipynb", damaged)
        archive.writestr("fine.ipynb", FULL)
    content = buffer.getvalue().replace(marker.encode(), marker.upper().encode())  # CRC fails
    (tmp_path / "class.zip").write_bytes(content)
    intake = gather([str(tmp_path / "class.zip")])
    from grader.intake.choose import choose

    chosen = {
        planned.folder: choose(planned, ("forward_propagation",)).submission
        for planned in intake.planned
    }
    assert "damaged inside its archive" in chosen["damaged"].error
    assert chosen["fine"].error is None
    intake.close()


def test_zips_inside_zips_are_read_one_level_deep(tmp_path):
    deepest = zipped({"hw.ipynb": FULL})
    student_zip = zipped({"work/hw.ipynb": FULL, "inner.zip": deepest})
    (tmp_path / "class.zip").write_bytes(zipped({"alice.zip": student_zip}))
    intake = gather([str(tmp_path / "class.zip")])
    assert set(students(intake)) == {"alice"}
    assert "inside a zip inside a zip" in reasons(intake)["inner.zip"]
    intake.close()


def files_outside(root: Path, out: Path) -> dict[str, bytes]:
    return {
        str(path): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and out not in path.parents
    }


@pytest.mark.usefixtures("assignment")
def test_a_hostile_zip_is_graded_without_writing_outside_the_output_folder(tmp_path, assignment):
    escape_to = tmp_path / "escaped.ipynb"
    archive = build(
        [
            ("Alice Chen_1_assignsubmission_file_/hw.ipynb", FULL),
            ("../escaped.ipynb", FULL),
            (str(escape_to), FULL),
            link("Bob_2_assignsubmission_file_/hw.ipynb", str(tmp_path / "secret.txt")),
            ("Carol_3_assignsubmission_file_/hw.ipynb", FULL),
        ]
    )
    (tmp_path / "secret.txt").write_text("the answers")
    (tmp_path / "download.zip").write_bytes(archive)
    out = tmp_path / "out"
    before = files_outside(tmp_path, out)
    outcome = grade_batch([str(tmp_path / "download.zip")], assignment, out, jobs=2)
    assert files_outside(tmp_path, out) == before
    assert not escape_to.exists() and not (tmp_path.parent / "escaped.ipynb").exists()
    assert (outcome.graded, outcome.submissions) == (2, 2)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["counts"]["results"] == 2 and summary["mean"] == 100
    refused = {entry["input"].split("!", 1)[1]: entry["reason"] for entry in summary["skipped"]}
    assert set(refused) == {
        "../escaped.ipynb",
        str(escape_to),
        "Bob_2_assignsubmission_file_/hw.ipynb",
    }
    assert "symbolic link" in refused["Bob_2_assignsubmission_file_/hw.ipynb"]
    for folder in ("moodle-1", "moodle-3"):
        result = json.loads((out / folder / "results.json").read_text(encoding="utf-8"))
        assert result["score"] == 100 and result["student"]["layout"] == "moodle"
