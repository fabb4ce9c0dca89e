# The tracking server image.
#   docker build -t tracking .
#   docker run -p 50051:50051 -v tracking-data:/data tracking
# Auth is on (the server listens on 0.0.0.0): create a token first with
#   docker run --rm -v tracking-data:/data tracking tokens create --role admin --name me --create-database

FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/tracking
COPY pyproject.toml README.md ./
COPY protos protos
COPY client client
COPY service service
RUN /opt/tracking/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/tracking/bin/pip install --no-cache-dir '.[server]'

FROM python:3.11-slim
RUN groupadd --system tracking && useradd --system --gid tracking --home-dir /data tracking \
 && mkdir -p /data && chown tracking:tracking /data
COPY --from=build /opt/tracking /opt/tracking
ENV PATH=/opt/tracking/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TRACKING_ADDRESS=0.0.0.0:50051 \
    TRACKING_DATABASE_URL=sqlite:////data/tracking.db \
    TRACKING_METRICS_ADDRESS=0.0.0.0:9464
USER tracking
WORKDIR /data
VOLUME ["/data"]
EXPOSE 50051 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["tracking", "health", "--address", "127.0.0.1:50051"]
ENTRYPOINT ["tracking"]
CMD ["serve"]
