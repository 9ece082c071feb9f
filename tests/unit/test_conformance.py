"""The OCPP conformance map (``conformance/ocpp16.yaml``, ``conformance/ocpp201.yaml``) is true:

* every action of the official schemas (the ``ocpp`` package's) that a CSMS sends or receives is
  listed, with its direction (``received``, ``sent``, or ``both`` for DataTransfer);
* every action a station sends is routed: Borne's routers, as built by the composition root,
  have a handler for it;
* every action Borne sends is built somewhere in Borne (its typed request model is used
  outside the generated models);
* every ``done`` entry (action or use case) names tests, and each of them exists;
* every ``not_applicable`` entry says why.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path
from typing import Any, cast

import ocpp
import pytest
import yaml

from borne.bootstrap import build_routers
from borne.core.bus import InProcessBus
from borne.core.clock import SystemClock
from borne.core.deps import Deps
from borne.core.registry import LocalRegistry
from borne.core.supervisor import Supervisor
from borne.ocpp.versions import OcppVersion
from borne.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = Path(ocpp.__file__).parent
MAPS = {
    OcppVersion.V16: (ROOT / "conformance" / "ocpp16.yaml", SCHEMAS / "v16" / "schemas", "v16"),
    OcppVersion.V201: (
        ROOT / "conformance" / "ocpp201.yaml",
        SCHEMAS / "v201" / "schemas",
        "v201",
    ),
}
STATUSES = {"done", "not_applicable"}


def _load(version: OcppVersion) -> dict[str, Any]:
    path = MAPS[version][0]
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def _official_actions(version: OcppVersion) -> set[str]:
    names = {p.stem for p in MAPS[version][1].glob("*.json") if "Response" not in p.stem}
    return {n.removesuffix("Request") for n in names}


@cache
def _test_names(path: str) -> frozenset[str]:
    tree = ast.parse((ROOT / path).read_text())
    return frozenset(
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    )


def _missing_tests(entries: dict[str, Any]) -> list[str]:
    missing = []
    for name, entry in entries.items():
        if entry["status"] != "done":
            continue
        tests = entry.get("tests") or []
        if not tests:
            missing.append(f"{name}: done without a test")
        for ref in tests:
            file, _, func = ref.partition("::")
            if not (ROOT / file).is_file() or func not in _test_names(file):
                missing.append(f"{name}: {ref} does not exist")
    return missing


def _bad_statuses(entries: dict[str, Any]) -> list[str]:
    bad = []
    for name, entry in entries.items():
        if entry.get("status") not in STATUSES:
            bad.append(f"{name}: status {entry.get('status')!r}")
        elif entry["status"] == "not_applicable" and not entry.get("reason"):
            bad.append(f"{name}: not_applicable without a reason")
    return bad


@cache
def _sources_using(module: str) -> str:
    """Borne's modules (the generated models excluded) that import ``borne.ocpp.<module>``'s
    models, whatever alias they give them: where that version's requests are built."""
    generated = {ROOT / "src" / "borne" / "ocpp" / "v16", ROOT / "src" / "borne" / "ocpp" / "v201"}
    markers = (f"from borne.ocpp.{module} import models", f"borne.ocpp.{module}.models")
    texts = []
    for path in (ROOT / "src" / "borne").rglob("*.py"):
        if path.parent in generated:
            continue
        text = path.read_text()
        if any(m in text for m in markers):
            texts.append(text)
    return "\n".join(texts)


@pytest.mark.parametrize("version", list(MAPS), ids=str)
def test_every_official_action_is_listed_with_its_direction(version: OcppVersion) -> None:
    actions = _load(version)["actions"]
    assert set(actions) == _official_actions(version)
    for name, entry in actions.items():
        assert entry.get("direction") in ("received", "sent", "both"), name


@pytest.mark.parametrize("version", list(MAPS), ids=str)
def test_statuses_reasons_and_tests_exist(version: OcppVersion) -> None:
    data = _load(version)
    for section in ("actions", "use_cases"):
        entries = data[section]
        assert _bad_statuses(entries) == [], section
        assert _missing_tests(entries) == [], section


@pytest.mark.parametrize("version", list(MAPS), ids=str)
def test_received_actions_are_routed(version: OcppVersion) -> None:
    # the routers only keep these; no handler runs here
    supervisor = Supervisor()
    bus = InProcessBus(supervisor)
    deps = Deps(
        db=cast(Any, None),
        committer=cast(Any, None),
        clock=SystemClock(),
        bus=bus,
        registry=LocalRegistry(),
        supervisor=supervisor,
    )
    routers = build_routers(deps, Settings())
    router = routers[version]
    received = [
        n for n, e in _load(version)["actions"].items() if e["direction"] in ("received", "both")
    ]
    unrouted = [n for n in received if router.handler_for(n) is None]
    assert unrouted == []


@pytest.mark.parametrize("version", list(MAPS), ids=str)
def test_sent_actions_are_built_by_borne(version: OcppVersion) -> None:
    module = MAPS[version][2]
    sources = _sources_using(module)
    actions = _load(version)["actions"]
    sent = [
        n
        for n, e in actions.items()
        if e["direction"] in ("sent", "both") and e["status"] == "done"
    ]
    unbuilt = [n for n in sent if re.search(rf"\.{n}Request\b", sources) is None]
    assert unbuilt == []
