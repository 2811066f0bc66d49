"""Which format a file is, from its first line (or a DSRF name)."""

import gzip

import pytest

from dsrs.formats.detect import Format, detect_format
from dsrs.tests.support.dsrf_files import HEAD, NAME


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (HEAD + "\n", Format.DSRF),
        ("\ufeff" + HEAD + "\r\n", Format.DSRF),
        ("# a comment\n#another\n" + HEAD + "\n", Format.DSRF),
        (HEAD, Format.DSRF),  # no line end at all
        ("dsp_id\ttitle\tartists\tisrc\tusages\trevenue\n", Format.TSV),
        ("HEADER\tx\n", Format.TSV),
        ("", Format.TSV),
    ],
)
def test_the_first_line_that_is_no_comment_tells(tmp_path, content, expected):
    path = tmp_path / "delivery.tsv"
    path.write_text(content)

    assert detect_format(path) == expected


def test_a_gzipped_file_is_read_for_it(tmp_path):
    path = tmp_path / "delivery.tsv.gz"
    path.write_bytes(gzip.compress((HEAD + "\n").encode()))

    assert detect_format(path) == Format.DSRF


def test_a_dsrf_name_is_dsrf_whatever_the_content_and_an_unreadable_file_is_left_to_the_tsv_path(tmp_path):
    (tmp_path / NAME).write_text("dsp_id\ttitle\tartists\tisrc\tusages\trevenue\n")
    (tmp_path / "broken.tsv.gz").write_bytes(b"not gzip")

    assert (detect_format(tmp_path / NAME), detect_format(tmp_path / "broken.tsv.gz")) == (Format.DSRF, Format.TSV)
