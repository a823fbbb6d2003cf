"""Where the log context starts and ends (config/log_context.py) and how lines are rendered
(config/logging.py): request ids, task ids, nothing leaking from one piece of work into the next,
fields redacted, both formats."""

from __future__ import annotations

import io
import json
import logging

import pytest
from celery import shared_task
from structlog.contextvars import get_contextvars

from config.logging import RedactSecretsFilter, log_formatter, logging_config
from integrations.log_context import log_bind, log_context_kept, log_context_restore

probe_log = logging.getLogger("tests.log_probe")


@shared_task(name="tests.log_context_probe")
def log_probe() -> None:
    probe_log.info("inside the task")


@pytest.fixture
def lines():
    """The probe logger's lines, rendered as production renders them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(log_formatter("json"))
    handler.addFilter(RedactSecretsFilter())
    probe_log.addHandler(handler)
    probe_log.setLevel(logging.DEBUG)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    probe_log.removeHandler(handler)
    log_context_restore({})


def test_a_request_gets_an_id_echoed_back_and_a_sane_incoming_one_is_kept(client, db):
    generated = client.get("/healthz")
    given = client.get("/healthz", HTTP_X_REQUEST_ID="lb-1234abcd.5678")
    forged = client.get("/healthz", HTTP_X_REQUEST_ID='x" , "level": "critical')

    assert len(generated["X-Request-ID"]) == 32
    assert given["X-Request-ID"] == "lb-1234abcd.5678"
    assert forged["X-Request-ID"] != 'x" , "level": "critical' and len(forged["X-Request-ID"]) == 32
    assert get_contextvars() == {}  # the request's ids are gone once it is answered


def test_a_task_logs_with_its_id_and_name_and_gives_back_the_callers_context(lines):
    log_bind(request_id="the-caller")

    result = log_probe.apply()

    [line] = lines()
    assert line["task_id"] == result.id and line["task_name"] == "tests.log_context_probe"
    assert "request_id" not in line  # a task starts clean
    assert get_contextvars() == {"request_id": "the-caller"}


def test_work_keeps_its_ids_to_itself(lines):
    @log_context_kept
    def run():
        log_bind(sync_run_id=7, integration_id=3)
        probe_log.info("inside")

    log_bind(task_id="t-1")
    run()
    probe_log.info("after")

    inside, after = lines()
    assert (inside["sync_run_id"], inside["integration_id"], inside["task_id"]) == (7, 3, "t-1")
    assert "sync_run_id" not in after and after["task_id"] == "t-1"


def test_fields_named_like_secrets_and_values_that_look_like_them_are_redacted(lines):
    log_bind(authorization="Bearer abcdefghijkl")
    probe_log.warning(
        "token refresh failed for %s",
        "refresh_token=rt-123456",
        extra={
            "client_secret": "cs-0000",
            "detail": {"access_token": "at-1"},
            "hint": "pat-na1-abcdef123456",
        },
    )
    [line] = lines()
    text = json.dumps(line)
    for secret in ("abcdefghijkl", "rt-123456", "cs-0000", "at-1", "abcdef123456"):
        assert secret not in text
    assert line["client_secret"] == "[redacted]" and line["detail"] == {"access_token": "[redacted]"}
    assert line["level"] == "warning" and line["logger"] == "tests.log_probe"


def test_console_lines_are_readable_and_redacted_too():
    record = logging.LogRecord("sync.runs", logging.INFO, __file__, 1, "sync finished", None, None)
    record.sync_run_id, record.password = 4, "hunter2-hunter2"
    text = log_formatter("console").format(record)
    assert "sync finished" in text and "sync_run_id=4" in text and "hunter2" not in text
    assert not text.lstrip().startswith("{")


def test_an_unknown_log_format_is_refused():
    with pytest.raises(ValueError):
        log_formatter("xml")
    assert logging_config(fmt="json", level="INFO")["formatters"]["platform"]["fmt"] == "json"
