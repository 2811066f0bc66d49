"""/resources/percentile/{number} on the real seed DSRs, against a computation in plain Python
that reads the files itself and shares nothing with the SQL but each DSR's stored EUR rate."""

import gzip
import json
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

import pytest

from dsrs.ingest.service import Outcome, ingest_dsr
from dsrs.models import DSR
from dsrs.tests.support.paths import SEED_DATA
from dsrs.tests.support.responses import body

pytestmark = [
    pytest.mark.usefixtures("committed_db"),
    pytest.mark.skipif(not SEED_DATA.exists(), reason=f"no seed data at {SEED_DATA}"),
]


@dataclass
class ExpectedResource:
    dsp: str
    dsp_id: str
    usages: int = 0
    revenue: Decimal = Decimal(0)
    dsrs: set[int] = field(default_factory=set)
    # field -> (period_end, dsr id, value): the most recent DSR, then the greatest value in it
    metadata: dict[str, tuple] = field(default_factory=dict)


def read_lines(path: Path) -> list[list[str]]:
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    rows = [line.split("\t") for line in data.decode("utf-8-sig").replace("\r\n", "\n").split("\n") if line]
    assert [name.lower() for name in rows[0]] == ["dsp_id", "title", "artists", "isrc", "usages", "revenue"]
    return rows[1:]


def expected_top_percentile(dsrs: list[DSR], number: int, territory: str | None) -> list[ExpectedResource]:
    resources: dict[tuple[str, str], ExpectedResource] = {}
    with localcontext() as context:
        context.prec = 60
        for dsr in dsrs:
            if territory is not None and dsr.territory_id != territory.upper():
                continue
            for dsp_id, title, artists, isrc, usages, revenue in read_lines(Path(dsr.path)):
                resource = resources.setdefault((dsr.dsp, dsp_id), ExpectedResource(dsr.dsp, dsp_id))
                resource.usages += int(usages or 0)
                resource.dsrs.add(dsr.id)
                # A line's EUR revenue: revenue / rate, rounded half up to 1e-8 EUR.
                units = (Decimal(revenue or 0) * 10**8 / dsr.eur_rate).to_integral_value(rounding=ROUND_HALF_UP)
                resource.revenue += units / 10**8
                for name, value in (("title", title), ("artists", artists), ("isrc", isrc)):
                    if value:
                        candidate = (dsr.period_end, dsr.id, value)
                        resource.metadata[name] = max(resource.metadata.get(name, candidate), candidate)
        ranking = sorted(resources.values(), key=lambda r: (-r.revenue, r.dsp_id, r.dsp))
        total = sum(r.revenue for r in ranking)
        head, before = [], Decimal(0)
        for resource in ranking:
            if before * 100 >= total * number:
                break
            head.append(resource)
            before += resource.revenue
    return head


@pytest.fixture
def seed_dsrs() -> list[DSR]:
    for path in sorted(SEED_DATA.iterdir()):
        assert ingest_dsr(path=path).outcome == Outcome.INGESTED
    return list(DSR.objects.all())


@pytest.mark.parametrize("territory", [None, "GB"])
@pytest.mark.parametrize("number", [1, 10, 50, 100])
def test_the_answer_equals_an_independent_computation_over_the_files(client, seed_dsrs, number, territory):
    expected = expected_top_percentile(seed_dsrs, number, territory)

    query = f"?territory={territory}" if territory else ""
    response = json.loads(body(client.get(f"/resources/percentile/{number}{query}")), parse_float=Decimal)

    assert [(r["dsp"], r["dsp_id"]) for r in response] == [(e.dsp, e.dsp_id) for e in expected]
    for got, want in zip(response, expected, strict=True):
        assert got["usages"] == want.usages
        assert got["revenue"] == want.revenue
        assert got["dsrs"] == sorted(want.dsrs)
        for name in ("title", "artists", "isrc"):
            assert got[name] == want.metadata.get(name, (None, None, ""))[2]


def test_the_seed_data_exercises_what_the_comparison_checks(seed_dsrs):
    everything = expected_top_percentile(seed_dsrs, 100, None)
    reported = {}
    for dsr in seed_dsrs:
        for dsp_id, title, artists, isrc, _usages, _revenue in read_lines(Path(dsr.path)):
            reported.setdefault(dsp_id, set()).add((title, artists, isrc))

    # Resources in several DSRs, some with metadata that differs between them, some without isrc.
    assert sum(len(r.dsrs) > 1 for r in everything) >= 50
    assert sum(len(metadata) > 1 for metadata in reported.values()) >= 10
    assert any("isrc" not in r.metadata for r in everything)
