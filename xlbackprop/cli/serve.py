"""`xlbackprop serve`: the student's web page (xlbackprop/serve/)."""

import ipaddress
import shutil
import tempfile
from pathlib import Path

import click

from xlbackprop.cli.serve_class import class_given, class_options, serve_class
from xlbackprop.cli.validate import job_limits, limit_options
from xlbackprop.validate.parallel import default_jobs


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. 0.0.0.0 serves the whole network (plain HTTP: put a TLS reverse proxy "
                   "in front, see docs/serve.md).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), envvar="XLBACKPROP_JOBS", show_envvar=True,
              help="Worker processes validating uploads. Default: one per core this process may use.")
@click.option("--max-upload", default=20, show_default=True, type=click.FloatRange(min=0.01), metavar="MB",
              help="Largest workbook accepted, in MB (10^6 bytes).")
@click.option("--queue", "queue_size", default=16, show_default=True, type=click.IntRange(min=1),
              help="Workbooks that may wait for a worker; past that an upload is told 'busy, try again in N s'.")
@click.option("--keep", default=60, show_default=True, type=click.FloatRange(min=1), metavar="MINUTES",
              help="Minutes an upload, its result and its annotated copy are kept before they are deleted.")
@click.option("--uploads", "uploads_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for uploads (one subfolder per workbook). Default: a new temporary folder, removed "
                   "when the server stops.")
@limit_options
@class_options
def serve(host, port, jobs, max_upload, queue_size, keep, uploads_dir, cpu_limit, memory_limit, class_dir,
          roster_file, deadline, feedback, assignment_file, points, title):
    """Serve a web page where students drop a workbook and see what is wrong, and how to fix it.

    Each upload is validated in a worker process, under the CPU and memory limits, and the student sees the
    verdict, the first error with its fix, the wrong cells on the table, and a download of the annotated copy.

    With --class DIR, the page is where a class hands in: a student ID and personal code from the roster, a
    receipt, every submission kept and graded in DIR, and the teacher's pages (class table, Class report,
    gradebooks for Canvas, Moodle and Excel) behind the token it prints. See docs/class.md.
    """
    import uvicorn

    from xlbackprop.serve.limits import MB

    if class_given(class_dir, roster_file, deadline, assignment_file):
        serve_class(class_dir, roster_file, deadline, feedback, assignment_file, points, title, host, port,
                    jobs or default_jobs(), int(max_upload * MB), job_limits(cpu_limit, memory_limit),
                    _loopback(host))
        return

    from xlbackprop.serve.app import create_app
    from xlbackprop.serve.limits import ServeLimits

    limits = ServeLimits(upload_bytes=int(max_upload * MB), queue=queue_size, keep_seconds=int(keep * 60),
                         job=job_limits(cpu_limit, memory_limit))
    temporary = uploads_dir is None
    uploads = Path(tempfile.mkdtemp(prefix="xlbackprop-serve-")) if temporary else uploads_dir
    app = create_app(uploads, workers=jobs or default_jobs(), limits=limits)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"xlbackprop serve: http://{shown}:{port}/  (uploads in {uploads}, kept {keep:g} min; Ctrl-C stops)",
               err=True)
    if not _loopback(host):
        click.echo("warning: serving the network over plain HTTP: workbooks and results travel unencrypted. "
                   "Put a TLS reverse proxy (Caddy, nginx) in front; see docs/serve.md.", err=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        if temporary:
            shutil.rmtree(uploads, ignore_errors=True)


def _loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
