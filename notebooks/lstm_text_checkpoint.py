"""Save and restore model parameters (and any other named arrays) safely.

A checkpoint is one `.npz` file: named arrays plus a JSON `meta` record. It is written to a
temporary file and renamed into place, so an interrupted save never leaves a half-written
checkpoint, and it is read with `allow_pickle=False`, so loading one runs no code.
"""
import json
import os
import tempfile

import numpy

META_KEY = "__meta__"


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, or does not fit the model it is loaded into."""


def save_checkpoint(path, arrays, meta=None):
    """Write `arrays` ({name: ndarray}) and a JSON-able `meta` dict to `path` atomically."""
    if META_KEY in arrays:
        raise CheckpointError("%r is a reserved array name" % META_KEY)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    payload = {name: numpy.asarray(value) for name, value in arrays.items()}
    payload[META_KEY] = numpy.array(json.dumps(meta or {}, sort_keys=True))
    handle, temporary = tempfile.mkstemp(prefix=".checkpoint-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            numpy.savez(stream, **payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def load_checkpoint(path):
    """Read a checkpoint: returns ({name: ndarray}, meta dict)."""
    if not os.path.isfile(path):
        raise CheckpointError("%s: no such checkpoint file" % path)
    try:
        with numpy.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        meta = json.loads(str(arrays.pop(META_KEY)))
    except (OSError, ValueError, KeyError) as error:
        raise CheckpointError("%s: not a readable lstm-text checkpoint (%s)" % (path, error))
    return arrays, meta


def shared_values(shared_variables):
    """{name: current value} of Theano shared variables; names must be unique."""
    names = [variable.name for variable in shared_variables]
    if len(set(names)) != len(names):
        raise CheckpointError("parameter names are not unique: %s" % names)
    return {variable.name: variable.get_value() for variable in shared_variables}


def set_shared_values(shared_variables, arrays, source="checkpoint"):
    """Load arrays into shared variables by name, refusing any missing name or wrong shape."""
    problems = []
    for variable in shared_variables:
        current = variable.get_value(borrow=True)
        if variable.name not in arrays:
            problems.append("%s is missing" % variable.name)
        elif arrays[variable.name].shape != current.shape:
            problems.append("%s has shape %s, the model needs %s"
                            % (variable.name, arrays[variable.name].shape, current.shape))
    if problems:
        raise CheckpointError("%s does not fit this model: %s" % (source, "; ".join(problems)))
    for variable in shared_variables:
        dtype = variable.get_value(borrow=True).dtype
        variable.set_value(numpy.asarray(arrays[variable.name], dtype=dtype))
