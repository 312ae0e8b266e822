"""Annotated copies of the 24 real student workbooks in ../shared/corpus: each keeps every part annotation does
not need byte for byte (charts, drawings, images, printer settings, themes), and each part it writes or
changes is valid Office Open XML, so the copy is never less valid than the student's original.
"""

import zipfile
from pathlib import Path

import pytest

from tests import ooxml_check
from tests.test_annotate import changeable, entries
from xlbackprop.validate.annotate import annotate_workbook, annotated_name, split_cell

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "students"
WORKBOOKS = sorted(CORPUS.glob("*.xlsx")) if CORPUS.is_dir() else []

pytestmark = pytest.mark.skipif(not WORKBOOKS, reason="../shared/corpus/students is absent")


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    """{workbook: (its result, its annotated copy)}, validated and annotated once for the module."""
    from xlbackprop.validate.api import validate_workbook

    out = tmp_path_factory.mktemp("annotated")
    done = {}
    for path in WORKBOOKS:
        result = validate_workbook(path)
        done[path.name] = (result, annotate_workbook(path, result, out / annotated_name(path)))
    return done


@pytest.mark.parametrize("path", WORKBOOKS, ids=[p.name[:40] for p in WORKBOOKS])
def test_copy_changes_only_what_annotation_needs(copies, path):
    result, copy = copies[path.name]
    marked = {split_cell(m.cell)[0] for t in result.tables for m in t.mismatches}
    before, after = entries(path), entries(copy)
    allowed = changeable(path, copy, marked)
    changed = {n for n in after if n not in before or after[n][0] != before[n][0]}
    assert changed <= allowed, f"changed beyond what annotation needs: {sorted(changed - allowed)}"
    for name, (data, compression) in before.items():
        if name not in allowed:
            assert after[name][0] == data, f"{name} is not byte for byte the original"
            assert after[name][1] == compression, f"{name} compressed differently"
    with zipfile.ZipFile(path) as old, zipfile.ZipFile(copy) as new:
        assert new.testzip() is None
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in new.infolist() if i.filename not in before)
        kept = [n for n in before if n not in allowed]
        packed = [sum(zf.getinfo(n).compress_size for n in kept) for zf in (old, new)]
        assert packed[1] <= 1.25 * packed[0] + 1024, f"untouched parts pack to {packed[1]} bytes, were {packed[0]}"


@pytest.mark.skipif(not ooxml_check.XSD_DIR.is_dir(), reason="../shared/ooxml is absent: no schemas")
@pytest.mark.parametrize("path", WORKBOOKS, ids=[p.name[:40] for p in WORKBOOKS])
def test_copy_is_valid_where_it_wrote_and_never_less_valid(copies, path):
    _, copy = copies[path.name]
    before, after = entries(path), entries(copy)
    written = {n for n in after if n not in before or after[n][0] != before[n][0]}
    found = ooxml_check.problems(copy)
    assert [p for p in found if ooxml_check.part_of(p) in written] == []
    assert set(found) <= set(ooxml_check.problems(path))
