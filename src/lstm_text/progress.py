"""The training loop's progress bar: a widget in Jupyter, a line of text when run headless.

tqdm.auto picks tqdm's ipywidgets bar inside any IPython kernel, including the ones that
`make run` (tools/run_notebook.py) and nbval start; there nobody sees the widget, and the
committed notebook would keep a widget that JupyterLab cannot show without its saved state.
So those runners set LSTM_TEXT_HEADLESS=1, and then the bar is plain text on stderr.
"""
import os


def progress_bar(**kwargs):
    """A tqdm bar for the notebook's training loop (kwargs as tqdm's: total, unit, ...)."""
    if os.environ.get("LSTM_TEXT_HEADLESS"):
        from tqdm.std import tqdm  # on stderr, tqdm's default
    else:
        from tqdm.auto import tqdm
    return tqdm(**kwargs)
