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
