import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]

# What docker-compose.prod.yml gives the app; nothing else from the developer's environment.
PRODUCTION = {
    "SECRET_KEY": "k7#Vq2!mZ9pL4xR8wT1yU6iO3aS5dF0gH-jK_lZ+cX=vB7nM2qW9eR4tY",
    "ALLOWED_HOSTS": "dsr.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://dsr.example.com",
    "DATABASE_URL": "postgres://dsr:secret@db:5432/dsr",
    "TRUST_X_FORWARDED_PROTO": "true",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


# Settings


def test_check_deploy_is_clean_with_production_settings():
    checked = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)

    assert (checked.returncode, checked.stdout, checked.stderr) == (0, "System check identified no issues (0 silenced).\n", "")


def test_check_deploy_flags_the_development_secret_key():
    production_without_key = {name: value for name, value in PRODUCTION.items() if name != "SECRET_KEY"}

    checked = manage("check", "--deploy", "--fail-level", "WARNING", **production_without_key)

    assert checked.returncode == 1
    assert "(security.W009) Your SECRET_KEY has less than 50 characters" in checked.stderr


def test_check_deploy_flags_debug():
    checked = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, DEBUG="1")

    assert checked.returncode == 1
    assert "(security.W018) You should not have DEBUG set to True in deployment." in checked.stderr


@pytest.mark.parametrize(
    "environment, expected",
    [
        ({}, (False, True, True, 31536000, None, [])),
        ({"DEBUG": "1"}, (True, False, False, 0, None, [])),
        (
            {"SECURE_SSL_REDIRECT": "0", "SECURE_COOKIES": "no", "SECURE_HSTS_SECONDS": "60", "TRUST_X_FORWARDED_PROTO": "yes", "CSRF_TRUSTED_ORIGINS": "https://a.example, https://b.example"},
            (False, False, False, 60, ("HTTP_X_FORWARDED_PROTO", "https"), ["https://a.example", "https://b.example"]),
        ),
    ],
)
def test_settings_are_secure_unless_debug_or_overridden(environment, expected):
    printed = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s; print((s.DEBUG, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE and s.CSRF_COOKIE_SECURE, "
        "s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER, s.CSRF_TRUSTED_ORIGINS))",
        DATABASE_URL=PRODUCTION["DATABASE_URL"],
        **environment,
    )

    assert printed.stdout == f"{expected}\n", printed.stderr


# Serving


def test_health_answers_plain_http_for_any_host(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["dsr.example.com"]

    response = Client().get("/health/", HTTP_HOST="localhost")

    assert (response.status_code, response.content, response["Content-Type"]) == (200, b"ok", "text/plain")


def test_other_pages_keep_the_https_redirect_and_the_host_check(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["dsr.example.com"]

    redirected = Client().get("/admin/login/", HTTP_HOST="dsr.example.com")
    refused = Client().get("/admin/login/", HTTP_HOST="localhost", secure=True)

    assert (redirected.status_code, redirected["Location"]) == (301, "https://dsr.example.com/admin/login/")
    assert refused.status_code == 400


def test_whitenoise_serves_collected_static_files_compressed(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    call_command("collectstatic", "--noinput", verbosity=0)

    response = Client().get("/static/admin/css/base.css", HTTP_ACCEPT_ENCODING="gzip")

    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert (tmp_path / "admin" / "css" / "base.css.gz").exists()
