import click


@click.command()
def train():
    """(not yet implemented)"""
    raise click.UsageError("not implemented yet")


@click.command()
def summary():
    """(not yet implemented)"""
    raise click.UsageError("not implemented yet")
