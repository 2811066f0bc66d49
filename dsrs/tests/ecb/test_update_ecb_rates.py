"""update_ecb_rates: loading the ECB's published history, so the newest DSRs get their EUR rate."""

import io
import threading
import time
import urllib.error
import urllib.request
import zipfile
from datetime import date
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError
from django.db.models import Count, Max, Sum

from dsrs.ecb import sources, storage
from dsrs.ecb.sources import ECB_HISTORY_URL
from dsrs.models import DSR, EcbRate, EcbRateUpdate

pytestmark = pytest.mark.django_db

# The ECB's format, newest day first, a trailing comma on every line: three days of November and
# one of December after the bundled history (which ends on 2026-10-30), that last day again with
# the bundled rates, and ARS, a currency the bundled history never quoted.
HISTORY = """\
Date,USD,JPY,GBP,NOK,ISK,ARS,
2026-12-01,1.1590,180.25,0.8745,11.412,N/A,1500.5,
2026-11-30,1.1601,180.89,0.8732,11.398,N/A,1498.25,
2026-11-27,1.1587,179.8,0.8712,11.376,N/A,1490,
2026-11-02,1.1204,176.1,0.8342,10.320,N/A,N/A,
2026-10-30,1.1172,175.68,0.8338,10.312,136,1450,
"""
# The mean of the GBP rates of the November days above: (0.8732 + 0.8712 + 0.8342) / 3.
NOVEMBER_GBP = Decimal("0.8595333333")
GBP_NOVEMBER_DSR = "Spotify_SpotifyPremium_GB_GBP_20261101-20261130.tsv"
LINES = ["id1\tSong One\tAna\tGB0000000001\t10\t1.5"]


