"""docs/class.md's setups run as written: the GitHub Classroom command and the Gradescope command, on
workbooks of the student corpus (../shared/corpus, skipped when absent)."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "class.md"
CORPUS = ROOT.parent / "shared" / "corpus" / "students"


def corpus_workbook(verdict):
    """The first one-table workbook of the corpus that expected.json gives this verdict."""
    if not (CORPUS / "expected.json").is_file():
        pytest.skip("the student corpus is absent (expected ../shared/corpus/students beside the project)")
    for entry in json.loads((CORPUS / "expected.json").read_text()):
        if entry["verdict"] == verdict and len(entry["all_tables"]) == 1 and (CORPUS / entry["file"]).is_file():
            return CORPUS / entry["file"]
    pytest.skip(f"no one-table {verdict} workbook in the corpus")


def doc_line(pattern):
    found = re.findall(pattern, DOC.read_text(), flags=re.MULTILINE)
    assert len(found) == 1, f"docs/class.md should hold one line matching {pattern!r}"
    return found[0]


def classroom_command():
    """The workflow's `command:`, with `python` as the interpreter running these tests."""
    argv = shlex.split(doc_line(r"^\s+command: (.+)$"))
    assert argv[:3] == ["python", "-m", "pytest"]
    return [sys.executable] + argv[1:]


def run_in_student_repo(tmp_path, workbook, argv):
    repo = tmp_path / "student-repo"
    (repo / "submission").mkdir(parents=True)
    shutil.copy(workbook, repo / "submission" / workbook.name)  # into a temporary copy of a repository
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(autouse=True)
def plugin_installed():
    if not any(e.value == "xlbackprop.pytest_plugin" for e in entry_points(group="pytest11")):
        pytest.skip("the package is not installed (pip install -e .): pytest has no --xlbackprop-workbooks")


@pytest.mark.slow
def test_github_classroom_command_passes_a_correct_workbook(tmp_path):
    done = run_in_student_repo(tmp_path, corpus_workbook("correct"), classroom_command())
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b1 passed\b", done.stdout)


@pytest.mark.slow
def test_github_classroom_command_fails_the_template_bug_naming_the_cell(tmp_path):
    done = run_in_student_repo(tmp_path, corpus_workbook("subtly_wrong"), classroom_command())
    assert done.returncode == 1, done.stdout + done.stderr
    assert "WRONG: first error at" in done.stdout and "∂E_total/∂w3" in done.stdout
    assert not (tmp_path / "student-repo" / ".pytest_cache").exists()


@pytest.mark.slow
def test_gradescope_command_writes_results_json(tmp_path):
    command = doc_line(r"^xlbackprop validate --format gradescope .*$").rstrip(" \\")
    argv = [a for a in shlex.split(command) if a != "--assignment" and not a.endswith("assignment.toml")]
    results = tmp_path / "results.json"
    argv = [sys.executable, str(ROOT / "cli.py")] + argv[1:] + [str(tmp_path / "student-repo" / "submission")]
    with open(results, "w") as out:
        repo = tmp_path / "student-repo" / "submission"
        repo.mkdir(parents=True)
        shutil.copy(corpus_workbook("correct"), repo)
        subprocess.run(argv, stdout=out, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=600, check=False)
    doc = json.loads(results.read_text())
    assert doc["score"] == 10 and all(t["status"] == "passed" for t in doc["tests"])
