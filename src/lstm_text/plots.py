"""Learning-curve plots for the notebooks (plumbing: matplotlib only, no model code)."""
import matplotlib.pyplot as plt


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
        figure.savefig(path, dpi=100)
    return figure
