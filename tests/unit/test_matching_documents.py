"""Text extraction: real PDFs/DOCX in, typed errors with reasons for bad files."""

from __future__ import annotations

import io
import zlib

import pytest

from ingestion.documents import assemble_pdf
from matching.documents import DocumentError, extract_text

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def sample_pdf(shared_data) -> bytes:
    path = sorted((shared_data / "livecareer" / "sample_pdfs").glob("*.pdf"))[0]
    return path.read_bytes()


def _reason(data: bytes, name: str) -> str:
    with pytest.raises(DocumentError) as err:
        extract_text(data, name)
    return err.value.reason


def test_real_resume_pdf_gives_text(sample_pdf):
    text = extract_text(sample_pdf, "resume.pdf")
    assert len(text.split()) > 100


def test_encrypted_pdf_is_reported(sample_pdf):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(sample_pdf)).pages:
        writer.add_page(page)
    writer.encrypt(user_password="secret", owner_password="owner")
    buf = io.BytesIO()
    writer.write(buf)
    assert _reason(buf.getvalue(), "locked.pdf") == "encrypted"


def test_blank_pdf_is_empty():
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    buf = io.BytesIO()
    writer.write(buf)
    assert _reason(buf.getvalue(), "blank.pdf") == "empty"


def _image_only_pdf() -> bytes:
    """A one-page PDF whose only content is a 1x1 image (a scan without a text layer)."""
    pixel = zlib.compress(b"\x00")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] /Resources << /XObject << /Im1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /XObject /Subtype /Image /Width 1 /Height 1 /ColorSpace /DeviceGray /BitsPerComponent 8 "
        b"/Filter /FlateDecode /Length " + str(len(pixel)).encode() + b" >>\nstream\n" + pixel + b"\nendstream",
        b"<< /Length 31 >>\nstream\nq 100 0 0 100 0 0 cm /Im1 Do Q\nendstream",
    ]
    return assemble_pdf(objects)


def test_image_only_pdf_is_reported():
    assert _reason(_image_only_pdf(), "scan.pdf") == "image_only"


@pytest.mark.parametrize("data", [b"%PDF-1.4\n garbage that is not a pdf", b"%PDF-"])
def test_corrupt_pdf_is_reported(data):
    assert _reason(data, "broken.pdf") == "corrupt"


def test_truncated_real_pdf_never_crashes(sample_pdf):
    try:
        text = extract_text(sample_pdf[: len(sample_pdf) // 3], "cut.pdf")
    except DocumentError as exc:
        assert exc.reason in {"corrupt", "empty"}
    else:
        assert isinstance(text, str)


def test_docx_paragraphs_and_tables():
    import docx

    document = docx.Document()
    document.add_paragraph("Senior Data Engineer")
    document.add_paragraph("Built Spark pipelines in Python.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "SQL"
    table.rows[0].cells[1].text = "5 years"
    buf = io.BytesIO()
    document.save(buf)
    text = extract_text(buf.getvalue(), "cv.docx")
    assert "Spark pipelines" in text and "SQL" in text


def test_empty_docx_and_corrupt_docx():
    import docx

    buf = io.BytesIO()
    docx.Document().save(buf)
    assert _reason(buf.getvalue(), "empty.docx") == "empty"
    assert _reason(b"PK\x03\x04 not really a zip", "broken.docx") == "corrupt"


def test_plain_text_and_legacy_encodings():
    assert extract_text("Café manager, 5 years".encode(), "cv.txt").startswith("Café")
    assert "Café" in extract_text("Café".encode("cp1252"), "cv.txt")


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (b"", "x.pdf", "empty"),
        (b"   \n\t ", "x.txt", "empty"),
        (b"\x89PNG\r\n\x1a\n....", "photo.png", "unsupported_type"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.doc", "unsupported_type"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "locked.docx", "encrypted"),
        (b"abc\x00\x01\x02", "x.txt", "corrupt"),
    ],
)
def test_bad_inputs_have_reasons(data, name, reason):
    assert _reason(data, name) == reason


# ---------------------------------------------------------------- hostile documents (issue 14 item 9)


def _zip_bomb_docx(inflated_bytes: int) -> bytes:
    """A real DOCX (python-docx output) plus one part of zeros that inflates ~1000:1."""
    import zipfile

    from ingestion.documents import render

    base = render("Jane Doe\nAccountant with payroll and bookkeeping experience.", "docx")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info, source.read(info.filename))
        chunk = b"\0" * (1 << 20)
        with target.open("word/media/bomb.bin", "w") as part:
            for _ in range(inflated_bytes >> 20):
                part.write(chunk)
    return out.getvalue()


def test_zip_bomb_docx_is_refused_before_inflating():
    import tracemalloc

    from matching import documents

    bomb = _zip_bomb_docx(2 * documents.MAX_DOCX_UNCOMPRESSED_BYTES)
    assert len(bomb) < documents.MAX_DOCX_UNCOMPRESSED_BYTES // 100  # small on disk, huge inflated
    tracemalloc.start()
    try:
        with pytest.raises(DocumentError) as err:
            extract_text(bomb, "resume.docx")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert err.value.reason == "too_large" and "zip bomb" in str(err.value)
    assert peak < 8 * 1024 * 1024  # the bomb's part was never inflated


def test_small_docx_with_the_same_layout_still_reads():
    assert "payroll" in extract_text(_zip_bomb_docx(1 << 20), "resume.docx")


def test_many_page_pdf_is_refused():
    from ingestion.documents import render
    from matching import documents

    lines = [f"Line {i} of a very long document" for i in range(60 * (documents.MAX_PDF_PAGES + 5))]
    pdf = render("\n".join(lines), "pdf")
    with pytest.raises(DocumentError) as err:
        extract_text(pdf, "resume.pdf")
    assert err.value.reason == "too_many_pages"


def test_pdf_extraction_time_is_capped(monkeypatch):
    from ingestion.documents import render
    from matching import documents

    pdf = render("\n".join(f"Line {i} with words" for i in range(60 * 5)), "pdf")
    assert len(extract_text(pdf, "resume.pdf").splitlines()) >= 300  # readable under the default cap
    monkeypatch.setattr(documents, "MAX_EXTRACT_SECONDS", 1e-9)
    with pytest.raises(DocumentError) as err:
        extract_text(pdf, "resume.pdf")
    assert err.value.reason == "timeout"
