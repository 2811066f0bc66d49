"""What the imports tests share: an uploader's token, an upload through the API, and the
imports storage in a folder of the test's own."""

import gzip

from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token

HEADER = b"dsp_id\ttitle\tartists\tisrc\tusages\trevenue\n"


def user_with_token(django_user_model, username: str, *permissions: str) -> str:
    """The `Authorization` header of a new user who holds `permissions` (dsrs codenames)."""
    user = django_user_model.objects.create_user(username)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="dsrs", codename__in=permissions))
    return f"Token {Token.objects.create(user=user).key}"


def dsr_bytes(lines: int, *, gzipped: bool = False, first: int = 0) -> bytes:
    data = HEADER + b"".join(b"id%d\tSong %d\tArtist\tISRC\t%d\t%d.5\n" % (i, i, i, i) for i in range(first, first + lines))
    return gzip.compress(data, compresslevel=1) if gzipped else data


def upload(client, authorization: str | None, name: str, content: bytes, **fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    headers = {"Authorization": authorization} if authorization else {}
    return client.post("/imports/", {"file": SimpleUploadedFile(name, content), **fields}, headers=headers)
