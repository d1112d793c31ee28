"""Save and restore model parameters (and any other named arrays) safely.

A checkpoint is one `.npz` file: named arrays plus a JSON `meta` record. It is written to a
temporary file and renamed into place, so an interrupted save never leaves a half-written
checkpoint, and the temporaries that a killed save left behind are removed by the next save.
It is read without numpy.load: every size the file claims is checked against the file
itself before anything is allocated, pickled objects are refused (loading runs no code),
and any problem (truncated, corrupt, not a checkpoint, another model's) is one
CheckpointError that names the file.
"""
import io
import json
import math
import os
import re
import zipfile
import zlib

import numpy
from numpy.lib import format as npy_format

from lstm_text.files import atomic_open, remove_stale_temporaries

META_KEY = "__meta__"
# Temporaries of older versions: .checkpoint-PID-XXXXXXXX.npz (and, older still, no PID);
# saves now go through files.atomic_open (.NAME.PID-HEX.tmp), which cleans up its own.
TEMPORARY = re.compile(r"\.checkpoint-(?:(?P<pid>\d+)-)?[a-z0-9_]{8}\.npz")
MAX_HEADER = 1 << 16             # an .npy header is a short dict; numpy writes under 1 kB
DEFLATE_RATIO = 1100             # deflate cannot expand data more than ~1032 times
NUMERIC_KINDS = "biufc"          # the dtypes a model's parameters can have
MAX_BYTES = 1 << 30              # what a checkpoint may claim, unless the caller says less
CHUNK = 1 << 20                  # arrays are read in pieces of this size, straight into place


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, or does not fit the model it is loaded into."""


def save_checkpoint(path, arrays, meta=None):
    """Write `arrays` ({name: ndarray}) and a JSON-able `meta` dict to `path` atomically."""
    if META_KEY in arrays:
        raise CheckpointError("%r is a reserved array name" % META_KEY)
    try:
        meta_json = json.dumps(meta or {}, sort_keys=True)
    except (TypeError, ValueError) as error:
        raise CheckpointError("%s: the meta record is not JSON-able (%s); nothing was saved"
                              % (path, error)) from None
    folder = os.path.dirname(os.path.abspath(path))
    payload = {name: numpy.asarray(value) for name, value in arrays.items()}
    payload[META_KEY] = numpy.array(meta_json)
    try:
        remove_stale_temporaries(folder, TEMPORARY)   # what older versions left behind
        with atomic_open(path) as stream:             # the project's one atomic writer
            _write_npz(stream, payload)
    except (OSError, ValueError) as error:  # ValueError: an array of Python objects
        raise CheckpointError("cannot save the checkpoint %s: %s; any earlier checkpoint "
                              "there is untouched" % (path, error)) from None


def _write_npz(stream, payload):
    """What numpy.savez writes (stored .npy members), but closed even when a write fails."""
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in payload.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                npy_format.write_array(member, array, allow_pickle=False)


def load_checkpoint(path, meta_keys=(), array_names=(), max_bytes=None):
    """Read a checkpoint: returns ({name: ndarray}, meta dict).

    CheckpointError (naming the file) for anything that is not a complete checkpoint
    written by save_checkpoint, that lacks one of `meta_keys` or `array_names`, or whose
    arrays claim more than `max_bytes` in all (default MAX_BYTES, 1 GiB; a caller that knows
    its model passes a few times the model's size): the claim is checked before anything is allocated, and each
    array is then read into its place without a second copy.
    """
    if os.path.isdir(path):
        raise CheckpointError("%s: is a directory, not a checkpoint file" % path)
    if not os.path.isfile(path):
        raise CheckpointError("%s: no such checkpoint file" % path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            _check_sizes(path, members, MAX_BYTES if max_bytes is None else max_bytes)
            arrays = {}
            for info in members:
                arrays[info.filename[:-len(".npy")]] = _read_array(archive, info)
    except CheckpointError as error:
        raise CheckpointError("%s: %s" % (path, error)) from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, OSError,
            ValueError, NotImplementedError) as error:
        raise CheckpointError("%s: not a complete checkpoint, it may be truncated or corrupt "
                              "(%s: %s); rerun what wrote it to save it again"
                              % (path, type(error).__name__, error)) from None
    meta = _meta(path, arrays.pop(META_KEY, None))
    missing = ["meta %r" % key for key in meta_keys if key not in meta]
    missing += ["array %r" % name for name in array_names if name not in arrays]
    if missing:
        raise CheckpointError("%s: lacks %s: saved by other code, or for another purpose"
                              % (path, ", ".join(missing)))
    return arrays, meta


def _check_sizes(path, members, max_bytes):
    """Refuse sizes that the zip directory claims but the file cannot hold, or that are more
    than the caller allows."""
    file_size = os.path.getsize(path)
    if sum(info.compress_size for info in members) > file_size:
        raise CheckpointError("its zip directory claims more data than the file holds")
    for info in members:
        if not info.filename.endswith(".npy"):
            raise CheckpointError("%r is not an array (.npy) member" % info.filename)
        limit = (info.compress_size if info.compress_type == zipfile.ZIP_STORED
                 else DEFLATE_RATIO * info.compress_size + 1024)
        if info.file_size > limit:
            raise CheckpointError("%s claims %d bytes from %d stored: corrupt"
                                  % (info.filename, info.file_size, info.compress_size))
    claimed = sum(info.file_size for info in members)
    if claimed > max_bytes:
        raise CheckpointError("its arrays claim %.1f MB, more than the %.1f MB this model "
                              "allows (max_bytes): not a checkpoint of this model, or corrupt; "
                              "nothing was loaded" % (claimed / 1e6, max_bytes / 1e6))


def _read_array(archive, info):
    """One .npy member, its header checked against its size before the data is read."""
    with archive.open(info) as stream:
        head = stream.read(min(info.file_size, MAX_HEADER + 12))
        header = io.BytesIO(head)
        name = info.filename[:-len(".npy")]
        version = npy_format.read_magic(header)
        if version not in ((1, 0), (2, 0), (3, 0)):
            raise CheckpointError("array %r is in .npy format version %s, which numpy %s "
                                  "cannot read" % (name, version, numpy.__version__))
        reader = (npy_format.read_array_header_1_0 if version == (1, 0)
                  else npy_format.read_array_header_2_0)
        shape, fortran_order, dtype = reader(header, max_header_size=MAX_HEADER)
        if dtype.hasobject:
            raise CheckpointError("array %r holds Python objects (pickled data), which a "
                                  "checkpoint never needs: not loaded" % name)
        expected = math.prod(shape) * dtype.itemsize
        data_size = info.file_size - header.tell()
        if expected != data_size:
            raise CheckpointError("array %r claims shape %s of %s (%d bytes) but holds %d "
                                  "bytes" % (name, shape, dtype, expected, data_size))
        data = numpy.empty(expected, dtype=numpy.uint8)   # the array's bytes, read in place
        start = head[header.tell():]
        data[:len(start)] = numpy.frombuffer(start, dtype=numpy.uint8)
        filled = len(start)
        while filled < expected:
            piece = stream.read(min(CHUNK, expected - filled))
            if not piece:
                break
            data[filled:filled + len(piece)] = numpy.frombuffer(piece, dtype=numpy.uint8)
            filled += len(piece)
        if filled != expected or stream.read(1):  # reading to the end checks the CRC
            raise CheckpointError("array %r is shorter or longer than its header says" % name)
    order = "F" if fortran_order else "C"
    return data.view(dtype).reshape(shape, order=order)


def _meta(path, record):
    """The meta dict from its 0-d JSON string array."""
    if record is None:
        raise CheckpointError("%s: has no %s record: not written by save_checkpoint"
                              % (path, META_KEY))
    try:
        if record.shape != () or record.dtype.kind != "U":
            raise ValueError("it is %s of shape %s, not a string" % (record.dtype, record.shape))
        meta = json.loads(str(record))
    except ValueError as error:
        raise CheckpointError("%s: its meta record is unreadable (%s)" % (path, error)) from None
    if not isinstance(meta, dict):
        raise CheckpointError("%s: its meta record is a %s, not a dict"
                              % (path, type(meta).__name__))
    return meta


def shared_values(shared_variables):
    """{name: current value} of Theano shared variables; names must be unique."""
    names = [variable.name for variable in shared_variables]
    if len(set(names)) != len(names):
        raise CheckpointError("parameter names are not unique: %s" % names)
    return {variable.name: variable.get_value() for variable in shared_variables}


def set_shared_values(shared_variables, arrays, source="checkpoint"):
    """Load arrays into shared variables by name, refusing any missing name, wrong shape or
    non-numeric dtype; on refusal no variable is changed."""
    problems = []
    for variable in shared_variables:
        current = variable.get_value(borrow=True)
        if variable.name not in arrays:
            problems.append("%s is missing" % variable.name)
        elif numpy.asarray(arrays[variable.name]).dtype.kind not in NUMERIC_KINDS:
            problems.append("%s holds %s, not numbers"
                            % (variable.name, numpy.asarray(arrays[variable.name]).dtype))
        elif arrays[variable.name].shape != current.shape:
            problems.append("%s has shape %s, the model needs %s"
                            % (variable.name, arrays[variable.name].shape, current.shape))
    if problems:
        raise CheckpointError("%s does not fit this model: %s" % (source, "; ".join(problems)))
    for variable in shared_variables:
        dtype = variable.get_value(borrow=True).dtype
        variable.set_value(numpy.asarray(arrays[variable.name], dtype=dtype))
