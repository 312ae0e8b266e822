import click


@click.command()
def generate():
    """(not yet implemented)"""
    raise click.UsageError("not implemented yet")
