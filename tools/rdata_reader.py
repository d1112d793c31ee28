"""Minimal reader for R lazy-load databases (``*.rdb`` / ``*.rdx``).

Standard library only.  It decodes just enough of R's serialization format
("X\\n", XDR, versions 2 and 3) to get character vectors out of an R
package's ``data/Rdata.rdb``, e.g. the novels in the ``janeaustenr`` package.

Layout of a lazy-load database:

* ``NAME.rdx`` is a whole serialized R object (gzip- or zlib-compressed)
  holding a named list; its ``variables`` element maps every object name to
  an integer vector ``c(offset, length)`` into ``NAME.rdb``.
* ``NAME.rdb`` is the concatenation of blobs.  Each blob is a 4-byte
  big-endian uncompressed length, then the compressed serialization of one
  object: a zlib stream, or a type byte ``'2'`` (bzip2), ``'Z'`` (xz) or
  ``'0'`` (stored) followed by the data.

Supported R types: NULL, symbols, pairlists (attributes), CHARSXP,
character / integer / logical / double vectors, lists (VECSXP), references
to earlier symbols, and a few singleton environments.  Anything else raises
:class:`RDataError` with the SEXP type number, so an unexpected input fails
loudly instead of being misread.

Decoded values:

* character vector -> :class:`RVector` (a ``list`` of ``str``; ``None`` = NA)
* integer/logical/double vector -> :class:`RVector` of ``int``/``bool``/``float``
* list (VECSXP) -> :class:`RVector` of decoded elements
* pairlist -> :class:`RVector` of values with ``.tags`` listing the names
* symbol -> :class:`RSymbol`; NULL -> ``None``

Every :class:`RVector` has ``.rtype`` (e.g. ``"character"``) and
``.attributes`` (a ``dict``, e.g. ``{"names": [...]}``).
"""

import bz2
import gzip
import lzma
import struct
import zlib

__all__ = ["RDataError", "RVector", "RSymbol", "unserialize",
           "read_rds_bytes", "LazyLoadDB"]

# SEXP type numbers (R's Rinternals.h / serialize.c).
NILSXP, SYMSXP, LISTSXP = 0, 1, 2
CHARSXP, LGLSXP, INTSXP, REALSXP, STRSXP, VECSXP = 9, 10, 13, 14, 16, 19
REFSXP, NILVALUE_SXP, GLOBALENV_SXP = 255, 254, 253
UNBOUNDVALUE_SXP, MISSINGARG_SXP = 252, 251
EMPTYENV_SXP, BASEENV_SXP = 242, 241

_VECTOR_NAMES = {LGLSXP: "logical", INTSXP: "integer", REALSXP: "double",
                 STRSXP: "character", VECSXP: "list"}
_NA_INTEGER = -2147483648

# CHARSXP encoding flags (in the "levels" bits of the item header).
_LATIN1_MASK = 1 << 2
_BYTES_MASK = 1 << 1


class RDataError(ValueError):
    """The input is not something this minimal reader understands."""


class RVector(list):
    """An R vector: a Python list plus R type name and attributes."""

    def __init__(self, items=(), rtype="list", attributes=None, tags=None):
        super().__init__(items)
        self.rtype = rtype
        self.attributes = attributes or {}
        self.tags = tags

    def names(self):
        """The ``names`` attribute as a list of str, or None."""
        names = self.attributes.get("names")
        return list(names) if names is not None else None

    def get(self, name):
        """Element by name (like ``x[["name"]]`` in R)."""
        return self[self.names().index(name)]


class RSymbol(str):
    """An R symbol (a name), e.g. an attribute tag."""


class _Singleton:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "<R %s>" % self.name


_SINGLETONS = {GLOBALENV_SXP: _Singleton("R_GlobalEnv"),
               EMPTYENV_SXP: _Singleton("R_EmptyEnv"),
               BASEENV_SXP: _Singleton("R_BaseEnv"),
               UNBOUNDVALUE_SXP: _Singleton("R_UnboundValue"),
               MISSINGARG_SXP: _Singleton("R_MissingArg")}


class _XdrStream:
    """Big-endian (XDR) cursor over a bytes object."""

    def __init__(self, data, pos=0):
        self.data = data
        self.pos = pos

    def take(self, n):
        if self.pos + n > len(self.data):
            raise RDataError("truncated serialization at byte %d" % self.pos)
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def int(self):
        return struct.unpack(">i", self.take(4))[0]

    def ints(self, n):
        return struct.unpack(">%di" % n, self.take(4 * n))

    def doubles(self, n):
        return struct.unpack(">%dd" % n, self.take(8 * n))

    def length(self):
        n = self.int()
        if n == -1:  # long vector: two more ints, upper and lower 32 bits
            hi, lo = self.ints(2)
            n = (hi << 32) + (lo & 0xFFFFFFFF)
        return n


