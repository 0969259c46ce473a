"""pydantic's JSON Schema as Swagger 2.0, for the OpenAPI document (`shared.web.openapi`): `X | None`
becomes X marked `x-nullable`, `$defs` become `definitions`, every property gets an `x-ms-summary`
label for Power Platform's designer, and query or path parameters are declared from a model's fields."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

SCALARS = ("string", "integer", "number", "boolean")
REF_PREFIX = "#/$defs/"


def summary(name: str) -> str:
    """`dateFrom` -> `Date from`, `ticketID` -> `Ticket ID`: a label for Power Platform's designer."""
    words = re.findall(r"[A-Z]{2,}(?=[A-Z][a-z]|$)|[A-Z]?[a-z0-9]+|[A-Z]+", name)
    if not words:
        return name
    text = " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words)
    return text[0].upper() + text[1:]


def convert(schema: Any) -> Any:
    """A pydantic JSON Schema (2020-12 flavoured) as a Swagger 2.0 schema object."""
    if isinstance(schema, list):
        return [convert(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    nullable = False
    for key, value in schema.items():
        if key == "$defs":
            continue
        if key == "$ref" and isinstance(value, str) and value.startswith(REF_PREFIX):
            out["$ref"] = "#/definitions/" + value[len(REF_PREFIX) :]
        elif key in ("anyOf", "oneOf") and isinstance(value, list):
            # 2.0 has neither anyOf nor null: `X | None` becomes X marked x-nullable.
            options = [option for option in value if option != {"type": "null"}]
            nullable = nullable or len(options) < len(value)
            if len(options) == 1:
                out.update(convert(options[0]))
            else:
                # A real union of types: 2.0 cannot say it, so accept any value and say so.
                out.setdefault("description", "One of: " + ", ".join(describe(o) for o in options))
        elif key == "examples" and isinstance(value, list):
            if value:
                out["example"] = convert(value[0])
        elif key == "const":
            out["enum"] = [value]
        elif key in ("properties", "patternProperties"):
            out[key] = {name: convert(sub) for name, sub in value.items()}
        elif key in ("prefixItems", "discriminator", "$schema", "unevaluatedProperties"):
            continue
        elif key == "title":
            continue  # pydantic's titles are the field names capitalised; x-ms-summary says it better
        else:
            out[key] = convert(value)
    if nullable:
        out["x-nullable"] = True
        if out.get("default", ...) is None:
            del out["default"]
    if isinstance(out.get("properties"), dict):
        for name, prop in out["properties"].items():
            if isinstance(prop, dict):
                prop.setdefault("x-ms-summary", summary(name))
    return out


def describe(schema: Any) -> str:
    if isinstance(schema, dict):
        if "$ref" in schema:
            return str(schema["$ref"]).rsplit("/", 1)[-1]
        return str(schema.get("type", "value"))
    return "value"


class Definitions:
    """Collects the models' `$defs` under `definitions`, one name per model."""

    def __init__(self) -> None:
        self.items: dict[str, Any] = {}

    def add_model(self, model: type[BaseModel]) -> dict[str, Any]:
        schema = model.model_json_schema(ref_template=REF_PREFIX + "{model}")
        for name, sub in schema.get("$defs", {}).items():
            self.items.setdefault(name, convert(sub))
        converted: dict[str, Any] = convert(schema)
        return converted

    def ref(self, model: type[BaseModel]) -> dict[str, Any]:
        name = model.__name__
        if name not in self.items:
            self.items[name] = self.add_model(model)
        return {"$ref": "#/definitions/" + name}


def without(schema: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    names = set(names)
    if not names or "properties" not in schema:
        return schema
    schema = copy.deepcopy(schema)
    for name in names:
        schema["properties"].pop(name, None)
    if "required" in schema:
        schema["required"] = [r for r in schema["required"] if r not in names]
        if not schema["required"]:
            del schema["required"]
    return schema


def parameter_from(name: str, prop: Mapping[str, Any], where: str, required: bool) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": where, "required": required or where == "path"}
    kind = prop.get("type")
    if kind == "array" and isinstance(prop.get("items"), dict) and prop["items"].get("type") in SCALARS:
        param["type"] = "array"
        param["items"] = {"type": prop["items"]["type"]}
        param["collectionFormat"] = "multi" if where == "query" else "csv"
    else:
        # Query and path values are text on the wire; declare their type when it is a scalar.
        param["type"] = kind if kind in SCALARS else "string"
    for key in ("description", "format", "enum", "default", "minimum", "maximum", "maxLength", "pattern"):
        if key in prop and not (key == "default" and param["required"]):
            param[key] = prop[key]
    param["x-ms-summary"] = prop.get("x-ms-summary", summary(name))
    return param
