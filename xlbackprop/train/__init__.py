"""MNIST CNNs for Part 2: models, IDX data, the training loop, the summary workbook."""
