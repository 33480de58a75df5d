"""One JSON object per log line, so log pipelines need no parsing rules.

A line written while an OpenTelemetry span is current carries its `trace_id` and `span_id`
(hex, as trace backends show them), so logs and traces join on them.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import orjson
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


def logging_config(level: str = "INFO") -> dict[str, object]:
    """The same setup as a `logging.config.dictConfig` (faust's worker applies one at start,
    replacing whatever was set before; without this its own text format wins)."""
    floor = max(logging.getLevelName(level.upper()), logging.WARNING)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"level": level.upper(), "handlers": ["default"]},
        "loggers": {name: {"level": logging.getLevelName(floor)} for name in NOISY},
    }


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(root.level, logging.WARNING))
