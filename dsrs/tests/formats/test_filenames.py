from datetime import date
from pathlib import Path

import pytest

from dsrs.formats.filenames import (
    MAX_NAME_FIELD_CHARS,
    DsrFileName,
    FileNameError,
    is_dsrf_file_name,
    parse_dsr_file_name,
    parse_dsrf_file_name,
)
from dsrs.models import DSR


def test_it_parses_a_gzipped_name_without_society():
    assert parse_dsr_file_name(Path("data/Spotify_SpotifyDuo_NO_NOK_20200101-20200131.tsv.gz")) == DsrFileName(
        dsp="Spotify",
        service="SpotifyDuo",
        society=None,
        territory="NO",
        currency="NOK",
        period_start=date(2020, 1, 1),
        period_end=date(2020, 1, 31),
        gzipped=True,
    )


def test_it_parses_a_plain_name_with_a_society():
    assert parse_dsr_file_name(Path("Spotify_SpotifyStudent_SGAE_GB_GBP_20210901-20210930.tsv")) == DsrFileName(
        dsp="Spotify",
        service="SpotifyStudent",
        society="SGAE",
        territory="GB",
        currency="GBP",
        period_start=date(2021, 9, 1),
        period_end=date(2021, 9, 30),
        gzipped=False,
    )


def test_it_accepts_a_one_day_period():
    assert parse_dsr_file_name(Path("YouTube_Music_ES_EUR_20200229-20200229.tsv")).period_end == date(2020, 2, 29)


@pytest.mark.parametrize(
    "name, reason",
    [
        ("Spotify_NO_NOK_20200101-20200131.tsv", "does not match"),  # no service
        ("Spotify_Duo_Extra_SGAE_NO_NOK_20200101-20200131.tsv", "does not match"),  # one part too many
        ("Spotify_SpotifyDuo_no_NOK_20200101-20200131.tsv", "does not match"),  # lowercase territory
        ("Spotify_SpotifyDuo_NOR_NOK_20200101-20200131.tsv", "does not match"),  # alpha-3 territory
        ("Spotify_SpotifyDuo_NO_NO_20200101-20200131.tsv", "does not match"),  # 2-letter currency
        ("Spotify_Spotify-Duo_NO_NOK_20200101-20200131.tsv", "does not match"),  # not alphanumeric
        ("Spotify_SpotifyDuo_NO_NOK_2020011-20200131.tsv", "does not match"),  # 7-digit date
        ("Spotify_SpotifyDuo_NO_NOK_20200101_20200131.tsv", "does not match"),  # no dash
        (
            "Spotify_SpotifyDuo_NO_NOK_\u0662\u0660\u0662\u0660\u0660\u0661\u0660\u0661-20200131.tsv",
            "does not match",
        ),  # Arabic-Indic
        (
            "Spotify_SpotifyDuo_NO_NOK_20200101-\uff12\uff10\uff12\uff10\uff10\uff11\uff13\uff11.tsv",
            "does not match",
        ),  # fullwidth
        ("Spotify\u00c9_SpotifyDuo_NO_NOK_20200101-20200131.tsv", "does not match"),  # not ASCII
        ("Spotify_SpotifyDuo_NO_NOK_20200101-20200131.csv", "does not match"),  # extension
        ("Spotify_SpotifyDuo_NO_NOK_20200101-20200131.tsv.zip", "does not match"),
        ("Spotify_SpotifyDuo_NO_NOK_20200101-20200131", "does not match"),
        ("Spotify_SpotifyDuo_NO_NOK_20200230-20200331.tsv", "20200230 is not a valid YYYYMMDD date"),
        ("Spotify_SpotifyDuo_NO_NOK_20200101-20201331.tsv", "20201331 is not a valid YYYYMMDD date"),
        ("Spotify_SpotifyDuo_NO_NOK_20200201-20200131.tsv", "period starts after it ends (2020-02-01 > 2020-01-31)"),
    ],
)
def test_it_rejects_a_malformed_name(name, reason):
    with pytest.raises(FileNameError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_dsr_file_name(Path(name))


def test_a_name_field_may_be_as_long_as_the_dsr_column_it_fills_and_no_longer():
    longest = parse_dsr_file_name(Path(f"{'D' * 100}_{'S' * 100}_{'C' * 100}_ES_EUR_20200101-20200131.tsv"))

    assert (len(longest.dsp), len(longest.service), len(longest.society)) == (100, 100, 100)
    assert {DSR._meta.get_field(name).max_length for name in ("dsp", "service", "society", "recipient_party_id")} == {
        MAX_NAME_FIELD_CHARS
    }
    with pytest.raises(FileNameError, match=r"^the society 'CCCCCCCCCCCCCCCCCCCC'\.\.\. is 101 characters long"):
        parse_dsr_file_name(Path(f"Spotify_Premium_{'C' * 101}_ES_EUR_20200101-20200131.tsv"))
    with pytest.raises(FileNameError, match=r"^the recipient party ID 'PPPPPPPPPPPPPPPPPPPP'\.\.\. is 101 characters"):
        parse_dsrf_file_name(Path(f"DSR_PADPIDA1_{'P' * 101}_Premium_20200101--20200131_ES_1of1_20200205T000000.tsv"))


def test_a_dsrf_file_name_gives_sender_recipient_service_period_and_territory():
    name = parse_dsrf_file_name(
        Path(
            "DSR_PADPIDA2011021501G_PADPIDA2007040502I_SpotifyPremium_20240101--20240131_ES_1of1_20240205T120000.tsv.gz"
        )
    )

    assert (name.sender, name.recipient, name.service, name.territory) == (
        "PADPIDA2011021501G",
        "PADPIDA2007040502I",
        "SpotifyPremium",
        "ES",
    )
    assert (name.period_start, name.period_end) == (date(2024, 1, 1), date(2024, 1, 31))


def test_a_multi_territory_dsrf_file_name_has_no_territory():
    path = Path("DSR_S_R_Service_20240101--20240131__1of1_20240205T120000.tsv")

    assert (is_dsrf_file_name(path), parse_dsrf_file_name(path).territory) == (True, None)


@pytest.mark.parametrize(
    "name",
    [
        "Spotify_SpotifyDuo_NO_NOK_20200101-20200131.tsv",  # the project's TSV convention
        "DSR_S_R_Service_20240101-20240131_ES_1of1_20240205T120000.tsv",  # one dash between the dates
        "DSR_S_R_Service_20240101--20240131_ES_1of1_20240205.tsv",  # no creation time
        "DSR_S_R_Service_20240101--20240131_ES_1of1_20240205T120000.csv",
    ],
)
def test_other_names_are_no_dsrf_file_names(name):
    assert not is_dsrf_file_name(Path(name))
    with pytest.raises(FileNameError, match="file name does not match DSR_"):
        parse_dsrf_file_name(Path(name))


def test_a_dsrf_period_must_be_ordered():
    with pytest.raises(FileNameError, match=r"period starts after it ends \(2024-02-01 > 2024-01-31\)"):
        parse_dsrf_file_name(Path("DSR_S_R_Service_20240201--20240131_ES_1of1_20240205T120000.tsv"))
