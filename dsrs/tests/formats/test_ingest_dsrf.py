"""Ingesting DDEX DSR flat files (Basic Audio profile): one DSR per (territory, currency) of the
summary records, each sale a usage line with its pro-rata share of its summary's NetRevenue, or
nothing at all when the file is inconsistent."""

import gzip
from decimal import Decimal

import pytest

from dsrs.ecb.rates import mean_ecb_rate
from dsrs.ingest.service import Outcome, Remedy, ingest_dsr
from dsrs.models import DSR
from dsrs.tests.support.database import stored_lines, usage_partitions
from dsrs.tests.support.dsrf_files import HEAD, NAME, SPAIN, foot, release, resource, sale, summary, write_dsrf

pytestmark = pytest.mark.django_db

# One territory, two summaries (subscription: 60 streams for 100 EUR; ad-supported, in SU01 sales:
# 5 usages for 0.5 EUR) and two blocks, each with its resource RS1: a sale finds its resource in
# its own block.
SPAIN_LINES = [
    ("id1", "Song One", "Ana|Ben", "ES0000000001", 5, Decimal("0.5")),
    ("id1", "Song One", "Ana|Ben", "ES0000000001", 10, Decimal("16.6666666667")),
    ("id2", "Song Two", "Carla", "ES0000000002", 20, Decimal("33.3333333333")),
    ("id3", "Song Three", "Dan", "ES0000000003", 30, Decimal("50")),
]


def test_it_ingests_a_single_territory_file_with_exact_pro_rata_revenue(tmp_path):
    path = write_dsrf(tmp_path, SPAIN)

    result = ingest_dsr(path=path)

    assert result.outcome == Outcome.INGESTED, result.message
    dsr = DSR.objects.get()
    assert result.message == f"{path}: ingested as DSR {dsr.id} (ES EUR)"
    assert (dsr.status, dsr.path, dsr.dsp, dsr.service, dsr.society, dsr.recipient_party_id) == (
        "ingested",
        str(path),
        "Spotify",
        "Spotify Premium",
        "SGAE",
        "PADPIDA2007040502I",
    )
    assert (dsr.territory_id, dsr.currency_id, str(dsr.period_start), str(dsr.period_end)) == (
        "ES",
        "EUR",
        "2024-01-01",
        "2024-01-31",
    )
    assert (dsr.lines_read, dsr.lines_stored, dsr.lines_rejected, dsr.rejections, dsr.error) == (4, 4, 0, [], "")
    assert (dsr.eur_rate, dsr.eur_rate_source) == (Decimal(1), "ecb")
    assert stored_lines(dsr.id) == SPAIN_LINES
    # 100 x 10/60 = 16.666...: rounded at 10 decimals, and the summary's sales add up to 100 exactly.
    assert sum(line[5] for line in SPAIN_LINES) == Decimal("100.5")


def thirds() -> list[str]:
    """Two summaries of 3 usages shared by three sales of 1 usage each."""
    revenue = ["1", "0.00000000001"]  # the second has a finer scale than 10 decimals: kept
    records = [summary("S1", "ES", "EUR", 3, revenue[0]), summary("S2", "ES", "EUR", 3, revenue[1]), release("B1")]
    records += [resource("B1", f"RS{i}", f"id{i}", "", "", "") for i in range(3)]
    records += [sale("B1", "S1", f"RS{i}", 1) for i in range(3)] + [sale("B1", "S2", f"RS{i}", 1) for i in range(3)]
    return records


def test_a_third_each_rounds_up_once_and_adds_up(tmp_path):
    path = write_dsrf(tmp_path, thirds())

    dsr = ingest_dsr(path=path).dsr

    assert [(line[0], line[5]) for line in stored_lines(dsr.id)] == [
        ("id0", Decimal("0.00000000000")),  # 0.00000000001 x 1/3 rounds to 0 at its own 11 decimals
        ("id0", Decimal("0.3333333333")),
        ("id1", Decimal("0.00000000001")),  # cumulative 2/3 rounds to 1
        ("id1", Decimal("0.3333333334")),  # cumulative 0.6666666667 - 0.3333333333
        ("id2", Decimal("0.00000000000")),
        ("id2", Decimal("0.3333333333")),
    ]


