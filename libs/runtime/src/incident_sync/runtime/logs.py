"""One JSON object per log line, so log pipelines need no parsing rules.

A line written while an OpenTelemetry span is current carries its `trace_id` and `span_id`
(hex, as trace backends show them), so logs and traces join on them. Every aiohttp service
(ingress, control, reconciler, the worker's web server) logs a request aiohttp could not parse
as a warning, not an error (`ClientErrorFilter`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import orjson
from aiohttp.http_exceptions import HttpProcessingError
from opentelemetry import trace

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            entry["trace_id"] = format(context.trace_id, "032x")
            entry["span_id"] = format(context.span_id, "016x")
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


NOISY = ("aiokafka", "kafka", "faust", "mode", "httpx")
# aiohttp's server logs here, with a traceback at ERROR, a request it could not even parse.
AIOHTTP_SERVER = "aiohttp.server"


class ClientErrorFilter(logging.Filter):
    """A request aiohttp refused while parsing it (a malformed request line or header, a line
    too long: `HttpProcessingError` with a 4xx code) is the client's mistake, answered 400:
    a warning without a traceback, naming the error. Genuine server errors stay as they are."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError) or not 400 <= exc.code < 500:
            return True
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info, record.exc_text = None, None
        # aiohttp's own words only, up to where it starts quoting the client's bytes back.
        detail = (exc.message or "").strip().split(":", 1)[0].splitlines()[:1]
        record.error = f"{type(exc).__name__} ({exc.code})" + (f": {detail[0]}" if detail else "")
        return logging.getLogger(record.name).isEnabledFor(logging.WARNING)


def _filter_client_errors() -> None:
    server = logging.getLogger(AIOHTTP_SERVER)
    if not any(isinstance(f, ClientErrorFilter) for f in server.filters):
        server.addFilter(ClientErrorFilter())


def logging_config(level: str = "INFO") -> dict[str, object]:
    """The same setup as a `logging.config.dictConfig` (faust's worker applies one at start,
    replacing whatever was set before; without this its own text format wins)."""
    floor = max(logging.getLevelName(level.upper()), logging.WARNING)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "filters": {"client_errors": {"()": f"{__name__}.ClientErrorFilter"}},
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"level": level.upper(), "handlers": ["default"]},
        "loggers": {
            **{name: {"level": logging.getLevelName(floor)} for name in NOISY},
            AIOHTTP_SERVER: {"filters": ["client_errors"]},
        },
    }


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(root.level, logging.WARNING))
    _filter_client_errors()