class _Unserializer:
    """State for one unserialize call: the stream and the reference table."""

    def __init__(self, stream):
        self.s = stream
        self.refs = []

    def item(self):
        flags = self.s.int()
        sxp = flags & 0xFF
        levels = flags >> 12
        has_attr = bool(flags & (1 << 9))
        has_tag = bool(flags & (1 << 10))

        if sxp == NILVALUE_SXP:
            return None
        if sxp in _SINGLETONS:
            return _SINGLETONS[sxp]
        if sxp == REFSXP:
            index = flags >> 8 or self.s.int()
            return self.refs[index - 1]
        if sxp == SYMSXP:
            sym = RSymbol(self.item())
            self.refs.append(sym)
            return sym
        if sxp == LISTSXP:
            return self._pairlist(has_attr, has_tag)
        if sxp == CHARSXP:
            return self._charsxp(levels)
        if sxp in _VECTOR_NAMES:
            return self._vector(sxp, has_attr)
        raise RDataError("unsupported R SEXP type %d at byte %d"
                         % (sxp, self.s.pos - 4))

    def _charsxp(self, levels):
        n = self.s.int()
        if n == -1:
            return None  # NA_character_
        raw = self.s.take(n)
        if levels & _BYTES_MASK:
            return raw.decode("latin-1")  # opaque bytes: keep them 1:1
        if levels & _LATIN1_MASK:
            return raw.decode("latin-1")
        return raw.decode("utf-8")  # UTF-8, ASCII or native (UTF-8 here)

    def _pairlist(self, has_attr, has_tag):
        """A pairlist is a chain of (attr?, tag?, car, cdr) cells."""
        values, tags = [], []
        attributes = self._attributes() if has_attr else {}
        while True:
            tags.append(self.item() if has_tag else None)
            values.append(self.item())
            flags = self.s.int()  # header of the cdr
            if flags & 0xFF == NILVALUE_SXP:
                break
            if flags & 0xFF != LISTSXP:
                raise RDataError("dotted pairlist (cdr type %d) unsupported"
                                 % (flags & 0xFF))
            if flags & (1 << 9):
                self._attributes()  # attributes on inner cells: ignored
            has_tag = bool(flags & (1 << 10))
        return RVector(values, "pairlist", attributes, tags)

    def _attributes(self):
        plist = self.item()
        if plist is None:
            return {}
        if not isinstance(plist, RVector) or plist.rtype != "pairlist":
            raise RDataError("attributes are not a pairlist")
        return {str(tag): value for tag, value in zip(plist.tags, plist)}

    def _vector(self, sxp, has_attr):
        n = self.s.length()
        if sxp == STRSXP or sxp == VECSXP:
            items = [self.item() for _ in range(n)]
        elif sxp == INTSXP:
            items = [None if v == _NA_INTEGER else v for v in self.s.ints(n)]
        elif sxp == LGLSXP:
            items = [None if v == _NA_INTEGER else bool(v)
                     for v in self.s.ints(n)]
        else:  # REALSXP
            items = list(self.s.doubles(n))
        attributes = self._attributes() if has_attr else {}
        return RVector(items, _VECTOR_NAMES[sxp], attributes)


def unserialize(data):
    """Decode one R serialization (uncompressed bytes starting "X\\n")."""
    if data[:2] != b"X\n":
        raise RDataError("only XDR serializations ('X\\n') are supported, "
                         "got header %r" % data[:2])
    s = _XdrStream(data, 2)
    version, _writer, _min_reader = s.ints(3)
    if version == 3:
        s.take(s.int())  # native encoding name, e.g. b"UTF-8"
    elif version != 2:
        raise RDataError("unsupported serialization version %d" % version)
    return _Unserializer(s).item()


def read_rds_bytes(data):
    """Decode an .rds/.rdx file's bytes (gzip, bzip2, xz or plain)."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    elif data[:3] == b"BZh":
        data = bz2.decompress(data)
    elif data[:6] == b"\xfd7zXZ\x00":
        data = lzma.decompress(data)
    elif data[:2] != b"X\n":
        data = _decompress_blob(data)  # lazy-load style zlib blob
    return unserialize(data)


def _decompress_blob(blob):
    """Undo R_compress1/2/3: 4-byte BE length + (type byte +) payload."""
    (expected,) = struct.unpack(">I", blob[:4])
    kind, body = blob[4:5], blob[5:]
    if kind == b"2":
        out = bz2.decompress(body)
    elif kind == b"Z":
        out = lzma.decompress(body)
    elif kind == b"0":
        out = body
    else:
        out = zlib.decompress(blob[4:])
    if len(out) != expected:
        raise RDataError("blob length %d, header says %d"
                         % (len(out), expected))
    return out


class LazyLoadDB:
    """An R lazy-load database, from the bytes of its .rdx and .rdb files.

    >>> db = LazyLoadDB.open(".../janeaustenr/data/Rdata")  # doctest: +SKIP
    >>> db.names()                                          # doctest: +SKIP
    ['emma', 'mansfieldpark', ...]
    >>> db.load("emma")[:1]                                 # doctest: +SKIP
    ['EMMA']
    """

    def __init__(self, rdx_bytes, rdb_bytes):
        index = read_rds_bytes(rdx_bytes)
        variables = index.get("variables")
        self._offsets = {name: (int(v[0]), int(v[1]))
                         for name, v in zip(variables.names(), variables)}
        self._rdb = rdb_bytes

    @classmethod
    def open(cls, base):
        """Read BASE.rdx and BASE.rdb from disk (base = path sans extension)."""
        with open(base + ".rdx", "rb") as f:
            rdx = f.read()
        with open(base + ".rdb", "rb") as f:
            rdb = f.read()
        return cls(rdx, rdb)

    def names(self):
        """Names of the objects stored, sorted."""
        return sorted(self._offsets)

    def load(self, name):
        """Decode one object by name."""
        if name not in self._offsets:
            raise KeyError("no object %r in database (have: %s)"
                           % (name, ", ".join(self.names())))
        offset, length = self._offsets[name]
        blob = self._rdb[offset:offset + length]
        return unserialize(_decompress_blob(blob))
