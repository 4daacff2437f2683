"""A small JSON Schema checker for the subset docs/report-schema.json uses (type, const, enum,
properties, required, additionalProperties, items, anyOf, minimum): jsonschema is not a
dependency of learn, and this subset is a page of code. It refuses keywords it does not know,
so the schema cannot silently outgrow it."""

from __future__ import annotations

from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}
_KNOWN = {"$schema", "$id", "title", "description", "type", "const", "enum", "properties", "required",
          "additionalProperties", "items", "anyOf", "minimum"}  # fmt: skip


def _is(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name in ("integer", "number"):
        return False
    return isinstance(value, _TYPES[name])


def errors(value: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
    """Every way value breaks schema, as `path: what`; empty when it conforms."""
    unknown = set(schema) - _KNOWN
    if unknown:
        raise ValueError(f"{where}: schema keywords this checker does not know: {sorted(unknown)}")
    out: list[str] = []
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is(value, t) for t in types):
            return [f"{where}: {type(value).__name__} is not {' or '.join(types)}"]
    if "const" in schema and value != schema["const"]:
        out.append(f"{where}: {value!r} is not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if "minimum" in schema and _is(value, "number") and value < schema["minimum"]:
        out.append(f"{where}: {value} < {schema['minimum']}")
    if "anyOf" in schema and all(errors(value, option, where) for option in schema["anyOf"]):
        out.append(f"{where}: matches none of anyOf: {[errors(value, o, where) for o in schema['anyOf']]}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        out += [f"{where}: missing {key!r}" for key in schema.get("required", []) if key not in value]
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                out += errors(item, properties[key], f"{where}.{key}")
            elif extra is False:
                out.append(f"{where}: unexpected key {key!r}")
            elif isinstance(extra, dict):
                out += errors(item, extra, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            out += errors(item, schema["items"], f"{where}[{i}]")
    return out
