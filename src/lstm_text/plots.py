"""Learning-curve plots for the notebooks (plumbing: matplotlib only, no model code)."""
import matplotlib.pyplot as plt

from lstm_text.files import atomic_open, os_errors


def save_figure(figure, path, dpi=100):
    """Save a figure as PNG through the atomic writer: the whole file or none, and a full
    disk or a folder that cannot be written is one DataError naming the file."""
    with os_errors(path), atomic_open(path) as handle:
        figure.savefig(handle, format="png", dpi=dpi)


def _finish(figure, axes, title, path):
    """Title, grid and legend; saved as PNG to `path` when given; returns the figure."""
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    if path:
        save_figure(figure, path)
    return figure


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
    return _finish(figure, axes, title, path)


def plot_study(logs, title="Validation bits per character against wall time", path=None):
    """Plot validation bpc against wall-clock minutes for study logs (lstm_text.study's
    log.json, read as dicts), one line per log labelled by its trainer; saves a PNG to
    `path` when given; returns the figure."""
    figure, axes = plt.subplots(figsize=(7, 4))
    for log in logs:
        points = [p for p in log["points"] if p["valid_bpc"] is not None]
        best = log["best"]["valid_bpc"]
        axes.plot([p["wall_seconds"] / 60 for p in points], [p["valid_bpc"] for p in points],
                  ".-", label="%s, n_h %d (best %.3f)" % (log["trainer"], log["config"]["n_h"],
                                                         best))
    axes.set_xlabel("wall-clock minutes (training and validation)")
    axes.set_ylabel("validation bits per character")
    axes.set_ylim(top=3.5)
    return _finish(figure, axes, title, path)
