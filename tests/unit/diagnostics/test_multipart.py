"""The streaming multipart reader of the upload endpoint, fed in every chunk size."""

from __future__ import annotations

import pytest

from borne.diagnostics.uploads import MultipartFile, safe_filename

BOUNDARY = "----borne-boundary-42"
FILE = b"line 1\r\n--not-the-boundary\r\n" + bytes(range(256)) * 4


def _body() -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="diag.tar.gz"'
            f"\r\nContent-Type: application/gzip\r\n\r\n"
        ).encode()
        + FILE
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


@pytest.mark.parametrize("size", [1, 2, 7, 64, 100_000])
def test_first_file_part_is_streamed_whatever_the_chunking(size: int) -> None:
    body = _body()
    parser = MultipartFile(BOUNDARY)
    out = b"".join(b"".join(parser.feed(body[i : i + size])) for i in range(0, len(body), size))
    assert out == FILE
    assert parser.found
    assert parser.filename == "diag.tar.gz"
    assert parser.content_type == "application/gzip"


def test_body_without_file_part_finds_nothing() -> None:
    parser = MultipartFile("b")
    parser.feed(b'--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n--b--\r\n')
    assert not parser.found


def test_file_names_are_reduced_to_metadata() -> None:
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("C:\\logs\\a b.log") == "a_b.log"
    assert safe_filename("...") is None
    assert safe_filename(None) is None
