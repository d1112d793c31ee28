"""Load one of the repository's tools/ scripts as a module, for the tests that check it."""
import importlib.util
import sys

from lstm_text.paths import REPO


def load_tool(name):
    """tools/NAME.py as a module (its own folder on sys.path, as when it runs as a script)."""
    folder = str(REPO / "tools")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / (name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
