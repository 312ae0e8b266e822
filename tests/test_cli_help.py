"""`--help` answers without importing torch (or the other heavy libraries): they load only where a command runs."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from xlbackprop.cli import main

HEAVY = ("torch", "torchvision", "matplotlib", "openpyxl", "xlsxwriter")

# Runs the CLI as the console script does, then reports which heavy modules that run imported.
PROBE = """
import json, sys
from xlbackprop.cli import main
try:
    main(sys.argv[1:], prog_name="xlbackprop")
except SystemExit:
    pass
sys.stdout.write("\\n" + json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def run_cli(args):
    """The CLI's output, and the heavy modules imported by the time it finished."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    output, _, modules = result.stdout.rpartition("\n")
    return output, json.loads(modules)


@pytest.mark.parametrize("command", [None, *sorted(main.commands)])
def test_help_imports_no_torch_or_other_heavy_library(command):
    args = ["--help"] if command is None else [command, "--help"]
    output, heavy = run_cli(args)
    assert "Usage:" in output
    assert heavy == []


def test_help_probe_sees_torch_when_a_command_uses_it():
    # the probe must be able to see torch, or the test above proves nothing
    output, heavy = run_cli(["summary", "--model", "xl-8k"])
    assert "Total params: 7,544" in output
    assert "torch" in heavy