def test_a_two_territory_file_makes_one_dsr_per_territory_and_currency_in_one_commit(tmp_path):
    path = write_dsrf(
        tmp_path,
        [
            summary("S1", "ES", "EUR", 3, "30"),
            summary("S2", "GB", "GBP", 4, "8"),
            summary("S3", "ES", "EUR", 1, "1"),
            release("B1"),
            resource("B1", "RS1", "id1", "ISRC1", "Shared Song", "Ana"),
            sale("B1", "S1", "RS1", 3),
            sale("B1", "S2", "RS1", 4),
            release("B2"),
            resource("B2", "X", "id2", "ISRC2", "British Song", "Ben"),
            sale("B2", "S2", "X", 0),
            sale("B2", "S3", "X", 1),
        ],
        name=NAME.replace("_ES_", "__"),
    )

    result = ingest_dsr(path=path)

    spain, britain = DSR.objects.order_by("id")
    assert result.message == f"{path}: ingested as DSR {spain.id} (ES EUR), {britain.id} (GB GBP)"
    assert [dsr.id for dsr in result.dsrs] == [spain.id, britain.id]
    assert (result.lines_read, result.lines_stored) == (4, 4)
    assert (spain.territory_id, spain.currency_id, spain.eur_rate, spain.lines_stored) == ("ES", "EUR", Decimal(1), 2)
    assert (britain.territory_id, britain.currency_id, britain.lines_stored) == ("GB", "GBP", 2)
    assert britain.eur_rate == mean_ecb_rate("GBP", britain.period_start, britain.period_end).quantize(Decimal("1e-10"))
    assert spain.sha256 == britain.sha256
    assert stored_lines(spain.id) == [
        ("id1", "Shared Song", "Ana", "ISRC1", 3, Decimal(30)),
        ("id2", "British Song", "Ben", "ISRC2", 1, Decimal(1)),
    ]
    assert stored_lines(britain.id) == [
        ("id1", "Shared Song", "Ana", "ISRC1", 4, Decimal(8)),
        ("id2", "British Song", "Ben", "ISRC2", 0, Decimal(0)),
    ]
    assert usage_partitions() == [f"dsrs_usage_{spain.id}", f"dsrs_usage_{britain.id}"]


def test_crlf_padded_rows_comments_and_escapes(tmp_path):
    records = [
        "# a comment line, counted in the FOOT's lines",
        summary("S1", "ES", "EUR", 7, "7") + "\t\t\t",
        release("B1") + "\t\t",
        "#another",
        resource("B1", "RS1", "id\\\\1", "ISRC1", "Tab\\\there", "New\\\nline|B\\\\slash") + "\t\t\t\t",
        sale("B1", "S1", "RS1", 7) + "\t\t",
    ]
    lines = [HEAD, *records]
    # The escaped line end splits a record over two lines of the file; the FOOT counts records.
    path = write_dsrf(tmp_path, records, newline="\r\n", footer=foot(lines))

    dsr = ingest_dsr(path=path).dsr

    assert dsr.status == "ingested", dsr.error
    assert stored_lines(dsr.id) == [("id\\1", "Tab\there", "New\nline|B\\slash", "ISRC1", 7, Decimal(7))]


