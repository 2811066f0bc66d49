"""GET /resources/percentile/{number}: the HTTP side of the selector (see test_top_percentile.py
for the ranking rules), on conftest.small_catalogue: EUR revenue Spotify A 45, YouTube A 20,
Spotify B 20, Spotify E 10, Spotify D 5, Spotify C 0."""

import pytest

pytestmark = pytest.mark.usefixtures("committed_db")


def get(client, query: str):
    return client.get(f"/resources/percentile/{query}")


def ranking(response) -> list[tuple[str, str]]:
    assert response.status_code == 200, response.content
    return [(resource["dsp"], resource["dsp_id"]) for resource in response.json()]


def test_it_returns_the_top_resources_with_the_contracts_fields(client, small_catalogue):
    c = small_catalogue

    response = get(client, "66")

    assert (response.status_code, response["Content-Type"]) == (200, "application/json")
    assert response.json() == [
        {
            "dsp": "Spotify",
            "dsp_id": "A",
            "title": "Title A new",
            "artists": "Artist A",
            "isrc": "ISRCA2",
            "usages": 13,
            "revenue": 45.0,
            "dsrs": [c.es_spotify, c.no_spotify],
        },
        {
            "dsp": "YouTube",
            "dsp_id": "A",
            "title": "YT A",
            "artists": "YT Artist",
            "isrc": "YTISRC",
            "usages": 8,
            "revenue": 20.0,
            "dsrs": [c.es_youtube],
        },
        {
            "dsp": "Spotify",
            "dsp_id": "B",
            "title": "Title B new",
            "artists": "Artist B",
            "isrc": "",
            "usages": 9,
            "revenue": 20.0,
            "dsrs": [c.es_spotify, c.gb_spotify],
        },
    ]


def test_numbers_in_json_are_numbers(client, small_catalogue):
    [resource] = get(client, "1").json()

    assert (type(resource["usages"]), type(resource["revenue"]), type(resource["dsrs"][0])) == (int, float, int)


def test_n_100_returns_every_resource_with_revenue(client, small_catalogue):
    assert ranking(get(client, "100")) == [
        ("Spotify", "A"),
        ("YouTube", "A"),
        ("Spotify", "B"),
        ("Spotify", "E"),
        ("Spotify", "D"),
    ]


def test_it_filters_by_territory_in_any_case(client, small_catalogue):
    assert ranking(get(client, "100?territory=gB")) == [("Spotify", "B"), ("Spotify", "D")]


@pytest.mark.parametrize("territory", ["FR", "Spain", "ESP", "e", "%00", "%C3%A9s"])
def test_a_territory_of_no_dsr_gives_an_empty_array(client, small_catalogue, territory):
    response = get(client, f"100?territory={territory}")

    assert (response.status_code, response.json()) == (200, [])


def test_period_start_alone_is_inclusive(client, small_catalogue):
    assert ranking(get(client, "100?period_start=2020-02-01")) == [("Spotify", "A"), ("Spotify", "E")]
    assert ranking(get(client, "100?period_start=2020-02-02")) == []


def test_period_end_alone_is_inclusive(client, small_catalogue):
    january = [("Spotify", "A"), ("YouTube", "A"), ("Spotify", "B"), ("Spotify", "D")]

    assert ranking(get(client, "100?period_end=2020-01-31")) == january
    assert ranking(get(client, "100?period_end=2020-01-30")) == []


def test_filters_combine(client, small_catalogue):
    response = get(client, "100?territory=es&period_start=2020-01-01&period_end=2020-01-31")

    assert ranking(response) == [("Spotify", "A"), ("YouTube", "A"), ("Spotify", "B")]
    assert [resource["revenue"] for resource in response.json()] == [35.0, 20.0, 10.0]


@pytest.mark.parametrize(
    "period",
    [
        "period_start=2020-02-01T00:00:00Z",
        "period_start=2020-02-01T23:59:59.999999Z",
        "period_start=2020-02-01T00:00:00%2B05:00",  # the date as written, not the UTC one (Jan 31)
        "period_start=2020-02-01T08:00:00-10:00",
        "period_start=2020-02-01T00:00",
        "period_start=2020-02-01&period_end=2020-02-29T00:00:00Z",
    ],
)
def test_a_date_time_is_taken_as_its_calendar_date(client, small_catalogue, period):
    assert ranking(get(client, f"100?{period}")) == [("Spotify", "A"), ("Spotify", "E")]


def test_an_empty_territory_is_ignored(client, small_catalogue):
    assert ranking(get(client, "100?territory=")) == ranking(get(client, "100"))


@pytest.mark.parametrize("name", ["period_start", "period_end"])
def test_an_empty_date_is_a_400_as_the_contracts_date_time_format_says(client, name):
    response = get(client, f"100?{name}=")

    assert (response.status_code, response.json()) == (400, {name: [DATE_MESSAGE]})


def test_an_empty_database_gives_an_empty_array(client):
    response = get(client, "10")

    assert (response.status_code, response.json()) == (200, [])


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("0", "Ensure this value is greater than or equal to 1."),
        ("101", "Ensure this value is less than or equal to 100."),
        ("-5", "Ensure this value is greater than or equal to 1."),
        ("ten", "A valid integer is required."),
        ("1.5", "A valid integer is required."),
        ("%2B10", "A valid integer is required."),
        ("%2010", "A valid integer is required."),
        ("10%20", "A valid integer is required."),
        ("%D9%A1%D9%A0", "A valid integer is required."),  # Arabic-Indic 10
        ("%EF%BC%91%EF%BC%90", "A valid integer is required."),  # fullwidth 10
        ("1e1", "A valid integer is required."),
        ("9" * 4301, "String value too large."),
    ],
)
def test_a_number_outside_1_to_100_is_a_400_naming_it(client, number, message):
    response = get(client, number)

    assert (response.status_code, response["Content-Type"]) == (400, "application/json")
    assert response.json() == {"number": [message]}


DATE_MESSAGE = "Enter a date (2020-01-31) or a date-time (2020-01-31T00:00:00Z)."


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2020-13-01",
        "2020-02-30",
        "2020-01-01T25:00:00Z",
        "01/02/2020",
        "2020-01-01X",
        "%D9%A2%D9%A0%D9%A2%D9%A0-%D9%A0%D9%A1-%D9%A0%D9%A1",  # 2020-01-01 in Arabic-Indic digits
        "%00",
    ],
)
@pytest.mark.parametrize("name", ["period_start", "period_end"])
def test_a_malformed_date_is_a_400_naming_the_parameter(client, name, value):
    response = get(client, f"10?{name}={value}")

    assert (response.status_code, response.json()) == (400, {name: [DATE_MESSAGE]})


def test_every_bad_parameter_is_named(client):
    response = get(client, "0?period_start=x&period_end=y")

    assert response.json() == {
        "number": ["Ensure this value is greater than or equal to 1."],
        "period_start": [DATE_MESSAGE],
        "period_end": [DATE_MESSAGE],
    }


def test_the_path_with_a_trailing_slash_redirects_with_its_query(client):
    response = get(client, "10/?territory=ES")

    assert (response.status_code, response["Location"]) == (301, "/resources/percentile/10?territory=ES")
