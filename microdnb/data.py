"""The names dataset and the character tokenizer.

The dataset is karpathy/makemore's names.txt at a pinned commit. It is never
committed to this repository: `load_docs()` downloads it once, checks its SHA-256
and caches it; `MICRODNB_NAMES=/path/to/names.txt` points at a local copy instead.
"""
import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

NAMES_URL = 'https://raw.githubusercontent.com/karpathy/makemore/988aa59/names.txt'
NAMES_SHA256 = '0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d'
ENV_VAR = 'MICRODNB_NAMES'


def cache_dir():
    """Where the downloaded dataset lives: $XDG_CACHE_HOME/microdnb or ~/.cache/microdnb."""
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return Path(base) / 'microdnb'


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 16), b''):
            h.update(block)
    return h.hexdigest()


def _check_sha(path, where):
    digest = sha256_of(path)
    if digest != NAMES_SHA256:
        raise ValueError(
            f"{path} ({where}) has SHA-256 {digest}, expected {NAMES_SHA256}: it is not "
            f"makemore's names.txt at commit 988aa59. Delete it, or point {ENV_VAR} at a good copy.")


def names_path(download=True):
    """Path of a verified copy of names.txt: $MICRODNB_NAMES, else the cache (downloaded if missing)."""
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env)
        if not path.is_file():
            raise FileNotFoundError(
                f"{ENV_VAR}={env} does not exist. Point it at a copy of makemore's names.txt, "
                f"or unset it to download the file from {NAMES_URL}.")
        _check_sha(path, f"from {ENV_VAR}")
        return path
    path = cache_dir() / 'names.txt'
    if path.is_file():
        _check_sha(path, 'cached')
        return path
    if not download:
        raise FileNotFoundError(f"{path} is not cached; call names_path(download=True) or set {ENV_VAR}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix('.part')
    try:
        urllib.request.urlretrieve(NAMES_URL, tmp)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:  # incl. a cut-off read
        tmp.unlink(missing_ok=True)
        raise FileNotFoundError(
            f"could not download the names dataset from {NAMES_URL} ({e}). Offline? Download "
            f"that file on a connected machine and set {ENV_VAR}=/path/to/names.txt, "
            f"or copy it to {path}.") from None
    try:
        _check_sha(tmp, 'just downloaded')
    except ValueError:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)  # atomic: a half-written download is never mistaken for the file
    return path


def read_docs(path):
    """One document per non-empty line, stripped (as microgpt reads input.txt)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"dataset file {path} does not exist")
    with open(path, encoding='utf-8') as f:
        docs = [line.strip() for line in f if line.strip()]
    if not docs:
        raise ValueError(f"dataset file {path} has no non-empty lines: nothing to train on")
    return docs


def load_docs(path=None):
    """The names, in file order. `path=None` means the verified makemore names.txt."""
    return read_docs(names_path() if path is None else path)


class Tokenizer:
    """Characters to integer ids; one extra id, BOS, marks both the start and the end of a name."""

    def __init__(self, uchars):
        uchars = list(uchars)
        if not uchars:
            raise ValueError("a tokenizer needs at least one character")
        if len(set(uchars)) != len(uchars) or any(len(c) != 1 for c in uchars):
            raise ValueError("uchars must be distinct single characters")
        self.uchars = uchars
        self.BOS = len(uchars)
        self.vocab_size = len(uchars) + 1
        self._index = {ch: i for i, ch in enumerate(uchars)}

    @classmethod
    def from_docs(cls, docs):
        if not docs:
            raise ValueError("cannot build a vocabulary from an empty dataset")
        return cls(sorted(set(''.join(docs))))

    def encode(self, doc):
        """[BOS] + character ids + [BOS], as microgpt builds each training sequence."""
        try:
            return [self.BOS] + [self._index[ch] for ch in doc] + [self.BOS]
        except KeyError as e:
            raise ValueError(
                f"character {e.args[0]!r} in {doc!r} is not in the vocabulary "
                f"{''.join(self.uchars)!r}") from None

    def decode(self, ids):
        out = []
        for i in ids:
            if i == self.BOS:
                continue
            if not 0 <= i < len(self.uchars):
                raise ValueError(f"token id {i} is outside the vocabulary (0..{self.BOS})")
            out.append(self.uchars[i])
        return ''.join(out)

    def __repr__(self):
        return f"Tokenizer(vocab_size={self.vocab_size}, uchars={''.join(self.uchars)!r})"