def test_a_chunk_read_record_by_record_gives_the_lines_of_the_plain_chunk_reading(tmp_path):
    (tmp_path / "escaped").mkdir()
    plain = ingest_dsr(path=write_dsrf(tmp_path, SPAIN)).dsr
    # A backslash anywhere in a chunk (here in a comment) has it read record by record, unescaping.
    escaped = ingest_dsr(
        path=write_dsrf(tmp_path / "escaped", ["# from C:\\dsr\\out", *SPAIN], head=HEAD.replace("SGAE", "SACEM"))
    ).dsr

    assert stored_lines(escaped.id) == stored_lines(plain.id) == SPAIN_LINES


def test_a_gzipped_file_and_records_short_of_their_trailing_cells(tmp_path):
    records = [
        summary("S1", "ES", "EUR", 2, "3"),
        release("B1"),
        "AS02.02\tB1\tRS1\tid1\tISRC1\tTitle only",  # no SubTitle, no DisplayArtistName
        sale("B1", "S1", "RS1", 2),
    ]
    path = write_dsrf(tmp_path, records, name=NAME + ".gz")

    dsr = ingest_dsr(path=path).dsr

    assert stored_lines(dsr.id) == [("id1", "Title only", "", "ISRC1", 2, Decimal(3))]


def test_the_format_is_told_from_the_content_whatever_the_name(tmp_path):
    path = write_dsrf(tmp_path, SPAIN, name="delivery.tsv")

    dsr = ingest_dsr(path=path).dsr

    assert (dsr.status, dsr.dsp) == ("ingested", "Spotify")
    assert stored_lines(dsr.id) == SPAIN_LINES


