"""The command line: a thin layer over the library. Only this package prints or exits.

Every error reaches the user as one line on stderr: `xlbackprop generate: error: ...`, exit code 2 for bad
input or usage, never a traceback.
"""

import sys

import click

from xlbackprop import __version__
from xlbackprop.cli.generate import generate
from xlbackprop.cli.serve import serve
from xlbackprop.cli.train import summary, train
from xlbackprop.cli.validate import validate
from xlbackprop.errors import XlbackpropError


class OneLineErrors(click.Group):
    def main(self, args=None, prog_name=None, **extra):
        extra.pop("standalone_mode", None)
        try:
            code = super().main(args=args, prog_name=prog_name, standalone_mode=False, **extra)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "xlbackprop"
            _fail(f"{where}: error: {exc.format_message()} (see '{where} --help')", 2)
        except click.ClickException as exc:
            _fail(f"xlbackprop: error: {exc.format_message()}", exc.exit_code)
        except XlbackpropError as exc:
            _fail(f"xlbackprop: error: {exc}", 2)
        except click.Abort:
            _fail("xlbackprop: interrupted", 130)
        sys.exit(code if isinstance(code, int) else 0)


def _fail(message, code):
    click.echo(" ".join(message.split()), err=True)  # one line, whatever the message held
    sys.exit(code)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xlbackprop")
def main():
    """Backpropagation in spreadsheets: generate correct workbooks, validate hand-made ones against
    PyTorch autograd, and train the course's small MNIST CNNs."""


main.add_command(generate)
main.add_command(validate)
main.add_command(train)
main.add_command(summary)
main.add_command(serve)
