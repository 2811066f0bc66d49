"""Where a file written for a DSR (its copy of the lines, its resource segment) is moved into place
in COLUMNAR_DIR, under a name that records its size, and named in the DSR's row, atomically with
respect to a deletion."""

import os
from pathlib import Path

from django.db import transaction

from dsrs.models import DSR
from dsrs.storage.columnar.paths import copy_path, published_name, remove


def publish(dsr: DSR, written: Path, *, field: str) -> str | None:
    """Move `written` into place and name it in `dsr`'s `field` (columnar_copy, resource_segment),
    removing the file it replaces once that commits; None when the DSR was deleted meanwhile."""
    name = published_name(written)
    os.replace(written, copy_path(name))
    with transaction.atomic():
        # The row lock orders this with a deletion: either the deletion sees the name and removes
        # the file once it commits, or this finds no ingested row and removes it now.
        previous = (
            DSR.objects.select_for_update()
            .filter(id=dsr.id, status=DSR.Status.INGESTED)
            .values_list(field, flat=True)
            .first()
        )
        if previous is None:
            remove(name)
            return None
        DSR.objects.filter(id=dsr.id).update(**{field: name})
        if previous:
            transaction.on_commit(lambda: remove(previous))
    setattr(dsr, field, name)
    return name