class TestTheFileFailsAsAWhole:
    """Each check on its own inconsistent file: nothing stored, each DSR of the file recorded as
    failed with the message naming the line and record."""

    def failed(self, tmp_path, records, **options):
        path = write_dsrf(tmp_path, records, **options)
        result = ingest_dsr(path=path)
        assert result.outcome == Outcome.FAILED
        assert usage_partitions() == []
        assert {(dsr.status, dsr.error, dsr.lines_stored) for dsr in DSR.objects.all()} == {
            ("failed", result.message, 0)
        }
        return result.message.removeprefix(f"{path}: ")

    def test_a_sale_pointing_to_a_missing_summary(self, tmp_path):
        records = [*SPAIN, sale("B2", "S9", "RS1", 1)]

        assert (
            self.failed(tmp_path, records)
            == "line 13: SU02.01 sale points to summary record 'S9', which does not exist"
        )

    def test_a_sale_pointing_to_a_resource_of_another_block(self, tmp_path):
        records = [*SPAIN, sale("B2", "S1", "RS2", 1)]  # RS2 is in block B1 only

        assert (
            self.failed(tmp_path, records)
            == "line 13: SU02.01 sale points to resource 'RS2', which block 'B2' does not hold"
        )

    def test_sales_that_do_not_add_up_to_their_summary(self, tmp_path):
        records = [summary("S1", "ES", "EUR", 61, "100"), *SPAIN[1:]]

        assert (
            self.failed(tmp_path, records)
            == "line 2: the sales of summary record 'S1' add up to 60 usages, its Usages says 61"
        )

    def test_a_sale_with_unreadable_usages(self, tmp_path):
        records = [*SPAIN[:-1], sale("B2", "S1", "RS1", "3O")]

        assert self.failed(tmp_path, records) == (
            "line 2: the sales of summary record 'S1' add up to 30 usages, its Usages says 60, "
            "and 1 of its sales have unreadable usages"
        )

    @pytest.mark.parametrize(
        ("count", "cell", "message"),
        [
            ("lines", 2, "FOOT NumberOfLinesInFile is '99', the file has 13 lines"),
            ("report_lines", 3, "FOOT NumberOfLinesInReport is '99', the file has 13 lines"),
            ("summaries", 4, "FOOT NumberOfSummaryRecords is '99', the file has 2 summary records"),
            ("blocks", 5, "FOOT NumberOfBlocksInFile is '99', the file has 2 blocks"),
            ("report_blocks", 6, "FOOT NumberOfBlocksInReport is '99', the file has 2 blocks"),
        ],
    )
    def test_foot_counts_that_disagree_with_the_file(self, tmp_path, count, cell, message):
        footer = foot([HEAD, *SPAIN], **{count: 99})

        assert self.failed(tmp_path, SPAIN, footer=footer) == f"line 13: {message}"

    def test_a_missing_foot(self, tmp_path):
        path = tmp_path / NAME
        path.write_text("\n".join([HEAD, *SPAIN]) + "\n")

        result = ingest_dsr(path=path)

        assert result.message == f"{path}: the file ends after line 12 without a FOOT record"
        assert DSR.objects.get().status == "failed"

    def test_a_record_after_the_foot(self, tmp_path):
        path = tmp_path / NAME
        path.write_text("\n".join([HEAD, *SPAIN, foot([HEAD, *SPAIN]), SPAIN[-1]]) + "\n")

        assert ingest_dsr(path=path).message == f"{path}: line 14: a record after the FOOT record of line 13"

    def test_an_unknown_record_type(self, tmp_path):
        records = [*SPAIN, "LI01.01\tB2\tsomething"]

        assert (
            self.failed(tmp_path, records)
            == "line 13: unknown record type 'LI01.01': not part of the Basic Audio profile"
        )

    def test_a_summary_after_the_blocks(self, tmp_path):
        records = [*SPAIN, summary("S3", "ES", "EUR", 0, "0")]

        assert (
            self.failed(tmp_path, records)
            == "line 13: summary record 'SY02.03' after the first block: summaries come before the blocks"
        )

    def test_two_resources_of_a_block_with_one_reference(self, tmp_path):
        records = [*SPAIN, resource("B2", "RS1", "id4", "", "Again", "")]

        assert self.failed(tmp_path, records) == "line 13: resource 'RS1' of block 'B2' is also that of line 11"

    def test_a_second_head(self, tmp_path):
        assert self.failed(tmp_path, [*SPAIN, HEAD]) == "line 13: a second HEAD record"

    def test_a_file_ending_inside_a_record(self, tmp_path):
        path = tmp_path / NAME
        path.write_text("\n".join([HEAD, *SPAIN, foot([HEAD, *SPAIN]) + "\t\\"]) + "\n")

        result = ingest_dsr(path=path)

        assert result.message == f"{path}: line 13: the file ends within a record, after an escaped line end"

    def test_a_two_territory_file_fails_for_both(self, tmp_path):
        records = [summary("S3", "FR", "EUR", 1, "1"), *SPAIN, sale("B2", "S3", "RS9", 1)]

        assert self.failed(tmp_path, records, name=NAME.replace("_ES_", "__")) == (
            "line 14: SU02.01 sale points to resource 'RS9', which block 'B2' does not hold"
        )
        assert sorted(DSR.objects.values_list("territory_id", flat=True)) == ["ES", "FR"]

    def test_too_many_rejected_sales(self, tmp_path, settings):
        records = [*SPAIN[:4], resource("B1", "RS3", "", "", "No id", ""), sale("B1", "S1", "RS3", 0), *SPAIN[4:]]

        message = self.failed(tmp_path, records)

        assert message == (
            "1 of 5 lines rejected (20.00%), more than DSR_MAX_REJECTED_RATIO (1.00%); "
            "first: line 7: its resource record (line 6) is rejected: empty DspResourceId"
        )


