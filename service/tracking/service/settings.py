"""One Settings object: environment variables TRACKING_*, overridden by CLI flags."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tracking.client.methods import DEFAULT_ADDRESS
from tracking.service.domain.client_address import Network, networks
from tracking.service.domain.limits import Limits


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRACKING_", extra="ignore")

    address: str = Field(DEFAULT_ADDRESS, description="host:port to listen on (port 0 picks one)")
    http_address: str = Field(
        "127.0.0.1:8080",
        description="host:port of the HTTP side: Connect JSON, server-sent events and the"
        " dashboard (empty: off)",
    )
    http_cors_origins: str = Field(
        "",
        description="comma-separated origins whose pages may call the HTTP side (empty: none)",
    )
    database_url: str = Field(
        "sqlite:///./tracking.db", description="sqlite:///PATH or postgresql://USER@HOST:PORT/DB"
    )
    heartbeat_seconds: float = Field(
        15.0, gt=0, description="idle time before a stream sends a heartbeat"
    )
    grace_seconds: float = Field(
        10.0, ge=0, description="time in-flight calls get to finish on shutdown"
    )
    max_message_bytes: int = Field(4 * 1024 * 1024, gt=0, description="largest request or response")
    watcher_queue: int = Field(
        1024, gt=0, description="events a watcher may fall behind before it is closed"
    )
    watcher_log_backlog: int = Field(
        16 << 20,
        gt=0,
        description="characters of log lines a log follower may fall behind (not reading"
        " them) before it is closed",
    )
    default_page_size: int = Field(50, gt=0, description="page size when a list request gives none")
    max_page_size: int = Field(1000, gt=0, description="largest page a list returns")
    max_log_batch: int = Field(5000, gt=0, description="most lines in one AppendLogs")
    max_log_line: int = Field(65536, gt=0, description="longest log line, in characters")
    max_log_read: int = Field(10000, gt=0, description="most lines one GetExecutionLogs returns")
    max_tail: int = Field(100000, gt=0, description="largest StreamLogs tail")
    max_execution_documents: int = Field(
        1 << 20,
        gt=0,
        le=3 << 20,
        description="bytes of steps, inputs, outputs and result (as JSON) one execution may hold",
    )
    max_deployment_documents: int = Field(
        1 << 20,
        gt=0,
        le=3 << 20,
        description="bytes of mappings, pods, labels and texts (as JSON) one deployment may hold",
    )
    max_concurrent_log_reads: int = Field(
        4,
        gt=0,
        description="batches of log lines streams read at once; more replays wait their turn",
    )
    max_watchers_per_principal: int = Field(
        1000,
        gt=0,
        description="open WatchStatus / StreamLogs streams one caller (a token; an address when"
        " auth is off) may hold",
    )
    heartbeat_timeout_seconds: float = Field(
        600.0,
        ge=0,
        le=7 * 24 * 3600,
        description="how long a running job's worker may stay silent before the job is UNKNOWN,"
        " when its execution gives no heartbeat_timeout (0: no lease)",
    )
    lease_sweep_seconds: float = Field(
        2.0, gt=0, description="time between looks for leases that ran out"
    )
    storage_check_seconds: float = Field(
        2.0,
        gt=0,
        description="how often health checks that the database takes writes again after it"
        " refused them (and, on SQLite, that its file is still there)",
    )
    retention_seconds: float = Field(
        7 * 24 * 3600, gt=0, description="how long finished executions keep their events and logs"
    )
    retention_sweep_seconds: float = Field(60.0, gt=0, description="time between retention sweeps")
    auth: Literal["auto", "on", "off"] = Field(
        "auto",
        description="auto: on unless listening on loopback only; off needs --insecure-no-auth",
    )
    token_cache_seconds: float = Field(10.0, ge=0, description="how long a token lookup is trusted")
    stream_recheck_seconds: float = Field(
        15.0, gt=0, description="how often an open stream checks its token is still valid"
    )
    rate_limit_per_second: float = Field(
        1000.0, ge=0, description="requests a second one caller may send (0: no limit)"
    )
    rate_limit_burst: float = Field(
        2000.0, ge=1, description="requests one caller may send at once"
    )
    auth_failures_per_second: float = Field(
        5.0,
        gt=0,
        description="failed authentications a second one address may make before it is refused"
        " without a lookup",
    )
    auth_failure_burst: float = Field(
        20.0, ge=1, description="failed authentications one address may make at once"
    )
    trusted_proxies: str = Field(
        "",
        description="comma-separated addresses or networks (CIDR) of reverse proxies whose"
        " Forwarded or X-Forwarded-For header names the client that rate and failed-"
        "authentication limits count (empty: none; the peer is the client)",
    )
    max_metadata_bytes: int = Field(
        16384, gt=0, description="largest metadata (headers) a call may carry, in bytes"
    )
    max_concurrent_streams: int = Field(1000, gt=0, description="open calls per HTTP/2 connection")
    keepalive_seconds: float = Field(60.0, gt=0, description="ping an idle connection this often")
    keepalive_timeout_seconds: float = Field(
        20.0, gt=0, description="close a connection whose ping goes unanswered this long"
    )
    handshake_timeout_seconds: float = Field(
        5.0,
        gt=0,
        description="close a connection that has not completed its TLS and HTTP/2 handshake"
        " in this time",
    )
    max_connections: int = Field(
        4096,
        gt=0,
        description="open connections the server accepts; more are closed at once (kept below"
        " the file descriptor limit, which the server raises to its hard limit)",
    )
    http_request_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="close an HTTP connection whose request (line, headers and body) has not"
        " all arrived this long after its first byte (after the connection opened, for its"
        " first request)",
    )
    max_connection_age_seconds: float = Field(
        0, ge=0, description="close connections older than this, so clients rebalance (0: never)"
    )
    tls_cert_file: str = Field(
        "", description="server certificate (PEM); with tls_key_file turns TLS on"
    )
    tls_key_file: str = Field("", description="server private key (PEM)")
    tls_client_ca_file: str = Field(
        "", description="CA that signs client certificates (mutual TLS)"
    )
    tls_require_client_cert: bool = Field(False, description="refuse clients without a certificate")
    metrics_address: str = Field(
        "", description="host:port of the Prometheus /metrics endpoint (empty: off)"
    )
    log_format: Literal["auto", "json", "text"] = Field(
        "auto",
        description="auto (text on a terminal, else json), json (one object a line) or text",
    )
    reflection: bool = Field(True, description="serve gRPC server reflection")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")
    outbound_allow_private_addresses: bool = Field(
        False,
        description="let webhooks reach loopback, private, link-local and metadata addresses"
        " (refused by default, at creation and at every connection)",
    )
    outbound_connect_timeout_seconds: float = Field(
        5.0, gt=0, description="time a webhook receiver gets to accept the connection"
    )
    outbound_timeout_seconds: float = Field(
        10.0, gt=0, description="time a webhook receiver gets to answer, in all"
    )
    outbound_max_age_seconds: float = Field(
        24 * 3600.0,
        gt=0,
        description="time deliveries of a subscription may fail before it is marked failing",
    )
    outbound_retry_base_seconds: float = Field(
        0.5, gt=0, description="wait before the first retry (it doubles at each retry)"
    )
    outbound_retry_max_seconds: float = Field(
        60.0, gt=0, description="longest wait between retries (Retry-After included)"
    )
    outbound_parallelism: int = Field(
        32, gt=0, description="executions whose events one subscription sends at once"
    )
    outbound_lease_seconds: float = Field(
        5.0, gt=0, description="how long a replica holds a subscription without renewing it"
    )
    nats_url: str = Field(
        "nats://127.0.0.1:4222", description="the NATS server that NATS subscriptions publish to"
    )
    nats_create_streams: bool = Field(
        True, description="create a JetStream stream for a subject prefix that none holds"
    )
    events_source: str = Field(
        "/tracking", description="the CloudEvents `source` of the events this service sends"
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: str) -> str:
        networks(value)
        return value

    @model_validator(mode="after")
    def _check_tls(self) -> Settings:
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ValueError("tls_cert_file and tls_key_file go together")
        if (self.tls_client_ca_file or self.tls_require_client_cert) and not self.tls_cert_file:
            raise ValueError("client certificates need TLS: set tls_cert_file and tls_key_file")
        if self.tls_require_client_cert and not self.tls_client_ca_file:
            raise ValueError("tls_require_client_cert needs tls_client_ca_file")
        return self

    @property
    def loopback_only(self) -> bool:
        """Whether every port the server opens listens on loopback only."""
        return all(_is_loopback(a) for a in (self.address, self.http_address) if a)

    @property
    def cors_origins(self) -> list[str]:
        return [o.strip() for o in self.http_cors_origins.split(",") if o.strip()]

    @property
    def trusted_proxy_networks(self) -> list[Network]:
        return networks(self.trusted_proxies)

    @property
    def auth_required(self) -> bool:
        return self.auth == "on" or (self.auth == "auto" and not self.loopback_only)

    def limits(self) -> Limits:
        return Limits(
            default_page_size=self.default_page_size,
            max_page_size=self.max_page_size,
            max_log_batch=self.max_log_batch,
            max_log_line=self.max_log_line,
            max_log_read=self.max_log_read,
            max_tail=self.max_tail,
            max_message_bytes=self.max_message_bytes,
            max_execution_documents=self.max_execution_documents,
            max_deployment_documents=self.max_deployment_documents,
            max_concurrent_log_reads=self.max_concurrent_log_reads,
            default_heartbeat_timeout_seconds=self.heartbeat_timeout_seconds,
        )


def _is_loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
