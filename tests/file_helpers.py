"""Small helpers shared by the file, download and corpus tests."""
import hashlib
from pathlib import Path


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def write(path, data):
    path = Path(path)
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def names(folder):
    """Every entry of a folder, hidden temporary files included."""
    return sorted(p.name for p in Path(folder).iterdir())