def test_rejected_sales_within_the_ratio_are_reported_and_their_share_is_not_stored(tmp_path, settings):
    settings.DSR_MAX_REJECTED_RATIO = 0.7
    records = [
        summary("S1", "ES", "EUR", 4, "8"),
        release("B1"),
        resource("B1", "RS1", "id1", "", "Good", ""),
        resource("B1", "RS2", "", "", "No id", ""),
        resource("B1", "RS3", "id3", "", b"Bad \xff".decode("latin-1"), ""),
        sale("B1", "S1", "RS1", 2),
        sale("B1", "S1", "RS2", 1),
        sale("B1", "S1", "RS3", 1),
    ]
    path = tmp_path / NAME
    lines = [HEAD, *records, foot([HEAD, *records])]
    path.write_bytes("".join(line + "\n" for line in lines).encode().replace("Bad \u00ff".encode(), b"Bad \xff"))

    dsr = ingest_dsr(path=path).dsr

    assert (dsr.status, dsr.error, dsr.lines_read, dsr.lines_stored, dsr.lines_rejected) == ("ingested", "", 3, 1, 2)
    assert dsr.rejections == [
        {"line": 8, "reason": "its resource record (line 5) is rejected: empty DspResourceId"},
        {"line": 9, "reason": "its resource record (line 6) is rejected: invalid UTF-8 at byte 25"},
    ]
    assert stored_lines(dsr.id) == [("id1", "Good", "", "", 2, Decimal(4))]


class TestTheFileIsRefused:
    """Without a valid HEAD and summary records the file says no DSR to record: nothing is."""

    def refused(self, tmp_path, lines: list[str]) -> str:
        path = tmp_path / NAME
        path.write_text("".join(line + "\n" for line in lines))
        result = ingest_dsr(path=path)
        assert result.outcome == Outcome.REFUSED
        assert DSR.objects.count() == 0
        return result.message.removeprefix(f"{path}: ")

    def test_without_a_head(self, tmp_path):
        assert self.refused(tmp_path, SPAIN) == "line 1: expected a HEAD record, found 'SY02.03'"

    def test_a_profile_other_than_basic_audio(self, tmp_path):
        head = HEAD.replace("BasicAudioProfile", "UgcProfile")

        assert self.refused(tmp_path, [head, *SPAIN]) == (
            "line 1: HEAD Profile 'UgcProfile' version '1.3': only the Basic Audio profile (BasicAudioProfile 1.0 to "
            "1.3) is read"
        )

    def test_a_profile_version_after_1_3(self, tmp_path):
        head = HEAD.replace("BasicAudioProfile\t1.3", "BasicAudioProfile\t1.4")

        assert "HEAD Profile 'BasicAudioProfile' version '1.4'" in self.refused(tmp_path, [head, *SPAIN])

    def test_a_multi_file_report(self, tmp_path):
        head = HEAD.replace("\t1\t1\t2024-01-01", "\t1\t2\t2024-01-01")

        assert self.refused(tmp_path, [head, *SPAIN]) == (
            "line 1: HEAD says file '1' of '2': only single-file reports (1 of 1) are read; ask the sender for the "
            "report in one file"
        )

    def test_a_territory_in_two_currencies(self, tmp_path):
        lines = [HEAD, summary("S1", "ES", "EUR", 1, "1"), summary("S2", "ES", "USD", 1, "1")]

        assert self.refused(tmp_path, lines) == (
            "line 3: SY02.03 reports territory ES in USD, an earlier summary in EUR: "
            "the service keeps one report per DSP, service, recipient, territory and period"
        )

    @pytest.mark.parametrize(
        ("record", "message"),
        [
            (summary("S1", "XX", "EUR", 1, "1"), "unknown territory 'XX' (ISO 3166 alpha-2)"),
            (summary("S1", "ES", "ZZZ", 1, "1"), "unknown currency 'ZZZ' (ISO 4217)"),
            (
                summary("S1", "Spain", "EUR", 1, "1"),
                "line 2: SY02.03 Territory 'Spain' is not an ISO 3166 alpha-2 code",
            ),
            (
                summary("S1", "ES", "EUR", "1.5", "1"),
                "line 2: SY02.03 Usages '1.5' is not an unsigned integer of at most 18 digits",
            ),
            (summary("S1", "ES", "EUR", 1, "-1"), "line 2: SY02.03 NetRevenue '-1' is not an unsigned decimal number"),
            (
                summary("S1", "ES", "EUR", 1, "1e15"),
                "line 2: SY02.03 NetRevenue '1e15' is not below the limit of 10^15",
            ),
            (summary("S1", "ES", "EUR", 0, "5"), "line 2: SY02.03 has a NetRevenue of 5 but no Usages to share it"),
            (summary("", "ES", "EUR", 1, "1"), "line 2: SY02.03 has an empty SummaryRecordId"),
        ],
    )
    def test_a_bad_summary_record(self, tmp_path, record, message):
        assert self.refused(tmp_path, [HEAD, record, *SPAIN[2:]]) == message

    def test_a_bad_usage_period(self, tmp_path):
        head = HEAD.replace("2024-01-31", "2023-12-31")

        assert (
            self.refused(tmp_path, [head, *SPAIN])
            == "line 1: HEAD usage period starts after it ends (2024-01-01 > 2023-12-31)"
        )

    def test_a_broken_gzip(self, tmp_path):
        path = tmp_path / (NAME + ".gz")
        path.write_bytes(gzip.compress(("\n".join([HEAD, *SPAIN]) + "\n").encode())[:-30])

        result = ingest_dsr(path=path)

        assert (result.outcome, result.message) == (
            Outcome.REFUSED,
            f"{path}: truncated gzip: the file ends within line 1",
        )


