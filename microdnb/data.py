"""The names dataset, the character tokenizer and the vocabulary rule.

The dataset is karpathy/makemore's names.txt (MIT licence, Copyright (c) 2022 Andrej
Karpathy): 32,033 names, 228,145 bytes, at commit 988aa59, i.e. NAMES_URL below, which
is its provenance and is never fetched. It ships inside the package as package data,
microdnb/assets/names.txt, next to its licence, microdnb/assets/names.LICENSE, and is
checked against NAMES_SHA256 whenever it is used. `MICRODNB_NAMES=/path/to/names.txt`
points at another copy, which is checked likewise. Nothing here touches the network.

Whatever is wrong with a dataset file (missing, a directory or a FIFO, empty, over
10 MB, not UTF-8, a character the vocabulary rule refuses, more distinct characters than
a vocabulary holds, the wrong SHA-256) is reported by one ValueError or FileNotFoundError
whose one-line message names the file.

The vocabulary rule (`check_characters`), the same for datasets and checkpoints: every
character is printable in Python's sense (str.isprintable): none of the Unicode general
categories Cc (control: NUL, ESC, newline, tab...), Cf (format: the bidi embeddings,
overrides and isolates U+202A-U+202E and U+2066-U+2069, marks, joiners, U+FEFF), Cs (lone
surrogates), Co (private use), Cn (unassigned), Zl, Zp, and Zs other than the space
U+0020. So whatever a model writes can be printed one name per line, and cannot move the
cursor, reset a terminal or reorder the text around it.
"""
import hashlib
import os
import sys
import unicodedata
from pathlib import Path

from .config import LIMITS
from .fileio import as_path, read_bytes

NAMES_URL = 'https://raw.githubusercontent.com/karpathy/makemore/988aa59/names.txt'
NAMES_SHA256 = '0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d'
# How printouts, tables and figures write BOS, the start/end token: one spelling for the book.
BOS_TEXT = '.'
ENV_VAR = 'MICRODNB_NAMES'
ASSETS = Path(__file__).resolve().parent / 'assets'
MAX_BYTES = 10_000_000  # names.txt is 228,145 bytes; anything over 10 MB is not a names file
MAX_CHARS = LIMITS['vocab_size'].high - 1  # a vocabulary's characters: one token more is BOS


def shipped_names_path():
    """The copy of names.txt inside the package (package data)."""
    return ASSETS / 'names.txt'


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 16), b''):
            h.update(block)
    return h.hexdigest()


def check_characters(text, where):
    """The vocabulary rule (see the module's docstring): ValueError naming `where` and the
    first character of `text` that breaks it."""
    if text.isprintable():
        return
    ch = next(c for c in text if not c.isprintable())
    name = unicodedata.name(ch, '')
    raise ValueError(f"{where} has the character U+{ord(ch):04X}{' ' + name if name else ''} ({ch!r}, category "
                     f"{unicodedata.category(ch)}), which is not printable: microdnb takes printable characters only")


def _parse(raw, path, where=''):
    """The documents of a dataset file's bytes: UTF-8, one per non-empty line, stripped,
    every character allowed by the vocabulary rule, at most MAX_CHARS distinct ones."""
    source = f"dataset file {path}{where}"
    if not raw:
        raise ValueError(f"{source} is empty (0 bytes): nothing to train on")
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError as e:
        line = raw.count(b'\n', 0, e.start) + 1
        raise ValueError(f"{source} is not UTF-8 text (byte 0x{raw[e.start]:02x} at offset "
                         f"{e.start}, line {line}): is it a binary file?") from None
    docs = []
    # universal newlines, as iterating over a text-mode file splits (\n, \r\n, \r)
    for number, line in enumerate(text.replace('\r\n', '\n').replace('\r', '\n').split('\n'), 1):
        doc = line.strip()
        if doc:
            check_characters(doc, f"{source} line {number}")
            docs.append(doc)
    if not docs:
        raise ValueError(f"{source} has no non-empty lines: nothing to train on")
    n_chars = len(set(''.join(docs)))
    if n_chars > MAX_CHARS:
        raise ValueError(f"{source} has {n_chars:,} distinct characters; a vocabulary holds at most {MAX_CHARS:,} "
                         f"(config.LIMITS: vocab_size at most {MAX_CHARS + 1:,}, the start token included)")
    return docs


