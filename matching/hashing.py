"""Content hashes: unchanged text is never re-embedded or re-profiled."""

from __future__ import annotations

import hashlib
import unicodedata


def normalise_for_hash(text: str) -> str:
    """NFKC, collapse whitespace, strip — cosmetic whitespace changes keep the same hash."""
    text = text or ""
    return " ".join((text if text.isascii() else unicodedata.normalize("NFKC", text)).split())  # NFKC: ASCII is fixed


def content_hash(text: str) -> str:
    """sha256 hex digest of the normalised text."""
    return hashlib.sha256(normalise_for_hash(text).encode("utf-8")).hexdigest()
