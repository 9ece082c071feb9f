"""OCPI object validation from the official OpenAPI files in ``../shared/ocpi/openapi/``.

The OpenAPI 3.1 component schemas are split over many YAML files that point at each other with
relative ``$ref``s. :class:`SchemaLibrary` bundles one component and everything it references into
a single self-contained JSON schema (``definitions`` + local refs) and compiles it with
``fastjsonschema``. Two OCPI conventions are applied while bundling:

- ``format: open-enum``: the listed values are the known ones, others are allowed (the ``enum``
  constraint is dropped); ``format: enum`` is a closed list (the ``enum`` stays).
- ``format: date-time`` is OCPI's DateTime: RFC 3339 in UTC, ``Z`` optional, no numeric offset
  ("+00:00 is not the same as UTC"), at most 25 characters.

This module is deliberately independent of Borne: it imports nothing from ``borne``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastjsonschema

_yaml: Any = importlib.import_module("yaml")  # PyYAML, untyped


def _yaml_loader() -> Any:
    """A YAML 1.2-ish safe loader: only ``true``/``false`` are booleans.

    PyYAML follows YAML 1.1, where ``YES``/``NO``/``ON``/``OFF`` are booleans too, which would turn
    OCPI's ``TaxIncluded`` enum (``YES``, ``NO``, ``N/A``) into ``True``/``False``.
    """
    loader: Any = type("OcpiYamlLoader", (_yaml.SafeLoader,), {})
    loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in _yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool",
        re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
        list("tTfF"),
    )
    return loader


_LOADER = _yaml_loader()

#: Default location of the OCPI material, relative to the project root (``/work/main``).
DEFAULT_OCPI_DIR = Path(__file__).resolve().parents[3] / "shared" / "ocpi"

_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z?$")
_UUID_RE = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_ANNOTATIONS = frozenset(
    {"description", "example", "examples", "title", "x-enumDescriptions", "deprecated"}
)


def is_ocpi_datetime(value: str) -> bool:
    """OCPI DateTime: ``2015-06-29T20:39:09Z``, ``2016-12-29T17:45:09.2`` … (string(25), UTC)."""
    return len(value) <= 25 and _DATETIME_RE.match(value) is not None


_FORMATS: dict[str, str | Callable[[str], bool]] = {
    "date-time": is_ocpi_datetime,
    "uuid": _UUID_RE,
    "enum": r"^.*$",
    "open-enum": r"^.*$",
}

Validator = Callable[[Any], Any]


class SchemaLibrary:
    """Compiled validators for the component schemas of each OCPI version.

    ``available`` is False when the OpenAPI folder is absent; :meth:`validate` then returns no
    errors and :attr:`reason` says why (the peer works without validation).
    """

    def __init__(self, ocpi_dir: Path | None = None) -> None:
        self.root = (ocpi_dir or DEFAULT_OCPI_DIR) / "openapi"
        self.available = self.root.is_dir()
        self.reason = "" if self.available else f"OCPI OpenAPI files not found at {self.root}"
        self._files: dict[Path, dict[str, Any]] = {}
        self._validators: dict[tuple[str, str, str], Validator] = {}

    # -- public ------------------------------------------------------------------------------

    def validate(self, version: str, module: str, name: str, obj: Any) -> list[str]:
        """Errors of ``obj`` against component ``name`` of ``modules/<module>/schema.yaml``.

        ``module`` may be ``"components"`` for the shared component file. Empty list: valid (or
        validation unavailable).
        """
        if not self.available:
            return []
        validator = self._validator(version, module, name)
        try:
            validator(obj)
        except fastjsonschema.JsonSchemaValueException as exc:
            return [f"{module}.{name} ({version}): {exc.message}"]
        return []

    def bundle(self, version: str, module: str, name: str) -> dict[str, Any]:
        """The self-contained JSON schema of one component (exposed for debugging and tests)."""
        start = self._schema_file(version, module)
        definitions: dict[str, Any] = {}
        root_key = self._add_definition(start, f"/components/schemas/{name}", definitions)
        return {"$ref": f"#/definitions/{root_key}", "definitions": definitions}

    # -- internals ---------------------------------------------------------------------------

    def _schema_file(self, version: str, module: str) -> Path:
        if module == "components":
            return self.root / version / "components" / "schema.yaml"
        return self.root / version / "modules" / module / "schema.yaml"

    def _validator(self, version: str, module: str, name: str) -> Validator:
        key = (version, module, name)
        if key not in self._validators:
            schema = self.bundle(version, module, name)
            self._validators[key] = fastjsonschema.compile(schema, formats=_FORMATS)
        return self._validators[key]

    def _load(self, path: Path) -> dict[str, Any]:
        path = path.resolve()
        if path not in self._files:
            with path.open(encoding="utf-8") as fh:
                self._files[path] = _yaml.load(fh, Loader=_LOADER)
        return self._files[path]

    def _add_definition(self, file: Path, pointer: str, definitions: dict[str, Any]) -> str:
        file = file.resolve()
        parts = [p for p in pointer.split("/") if p]
        key = f"{file.parent.name}__{parts[-1]}"
        if key in definitions:
            return key
        definitions[key] = {}  # placeholder: breaks reference cycles
        node: Any = self._load(file)
        for part in parts:
            node = node[part]
        definitions[key] = self._convert(node, file, definitions)
        return key

    def _convert(self, node: Any, file: Path, definitions: dict[str, Any]) -> Any:
        if isinstance(node, list):
            return [self._convert(item, file, definitions) for item in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        ref: str | None = node.get("$ref")
        fmt = node.get("format")
        for k, v in node.items():
            if k in _ANNOTATIONS or k == "$ref":
                continue
            if k == "properties" and isinstance(v, dict):
                out[k] = {pk: self._convert(pv, file, definitions) for pk, pv in v.items()}
            elif k == "enum" and fmt == "open-enum":
                continue  # open enumerations accept values beyond the listed ones
            elif k == "format" and v in ("enum", "open-enum"):
                continue
            else:
                out[k] = self._convert(v, file, definitions)
        if ref is None:
            return out
        target_file, _, pointer = ref.partition("#")
        resolved = (file.parent / target_file) if target_file else file
        key = self._add_definition(resolved, pointer, definitions)
        ref_node = {"$ref": f"#/definitions/{key}"}
        if not out:
            return ref_node
        # A $ref with sibling constraints (allowed in OpenAPI 3.1): both must hold.
        return {"allOf": [ref_node], **out}
