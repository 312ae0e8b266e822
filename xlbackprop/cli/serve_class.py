"""`xlbackprop serve --class DIR`: the options that turn `serve` into the place where a class hands in, and
the start of that server (xlbackprop/serve/class_app.py)."""

from pathlib import Path

import click


def class_options(command):
    """The class options, for the `serve` command."""
    options = [
        click.option("--class", "class_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
                     help="Collect a class's submissions in DIR (created if absent): every workbook handed in is "
                          "kept and graded; the teacher's pages are at /teacher. See docs/class.md."),
        click.option("--roster", "roster_file", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path),
                     help="With --class: the roster CSV (student ID, name, personal code). Default: DIR/roster.csv."),
        click.option("--deadline", metavar="TIME",
                     help="With --class: the latest submission before TIME counts (ISO 8601, e.g. "
                          "2026-12-20T23:59; local time unless it gives a zone). Later ones are kept, not counted."),
        click.option("--feedback", type=click.Choice(["full", "verdict"]), default="full", show_default=True,
                     help="With --class: what students see of their result: everything (cells, expected values, "
                          "fixes), or only the verdict until the deadline."),
        click.option("--assignment", "assignment_file", metavar="FILE",
                     type=click.Path(dir_okay=False, path_type=Path),
                     help="With --class: grade every submission against this network (a spec file or a workbook "
                          "generate wrote)."),
        click.option("--points", type=click.FloatRange(min=0), default=1.0, show_default=True,
                     help="With --class: a submission's score is POINTS x the share of its tables that are correct."),
        click.option("--title", default="Backprop workbook", show_default=True,
                     help="With --class: the assignment's name, as its column in the gradebooks (Canvas matches "
                          "it by name, or by 'Name (id)')."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def class_given(class_dir, roster_file, deadline, assignment_file):
    """Refuse class options without --class (they would be ignored without a word)."""
    if class_dir is None:
        given = [name for name, value in (("--roster", roster_file), ("--deadline", deadline),
                                          ("--assignment", assignment_file)) if value is not None]
        if given:
            raise click.UsageError(f"{', '.join(given)} only with --class DIR")
    return class_dir is not None


def serve_class(class_dir, roster_file, deadline, feedback, assignment_file, points, title, host, port, jobs,
                upload_bytes, limits, loopback):
    """Read the roster and the assignment, print the teacher's token, and serve until stopped. `limits`
    (validate.limits.Limits): CPU and memory per workbook, in the grading workers; `loopback`: whether `host`
    is this computer only."""
    import uvicorn

    from xlbackprop.serve.class_app import ClassConfig, create_class_app
    from xlbackprop.submissions.roster import read_roster
    from xlbackprop.submissions.store import parse_time

    roster = read_roster(roster_file or class_dir / "roster.csv")
    when = parse_time(deadline) if deadline else None
    assignment = None
    if assignment_file is not None:
        from xlbackprop.validate.assignment import load_assignment

        assignment = load_assignment(assignment_file)
    config = ClassConfig(folder=class_dir, roster=roster, deadline=when, feedback=feedback, assignment=assignment,
                         points=points, title=title, upload_bytes=upload_bytes, workers=jobs, limits=limits)
    app = create_class_app(config)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"xlbackprop serve --class: http://{shown}:{port}/  ({len(roster)} students; submissions kept in "
               f"{class_dir}; Ctrl-C stops)", err=True)
    click.echo(f"teacher's pages: http://{shown}:{port}/teacher  token: {app.state.token}  "
               f"(kept in {class_dir / 'teacher-token'})", err=True)
    if when is not None:
        click.echo(f"deadline: {when.isoformat()}", err=True)
    if not loopback:
        click.echo("warning: serving the network over plain HTTP: personal codes, the token and workbooks travel "
                   "unencrypted. Put a TLS reverse proxy (Caddy, nginx) in front; see docs/serve.md.", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
