"""xlbackprop: backpropagation in spreadsheets, generated, validated and checked against PyTorch."""

__version__ = "0.1.0"
