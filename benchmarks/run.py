"""The benchmark harness: one command, JSON out (see benchmarks/README.md).

    python -m benchmarks.run --scenario throughput --version 1.6 --stations 50 --duration 10 \
        --target both --rounds 2

Each (round, target) starts a fresh server process, runs the load generator in another process,
then stops the server. With ``--target both`` the reference and Borne alternate within each round
so slow drifts of a shared machine hit both alike; the summary gives the borne/reference ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import raise_fd_limit
from benchmarks.loadgen import SCENARIOS
from benchmarks.targets import ROOT, TargetError, start_target

ALL_SCENARIOS = (*SCENARIOS, "ocpi")
RESULTS_DIR = Path(__file__).resolve().parent / "results"
CALIBRATION_S = 5.0


class NotYetError(RuntimeError):
    pass


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    p.add_argument("--scenario", choices=ALL_SCENARIOS, default="throughput")
    p.add_argument("--version", choices=("1.6", "2.0.1"), default="1.6")
    p.add_argument("--stations", type=int, default=50)
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds before measuring")
    p.add_argument("--target", choices=("borne", "reference", "both"), default="both")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument(
        "--rate", type=float, default=None, help="latency: msg/s (default: half of saturation)"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--password", default=None, help="HTTP Basic password of the stations")
    p.add_argument("--connect-concurrency", type=int, default=100)
    p.add_argument("--timeout", type=float, default=30.0, help="per-message timeout")
    p.add_argument("--output-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--no-save", action="store_true", help="print only, write no results file")
    return p.parse_args(argv)


def run_loadgen(args: argparse.Namespace, url: str, pid: int, **override: Any) -> dict[str, Any]:
    """Run ``benchmarks.loadgen`` in its own process and return its JSON."""
    opts: dict[str, Any] = {
        "url": url,
        "version": args.version,
        "stations": args.stations,
        "scenario": args.scenario,
        "duration": args.duration,
        "warmup": args.warmup,
        "rate": args.rate,
        "password": args.password,
        "server_pid": pid,
        "connect_concurrency": args.connect_concurrency,
        "timeout": args.timeout,
    }
    opts.update(override)
    command = [sys.executable, "-m", "benchmarks.loadgen"]
    for key, value in opts.items():
        if value is not None:
            command += [f"--{key.replace('_', '-')}", str(value)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    budget = opts["duration"] + opts["warmup"] + 120 + opts["stations"] / 50
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=budget, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed ({done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_one(args: argparse.Namespace, target_name: str, round_no: int) -> dict[str, Any]:
    run: dict[str, Any] = {"target": target_name, "round": round_no}
    try:
        target = start_target(target_name, args.host)
    except TargetError as exc:
        run["error"] = str(exc)
        return run
    run["url"] = target.url
    try:
        if args.scenario == "latency" and args.rate is None:
            calibration = run_loadgen(
                args,
                target.url,
                target.pid,
                scenario="throughput",
                duration=min(CALIBRATION_S, args.duration),
                id_prefix="CAL-",
            )
            saturation = float(calibration["throughput_msg_s"])
            run["calibration_throughput_msg_s"] = saturation
            run["result"] = run_loadgen(args, target.url, target.pid, rate=max(1.0, saturation / 2))
        else:
            run["result"] = run_loadgen(args, target.url, target.pid)
    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
        run["error"] = str(exc)
    finally:
        run["server"] = target.stop()
    return run


def _metric(scenario: str, result: dict[str, Any]) -> tuple[str, float | None]:
    """The headline number of a scenario (and its name)."""
    if scenario == "throughput":
        return "throughput_msg_s", result.get("throughput_msg_s")
    if scenario == "latency":
        return "latency_p99_ms", result.get("latency_ms", {}).get("p99")
    if scenario == "idle":
        return "rss_per_station_kib", result.get("rss_per_station_kib")
    return "time_to_all_accepted_s", result.get("time_to_all_accepted_s")


def summarize(args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    name = _metric(args.scenario, {})[0]
    for target in ("reference", "borne"):
        values = [
            v
            for r in runs
            if r["target"] == target and "result" in r
            for v in [_metric(args.scenario, r["result"])[1]]
            if v is not None
        ]
        ok = [r for r in runs if r["target"] == target and "result" in r]
        if not ok and not any(r["target"] == target for r in runs):
            continue
        summary[target] = {
            name: round(statistics.median(values), 3) if values else None,
            "rounds": len(ok),
            "errors": sum(r["result"].get("errors", 0) for r in ok)
            + sum(1 for r in runs if r["target"] == target and "error" in r),
        }
    ref = summary.get("reference", {}).get(name)
    borne = summary.get("borne", {}).get(name)
    if ref and borne is not None:
        summary["ratio_borne_over_reference"] = {name: round(borne / ref, 3)}
    return summary


def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    if args.scenario == "ocpi":
        raise NotYetError("scenario 'ocpi' is not implemented yet (needs Borne's OCPI module)")
    raise_fd_limit()
    targets = ("reference", "borne") if args.target == "both" else (args.target,)
    started = datetime.now(UTC)
    runs = [
        run_one(args, target, round_no)
        for round_no in range(1, args.rounds + 1)
        for target in targets
    ]
    return {
        "benchmark": "borne",
        "started_at": started.isoformat(timespec="seconds"),
        "scenario": args.scenario,
        "version": args.version,
        "stations": args.stations,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "target": args.target,
        "rounds": args.rounds,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "runs": runs,
        "summary": summarize(args, runs),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = run_benchmark(args)
    except NotYetError as exc:
        print(json.dumps({"error": str(exc)}), file=sys.stderr)
        return 2
    text = json.dumps(report, indent=2)
    print(text)
    if not args.no_save:
        args.output_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = args.output_dir / f"{stamp}-{args.scenario}-{args.version}-{args.target}.json"
        path.write_text(text + "\n")
        print(f"written {path}", file=sys.stderr)
    failed = any("error" in r for r in report["runs"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
