"""pytest plugin: `pytest --xlbackprop-workbooks DIR` (filled in by the validator work)."""
