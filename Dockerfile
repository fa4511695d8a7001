# syntax=docker/dockerfile:1
# Production image: dependencies resolved from uv.lock in a build stage, run as a non-root user.
FROM python:3.11-slim AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/opt/venv
RUN pip install --no-cache-dir uv==0.9.11
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY app ./app
COPY migrations ./migrations
COPY alembic.ini ./
RUN uv sync --frozen --no-dev --no-editable

FROM python:3.11-slim AS runtime
RUN groupadd --system ainas && useradd --system --gid ainas --home-dir /srv/ainas ainas
COPY --from=build /opt/venv /opt/venv
COPY --from=build /src /srv/ainas
WORKDIR /srv/ainas
ENV PATH=/opt/venv/bin:$PATH AINAS_ENVIRONMENT=production PYTHONUNBUFFERED=1
USER ainas
EXPOSE 8000
# DATABASE_URL, AINAS_SECRET_KEY and AINAS_CERTIFICATE_KEY must be given; the service refuses a
# default signing key, and a missing certificate key, in production.
CMD ["sh", "-c", "ainas migrate && exec ainas serve --host 0.0.0.0 --port 8000 --workers ${WEB_CONCURRENCY:-2}"]
