#!/bin/sh
# The image's entrypoint: refuse insecure production settings, wait for PostgreSQL, apply the
# migrations, then run the command (gunicorn by default, or e.g. `python manage.py ingest_dsr`).
#   DB_WAIT_TRIES     how many times to try the database, a second apart (default 60)
#   MIGRATE_ON_START  0 to skip migrations, e.g. on all app containers but one (default 1)
set -eu

# is_on NAME [DEFAULT]: whether variable NAME (or DEFAULT when it is empty) says on, as
# settings.py reads booleans; a value that is neither on nor off stops the container.
is_on() {
    eval "value=\${$1:-}"
    case "$(printf '%s' "${value:-${2:-}}" | tr '[:upper:]' '[:lower:]')" in
        1 | true | yes | on) return 0 ;;
        '' | 0 | false | no | off) return 1 ;;
        *)
            echo "entrypoint: $1='$value': expected one of 1, true, yes, on, 0, false, no, off" >&2
            exit 1
            ;;
    esac
}

if ! is_on DEBUG; then
    # settings.py's defaults suit a development machine (a known SECRET_KEY, for one): in
    # production, check --deploy must find nothing to say about security.
    if ! python manage.py check --deploy --tag security --fail-level WARNING; then
        echo "entrypoint: check --deploy failed: set the production environment variables (docs/deployment.md)" >&2
        exit 1
    fi
fi

tries=0
until error=$(python manage.py check --database default 2>&1); do
    tries=$((tries + 1))
    if [ "$tries" -ge "${DB_WAIT_TRIES:-60}" ]; then
        echo "entrypoint: no database after $tries tries: $(printf '%s\n' "$error" | tail -n 1)" >&2
        exit 1
    fi
    sleep 1
done

if is_on MIGRATE_ON_START 1; then
    python manage.py migrate --noinput
fi

exec "$@"
