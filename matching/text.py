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


def fold(text: str) -> str:
    """NFKC + lowercase + common mojibake/dash folding."""
    return unicodedata.normalize("NFKC", text or "").translate(_TRANSLATE).lower()


def stem(token: str) -> str:
    """Plural folding only: predictable, cheap and symmetric between labels and text."""
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("s") and not token.endswith(_KEEP_S):
        return token[:-1]
    return token


def tokens(text: str, stemmed: bool = True) -> list[str]:
    raw = _TOKEN.findall(fold(text))
    return [stem(t) for t in raw] if stemmed else raw


def token_spans(text: str) -> list[tuple[str, int, int]]:
    """(stemmed token, start, end) character spans in ``fold(text)`` (same length as ``text`` for ASCII)."""
    return [(stem(m.group()), m.start(), m.end()) for m in _TOKEN.finditer(fold(text))]
