"""Resume / job-posting documents as the app services would store them: TXT, DOCX and PDF bytes.

DOCX via python-docx; PDF via a minimal writer (Helvetica text, one content stream per page) that
pypdf, pdfminer and browsers read — enough for realistic ingestion fixtures without a PDF library.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io

CONTENT_TYPES = {
    "txt": "text/plain; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
}
FIXED_TIME = dt.datetime(2020, 1, 1)
PDF_LINES_PER_PAGE = 60
PDF_WRAP = 95


def document_uri(tenant_id: str, kind: str, entity_id: str, extension: str) -> str:
    """Lake-relative key (docs/contracts.md): raw/documents/tenant_id=<t>/<resumes|jobs>/<id>.<ext>."""
    return f"raw/documents/tenant_id={tenant_id}/{kind}/{entity_id}.{extension}"


def render(text: str, extension: str) -> bytes:
    if extension == "txt":
        return text.encode("utf-8")
    if extension == "docx":
        return _docx(text)
    if extension == "pdf":
        return _pdf(text)
    raise ValueError(f"unsupported document type {extension!r}; expected one of {sorted(CONTENT_TYPES)}")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _docx(text: str) -> bytes:
    import docx

    document = docx.Document()
    lines = text.split("\n")
    if lines:
        document.add_heading(lines[0], level=1)
    for line in lines[1:]:
        if line.strip():
            document.add_paragraph(line)
    document.core_properties.created = FIXED_TIME
    document.core_properties.modified = FIXED_TIME
    buffer = io.BytesIO()
    document.save(buffer)
    return _fixed_zip_times(buffer.getvalue())


def _fixed_zip_times(data: bytes) -> bytes:
    """Zip entries carry the wall-clock time; pin it so the same text gives the same bytes (sha256)."""
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(zipfile.ZipInfo(info.filename, date_time=(2020, 1, 1, 0, 0, 0)), source.read(info.filename),
                            compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _wrap(line: str, width: int) -> list[str]:
    words, out, current = line.split(" "), [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > width:
            out.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    out.append(current)
    return out


def _pdf_escape(line: str) -> str:
    latin = line.encode("latin-1", errors="replace").decode("latin-1")
    return latin.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _pdf(text: str) -> bytes:
    lines = [wrapped for line in text.split("\n") for wrapped in _wrap(line, PDF_WRAP)]
    pages = [lines[i : i + PDF_LINES_PER_PAGE] for i in range(0, max(len(lines), 1), PDF_LINES_PER_PAGE)]
    objects: list[bytes] = []
    # 1 catalog, 2 pages, 3 font, then (page, content) pairs.
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    for i, page_lines in enumerate(pages):
        body = ["BT", "/F1 10 Tf", "12 TL", "50 800 Td"]
        body += [f"({_pdf_escape(line)}) Tj T*" for line in page_lines]
        body.append("ET")
        stream = "\n".join(body).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream")
    return assemble_pdf(objects)


def assemble_pdf(objects: list[bytes]) -> bytes:
    """Serialise numbered PDF objects (object 1 is the catalog) with a valid xref table and trailer."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + obj + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()
