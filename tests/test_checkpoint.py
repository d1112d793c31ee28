"""Tests of notebooks/checkpoints.py on real bad files: truncated, corrupt, not a
zip, lying about sizes, another model's; and on saves killed with SIGKILL.

Every bad file must give one CheckpointError naming the file, never an exception from
inside numpy or zipfile, and loading must not allocate what a file merely claims.
No Theano: the shared variables are stand-ins with the same three methods.
"""
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy
import pytest

from lstm_text.checkpoints import (CheckpointError, load_checkpoint, save_checkpoint,
                                   set_shared_values)

ARRAYS = {"W_i": numpy.arange(12, dtype="float32").reshape(3, 4),
          "F": numpy.asfortranarray(numpy.ones((2, 3))),
          "rng.sample_rng": numpy.arange(624, dtype="uint32"),
          "adam.t": numpy.float32(7)}
META = {"name": "adam", "position": {"iteration": 3}, "history": [float("nan")]}


class Shared:
    """A stand-in for a Theano shared variable: name, get_value, set_value."""

    def __init__(self, name, value):
        self.name, self.value = name, numpy.asarray(value)

    def get_value(self, borrow=False):
        return self.value

    def set_value(self, value):
        self.value = value


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "run.npz"
    save_checkpoint(str(path), ARRAYS, META)
    return path


def npy_bytes(array):
    stream = io.BytesIO()
    numpy.lib.format.write_array(stream, numpy.asarray(array))
    return stream.getvalue()


