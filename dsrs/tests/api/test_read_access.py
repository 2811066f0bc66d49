"""Who may read DSRs and percentiles (dsrs.api.access): with API_READ_ACCESS=authenticated, the
production default, a user with "Can view DSR", by DRF token or admin session; 401 without a
credential, 403 without the permission; the same bodies as a public server's for those allowed."""

import pytest
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token

# The percentile's own connections read committed DSRs only.
pytestmark = pytest.mark.usefixtures("committed_db")

READS = ["/dsrs/", "/dsrs/{es_spotify}", "/resources/percentile/50?territory=ES"]


@pytest.fixture
def authenticated_reads(settings):
    settings.API_READ_ACCESS = "authenticated"


@pytest.fixture
def users(django_user_model):
    """Makes users, committed like the DSRs, and removes them (and their tokens) afterwards."""
    made = []

    def make(name: str, *permissions: str, superuser: bool = False):
        user = (
            django_user_model.objects.create_superuser(name)
            if superuser
            else django_user_model.objects.create_user(name)
        )
        user.user_permissions.set(Permission.objects.filter(codename__in=permissions))
        made.append(user)
        return user

    yield make
    for user in made:
        user.delete()


def token_of(user) -> str:
    return Token.objects.create(user=user).key


def read_urls(catalogue) -> list[str]:
    return [url.format(es_spotify=catalogue.es_spotify) for url in READS]


def test_a_public_server_answers_anyone(client, small_catalogue):
    assert [client.get(url).status_code for url in read_urls(small_catalogue)] == [200, 200, 200]


@pytest.mark.usefixtures("authenticated_reads")
def test_without_a_credential_every_read_is_401_asking_for_a_token(client, small_catalogue):
    for url in read_urls(small_catalogue):
        response = client.get(url)

        assert (response.status_code, response["WWW-Authenticate"], response.json()) == (
            401,
            "Token",
            {"detail": "Authentication credentials were not provided."},
        ), url


@pytest.mark.usefixtures("authenticated_reads")
def test_a_bad_token_is_401(client, small_catalogue):
    response = client.get("/dsrs/", HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")

    assert (response.status_code, response.json()) == (401, {"detail": "Invalid token."})


@pytest.mark.usefixtures("authenticated_reads")
def test_a_user_without_can_view_dsr_is_403_naming_the_permission(client, small_catalogue, users):
    # An uploader may add imports, and still not read what societies were paid.
    token = token_of(users("uploader", "add_import", "view_import"))

    for url in read_urls(small_catalogue):
        response = client.get(url, HTTP_AUTHORIZATION=f"Token {token}")

        assert (response.status_code, response.json()) == (
            403,
            {"detail": 'Reading DSRs needs the "Can view DSR" permission (dsrs.view_dsr).'},
        ), url


@pytest.mark.usefixtures("authenticated_reads")
def test_a_token_with_can_view_dsr_reads_what_a_public_server_answers(client, small_catalogue, settings, users):
    token = token_of(users("analyst", "view_dsr"))

    allowed = [client.get(url, HTTP_AUTHORIZATION=f"Token {token}") for url in read_urls(small_catalogue)]
    settings.API_READ_ACCESS = "public"
    public = [client.get(url) for url in read_urls(small_catalogue)]

    assert [(r.status_code, r["Content-Type"]) for r in allowed] == [(200, "application/json")] * 3
    assert [r.json() for r in allowed] == [r.json() for r in public]
    assert [resource["dsp_id"] for resource in allowed[2].json()] == ["A"]


@pytest.mark.usefixtures("authenticated_reads")
def test_an_admin_session_reads_in_a_browser(client, small_catalogue, users):
    client.force_login(users("admin", superuser=True))

    page = client.get("/dsrs/", HTTP_ACCEPT="text/html")
    data = client.get(f"/dsrs/{small_catalogue.es_spotify}")

    assert (page.status_code, page["Content-Type"]) == (200, "text/html; charset=utf-8")
    assert (data.status_code, data.json()["id"]) == (200, small_catalogue.es_spotify)


@pytest.mark.usefixtures("authenticated_reads")
def test_a_browser_without_a_session_is_offered_the_login(client, small_catalogue):
    page = client.get("/dsrs/", HTTP_ACCEPT="text/html")
    login = client.get("/api-auth/login/?next=/dsrs/")

    assert page.status_code == 401
    assert b"<a href='/api-auth/login/?next=/dsrs/'>Log in</a>" in page.content
    assert (login.status_code, b'name="password"' in login.content) == (200, True)
    assert b"<title>Log in \xe2\x80\x93 DSR API</title>" in login.content
