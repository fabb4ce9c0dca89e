# The tracking server image.
#   docker build -t tracking .
#   docker run -p 50051:50051 -p 8080:8080 -v tracking-data:/data tracking
# Auth is on (the server listens on 0.0.0.0): create a token first with
#   docker run --rm -v tracking-data:/data tracking tokens create --role admin --name me --create-database
# With a bind mount instead of a volume, the directory must be writable by the user the
# server runs as: uid 10001 (chown 10001 ./data), or pass your own with
#   docker run --user "$(id -u):$(id -g)" -v "$PWD/data:/data" tracking
# TLS: set TRACKING_TLS_CERT_FILE and TRACKING_TLS_KEY_FILE for the server, and
# TRACKING_TLS_CA (the CA that signed it, for a certificate naming localhost) so that the
# health check connects the same way; with mutual TLS also TRACKING_TLS_CERT/TRACKING_TLS_KEY.

FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
RUN python -m venv /opt/tracking
COPY pyproject.toml README.md ./
COPY protos protos
COPY client client
COPY service service
RUN /opt/tracking/bin/pip install --no-cache-dir '.[server]'

FROM python:3.11.11-slim-bookworm
# jemalloc: with glibc's malloc a server on PostgreSQL grew about 0.7 KB per stream opened
# and closed, fragments it never gave back; with jemalloc the same cycles level off
# (docs/deploy.md, "Memory").
RUN apt-get update \
    && apt-get install -y --no-install-recommends libjemalloc2=5.3.0-1 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/tracking /opt/tracking
# /data is world-writable, so the server can run as any --user; HOME needs no passwd entry.
RUN mkdir -p /data && chmod 1777 /data
ENV PATH=/opt/tracking/bin:$PATH \
    HOME=/data \
    PYTHONUNBUFFERED=1 \
    LD_PRELOAD=libjemalloc.so.2 \
    TRACKING_ADDRESS=0.0.0.0:50051 \
    TRACKING_HTTP_ADDRESS=0.0.0.0:8080 \
    TRACKING_DATABASE_URL=sqlite:////data/tracking.db \
    TRACKING_METRICS_ADDRESS=0.0.0.0:9464 \
    TRACKING_GRACE_SECONDS=8
# docker stop sends SIGTERM and kills after 10 s (--stop-timeout, compose's
# stop_grace_period): the drain's 8 s end first. Raise both together.
STOPSIGNAL SIGTERM
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 50051 8080 9464
# tracking health reads TRACKING_ADDRESS (a wildcard host means this machine) and the
# TRACKING_TLS_* client settings, so it follows the server's address and TLS.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["tracking", "health"]
ENTRYPOINT ["tracking"]
CMD ["serve"]