def zip_of(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def refused(path, *fragments, **kwargs):
    """Load `path`, expecting one CheckpointError that names it and holds `fragments`."""
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(str(path), **kwargs)
    message = str(error.value)
    assert str(path) in message and "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_round_trip_keeps_names_dtypes_shapes_and_meta(good, tmp_path):
    arrays, meta = load_checkpoint(str(good))
    assert meta["name"] == "adam" and meta["position"] == {"iteration": 3}
    assert numpy.isnan(meta["history"][0])
    assert arrays.keys() == ARRAYS.keys()
    for name, value in ARRAYS.items():
        assert arrays[name].dtype == numpy.asarray(value).dtype, name
        numpy.testing.assert_array_equal(arrays[name], value)
    assert arrays["F"].flags.f_contiguous and arrays["W_i"].flags.writeable
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.npz"]  # no temporary left


@pytest.mark.parametrize("keep", [0, 1, 22, 100, 0.5, -1, -22, -100])
def test_truncated_checkpoint(good, keep):
    data = good.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep
    good.write_bytes(data[:cut])
    refused(good)


def test_corrupt_byte_in_the_data_fails_the_crc(good):
    data = bytearray(good.read_bytes())
    start = data.index(b"\x93NUMPY") + 128  # inside the first array's data
    data[start] ^= 0xFF
    good.write_bytes(bytes(data))
    refused(good, "CRC")


@pytest.mark.parametrize("content", [b"", b"hello, this is text\n", b"\x1f\x8b\x08\x00junk",
                                     npy_bytes(numpy.ones(3))],
                         ids=["empty", "text", "gzip", "a bare .npy"])
def test_not_a_zip(tmp_path, content):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    refused(path, "not a complete checkpoint")


def test_missing_and_directory(tmp_path):
    refused(tmp_path / "nope.npz", "no such checkpoint file")
    (tmp_path / "folder.npz").mkdir()
    refused(tmp_path / "folder.npz", "is a directory")


def npy_with_header(header, data):
    """An .npy file (version 1.0) with this header dict text and these data bytes."""
    header = header.encode("latin-1")
    header += b" " * ((64 - (10 + len(header) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + data


def test_header_that_claims_a_huge_array_allocates_nothing(tmp_path):
    lie = npy_with_header("{'descr': '<f4', 'fortran_order': False, "
                          "'shape': (10000000000,), }", b"\0" * 16)
    path = zip_of(tmp_path / "huge.npz", {"W.npy": lie, "__meta__.npy": npy_bytes("{}")})
    tracemalloc.start()
    try:
        message = refused(path, "claims shape (10000000000,)", "but holds 16 bytes")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 << 20, peak  # 40 GB claimed, under 10 MB used


def test_zip_directory_that_claims_more_than_the_file(good):
    data = bytearray(good.read_bytes())
    entry = data.index(b"PK\x01\x02")           # the first central directory entry
    data[entry + 24:entry + 28] = (0x7FFFFFF0).to_bytes(4, "little")  # uncompressed size
    good.write_bytes(bytes(data))
    refused(good, "claims 2147483632 bytes")


def test_deflated_member_that_claims_too_much(tmp_path):
    path = zip_of(tmp_path / "c.npz", {"W.npy": npy_bytes(numpy.zeros(1000)),
                                       "__meta__.npy": npy_bytes("{}")}, zipfile.ZIP_DEFLATED)
    data = bytearray(path.read_bytes())
    entry = data.index(b"PK\x01\x02")
    data[entry + 24:entry + 28] = (0x7FFFFFF0).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    refused(path, "claims 2147483632 bytes")


def test_compressed_checkpoint_still_loads(tmp_path):
    path = tmp_path / "c.npz"
    numpy.savez_compressed(path, W=numpy.zeros((200, 200), "float32"),
                           __meta__=numpy.array(json.dumps({"ok": True})))
    arrays, meta = load_checkpoint(str(path))
    assert arrays["W"].shape == (200, 200) and meta == {"ok": True}


def test_pickled_objects_are_refused_without_running(tmp_path):
    target = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return open, (str(target), "w")

    path = tmp_path / "evil.npz"
    numpy.savez(path, W=numpy.array([Evil()], dtype=object), __meta__=numpy.array("{}"))
    refused(path, "holds Python objects")
    assert not target.exists()


@pytest.mark.parametrize("members, problem", [
    ({"W.npy": npy_bytes(numpy.ones(2))}, "has no __meta__ record"),
    ({"__meta__.npy": npy_bytes("not json")}, "meta record is unreadable"),
    ({"__meta__.npy": npy_bytes("[1, 2]")}, "meta record is a list"),
    ({"__meta__.npy": npy_bytes(numpy.ones(2))}, "meta record is unreadable"),
    ({"W.txt": b"hello", "__meta__.npy": npy_bytes("{}")}, "'W.txt' is not an array"),
    ({"W.npy": b"\x93NUMPY\x09\x00xx", "__meta__.npy": npy_bytes("{}")}, "version (9, 0)"),
    ({"W.npy": b"not an npy file at all", "__meta__.npy": npy_bytes("{}")},
     "not a complete checkpoint"),
], ids=["no meta", "meta not json", "meta not a dict", "meta not a string", "not npy",
        "npy version", "npy garbage"])
def test_not_a_checkpoint_of_ours(tmp_path, members, problem):
    refused(zip_of(tmp_path / "x.npz", members), problem)


def test_missing_meta_keys_and_arrays_are_named(good):
    refused(good, "lacks meta 'config', array 'rng.data_rng_epoch_start'",
            meta_keys=("name", "config"), array_names=("rng.sample_rng",
                                                      "rng.data_rng_epoch_start"))


def test_set_shared_values_refuses_wrong_shape_missing_name_and_text(good):
    arrays, _ = load_checkpoint(str(good))
    arrays["label"] = numpy.array(["a", "b"])
    variables = [Shared("W_i", numpy.zeros((4, 4), "float32")), Shared("U_i", numpy.zeros(2)),
                 Shared("label", numpy.zeros(2))]
    with pytest.raises(CheckpointError) as error:
        set_shared_values(variables, arrays, source=str(good))
    message = str(error.value)
    assert "W_i has shape (3, 4), the model needs (4, 4)" in message
    assert "U_i is missing" in message and "label holds <U1, not numbers" in message
    assert all(not v.get_value().any() for v in variables)  # nothing was changed


def test_save_refuses_meta_that_is_not_json_and_writes_nothing(tmp_path):
    with pytest.raises(CheckpointError, match="meta record is not JSON-able"):
        save_checkpoint(str(tmp_path / "m.npz"), ARRAYS, {"when": object()})
    assert list(tmp_path.iterdir()) == []


def test_save_onto_a_directory_is_a_checkpoint_error(tmp_path):
    (tmp_path / "m.npz").mkdir()
    with pytest.raises(CheckpointError, match="cannot save the checkpoint"):
        save_checkpoint(str(tmp_path / "m.npz"), ARRAYS, META)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]  # no temporary left


KILLED_SAVE = textwrap.dedent("""
    import os, sys, time
    import numpy
    from lstm_text import checkpoints
    def hang(*args):  # killed after writing the temporary, before the rename
        print('written', flush=True)
        time.sleep(60)
    os.replace = hang
    checkpoints.save_checkpoint(sys.argv[1], {'W': numpy.zeros((500, 500))})
""")


def killed_save(path):
    """Run a save in another process and kill -9 it between writing and renaming."""
    process = subprocess.Popen([sys.executable, "-c", KILLED_SAVE, str(path)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "written"
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    process.stdout.close()
    return process.pid


def temporaries(folder):
    # files.atomic_open's temporaries beside run.npz: .run.npz.PID-HEX.tmp
    return sorted(p.name for p in Path(folder).iterdir() if p.name.startswith(".run.npz."))


def test_a_killed_save_leaves_a_temporary_that_the_next_save_removes(tmp_path):
    path = tmp_path / "run.npz"
    first = killed_save(path)
    assert len(temporaries(tmp_path)) == 1 and ".%d-" % first in temporaries(tmp_path)[0]
    second = killed_save(path)  # its save removed the first one's temporary: never two
    assert len(temporaries(tmp_path)) == 1 and ".%d-" % second in temporaries(tmp_path)[0]
    assert not path.exists()
    save_checkpoint(str(path), ARRAYS, META)
    assert temporaries(tmp_path) == [] and load_checkpoint(str(path))[1]["name"] == "adam"


def test_temporaries_of_live_writers_and_recent_old_style_ones_are_kept(tmp_path):
    live = tmp_path / (".checkpoint-%d-abcd1234.npz" % os.getpid())
    old_style_recent = tmp_path / ".checkpoint-k3j4h5g6.npz"
    old_style_stale = tmp_path / ".checkpoint-z9y8x7w6.npz"
    not_ours = tmp_path / ".checkpoint-notes.txt"
    for path in (live, old_style_recent, old_style_stale, not_ours):
        path.write_bytes(b"x")
    an_hour_ago = time.time() - 3600
    os.utime(old_style_stale, (an_hour_ago, an_hour_ago))
    save_checkpoint(str(tmp_path / "run.npz"), ARRAYS)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [live.name, old_style_recent.name, not_ours.name, "run.npz"])


FULL_DISK_SAVE = textwrap.dedent("""
    import resource, signal, sys
    import numpy
    from lstm_text import checkpoints
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
    try:
        checkpoints.save_checkpoint(sys.argv[1], {'W': numpy.zeros((300, 300))})
    except checkpoints.CheckpointError as error:
        print(error)
""")


def test_a_save_on_a_full_disk_keeps_the_previous_checkpoint(good):
    """RLIMIT_FSIZE makes the write fail as on a full disk (EFBIG instead of ENOSPC)."""
    result = subprocess.run([sys.executable, "-c", FULL_DISK_SAVE, str(good)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    message = result.stdout.strip()
    assert message.startswith("cannot save the checkpoint %s: " % good), message
    assert "File too large" in message and "any earlier checkpoint there is untouched" in message
    assert load_checkpoint(str(good))[1]["name"] == "adam"
    assert sorted(p.name for p in good.parent.iterdir()) == ["run.npz"]


def test_save_refuses_python_objects(tmp_path):
    with pytest.raises(CheckpointError, match="Object arrays cannot be saved"):
        save_checkpoint(str(tmp_path / "m.npz"), {"W": numpy.array([object()])})
    assert list(tmp_path.iterdir()) == []


def test_the_file_is_what_numpy_savez_writes(good):
    with numpy.load(good) as archive:  # numpy still reads it as before
        numpy.testing.assert_array_equal(archive["W_i"], ARRAYS["W_i"])
        assert json.loads(str(archive["__meta__"]))["name"] == "adam"


def _deflated_zeros(path, n_bytes):
    """A checkpoint whose one array is n_bytes of float32 zeros, deflated (a small file), written
    in pieces so that the test itself never holds the array."""
    header = io.BytesIO()
    numpy.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                     "shape": (n_bytes // 4,)})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("W.npy", "w", force_zip64=True) as member:
            member.write(header.getvalue())
            zeros = bytes(1 << 20)
            for _ in range(n_bytes >> 20):
                member.write(zeros)
        archive.writestr("__meta__.npy", npy_bytes(numpy.array("{}")))
    return path


def test_a_small_file_that_claims_much_memory_is_refused_before_allocating(tmp_path):
    # 64 MB of zeros deflate to about 64 kB: the 1100x allowance of deflate lets such a file
    # claim 1100 times its size. The caller's bound (a few times its model) refuses it.
    path = _deflated_zeros(tmp_path / "bomb.npz", 64 << 20)
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        message = refused(path, "its arrays claim 67.1 MB, more than the 16.8 MB",
                          "nothing was loaded", max_bytes=16 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, peak
    assert str(path) in message


def test_without_a_bound_the_loader_allows_at_most_max_bytes(tmp_path, monkeypatch):
    from lstm_text import checkpoints
    path = _deflated_zeros(tmp_path / "big.npz", 8 << 20)
    monkeypatch.setattr(checkpoints, "MAX_BYTES", 4 << 20)
    refused(path, "its arrays claim 8.4 MB, more than the 4.2 MB")


def test_an_array_is_read_into_place_without_a_second_copy(tmp_path):
    path = _deflated_zeros(tmp_path / "zeros.npz", 32 << 20)
    tracemalloc.start()
    try:
        arrays, _ = load_checkpoint(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert arrays["W"].nbytes == 32 << 20 and not arrays["W"].any()
    assert peak < (32 << 20) * 1.2, peak       # the array and one piece, not two arrays
