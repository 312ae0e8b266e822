"""Runs the same CLI as the `xlbackprop` console script: `python cli.py --help`."""

from xlbackprop.cli import main

if __name__ == "__main__":
    main()
