"""Bundle the OCPI OpenAPI interface files of the CPO role into one self-contained document.

The official files (``../shared/ocpi/openapi/<version>/``) split each interface over several
YAML files joined by relative ``$ref``s. Here every external reference is copied into the
bundle's ``components`` (keyed by folder and name, e.g. ``locations__Location``) and the ref is
rewritten to point there, so schemathesis gets one plain OpenAPI 3.1 dict. While bundling:

- paths are rewritten to where Borne serves them, relative to ``<base>/ocpi``
  (``/locations`` -> ``/2.2.1/cpo/locations``, ``/versions/2.2.1`` -> ``/2.2.1/details``);
- ``format: enum`` / ``format: open-enum`` (OCPI annotations, not JSON Schema formats) are
  dropped; a closed ``enum`` stays, an open one becomes ``anyOf`` [known values, any string]
  (valid responses may carry values beyond the list; generated requests mostly use known ones);
- a ``$ref`` with sibling keywords (legal in 3.1) becomes ``allOf`` so both apply.

YAML is read with a loader for which only true/false are booleans: PyYAML's YAML 1.1 rules turn
the 2.3.0 TaxIncluded values YES/NO into booleans. Independent of Borne (imports nothing of it).
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

_yaml: Any = importlib.import_module("yaml")  # PyYAML, untyped

OCPI_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "ocpi"
OPENAPI_DIR = OCPI_DIR / "openapi"

#: The CPO interfaces Borne implements: (module, interface file, where Borne serves it).
CPO_INTERFACES: tuple[tuple[str, str, str], ...] = (
    ("versions", "interface", ""),
    ("credentials", "interface", "/{v}"),
    ("locations", "sender-interface", "/{v}/cpo"),
    ("tariffs", "sender-interface", "/{v}/cpo"),
    ("sessions", "sender-interface", "/{v}/cpo"),
    ("cdrs", "sender-interface", "/{v}/cpo"),
    ("tokens", "receiver-interface", "/{v}/cpo"),
    ("commands", "receiver-interface", "/{v}/cpo"),
)

_SCHEMA_SECTIONS = frozenset({"schemas"})


def _loader() -> Any:
    loader: Any = type("OcpiContractYamlLoader", (_yaml.SafeLoader,), {})
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


_LOADER = _loader()


class Bundler:
    def __init__(self) -> None:
        self._files: dict[Path, Any] = {}
        self.components: dict[str, dict[str, Any]] = {}

    def load(self, path: Path) -> Any:
        path = path.resolve()
        if path not in self._files:
            with path.open(encoding="utf-8") as fh:
                self._files[path] = _yaml.load(fh, Loader=_LOADER)
        return self._files[path]

    def _add(self, file: Path, pointer: str) -> str:
        """Copy the node at ``file#pointer`` into components; its local ref."""
        parts = [p for p in pointer.split("/") if p]
        if len(parts) != 3 or parts[0] != "components":
            raise ValueError(f"unexpected $ref target {file}#{pointer}")
        section, name = parts[1], parts[2]
        key = re.sub(r"[^A-Za-z0-9._-]", "_", f"{file.resolve().parent.name}__{name}")
        bucket = self.components.setdefault(section, {})
        ref = f"#/components/{section}/{key}"
        if key not in bucket:
            bucket[key] = {}  # placeholder: breaks reference cycles
            node: Any = self.load(file)
            for part in parts:
                node = node[part]
            bucket[key] = self.convert(node, file, in_schema=section in _SCHEMA_SECTIONS)
        return ref

    def convert(self, node: Any, file: Path, *, in_schema: bool) -> Any:
        if isinstance(node, list):
            return [self.convert(item, file, in_schema=in_schema) for item in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for k, v in node.items():
            if k == "$ref":
                continue
            if in_schema and k == "format" and v in ("enum", "open-enum"):
                continue
            # Below "schema"/"content"/"headers" of a parameter or response: JSON Schema.
            child_in_schema = in_schema or k in ("schema", "schemas")
            if k == "properties" and isinstance(v, dict):
                out[k] = {pk: self.convert(pv, file, in_schema=True) for pk, pv in v.items()}
            elif k == "example" or k == "examples":
                out[k] = v
            else:
                out[k] = self.convert(v, file, in_schema=child_in_schema)
        if in_schema and node.get("format") == "open-enum" and "enum" in out:
            # Open enumeration: the listed values are the known ones, others are valid too.
            # Generation still draws known values from the first branch.
            out["anyOf"] = [{"enum": out.pop("enum")}, {"type": "string"}]
        ref = node.get("$ref")
        if not isinstance(ref, str):
            return out
        target, _, pointer = ref.partition("#")
        local = self._add((file.parent / target) if target else file, pointer)
        if not out:
            return {"$ref": local}
        if in_schema:
            return {"allOf": [{"$ref": local}], **out}
        return {"$ref": local}  # a parameter/response ref: siblings are descriptions


def _borne_path(path: str, prefix: str, version: str) -> str:
    if path == f"/versions/{version}":
        return f"/{version}/details"
    return prefix.format(v=version) + path


def bundle(version: str) -> dict[str, Any]:
    """One OpenAPI 3.1 document with every CPO interface of ``version``, paths as Borne's."""
    root = OPENAPI_DIR / version
    bundler = Bundler()
    paths: dict[str, Any] = {}
    for module, interface, prefix in CPO_INTERFACES:
        file = root / "modules" / module / f"{interface}.yaml"
        doc = bundler.load(file)
        for path, item in doc["paths"].items():
            converted = bundler.convert(item, file, in_schema=False)
            for operation in converted.values():
                if isinstance(operation, dict) and "operationId" in operation:
                    operation["operationId"] = f"{module}.{operation['operationId']}"
            paths[_borne_path(path, prefix, version)] = converted
    common = bundler.load(root / "components" / "schema.yaml")["components"]
    bundler.components["securitySchemes"] = dict(common["securitySchemes"])
    return {
        "openapi": "3.1.0",
        "info": {"title": f"OCPI {version} CPO interfaces (bundled)", "version": version},
        "security": [{"OCPIToken": []}],
        "paths": paths,
        "components": bundler.components,
    }
