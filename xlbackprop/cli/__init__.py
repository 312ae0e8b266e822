"""The command line: a thin layer over the library. Only this package prints or exits."""

import click

from xlbackprop import __version__
from xlbackprop.cli.generate import generate
from xlbackprop.cli.train import summary, train
from xlbackprop.cli.validate import validate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xlbackprop")
def main():
    """Backpropagation in spreadsheets: generate, validate, train."""


main.add_command(generate)
main.add_command(validate)
main.add_command(train)
main.add_command(summary)
