"""How the server's log lines read (tracking.service.log_output)."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import pytest

from tracking.service.log_output import ClientGone, TextFormatter, chosen_format

GRPC_LOGGER = "grpc._cython.cygrpc"
GONE = (
    "ExecuteBatchError raised in core by servicer method [/tracking.v1.TrackingService/StreamLogs]"
)


@pytest.fixture
def written() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose lines go to a string, through the filter and formatter the server uses."""
    text = io.StringIO()
    handler = logging.StreamHandler(text)
    handler.addFilter(ClientGone())
    handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    try:
        yield logging.getLogger(GRPC_LOGGER), text
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def raised() -> BaseException:
    try:
        raise RuntimeError("Failed execute_batch")
    except RuntimeError as error:
        return error


def test_a_client_gone_mid_write_is_silent_at_info(
    written: tuple[logging.Logger, io.StringIO],
) -> None:
    grpc_log, text = written
    logging.getLogger().setLevel(logging.INFO)
    grpc_log.error(GONE, exc_info=raised())
    assert text.getvalue() == ""


def test_a_client_gone_mid_write_is_one_debug_line_at_debug(
    written: tuple[logging.Logger, io.StringIO],
) -> None:
    grpc_log, text = written
    logging.getLogger().setLevel(logging.DEBUG)
    grpc_log.error(GONE, exc_info=raised())
    [line] = text.getvalue().splitlines()
    assert line.endswith(
        "DEBUG grpc._cython.cygrpc: the client went away in the middle of"
        " /tracking.v1.TrackingService/StreamLogs"
    )


def test_other_grpc_errors_stay_errors(written: tuple[logging.Logger, io.StringIO]) -> None:
    grpc_log, text = written
    logging.getLogger().setLevel(logging.INFO)
    grpc_log.error("something else broke", exc_info=raised())
    assert "ERROR grpc._cython.cygrpc: something else broke" in text.getvalue()
    assert "Traceback" in text.getvalue()


def test_auto_is_text_on_a_terminal_only() -> None:
    assert chosen_format("auto", io.StringIO()) == "json"
    assert chosen_format("text", io.StringIO()) == "text"
    assert chosen_format("json", sys.stderr) == "json"
