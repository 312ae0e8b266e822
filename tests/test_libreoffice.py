"""LibreOffice under control: a hung or interrupted run leaves no process behind, any file name converts,
and runs side by side do not share a profile. A fake soffice (a shell script that starts a child, as
oosplash starts soffice.bin) stands in where the test is about processes; the real one where it is about
files."""

import _thread
import os
import signal
import stat
import threading
import time
import zipfile

import openpyxl
import pytest

from xlbackprop import libreoffice as lo  # `libreoffice` is the fixture giving the executable
from xlbackprop.errors import WorkbookError
from xlbackprop.workbook_read import read_workbook

HANGING_SOFFICE = """#!/bin/sh
# like oosplash: the real work runs in a child of the same process group, and it hangs
echo "$@" >> "$FAKE_SOFFICE_DIR/args"
sleep 300 &
echo $$ $! >> "$FAKE_SOFFICE_DIR/pids"
wait
"""


@pytest.fixture
def hanging_soffice(tmp_path, monkeypatch):
    """A fake soffice on PATH that never finishes; yields a function giving the pids it started."""
    bin_dir, record = tmp_path / "bin", tmp_path / "record"
    bin_dir.mkdir()
    record.mkdir()
    exe = bin_dir / "soffice"
    exe.write_text(HANGING_SOFFICE)
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SOFFICE_DIR", str(record))
    assert lo.soffice() == str(exe)

    def pids():
        path = record / "pids"
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    return pids


def alive(pid):
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def wait_for(condition, seconds=10):
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


def source(tmp_path):
    path = tmp_path / "source.xlsx"
    path.write_bytes(b"PK\x03\x04 not read by the fake")
    return path


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads process states from /proc")
def test_a_hung_conversion_ends_its_whole_process_group(tmp_path, hanging_soffice):
    with pytest.raises(WorkbookError, match="source.xlsx: LibreOffice did not finish converting within 1 s"):
        lo.convert(source(tmp_path), tmp_path / "out", timeout=1)
    pids = hanging_soffice()
    assert len(pids) == 2  # the launcher and the child it started
    assert wait_for(lambda: not any(alive(p) for p in pids)), [p for p in pids if alive(p)]


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads process states from /proc")
def test_ctrl_c_during_a_conversion_ends_its_process_group(tmp_path, hanging_soffice):
    # Python's own Ctrl-C handler, even where the tests were started in the background with SIGINT ignored
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Timer(1.0, _thread.interrupt_main).start()
        with pytest.raises(KeyboardInterrupt):
            lo.convert(source(tmp_path), tmp_path / "out", timeout=60)
    finally:
        signal.signal(signal.SIGINT, previous)
    pids = hanging_soffice()
    assert pids and wait_for(lambda: not any(alive(p) for p in pids))


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads process states from /proc")
def test_stop_all_ends_the_runs_in_progress(tmp_path, hanging_soffice):
    """What a --jobs worker calls when it is told to stop."""
    def stop_when_started():
        if wait_for(lambda: len(hanging_soffice()) == 2):
            lo.stop_all()

    threading.Thread(target=stop_when_started).start()
    started = time.monotonic()
    with pytest.raises(WorkbookError, match="could not convert"):
        lo.convert(source(tmp_path), tmp_path / "out", timeout=60)
    assert time.monotonic() - started < 60  # ended by stop_all, not by the timeout
    assert wait_for(lambda: not any(alive(p) for p in hanging_soffice()))


def test_each_run_gets_its_own_profile_and_absolute_paths(tmp_path, hanging_soffice, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-h.ods").write_bytes(b"x")
    threads = [threading.Thread(target=lambda: pytest.raises(WorkbookError, lo.convert, "-h.ods", "out",
                                                             timeout=1)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    runs = (tmp_path / "record" / "args").read_text().splitlines()
    assert len(runs) == 2
    profiles = {arg for run in runs for arg in run.split() if arg.startswith("-env:UserInstallation=")}
    assert len(profiles) == 2
    for run in runs:
        assert run.endswith(f" --outdir {tmp_path / 'out'} {tmp_path / '-h.ods'}"), run


def test_two_inputs_with_one_stem_are_refused(tmp_path):
    with pytest.raises(WorkbookError, match="converts to the same file name"):
        lo.convert_many([tmp_path / "a" / "x.ods", tmp_path / "b" / "x.xls"], tmp_path / "out")


# --- with the real LibreOffice --------------------------------------------------------------------------

def unrecalculated(path):
    """A workbook whose formula has no stored value: only a recalculation gives B1 its 42."""
    wb = openpyxl.Workbook()
    wb.active["A1"] = 21
    wb.active["B1"] = "=A1*2"
    wb.save(path)
    return path


ODD_NAMES = ["-h.xlsx", "--convert-to pdf.xlsx", "with space 'and' \"quotes\".xlsx", "Übung ñ 学生.xlsx"]


@pytest.mark.libreoffice
def test_odd_file_names_convert_safely(tmp_path, libreoffice, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative names, as a user types them
    names = [unrecalculated(tmp_path / n).name for n in ODD_NAMES]
    outs = lo.convert_many(names, "out", fmt="xlsx")
    assert [o.name for o in outs] == ODD_NAMES
    for out in outs:
        assert read_workbook(out).sheets[0].values[(1, 2)] == 42
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(ODD_NAMES)


@pytest.mark.libreoffice
def test_conversions_side_by_side_both_finish(tmp_path, libreoffice):
    sources = [unrecalculated(tmp_path / f"s{i}.xlsx") for i in range(2)]
    outs, errors = {}, []

    def work(i):
        try:
            outs[i] = lo.convert(sources[i], tmp_path / f"out{i}", fmt="ods")
        except Exception as exc:  # noqa: BLE001 -- reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for out in outs.values():
        with zipfile.ZipFile(out) as z:
            assert b"42" in z.read("content.xml")

