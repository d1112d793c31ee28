"""Learning-curve plots for the notebooks (plumbing: matplotlib only, no model code)."""
import matplotlib.pyplot as plt

from lstm_text.files import atomic_open, os_errors


def save_figure(figure, path, dpi=100):
    """Save a figure as PNG through the atomic writer: the whole file or none, and a full
    disk or a folder that cannot be written is one DataError naming the file."""
    with os_errors(path), atomic_open(path) as handle:
        figure.savefig(handle, format="png", dpi=dpi)


def plot_learning_curves(histories, title="Learning curves", path=None):
    """Plot train (dashed) and validation (solid) bits per character against minibatches.

    `histories` maps a run's label to a dict with lists 'minibatch', 'train_bpc', 'valid_bpc'.
    Saves a PNG to `path` when given; returns the figure.
    """
    figure, axes = plt.subplots(figsize=(7, 4))
    for index, (label, history) in enumerate(histories.items()):
        colour = "C%d" % (index % 10)
        axes.plot(history["minibatch"], history["valid_bpc"], "-", color=colour,
                  label="%s validation" % label)
        if history.get("train_bpc"):
            axes.plot(history["minibatch"], history["train_bpc"], "--", color=colour,
                      alpha=0.6, label="%s training" % label)
    axes.set_xlabel("minibatches")
    axes.set_ylabel("bits per character")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    if path:
        save_figure(figure, path)
    return figure
