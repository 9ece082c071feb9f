"""A small run of the benchmark harness, so it keeps working (the full runs are not tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_harness(*args: str, timeout: float = 120) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--no-save", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def assert_clean_throughput(run: dict[str, Any], version: str) -> None:
    assert "error" not in run, run.get("error")
    result = run["result"]
    for key in ("throughput_msg_s", "latency_ms", "errors", "server_rss_mib", "messages"):
        assert key in result
    assert set(result["latency_ms"]) >= {"p50", "p95", "p99"}
    assert result["version"] == version
    assert result["booted"] == 3
    assert result["errors"] == 0, result["error_samples"]
    assert result["throughput_msg_s"] > 0
    assert result["latency_ms"]["p50"] > 0
    assert result["server_rss_mib"]["peak"] > 0


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_throughput_smoke_against_reference(version: str) -> None:
    report = run_harness(
        "--scenario", "throughput", "--version", version, "--stations", "3",
        "--duration", "2", "--warmup", "0.3", "--target", "reference",
    )  # fmt: skip

    assert report["scenario"] == "throughput"
    assert [r["target"] for r in report["runs"]] == ["reference"]
    run = report["runs"][0]
    assert_clean_throughput(run, version)
    # the server confirms it answered what the load generator counted
    measured = "MeterValues" if version == "1.6" else "TransactionEvent"
    assert run["server"]["actions"][measured] >= run["result"]["messages"]
    assert report["summary"]["reference"]["throughput_msg_s"] > 0


def test_ocpi_scenario_says_not_yet() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--scenario", "ocpi", "--no-save"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "not implemented yet" in done.stderr


def test_throughput_smoke_against_borne() -> None:
    pytest.importorskip("borne.bootstrap", reason="Borne's runtime (borne run) is not ready yet")
    report = run_harness(
        "--scenario", "throughput", "--version", "1.6", "--stations", "3",
        "--duration", "2", "--warmup", "0.3", "--target", "borne",
    )  # fmt: skip
    assert_clean_throughput(report["runs"][0], "1.6")
