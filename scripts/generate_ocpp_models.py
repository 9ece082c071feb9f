"""Generate typed pydantic models for every OCPP message from the official JSON schemas.

The schemas ship in the ``ocpp`` package; this script turns each ``X.json`` / ``XResponse.json``
into ``XRequest`` / ``XResponse`` classes in ``src/borne/ocpp/<version>/models.py``. Validation
is not the models' job (the compiled schemas do it, with the exact OCPP error codes); the models
give domain code typed, snake_case access. Enumerations become ``Literal`` aliases.

Run: ``python scripts/generate_ocpp_models.py`` (output is committed; re-run after upgrading
``ocpp``).
"""

from __future__ import annotations

import json
import keyword
import re
import sys
from pathlib import Path
from typing import Any

import ocpp

ROOT = Path(__file__).resolve().parents[1]
VERSIONS = {"v16": "ocpp1.6", "v201": "ocpp2.0.1"}


def snake(name: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s).lower()
    if keyword.iskeyword(s) or s in {"schema", "json", "copy", "validate", "dict", "fields"}:
        s += "_"
    return s


def camel_class(name: str) -> str:
    return name[:1].upper() + name[1:]


class Generator:
    def __init__(self) -> None:
        self.classes: dict[str, str] = {}  # name -> body
        self.order: list[str] = []
        self.aliases: dict[str, str] = {}  # Literal aliases
        self.context = ""  # the action being generated, to name colliding inline objects

    def type_of(self, schema: dict[str, Any], name_hint: str, defs: dict[str, Any]) -> str:
        if "$ref" in schema:
            ref = schema["$ref"].split("/")[-1]
            return self.type_of(defs[ref], ref, defs)
        if "enum" in schema:
            lit = "Literal[" + ", ".join(repr(v) for v in schema["enum"]) + "]"
            if name_hint.endswith("EnumType"):
                return self.add_alias(name_hint, lit)
            return lit
        t = schema.get("type")
        if t == "object":
            return self.add_object(schema, name_hint, defs)
        if t == "array":
            item = self.type_of(schema.get("items", {}), singular(name_hint), defs)
            return f"list[{item}]"
        if t == "string":
            return "datetime" if schema.get("format") == "date-time" else "str"
        if t == "integer":
            return "int"
        if t == "number":
            return "float"
        if t == "boolean":
            return "bool"
        return "Any"

    def add_alias(self, name: str, lit: str) -> str:
        prev = self.aliases.get(name)
        if prev is not None and prev != lit:
            raise SystemExit(f"conflicting enum {name}")
        self.aliases[name] = lit
        return name

    def add_object(self, schema: dict[str, Any], name: str, defs: dict[str, Any]) -> str:
        name = camel_class(name)
        required = set(schema.get("required", []))
        lines = []
        for prop, sub in schema.get("properties", {}).items():
            ptype = self.type_of(sub, camel_class(prop) if "$ref" not in sub else "", defs)
            field = snake(prop)
            alias = f'Field(alias="{prop}")' if field != prop else None
            if prop in required:
                default = f" = {alias}" if alias else ""
                lines.append(f"    {field}: {ptype}{default}")
            else:
                default = f' = Field(default=None, alias="{prop}")' if alias else " = None"
                lines.append(f"    {field}: {ptype} | None{default}")
        extra = schema.get("additionalProperties", False) is not False
        base = "OcppOpenModel" if extra else "OcppModel"
        body = f"({base}):\n" + ("\n".join(lines) if lines else "    pass")
        return self.register(name, body)

    def register(self, name: str, body: str) -> str:
        candidate = name
        if candidate in self.classes and self.classes[candidate] != body:
            candidate = f"{self.context}{name}"
        n = 2
        while candidate in self.classes and self.classes[candidate] != body:
            candidate = f"{self.context}{name}{n}"
            n += 1
        if candidate not in self.classes:
            self.classes[candidate] = body
            self.order.append(candidate)
        return candidate


def singular(name: str) -> str:
    return name


def generate(version_dir: str, version: str) -> str:
    schema_dir = Path(ocpp.__file__).parent / version_dir / "schemas"
    gen = Generator()
    requests: dict[str, str] = {}
    responses: dict[str, str] = {}
    for path in sorted(schema_dir.glob("*.json")):
        stem = path.stem
        schema = json.loads(path.read_text())
        defs = schema.get("definitions", {})
        if stem.endswith("Response"):
            action = stem[: -len("Response")]
            gen.context = action
            responses[action] = gen.add_object(schema, stem, defs)
        else:
            action = stem.removesuffix("Request")
            gen.context = action
            requests[action] = gen.add_object(schema, action + "Request", defs)
    out = [
        f'"""Typed OCPP {version[4:]} messages, generated from the official JSON schemas.',
        "",
        "Generated by scripts/generate_ocpp_models.py; do not edit by hand.",
        '"""',
        "",
        "# ruff: noqa: E501",
        "from __future__ import annotations",
        "",
        "from datetime import datetime",
        "from typing import Any, Literal",
        "",
        "from pydantic import Field",
        "",
        "from borne.ocpp.model_base import OcppModel, OcppOpenModel",
        "",
        f'OCPP_VERSION = "{version}"',
        "",
    ]
    for alias, lit in sorted(gen.aliases.items()):
        out.append(f"{alias} = {lit}")
    out.append("")
    for name in gen.order:
        out.append("")
        out.append(f"class {name}{gen.classes[name]}")
        out.append("")
    out.append("")
    out.append("REQUESTS: dict[str, type[OcppModel]] = {")
    out.extend(f'    "{a}": {c},' for a, c in sorted(requests.items()))
    out.append("}")
    out.append("RESPONSES: dict[str, type[OcppModel]] = {")
    out.extend(f'    "{a}": {c},' for a, c in sorted(responses.items()))
    out.append("}")
    out.append("")
    for name in gen.order:
        out.append(f"{name}.model_rebuild()")
    out.append("")
    return "\n".join(out)


def main() -> int:
    for vdir, version in VERSIONS.items():
        target = ROOT / "src" / "borne" / "ocpp" / vdir / "models.py"
        target.write_text(generate(vdir, version))
        print(f"wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
