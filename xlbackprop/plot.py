"""PNG pictures of loss curves (matplotlib, no display needed)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from xlbackprop.files import atomic_path  # noqa: E402


def plot_losses(spec, traces, path):
    """E_total per iteration, one curve per learning rate, as the Summary sheet's chart shows it."""
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=100)
    for lr, trace in traces.items():
        ax.plot(range(1, len(trace["E_total"]) + 1), trace["E_total"], label=f"η = {lr:g}")
    ax.set_xlabel("Iteration")
    ax.set_ylabel("E_total")
    ax.set_title(f"E_total by iteration ({spec.name}, {'-'.join(map(str, spec.sizes))})")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
