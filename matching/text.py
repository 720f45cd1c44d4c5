"""Text folding shared by skill extraction, categorisation and the lexical baselines.

Case, Unicode and punctuation are folded; tokens keep programming-language marks (c++, c#, .net,
node.js) and a light plural stemmer makes "databases" meet "database". Phrase matching runs on these
tokens, so a label can only match whole tokens — never a substring ("Tform" inside "platform").
"""

from __future__ import annotations

import re
import unicodedata

_TOKEN = re.compile(r"\.?[a-z0-9]+(?:\.[a-z0-9]+)*[+#]*")
_KEEP_S = ("ss", "us", "is", "ics", "ous", "sis")
_TRANSLATE = str.maketrans({"’": "'", "‘": "'", "–": "-", "—": "-", "‐": "-", "â": " ", "\u00a0": " "})


_FOLD_CHARS = tuple((chr(k), v) for k, v in _TRANSLATE.items())


def fold(text: str) -> str:
    """NFKC + lowercase + common mojibake/dash folding."""
    text = text or ""
    if text.isascii():  # NFKC and the folded characters are all identities on ASCII
        return text.lower()
    text = unicodedata.normalize("NFKC", text)
    # str.translate with a dict costs a Python-level lookup per character (~1.5 ms per resume);
    # replacing the few single characters one by one gives the same string
    for char, replacement in _FOLD_CHARS:
        if char in text:
            text = text.replace(char, replacement)
    return text.lower()


def stem(token: str) -> str:
    """Plural folding only: predictable, cheap and symmetric between labels and text."""
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("s") and not token.endswith(_KEEP_S):
        return token[:-1]
    return token


# Stems of tokens already seen: a dict lookup is ~5x cheaper than the suffix tests, and a resume
# repeats most of its words. Bounded so a stream of unique tokens cannot grow it without limit.
_STEMS: dict[str, str] = {}
_STEM_CACHE_MAX = 500_000


def _stem_all(raw: list[str]) -> list[str]:
    known = _STEMS
    out = list(map(known.get, raw))  # C-level loop: ~2x a list comprehension of .get calls
    if None not in out:
        return out
    for i, value in enumerate(out):
        if value is None:
            value = out[i] = stem(raw[i])
            if len(known) < _STEM_CACHE_MAX:
                known[raw[i]] = value
    return out


def tokens(text: str, stemmed: bool = True) -> list[str]:
    raw = _TOKEN.findall(fold(text))
    return _stem_all(raw) if stemmed else raw


def token_spans(text: str) -> list[tuple[str, int, int]]:
    """(stemmed token, start, end) character spans in ``fold(text)`` (same length as ``text`` for ASCII)."""
    return [(stem(m.group()), m.start(), m.end()) for m in _TOKEN.finditer(fold(text))]
