"""DSRF files written by the tests, record by record, with the FOOT counts they should carry."""

import gzip
from pathlib import Path

HEAD = (
    "HEAD\tdsrf/1.3\tBasicAudioProfile\t1.3\tMSG-1\t2024-02-05T12:00:00\t1\t1\t2024-01-01\t2024-01-31"
    "\tPADPIDA2011021501G\tSpotify\tSpotify Premium\tPADPIDA2007040502I\tSGAE"
)
NAME = "DSR_PADPIDA2011021501G_PADPIDA2007040502I_SpotifyPremium_20240101--20240131_ES_1of1_20240205T120000.tsv"


def summary(
    summary_id: str, territory: str, currency: str, usages: int, revenue: str, *, record: str = "SY02.03"
) -> str:
    """SY01/SY02: 2 SummaryRecordId, 5 CommercialModel, 6 UseType, 7 Territory, 9 Usages, 11 Currency, 12 NetRevenue."""
    return f"{record}\t{summary_id}\tDSP\t\tSubscriptionModel\tOnDemandStream\t{territory}\t\t{usages}\t7\t{currency}\t{revenue}"  # noqa: E501 (an exact value, whole)


def release(block: str, reference: str = "R1", title: str = "Album") -> str:
    """RE01: 2 BlockId, 3 ReleaseReference, 4 DspReleaseId, 7 ICPN, 8 DisplayArtistName, 10 Title."""
    return f"RE01.02\t{block}\t{reference}\tREL-{block}\t\t\t0123456789012\tVarious\t\t{title}"


def resource(
    block: str, reference: str, dsp_id: str, isrc: str, title: str, artists: str, *, record: str = "AS02.02"
) -> str:
    """AS01/AS02: 2 BlockId, 3 ResourceReference, 4 DspResourceId, 5 ISRC, 6 Title, 8 DisplayArtistName."""
    return f"{record}\t{block}\t{reference}\t{dsp_id}\t{isrc}\t{title}\t\t{artists}"


def sale(
    block: str,
    summary_id: str,
    resource_reference: str,
    usages,
    *,
    record: str = "SU02.01",
    release_reference: str = "R1",
) -> str:
    """SU02: 8 NumberOfStreams; SU01: 9 Usages. 2 BlockId, 3 SummaryRecordId, 5 TransactedRelease, 6 TransactedResource."""  # noqa: E501 (an exact value, whole)
    if record.startswith("SU01"):
        return f"{record}\t{block}\t{summary_id}\tT\t{release_reference}\t{resource_reference}\t\t\t{usages}"
    return f"{record}\t{block}\t{summary_id}\tT\t{release_reference}\t{resource_reference}\t\t{usages}"


def foot(records: list[str], **overrides) -> str:
    """FOOT with the counts of `records` (HEAD included, FOOT not yet): 2 NumberOfLinesInFile,
    3 NumberOfLinesInReport, 4 NumberOfSummaryRecords, 5 NumberOfBlocksInFile, 6 NumberOfBlocksInReport."""
    blocks, previous = 0, None
    for record in records:
        if record[:4] in ("RE01", "AS01", "AS02", "SU01", "SU02"):
            block = record.split("\t")[1]
            blocks += block != previous
            previous = block
    counts = {
        "lines": len(records) + 1,
        "report_lines": len(records) + 1,
        "summaries": sum(record[:4] in ("SY01", "SY02") for record in records),
        "blocks": blocks,
        "report_blocks": blocks,
    }
    counts.update(overrides)
    return "FOOT\t" + "\t".join(
        str(counts[key]) for key in ("lines", "report_lines", "summaries", "blocks", "report_blocks")
    )


def write_dsrf(
    directory: Path,
    records: list[str],
    *,
    name: str = NAME,
    head: str = HEAD,
    newline: str = "\n",
    footer: str | None = None,
) -> Path:
    """HEAD, `records`, and a FOOT that agrees with them unless `footer` is given."""
    lines = [head, *records]
    lines.append(foot(lines) if footer is None else footer)
    path = directory / name
    data = "".join(line + newline for line in lines).encode()
    if name.endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


# A file of one report: Spain in EUR, two blocks, three resources (test_ingest_dsrf checks its lines).
SPAIN = [
    summary("S1", "ES", "EUR", 60, "100"),
    summary("S2", "ES", "EUR", 5, "0.5", record="SY01.02"),
    release("B1"),
    resource("B1", "RS1", "id1", "ES0000000001", "Song One", "Ana|Ben"),
    resource("B1", "RS2", "id2", "ES0000000002", "Song Two", "Carla", record="AS01.01"),
    sale("B1", "S1", "RS1", 10),
    sale("B1", "S1", "RS2", 20),
    sale("B1", "S2", "RS1", 5, record="SU01.02"),
    release("B2"),
    resource("B2", "RS1", "id3", "ES0000000003", "Song Three", "Dan"),
    sale("B2", "S1", "RS1", 30),
]
