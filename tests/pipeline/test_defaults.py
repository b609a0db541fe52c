"""Every command agrees on the default index, and the demo's moto server keeps quiet.

Issue #15 part 6: ``memvec ingest`` used to write ``memvec`` while ``memvec api`` read
``demo``, so ingest-then-serve showed nothing.
"""

from __future__ import annotations

import argparse
import logging

import boto3
import pytest
from moto.server import ThreadedMotoServer

from pipeline import backfill, worker
from pipeline.api.settings import ApiSettings
from pipeline.defaults import DEFAULT_INDEX
from pipeline.demo import INDEX as DEMO_INDEX
from pipeline.demo.job import quiet_moto_request_log
from pipeline.processor import IngestConfig
from pipeline.stack import INDEX as STACK_INDEX


def test_one_default_index_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMVEC_INDEX", raising=False)
    assert ApiSettings().index == DEFAULT_INDEX
    assert IngestConfig().index == DEFAULT_INDEX
    assert DEMO_INDEX == STACK_INDEX == DEFAULT_INDEX
    commands = (
        (["ingest", "s3://b/p"], backfill.add_ingest_parser),
        (["worker"], worker.add_worker_parser),
    )
    for argv, add in commands:
        parser = argparse.ArgumentParser()
        add(parser.add_subparsers(dest="command"))
        assert parser.parse_args(argv).index == DEFAULT_INDEX, argv


def test_handler_default_index() -> None:
    from pipeline import handler

    assert handler.config_from_env({}).index == DEFAULT_INDEX
    assert handler.config_from_env({"MEMVEC_INDEX": "other"}).index == "other"


def test_moto_request_log_is_quiet(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    werkzeug = logging.getLogger("werkzeug")
    before = werkzeug.level
    quiet_moto_request_log()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    try:
        server.start()
        port = server._server.server_port  # type: ignore[union-attr]
        s3 = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        s3.create_bucket(Bucket="quiet")
        s3.list_objects_v2(Bucket="quiet")
    finally:
        server.stop()
        werkzeug.setLevel(before)
    out, err = capfd.readouterr()
    assert "GET /" not in out + err and "PUT /" not in out + err
    assert not [r for r in caplog.records if r.name == "werkzeug"]
    # the product's own loggers are untouched
    assert logging.getLogger("pipeline").level == logging.NOTSET
