"""Test helpers of the OCPI Tariffs module: the shared OCPI material and stored records.

``validate`` checks an object against a component of the official OpenAPI files (YAML split over
files with relative ``$ref``s, resolved by ``referencing``); every helper skips with the reason
when ``<repo>/../shared/ocpi`` is absent.
"""

from __future__ import annotations

import importlib
import json
import re
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from borne.tariffs.models import TariffRecord
from borne.tariffs.ocpi_tariff import dumps_exact, parse_tariff, tariff_to_ocpi

OCPI_DIR = Path(__file__).resolve().parents[3] / ".." / "shared" / "ocpi"
TARIFF_EXAMPLES = re.compile(r"^tariff_\d+_.*\.json$|^tariff_put_example\.json$")


# untyped third-party packages (no stubs installed)
yaml: Any = importlib.import_module("yaml")
Draft202012Validator: Any = importlib.import_module("jsonschema").Draft202012Validator

# YAML without the 1.1 booleans: OCPI's TaxIncluded has the values YES and NO.
_Loader: Any = type("OcpiYamlLoader", (yaml.SafeLoader,), {})
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _retrieve(uri: str) -> Resource[Any]:
    path = Path(uri.removeprefix("file://"))
    with path.open(encoding="utf-8") as fh:
        contents = yaml.load(fh, Loader=_Loader)  # a SafeLoader subclass
    return Resource.from_contents(contents, default_specification=DRAFT202012)


@cache
def _validator(version: str, module: str, name: str) -> Any:
    path = (OCPI_DIR / "openapi" / version / "modules" / module / "schema.yaml").resolve()
    if not path.is_file():
        pytest.skip(f"OCPI OpenAPI files not found at {path}")
    schema = {"$ref": f"file://{path}#/components/schemas/{name}"}
    registry: Any = Registry(retrieve=_retrieve)  # type: ignore[call-arg]  # attrs init
    return Draft202012Validator(schema, registry=registry)


def validate(version: str, module: str, name: str, obj: Any) -> list[str]:
    """Errors of ``obj`` (as a partner reads it: JSON numbers) against the OpenAPI schema."""
    wire = json.loads(dumps_exact(obj))
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in _validator(version, module, name).iter_errors(wire)
    ]


def example_names(version: str) -> list[str]:
    folder = OCPI_DIR / f"examples-{version}"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if TARIFF_EXAMPLES.match(p.name))


def example(version: str, name: str) -> dict[str, Any]:
    path = OCPI_DIR / f"examples-{version}" / name
    if not path.is_file():
        pytest.skip(f"OCPI examples not found at {path}")
    data: dict[str, Any] = json.loads(path.read_text(), parse_float=Decimal)
    return data


def record(
    data: dict[str, Any],
    *,
    record_id: int = 1,
    last_updated: datetime,
    partner: str | None = None,
    token_group: str | None = None,
    ad_hoc: bool = False,
) -> TariffRecord:
    """An in-memory record stored as the tariffs service stores one (2.3.0 body + origin)."""
    tariff = parse_tariff(data)
    return TariffRecord(
        id=record_id,
        ocpi_id=tariff.id,
        country_code=tariff.country_code,
        party_id=tariff.party_id,
        currency=tariff.currency,
        origin_version="2.2.1" if tariff.tax_included is None else "2.3.0",
        body=dumps_exact(tariff_to_ocpi(tariff, "2.3.0")),
        partner=partner,
        token_group=token_group,
        ad_hoc=ad_hoc,
        created_at=last_updated,
        last_updated=last_updated,
    )
