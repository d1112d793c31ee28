"""Build a 2015 library from its released PyPI sdist with exact-text replacements.

tools/install_theano.py and tools/install_fuel.py use this: we never vendor Theano or Fuel.
The sdist is fetched by pip (or from PyPI's simple index), its sha256 checked, unpacked
afresh, and each (file, old text, new text) replacement applied where the old text occurs
exactly once; anything else stops the install with one line naming the problem.
Standard library only: it runs before Theano and Fuel exist.
"""
import hashlib
import re
import shutil
import subprocess
import sys
import tarfile
import urllib.request


def sha256_of(path):
    """Hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def download_from_index(index_url, sdist, sha256, tool):
    """Fetch `sdist` from a PEP 503 simple index page by its sha256-tagged link.

    Needed where `pip download` would run the sdist's unpatched setup.py to read its
    metadata and that fails (Theano's versioneer on Python >= 3.12).
    """
    with urllib.request.urlopen(index_url, timeout=180) as response:
        page = response.read().decode("utf-8")
    links = [link for link in re.findall(r'href="([^"]+)"', page)
             if link.split("#")[0].endswith("/" + sdist.name) and sha256 in link]
    if not links:
        sys.exit("%s: %s lists no %s with sha256 %s" % (tool, index_url, sdist.name, sha256))
    partial = sdist.with_name(sdist.name + ".part")
    with urllib.request.urlopen(links[0].split("#")[0], timeout=180) as response:
        partial.write_bytes(response.read())
    partial.replace(sdist)


def fetch_sdist(build_dir, requirement, sdist_name, sha256, tool, index_url=None):
    """The checked sdist in build_dir: downloaded by pip (or from `index_url`) unless there."""
    sdist = build_dir / sdist_name
    if not sdist.exists() or sha256_of(sdist) != sha256:
        if index_url:
            download_from_index(index_url, sdist, sha256, tool)
        else:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                            "--no-binary", ":all:", "--dest", str(build_dir), requirement],
                           check=True)
    actual = sha256_of(sdist)
    if actual != sha256:
        sys.exit("%s: %s has sha256 %s, expected %s; refusing to build it."
                 % (tool, sdist, actual, sha256))
    return sdist


def unpack(sdist, build_dir, folder):
    """Unpack a fresh copy of the sdist into build_dir/folder (an older copy is replaced)."""
    src = build_dir / folder
    if src.exists():
        shutil.rmtree(src)
    with tarfile.open(sdist) as archive:
        try:
            archive.extractall(build_dir, filter="data")
        except TypeError:  # Python < 3.11.4 has no extraction filters
            archive.extractall(build_dir)
    return src


def apply_patch(src, patch, marker, marker_doc, tool):
    """Apply (file, old, new) replacements, each old text exactly once; write the marker."""
    for relative, old, new in patch:
        path = src / relative
        text = path.read_text(encoding="utf-8")
        if text.count(old) != 1:
            sys.exit("%s: expected exactly one %r in %s, found %d"
                     % (tool, old, relative, text.count(old)))
        path.write_text(text.replace(old, new), encoding="utf-8")
    (src / marker).write_text('"""%s"""\nPATCHED = True\n' % marker_doc, encoding="utf-8")
