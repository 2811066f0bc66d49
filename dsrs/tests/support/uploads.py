"""What the imports tests share: a DSR file's bytes, and its upload through the API."""

import gzip

HEADER = b"dsp_id\ttitle\tartists\tisrc\tusages\trevenue\n"


def dsr_bytes(lines: int, *, gzipped: bool = False, first: int = 0) -> bytes:
    data = HEADER + b"".join(
        b"id%d\tSong %d\tArtist\tISRC\t%d\t%d.5\n" % (i, i, i, i) for i in range(first, first + lines)
    )
    return gzip.compress(data, compresslevel=1) if gzipped else data


def upload(client, authorization: str | None, name: str, content: bytes, **fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    headers = {"Authorization": authorization} if authorization else {}
    return client.post("/imports/", {"file": SimpleUploadedFile(name, content), **fields}, headers=headers)
