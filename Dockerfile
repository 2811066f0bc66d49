# The DSR service: gunicorn serving the Django app, static files through WhiteNoise.
# docker-compose.yml runs it for development, docker-compose.prod.yml for production.

# Pipfile.lock as a pip requirements file with hashes; pipenv stays out of the final image.
FROM python:3.11-slim AS requirements
RUN pip install --no-cache-dir pipenv==2026.10.3
WORKDIR /build
COPY Pipfile Pipfile.lock ./
RUN pipenv requirements --hash > requirements.txt

FROM python:3.11-slim
# LOG_FORMAT=json: each ingested file is one JSON line on stdout, for the log collector.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LOG_FORMAT=json
RUN groupadd --gid 10001 dsr && useradd --create-home --uid 10001 --gid dsr --no-log-init dsr
WORKDIR /app

# Dependencies in their own layer, rebuilt only when Pipfile.lock changes.
COPY --from=requirements /build/requirements.txt .
RUN pip install --no-cache-dir --require-hashes -r requirements.txt

COPY . .
# /srv/imports and /srv/columnar: volumes of docker-compose.prod.yml, which start with this owner.
RUN python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p /srv/imports /srv/columnar && chown 10001:10001 /srv/imports /srv/columnar

USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/', timeout=4)"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
# WEB_CONCURRENCY (gunicorn's own variable) sets the number of workers. Threaded workers keep
# telling the master they are alive while a thread streams a long answer (percentile/100 over
# hundreds of millions of lines), which a sync worker past --timeout would be killed for.
CMD ["gunicorn", "dsr_project.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "--worker-class", "gthread", "--threads", "4", "--timeout", "120"]
