"""`serve --class` at the command line: what stops it before it serves, in one line."""

from click.testing import CliRunner

from xlbackprop.cli import main


def serve(*args):
    return CliRunner().invoke(main, ["serve", *map(str, args)])


def test_a_broken_roster_stops_the_start_naming_file_and_line(tmp_path):
    (tmp_path / "roster.csv").write_text("id,name,code\ns001,Ada,abcd1234\ns001,Alan,efgh5678\n")
    result = serve("--class", tmp_path)
    assert result.exit_code == 2
    assert "roster.csv:3: student ID s001 is already on line 2" in result.output
    assert "Traceback" not in result.output


def test_a_missing_roster_is_named(tmp_path):
    result = serve("--class", tmp_path / "new-class")
    assert result.exit_code == 2 and "roster.csv: no such roster file" in result.output


def test_a_deadline_that_is_no_time_is_refused(tmp_path):
    (tmp_path / "roster.csv").write_text("s001,Ada,abcd1234\n")
    result = serve("--class", tmp_path, "--deadline", "next friday")
    assert result.exit_code == 2 and "not a date and time" in result.output


def test_class_options_without_class_are_refused(tmp_path):
    result = serve("--deadline", "2026-12-20T23:59")
    assert result.exit_code == 2 and "--deadline only with --class DIR" in result.output
