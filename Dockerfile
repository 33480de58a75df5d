# syntax=docker/dockerfile:1
# incident-sync: one image for every component; the Helm chart picks the command
# (python -m incident_sync.ingress | python -m incident_sync.outbound worker | python -m incident_sync.control | python -m incident_sync.reconciler).
# Not built in CI (no container engine there): tests/deploy/test_dockerfile.py lints it with
# hadolint and checks the rules below (multi-stage, pinned bases, non-root, no secrets).

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# -- build: a virtualenv with the project and its dependencies --------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml README.md LICENSE ./
COPY libs ./libs
COPY services ./services
# The project itself is unpinned by nature; its dependencies follow pyproject.toml. The
# developer kit (libs/devkit: sandboxes, test broker) is another distribution, not installed.
# The version comes from git tags; a build context without .git gets the fallback version
# unless SETUPTOOLS_SCM_PRETEND_VERSION is passed as a build argument.
ARG SETUPTOOLS_SCM_PRETEND_VERSION
# hadolint ignore=DL3013
RUN pip install '.[speed]' \
    && python -c "import incident_sync.ingress, incident_sync.outbound, incident_sync.control, aiokafka, faust, regorus"

# -- runtime: the virtualenv, the policy and the default config, an unprivileged user ---------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="incident-sync" \
      org.opencontainers.image.description="Two-way incident sync between an incident platform and ITSM tools" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CONTROL_POLICY_FILE=/app/deploy/policy/control.rego \
    INCIDENT_SYNC_CONFIG=/app/config/sync.json \
    MAPPINGS_DIR=/app/config \
    OUTBOUND_DATADIR=/tmp/incident-sync-outbound
RUN groupadd --system --gid 10001 incident-sync \
    && useradd --system --uid 10001 --gid incident-sync --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin incident-sync
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=root:root deploy/policy ./deploy/policy
COPY --chown=root:root config ./config
USER 10001:10001
EXPOSE 8080 8090
# Kubernetes probes /health and /ready (see the chart); plain `docker run` gets this check.
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('HTTP_PORT', '8080') + '/health', timeout=2)"]
CMD ["python", "-m", "incident_sync.ingress"]