def zipped(csv: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("eurofxref-hist.csv", csv)
    return buffer.getvalue()


@pytest.fixture
def http_server():
    """Serves files on 127.0.0.1: `serve(path, body)` returns the URL.

    `sent=N` sends only the first N bytes of the body, after announcing all of it (in the
    Content-Length, or as one chunk with `chunked=True`). The server answers one request at a
    time and stops after the test, or by itself 30 s after it started should the test hang.
    """
    served: dict[str, tuple[bytes, int, bool]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path not in served:
                self.send_error(404)
                return
            body, sent, chunked = served[self.path]
            self.send_response(200)
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.wfile.write(b"%x\r\n" % len(body) + body[:sent])
            else:
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[:sent])

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    server.timeout = 0.1  # how often handle_request looks at the stop conditions
    stop = threading.Event()
    deadline = time.monotonic() + 30

    def run():
        while not stop.is_set() and time.monotonic() < deadline:
            server.handle_request()
        server.server_close()

    thread = threading.Thread(target=run, name="test-http-server", daemon=True)
    thread.start()

    def serve(path: str, body: bytes, *, sent: int | None = None, chunked: bool = False) -> str:
        served[path] = (body, len(body) if sent is None else sent, chunked)
        return f"http://127.0.0.1:{server.server_port}{path}"

    yield serve
    stop.set()
    thread.join()


@pytest.fixture
def history_file(tmp_path):
    path = tmp_path / "eurofxref-hist.csv"
    path.write_text(HISTORY)
    return path


def stored_rates() -> tuple:
    """What the table holds: totals over the seeded history, and every rate from its last day on."""
    totals = EcbRate.objects.aggregate(Count("id"), Max("id"), Sum("rate"), Sum("update_id"))
    recent = EcbRate.objects.filter(date__gte=date(2026, 10, 30)).order_by("date", "currency")
    return totals, list(recent.values_list("date", "currency", "rate", "update_id"))


def update(source: str, capsys) -> str:
    call_command("update_ecb_rates", "--source", source)
    return capsys.readouterr().out


def test_it_loads_the_new_days_of_a_zip_served_over_http(http_server, capsys):
    url = http_server("/stats/eurofxref/eurofxref-hist.zip", zipped(HISTORY))
    before = EcbRate.objects.count()

    out = update(url, capsys)

    assert out == f"{url}: 4 days and 1 currency added (20 rates); the ECB rates now end on 2026-12-01\n"
    last = EcbRateUpdate.objects.first()
    assert (last.source, last.days_added, last.currencies_added, last.rates_added) == (url, 4, 1, 20)
    assert EcbRate.objects.count() == before + 20
    assert list(
        EcbRate.objects.filter(currency="GBP", date__gte=date(2026, 10, 30)).values_list("date", "rate", "update_id")
    ) == [
        (date(2026, 12, 1), Decimal("0.8745"), last.id),
        (date(2026, 11, 30), Decimal("0.8732"), last.id),
        (date(2026, 11, 27), Decimal("0.8712"), last.id),
        (date(2026, 11, 2), Decimal("0.8342"), last.id),
        (date(2026, 10, 30), Decimal("0.8338"), EcbRateUpdate.objects.last().id),  # already seeded
    ]
    assert list(EcbRate.objects.filter(currency="ARS").values_list("date", "rate")) == [
        (date(2026, 12, 1), Decimal("1500.5")),
        (date(2026, 11, 30), Decimal("1498.25")),
        (date(2026, 11, 27), Decimal("1490")),
        (date(2026, 10, 30), Decimal("1450")),
    ]


def test_it_loads_a_csv_file_from_disk_and_records_its_absolute_path(history_file, capsys, monkeypatch):
    monkeypatch.chdir(history_file.parent)

    out = update("eurofxref-hist.csv", capsys)

    assert out == f"{history_file}: 4 days and 1 currency added (20 rates); the ECB rates now end on 2026-12-01\n"
    assert EcbRateUpdate.objects.first().source == str(history_file)


def test_a_zip_from_disk_and_a_csv_over_http_load_the_same_rates(http_server, tmp_path, capsys):
    zip_path = tmp_path / "eurofxref-hist.zip"
    zip_path.write_bytes(zipped(HISTORY))
    update(str(zip_path), capsys)
    from_zip = [row[:3] for row in stored_rates()[1]]
    EcbRate.objects.filter(update=EcbRateUpdate.objects.first()).delete()

    update(http_server("/eurofxref-hist.csv", HISTORY.encode()), capsys)

    assert [row[:3] for row in stored_rates()[1]] == from_zip


def test_running_it_again_adds_nothing_and_records_the_run(history_file, capsys):
    update(str(history_file), capsys)
    rates = stored_rates()

    out = update(str(history_file), capsys)

    assert out == f"{history_file}: 0 days and 0 currencies added (0 rates); the ECB rates now end on 2026-12-01\n"
    assert stored_rates() == rates
    assert list(EcbRateUpdate.objects.values_list("source", "days_added", "currencies_added", "rates_added"))[:2] == [
        (str(history_file), 0, 0, 0),
        (str(history_file), 4, 1, 20),
    ]


def test_a_stored_rate_is_kept_when_the_source_differs(tmp_path, capsys):
    path = tmp_path / "revised.csv"
    path.write_text("Date,GBP,\n2026-10-30,0.9999,\n")

    assert update(str(path), capsys).startswith(f"{path}: 0 days and 0 currencies added (0 rates)")
    assert EcbRate.objects.get(date=date(2026, 10, 30), currency="GBP").rate == Decimal("0.8338")


def test_the_default_source_is_the_ecbs_history(monkeypatch):
    asked = []

    def offline(url, timeout):
        asked.append((url, timeout))
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setattr(urllib.request, "urlopen", offline)

    with pytest.raises(
        CommandError,
        match=f"^ECB rates not updated: {ECB_HISTORY_URL}: download failed: <urlopen error no network in tests>$",
    ):
        call_command("update_ecb_rates")
    assert asked == [("https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist.zip", 60)]


class TestANovemberDsr:
    """The issue's story: at the start of December, last month's GBP DSR needs November's rates."""

    def test_it_fails_before_the_update_and_ingests_after_it_with_the_mean_of_the_new_days(
        self, write_dsr, http_server, capsys
    ):
        path = write_dsr(GBP_NOVEMBER_DSR, LINES)
        with pytest.raises(CommandError, match="1 of 1 files not ingested"):
            call_command("ingest_dsr", str(path))
        assert capsys.readouterr().err == (
            f"{path}: no ECB rates for GBP up to 2026-11-30 yet: the stored rates end on 2026-10-30 "
            "(update_ecb_rates loads newer ones); give one with --eur-rate\n"
        )

        update(http_server("/eurofxref-hist.zip", zipped(HISTORY)), capsys)
        call_command("ingest_dsr", str(path))

        failed, ingested = DSR.objects.all()
        assert (failed.status, failed.eur_rate) == ("failed", None)
        assert (ingested.status, ingested.path, ingested.eur_rate, ingested.eur_rate_source) == (
            "ingested",
            str(path),
            NOVEMBER_GBP,
            "ecb",
        )
        assert capsys.readouterr().out.startswith(f"{path}: ingested as DSR {ingested.id}\n")

    def test_it_still_waits_while_the_stored_rates_end_before_its_last_day(self, write_dsr, tmp_path, capsys):
        until_27_november = tmp_path / "eurofxref-hist.csv"
        until_27_november.write_text("Date,GBP,\n2026-11-27,0.8712,\n2026-11-02,0.8342,\n")
        update(str(until_27_november), capsys)
        path = write_dsr(GBP_NOVEMBER_DSR, LINES)

        with pytest.raises(CommandError, match="1 of 1 files not ingested"):
            call_command("ingest_dsr", str(path))

        assert DSR.objects.get().error == (
            f"{path}: no ECB rates for GBP up to 2026-11-30 yet: the stored rates end on 2026-11-27 "
            "(update_ecb_rates loads newer ones)"
        )


class TestABadSourceChangesNothing:
    @pytest.fixture(autouse=True)
    def nothing_changes(self):
        before = stored_rates(), list(EcbRateUpdate.objects.values())
        yield
        assert (stored_rates(), list(EcbRateUpdate.objects.values())) == before

    def refused(self, source: str) -> str:
        with pytest.raises(CommandError) as raised:
            call_command("update_ecb_rates", "--source", source)
        return str(raised.value)

    def test_a_download_shorter_than_its_content_length_is_truncated(self, http_server):
        body = zipped(HISTORY)
        url = http_server("/eurofxref-hist.zip", body, sent=100)

        assert (
            self.refused(url)
            == f"ECB rates not updated: {url}: the download stopped after 100 of {len(body)} bytes: truncated"
        )

    def test_a_chunked_download_cut_short_is_truncated(self, http_server):
        url = http_server("/eurofxref-hist.zip", zipped(HISTORY), sent=100, chunked=True)

        assert (
            self.refused(url) == f"ECB rates not updated: {url}: the download stopped before its last chunk: truncated"
        )

    def test_a_csv_served_with_a_malformed_line_is_refused_with_its_line(self, http_server):
        url = http_server("/eurofxref-hist.csv", HISTORY.replace("0.8712", "0,8712").encode())

        assert (
            self.refused(url)
            == f"ECB rates not updated: {url}: line 4: expected 8 comma-separated fields like the header, found 9"
        )

    def test_a_missing_download_says_so(self, http_server):
        url = http_server("/eurofxref-hist.zip", b"") + "-missing"

        assert self.refused(url) == f"ECB rates not updated: {url}: download failed: HTTP Error 404: Not Found"

    def test_a_download_larger_than_any_history_is_refused(self, http_server, monkeypatch):
        monkeypatch.setattr(sources, "MAX_HISTORY_BYTES", 100)
        url = http_server("/eurofxref-hist.csv", HISTORY.encode())

        assert self.refused(url) == f"ECB rates not updated: {url}: more than 100 bytes: not an ECB history"

    def test_a_truncated_zip_file_is_refused(self, tmp_path):
        path = tmp_path / "eurofxref-hist.zip"
        path.write_bytes(zipped(HISTORY)[:-30])

        assert self.refused(str(path)) == (
            f"ECB rates not updated: {path}: not a readable zip file (File is not a zip file): damaged or truncated"
        )

    def test_a_truncated_csv_file_is_refused(self, tmp_path):
        path = tmp_path / "eurofxref-hist.csv"
        path.write_text(HISTORY[:-10])

        assert (
            self.refused(str(path)) == f"ECB rates not updated: {path}: line 6 has no line end: the file is truncated"
        )

    def test_a_missing_file_says_so(self, tmp_path):
        assert self.refused(str(tmp_path / "nothing.zip")) == (
            f"ECB rates not updated: {tmp_path / 'nothing.zip'}: cannot read the file: No such file or directory"
        )

    def test_a_file_larger_than_any_history_is_refused(self, history_file, monkeypatch):
        monkeypatch.setattr(sources, "MAX_HISTORY_BYTES", 100)

        assert (
            self.refused(str(history_file))
            == f"ECB rates not updated: {history_file}: more than 100 bytes: not an ECB history"
        )

    def test_a_database_error_after_storing_rolls_the_whole_update_back(self, history_file, monkeypatch):
        store = storage.add_rates

        def store_then_fail(**kwargs):
            store(**kwargs)
            raise DatabaseError("the server went away")

        monkeypatch.setattr(storage, "add_rates", store_then_fail)

        assert self.refused(str(history_file)) == f"ECB rates not updated: {history_file}: the server went away"