def _verified(path, where, remedy):
    """`path`, if its SHA-256 is makemore's. A file with the wrong digest is parsed first, so
    that a binary or otherwise broken file is reported as such."""
    raw = read_bytes(path, 'dataset file', MAX_BYTES, where)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != NAMES_SHA256:
        _parse(raw, path, where)  # raises if the content itself is broken
        raise ValueError(
            f"dataset file {path}{where} has SHA-256 {digest}, expected {NAMES_SHA256}: it is not "
            f"makemore's names.txt at commit 988aa59; {remedy}")
    return Path(path)


def names_path():
    """Path of a verified copy of names.txt: $MICRODNB_NAMES if set, else the package's own copy."""
    env = os.environ.get(ENV_VAR)
    if env:
        return _verified(Path(env), f" (from {ENV_VAR})",
                         f"point {ENV_VAR} at a good copy, or unset it to use the copy shipped with microdnb")
    path = shipped_names_path()
    where = ' (the copy shipped with microdnb)'
    remedy = (f"restore it (in a clone: git checkout -- microdnb/assets/names.txt; else reinstall "
              f"microdnb), or set {ENV_VAR}=/path/to/names.txt")
    if not path.exists():
        raise FileNotFoundError(f"dataset file {path}{where} does not exist: {remedy}")
    return _verified(path, where, remedy)


def read_docs(path, argument='read_docs: path'):
    """One document per non-empty line, stripped (as microgpt reads input.txt). Any file:
    no SHA-256 check, but it must be a regular, non-empty UTF-8 text file of at most
    10 MB whose lines follow the vocabulary rule."""
    path = as_path(path, argument)
    return _parse(read_bytes(path, 'dataset file', MAX_BYTES), path)


def load_docs(path=None):
    """The names, in file order. `path=None` means the verified makemore names.txt."""
    return read_docs(names_path() if path is None else path, 'load_docs: path')


def phase2_docs(docs, step, n_streams):
    """The documents of phase-2 step `step`: consecutive names, as in the reference."""
    return [docs[(step * n_streams + i) % len(docs)] for i in range(n_streams)]


def check_names():
    """Check the dataset `load_docs()` would read (SHA-256 and content); returns a one-line
    summary, raises ValueError or FileNotFoundError with a one-line message."""
    path = names_path()
    docs = read_docs(path)
    return f"{path}: {len(docs):,} names, SHA-256 {NAMES_SHA256[:12]}... verified"


def main():
    """`python -c 'import sys, microdnb.data as d; sys.exit(d.main())'`: check_names()
    as a command: prints its summary, or one error line and returns 1."""
    try:
        print(check_names())
    except (ValueError, OSError) as e:
        print(f"microdnb: error: {e}", file=sys.stderr)
        return 1
    return 0


class Tokenizer:
    """Characters to integer ids; one extra id, BOS, marks both the start and the end of a name.

    uchars: the vocabulary, a string or a list of characters, distinct, at most MAX_CHARS,
    each allowed by the vocabulary rule (`check_characters`)."""

    def __init__(self, uchars):
        if not isinstance(uchars, (str, list, tuple)) or not all(isinstance(c, str) for c in uchars):
            raise TypeError(f"Tokenizer: uchars must be a string or a list of characters, got {type(uchars).__name__}")
        uchars = list(uchars)
        if not uchars:
            raise ValueError("a tokenizer needs at least one character")
        if len(set(uchars)) != len(uchars) or any(len(c) != 1 for c in uchars):
            raise ValueError("uchars must be distinct single characters")
        if len(uchars) > MAX_CHARS:
            raise ValueError(f"a vocabulary holds at most {MAX_CHARS:,} characters, got {len(uchars):,}")
        check_characters(''.join(uchars), 'the vocabulary')
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

    @property
    def labels(self):
        """One printable label per id: the characters, then BOS_TEXT for BOS, as the book's
        printouts, tables and figures write it."""
        return self.uchars + [BOS_TEXT]

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
