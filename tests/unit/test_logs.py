"""`runtime.logs`: a request aiohttp could not parse is the client's mistake, logged as a
warning without a traceback; every other record of aiohttp's server logger stays as it is."""

from __future__ import annotations

import logging

import orjson
from aiohttp.http_exceptions import BadHttpMessage, HttpProcessingError, LineTooLong

from incident_sync.runtime.logs import ClientErrorFilter, JsonFormatter, logging_config


def record(exc: BaseException | None) -> logging.LogRecord:
    info = (type(exc), exc, None) if exc is not None else None
    return logging.LogRecord(
        "aiohttp.server", logging.ERROR, __file__, 1, "Error handling request from %s",
        ("127.0.0.1",), info,
    )  # fmt: skip


def test_a_parse_error_becomes_a_warning_without_the_clients_bytes() -> None:
    for exc, said in (
        (BadHttpMessage("Invalid header token:\n\n  b'Bearer abc'\n  ^"), "Invalid header token"),
        (LineTooLong("x" * 9000, "8190"), "Got more than 8190 bytes when reading"),
    ):
        entry = record(exc)
        assert ClientErrorFilter().filter(entry)
        line = orjson.loads(JsonFormatter().format(entry))
        assert line["level"] == "warning" and "exc" not in line
        assert line["error"] == f"{type(exc).__name__} (400): {said}"
        assert "Bearer" not in str(line) and "xxx" not in str(line)


def test_server_errors_and_other_records_are_left_alone() -> None:
    for exc in (RuntimeError("a bug"), HttpProcessingError(code=500, message="x"), None):
        entry = record(exc)
        assert ClientErrorFilter().filter(entry)
        assert entry.levelno == logging.ERROR and entry.exc_info == (
            (type(exc), exc, None) if exc else None
        )


def test_the_workers_dict_config_filters_aiohttp_too() -> None:
    config = logging_config("INFO")
    assert config["loggers"]["aiohttp.server"] == {"filters": ["client_errors"]}  # type: ignore[index]
