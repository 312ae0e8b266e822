import click


@click.command()
def validate():
    """(not yet implemented)"""
    raise click.UsageError("not implemented yet")
