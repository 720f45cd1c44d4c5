"""Text extraction from resume/job documents (PDF, DOCX, plain text).

``extract_text(data, filename)`` returns the document's text or raises ``DocumentError`` whose
``reason`` is a short machine code the pipeline writes to quarantine:
``corrupt`` | ``encrypted`` | ``empty`` | ``image_only`` | ``unsupported_type``, and for hostile files
``too_large`` (a DOCX whose parts decompress beyond ``MAX_DOCX_UNCOMPRESSED_BYTES``: a zip bomb is
refused from its zip directory before anything is inflated), ``too_many_pages`` (a PDF over
``MAX_PDF_PAGES``) and ``timeout`` (text extraction past ``MAX_EXTRACT_SECONDS``: checked between
PDF pages, and by an alarm signal where extraction runs on the main thread).
In AWS a Textract-backed extractor can implement the same ``TextExtractor`` protocol for scans.
"""

from __future__ import annotations

import io
import logging
import signal
import threading
import time
import zipfile
from contextlib import contextmanager
from pathlib import PurePath
from typing import Protocol

log = logging.getLogger(__name__)

REASONS = ("corrupt", "encrypted", "empty", "image_only", "unsupported_type", "too_large", "too_many_pages",
           "timeout")
# Caps for hostile documents: a real resume is a few pages and well under 1 MB of XML.
MAX_DOCX_UNCOMPRESSED_BYTES = 32 * 1024 * 1024
MAX_DOCX_ENTRIES = 2_000
MAX_PDF_PAGES = 100
MAX_EXTRACT_SECONDS = 20.0
TEXT_SUFFIXES = {".txt", ".text", ".md", ".csv"}
MIN_CHARS = 1  # any non-whitespace text counts; profiles decide whether it is *enough*


class DocumentError(ValueError):
    """A document could not be turned into text; ``reason`` is one of REASONS."""

    def __init__(self, reason: str, detail: str = ""):
        if reason not in REASONS:
            raise ValueError(f"unknown DocumentError reason {reason!r}")
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class TextExtractor(Protocol):
    def __call__(self, data: bytes, filename: str) -> str: ...


def _sniff(data: bytes, filename: str) -> str:
    suffix = PurePath(filename).suffix.lower()
    if data[:5] == b"%PDF-":
        return "pdf"
    if data[:4] == b"PK\x03\x04" and suffix in {".docx", ""}:
        return "docx"
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":  # OLE2: legacy .doc, or an encrypted .docx
        return "ole"
    if suffix == ".pdf":
        return "pdf"
    if suffix == ".docx":
        return "docx"
    if suffix in TEXT_SUFFIXES or suffix == "":
        return "text"
    return "unsupported"


@contextmanager
def _deadline(seconds: float):
    """Raise DocumentError("timeout") after ``seconds`` (SIGALRM; only on the main thread, where
    signals are delivered — elsewhere the PDF page loop's own clock check is the limit)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise DocumentError("timeout", f"text extraction took over {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    started = time.monotonic()
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                # Many PDFs are "encrypted" with an empty user password only (print restrictions).
                if not reader.decrypt(""):
                    raise DocumentError("encrypted", "PDF needs a password")
            except DocumentError:
                raise
            except Exception as exc:  # noqa: BLE001 - pypdf raises several types here
                raise DocumentError("encrypted", f"PDF cannot be decrypted: {exc}") from exc
        n_pages = len(reader.pages)
        if n_pages > MAX_PDF_PAGES:
            raise DocumentError("too_many_pages", f"PDF with {n_pages} pages (at most {MAX_PDF_PAGES})")
        pages = list(reader.pages)
        texts = []
        for number, page in enumerate(pages, 1):
            texts.append(page.extract_text() or "")
            if time.monotonic() - started > MAX_EXTRACT_SECONDS:
                raise DocumentError("timeout", f"PDF text extraction over {MAX_EXTRACT_SECONDS:g} s at page {number}")
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError, IndexError) as exc:
        raise DocumentError("corrupt", f"unreadable PDF: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - a broken file must never crash the pipeline
        raise DocumentError("corrupt", f"unreadable PDF: {type(exc).__name__}: {exc}") from exc
    text = "\n".join(texts)
    if not text.strip():
        has_images = any(_page_has_images(p) for p in pages)
        if pages and has_images:
            raise DocumentError("image_only", f"{len(pages)} page(s) with images and no text layer (needs OCR)")
        raise DocumentError("empty", f"PDF with {len(pages)} page(s) and no text")
    return text


def _page_has_images(page) -> bool:
    try:
        resources = page.get("/Resources") or {}
        xobjects = resources.get("/XObject") or {}
        xobjects = xobjects.get_object() if hasattr(xobjects, "get_object") else xobjects
        return any(xobjects[name].get_object().get("/Subtype") == "/Image" for name in xobjects)
    except Exception:  # noqa: BLE001
        return False


def _check_docx_zip(data: bytes) -> None:
    """Refuse a zip bomb from the central directory, before python-docx inflates any part.
    zipfile never inflates an entry past its declared size (a lie fails the CRC), so the declared
    sizes bound what reading can allocate."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise DocumentError("corrupt", f"unreadable DOCX: {type(exc).__name__}: {exc}") from exc
    if len(entries) > MAX_DOCX_ENTRIES:
        raise DocumentError("too_large", f"DOCX with {len(entries)} zip entries (at most {MAX_DOCX_ENTRIES})")
    total = sum(e.file_size for e in entries)
    if total > MAX_DOCX_UNCOMPRESSED_BYTES:
        raise DocumentError("too_large", f"DOCX decompresses to {total} bytes from {len(data)} "
                                         f"(at most {MAX_DOCX_UNCOMPRESSED_BYTES}): zip bomb")


def _docx_text(data: bytes) -> str:
    import docx

    _check_docx_zip(data)
    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise DocumentError("corrupt", f"unreadable DOCX: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:  # noqa: BLE001
        raise DocumentError("corrupt", f"unreadable DOCX: {type(exc).__name__}: {exc}") from exc
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.append("\t".join(cell.text for cell in row.cells))
    text = "\n".join(parts)
    if not text.strip():
        if document.inline_shapes and len(document.inline_shapes) > 0:
            raise DocumentError("image_only", "DOCX contains only images")
        raise DocumentError("empty", "DOCX without text")
    return text


def _plain_text(data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise DocumentError("corrupt", "binary content in a text file")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes almost anything
        text = data.decode("latin-1")
    if not text.strip():
        raise DocumentError("empty", "text file is empty")
    return text


def extract_text(data: bytes, filename: str) -> str:
    """Text of a PDF, DOCX or plain-text document; raises DocumentError with a reason."""
    if not data:
        raise DocumentError("empty", "zero bytes")
    kind = _sniff(data, filename)
    if kind == "pdf":
        with _deadline(MAX_EXTRACT_SECONDS):
            return _pdf_text(data)
    if kind == "docx":
        with _deadline(MAX_EXTRACT_SECONDS):
            return _docx_text(data)
    if kind == "ole":
        if PurePath(filename).suffix.lower() == ".docx":
            raise DocumentError("encrypted", "password-protected DOCX (OLE container)")
        raise DocumentError("unsupported_type", "legacy binary Office document (.doc)")
    if kind == "text":
        return _plain_text(data)
    raise DocumentError("unsupported_type", f"cannot read {PurePath(filename).suffix or 'extension-less'} files")
