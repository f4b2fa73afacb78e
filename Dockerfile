# syntax=docker/dockerfile:1
# One image for every process of the backend; the task definition's command picks it:
#   python -m gateway.main | python -m services.<identity|challenges|rules|payouts>.main
#   python -m libs.platform.migrate <service>        (one-off migration task)
# Build: docker build -t dynasty-backend .

################################################################################
# build: install the pinned dependencies into a virtualenv and generate the protobuf code
################################################################################
FROM python:3.11.14-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

WORKDIR /app

# Dependencies first, so code changes reuse this layer. Wheels only: the final image must
# not need a compiler, and neither does this stage.
COPY requirements.lock ./
RUN python -m venv /opt/venv \
    && pip install --only-binary=:all: -r requirements.lock

COPY pyproject.toml ./
COPY proto/ proto/
COPY libs/ libs/
COPY services/ services/
COPY gateway/ gateway/
COPY infra/docker/ infra/docker/

# The step `make proto` runs (grpc_tools.protoc into gen/python, with its hash stamp), so the
# entry points find the generated code fresh and never write at start-up; then byte-compile.
ENV PYTHONPATH=/app:/app/gen/python
RUN python -m libs.platform.protogen --force \
    && python -m compileall -q /app/libs /app/services /app/gateway /app/gen /app/infra

################################################################################
# runtime: the interpreter, the virtualenv and the code; no compilers, no package caches
################################################################################
# Same base as the build stage, so the virtualenv's interpreter path and ABI match.
FROM python:3.11.14-slim-bookworm AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app:/app/gen/python \
    HEALTHCHECK_PROTOCOL=http \
    HEALTHCHECK_PORT=8080

RUN groupadd --system --gid 10001 dynasty \
    && useradd --system --uid 10001 --gid dynasty --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin dynasty

WORKDIR /app

# Owned by root and not writable by the service user: the code cannot be changed at run time.
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app

USER 10001:10001

EXPOSE 8080 50051 50052 50053 50054

# HTTP /healthz for the gateway; the task definitions of the gRPC services set
# HEALTHCHECK_PROTOCOL=grpc and their port, and the check asks grpc.health.v1.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "infra.docker.healthcheck"]

CMD ["python", "-m", "gateway.main"]