def test_the_same_file_again_is_skipped(tmp_path):
    first = ingest_dsr(path=write_dsrf(tmp_path, SPAIN)).dsr

    result = ingest_dsr(path=tmp_path / NAME)

    assert (result.outcome, result.message) == (
        Outcome.SKIPPED,
        f"{tmp_path / NAME}: skipped, this file is already ingested as DSR {first.id}",
    )
    assert DSR.objects.count() == 1


def test_a_second_delivery_is_refused_and_replace_swaps_it(tmp_path):
    first = ingest_dsr(path=write_dsrf(tmp_path, SPAIN)).dsr
    (tmp_path / "again").mkdir()
    second = write_dsrf(tmp_path / "again", [summary("S1", "ES", "EUR", 30, "60"), *SPAIN[-3:]])

    refused = ingest_dsr(path=second)
    replaced = ingest_dsr(path=second, replace=True)

    assert (refused.message, refused.remedy) == (
        f"{second}: DSR {first.id} ({first.path}) already reports this DSP, service, society, territory and period",
        Remedy.REPLACE,
    )
    assert replaced.message == f"{second}: ingested as DSR {replaced.dsr.id} (ES EUR), replacing DSR {first.id}"
    assert list(DSR.objects.values_list("id", flat=True)) == [replaced.dsr.id]
    assert stored_lines(replaced.dsr.id) == [("id3", "Song Three", "Dan", "ES0000000003", 30, Decimal(60))]


def test_another_recipient_is_another_report(tmp_path):
    ingest_dsr(path=write_dsrf(tmp_path, SPAIN))
    (tmp_path / "sacem").mkdir()

    result = ingest_dsr(
        path=write_dsrf(
            tmp_path / "sacem",
            [*SPAIN[:-1], sale("B2", "S1", "RS1", 30)],
            head=HEAD.replace("\tSGAE", "\tSACEM") + "\t",
        )
    )

    assert result.outcome == Outcome.INGESTED, result.message
    assert sorted(DSR.objects.values_list("society", flat=True)) == ["SACEM", "SGAE"]


def test_one_eur_rate_for_a_file_of_two_currencies_is_refused(tmp_path):
    path = write_dsrf(tmp_path, [summary("S0", "GB", "GBP", 0, "0"), *SPAIN])

    result = ingest_dsr(path=path, eur_rate=Decimal("0.8"))

    assert (result.outcome, result.message) == (
        Outcome.REFUSED,
        f"{path}: one EUR rate was given, the file reports in EUR, GBP",
    )
