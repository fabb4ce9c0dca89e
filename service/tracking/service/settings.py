"""One Settings object: environment variables TRACKING_*, overridden by CLI flags."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tracking.service.domain.limits import Limits


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRACKING_", extra="ignore")

    address: str = Field("127.0.0.1:50051", description="host:port to listen on (port 0 picks one)")
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
    default_page_size: int = Field(50, gt=0, description="page size when a list request gives none")
    max_page_size: int = Field(1000, gt=0, description="largest page a list returns")
    max_log_batch: int = Field(5000, gt=0, description="most lines in one AppendLogs")
    max_log_line: int = Field(65536, gt=0, description="longest log line, in characters")
    max_log_read: int = Field(10000, gt=0, description="most lines one GetExecutionLogs returns")
    max_tail: int = Field(100000, gt=0, description="largest StreamLogs tail")
    max_watchers_per_principal: int = Field(
        10000, gt=0, description="open WatchStatus / StreamLogs streams one caller may hold"
    )
    retention_seconds: float = Field(
        7 * 24 * 3600, gt=0, description="how long finished executions keep their events and logs"
    )
    retention_sweep_seconds: float = Field(60.0, gt=0, description="time between retention sweeps")
    reflection: bool = Field(True, description="serve gRPC server reflection")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")

    def limits(self) -> Limits:
        return Limits(
            default_page_size=self.default_page_size,
            max_page_size=self.max_page_size,
            max_log_batch=self.max_log_batch,
            max_log_line=self.max_log_line,
            max_log_read=self.max_log_read,
            max_tail=self.max_tail,
        )
