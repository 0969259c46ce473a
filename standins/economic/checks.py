"""Schema checks of write bodies, answered as e-conomic answers a refused write: an annotated `errors`
document (`E04300`), line errors under `errors.lines.items[]` with `arrayIndex`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from standins.economic.agreement import Agreement
from standins.economic.resources import Resource, _number_from_self, _ref_number
from standins.economic.schemas import _schema, _validator
from standins.economic.wire import (
    DOES_NOT_EXIST,
    NEEDS_VALUE,
    NO_IDENTIFIER,
    NULL_REFUSED,
    REQUIRED,
    SCHEMA_REFUSED,
    TOO_MANY_DECIMALS,
    VALIDATION_FAILED,
    _Answer,
    _error_body,
)


class _Problems:
    """An annotated `errors` document being built, as e-conomic answers a refused write."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {}
        self.count = 0
        self.paths: set[tuple[str | int, ...]] = set()

    def add(
        self, path: Sequence[str | int], message: str, code: str, value: Any = ..., hint: str | None = None
    ) -> None:
        key = tuple(path)
        self.paths.add(key)
        node = self.document
        for part in key:
            if isinstance(part, int):  # an array element: {"items": [{"arrayIndex": i, ...}]}
                items = node.setdefault("items", [])
                item = next((i for i in items if i.get("arrayIndex") == part), None)
                if item is None:
                    item = {"arrayIndex": part}
                    items.append(item)
                node = item
            else:
                node = node.setdefault(part, {})
        leaf = next((p for p in reversed(key) if isinstance(p, str)), "")
        error: dict[str, Any] = {"propertyName": leaf, "errorMessage": message, "errorCode": code}
        if value is not ...:
            error["inputValue"] = value
        if hint:
            error["developerHint"] = hint
        node.setdefault("errors", []).append(error)
        self.count += 1

    def covers(self, path: Sequence[str | int]) -> bool:
        key = tuple(path)
        return any(key[: len(p)] == p for p in self.paths)


def _refusal(problems: _Problems) -> _Answer:
    return _Answer(
        400,
        body=_error_body(
            400,
            f"Validation failed. {problems.count} errors found.",
            VALIDATION_FAILED,
            "Inspect validation errors and correct your request.",
            errors=problems.document,
        ),
    )


def _decimals(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
        return 0
    exponent = Decimal(str(value)).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _nulls(value: Any, path: list[str | int]) -> list[list[str | int]]:
    """The paths of every `null` in a body."""
    found: list[list[str | int]] = []
    children: list[tuple[str | int, Any]] = (
        list(value.items()) if isinstance(value, dict) else list(enumerate(value)) if isinstance(value, list) else []
    )
    for key, child in children:
        found.extend([[*path, key]] if child is None else _nulls(child, [*path, key]))
    return found


def _too_many_decimals(
    schema: Mapping[str, Any], value: Any, path: list[str | int]
) -> list[tuple[list[str | int], Any, int]]:
    found: list[tuple[list[str | int], Any, int]] = []
    allowed = schema.get("maxDecimal")
    if isinstance(allowed, int) and _decimals(value) > allowed:
        found.append((path, value, allowed))
    if isinstance(value, dict):
        for k, v in value.items():
            sub = (schema.get("properties") or {}).get(k)
            if isinstance(sub, dict):
                found.extend(_too_many_decimals(sub, v, [*path, k]))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(value):
            found.extend(_too_many_decimals(schema["items"], v, [*path, i]))
    return found


def _schema_message(validator: Any, expected: Any, instance: Any) -> str:
    kind = type(instance).__name__.replace("dict", "object").replace("list", "array").replace("str", "string")
    messages = {
        "type": f"Expected {expected} but got {kind}.",
        "maxLength": f"String is longer than the maximum length of {expected}.",
        "minLength": f"String is shorter than the minimum length of {expected}.",
        "pattern": f"String does not match the pattern {expected}.",
        "minimum": f"Number {instance} is less than minimum value of {expected}.",
        "maximum": f"Number {instance} is greater than maximum value of {expected}.",
        "enum": f"Value is not one of {expected}.",
        "format": f"String is not a valid {expected}.",
    }
    return messages.get(str(validator), f"Value does not satisfy {validator}: {expected}.")


class _Checks:
    """What a write's body must pass before anything is stored: the published `<resource>.post` schema,
    no `null`, `maxDecimal`, and the references the schema cannot check (they must exist)."""

    schema_dir: Path
    base_url: str

    # --- POST / DELETE drafts ---------------------------------------------------------------------

    def _validate(self, resource: Resource, body: dict[str, Any]) -> _Problems:
        problems = _Problems()
        for path in _nulls(body, []):
            problems.add(path, f"Expected a value but got Null: leave {path[-1]} out instead.", NULL_REFUSED, None)
        schema = _schema(self.schema_dir, f"{resource.schema}.post")
        for error in sorted(_validator(self.schema_dir, f"{resource.schema}.post").iter_errors(body), key=str):
            path = list(error.absolute_path)
            if problems.covers(path):
                continue
            if error.validator == "required":
                problems.add(path, f"Property {path[-1]} is required.", REQUIRED)
            else:
                problems.add(
                    path,
                    _schema_message(error.validator, error.validator_value, error.instance),
                    SCHEMA_REFUSED,
                    error.instance,
                )
        for path, value, allowed in _too_many_decimals(schema, body, []):
            if not problems.covers(path):
                problems.add(
                    path,
                    f"{path[-1]} scale cannot be greater than {allowed} decimal places.",
                    TOO_MANY_DECIMALS,
                    value,
                    "Please check the format of your data.",
                )
        return problems

    def _check_references(self, agreement: Agreement, body: dict[str, Any], problems: _Problems) -> None:
        def check(
            path: list[str | int], ref: Any, field_name: str, store: Mapping[Any, Any], label: str, url: str
        ) -> None:
            if problems.covers(path) or not isinstance(ref, dict):
                return
            number = ref.get(field_name)
            if number is None and isinstance(ref.get("self"), str):
                number = _number_from_self(ref["self"], string=field_name == "productNumber")
            if number is None:
                problems.add(
                    path,
                    f"No identifiers present on {path[-1]}. Please include either a self link or a {field_name}.",
                    NO_IDENTIFIER,
                    hint=f"Find a list of resources at {self.base_url}{url}.",
                )
            elif number not in store or store[number].get("deleted"):
                problems.add(
                    path,
                    f"{label} '{number}' not found.",
                    DOES_NOT_EXIST,
                    number,
                    f"Find a list of resources at {self.base_url}{url}.",
                )

        check(["customer"], body.get("customer"), "customerNumber", agreement.customers, "Customer", "/customers")
        check(["layout"], body.get("layout"), "layoutNumber", agreement.layouts, "Layout", "/layouts")
        check(
            ["paymentTerms"],
            body.get("paymentTerms"),
            "paymentTermsNumber",
            agreement.payment_terms,
            "Payment terms",
            "/payment-terms",
        )
        terms = body.get("paymentTerms")
        if isinstance(terms, dict) and not problems.covers(["paymentTerms"]) and "dueDate" not in body:
            term = agreement.payment_terms.get(_ref_number(terms, "paymentTermsNumber"), {})
            if str(term.get("paymentTermsType", "")).casefold() == "duedate":
                # economic-schemas/invoices.drafts.post.schema.json (and orders.drafts.post), `dueDate`:
                # "Only used if the terms of payment is of type 'duedate', in which case it is mandatory."
                problems.add(
                    ["dueDate"],
                    "Property dueDate is required when the terms of payment are of type dueDate.",
                    REQUIRED,
                    hint="Please check your request data.",
                )
        recipient = body.get("recipient")
        if isinstance(recipient, dict):
            check(
                ["recipient", "vatZone"],
                recipient.get("vatZone"),
                "vatZoneNumber",
                agreement.vat_zones,
                "VAT zone",
                "/vat-zones",
            )
        when = body.get("date")
        if isinstance(when, str) and not problems.covers(["date"]):
            try:
                date.fromisoformat(when)
            except ValueError:
                problems.add(["date"], "Date must be a real date written YYYY-MM-DD.", SCHEMA_REFUSED, when)
        currency = body.get("currency")
        if (
            isinstance(currency, str)
            and not problems.covers(["currency"])
            and currency.upper() not in agreement.currencies
        ):
            problems.add(["currency"], f"Currency '{currency}' does not exist.", DOES_NOT_EXIST, currency)
        lines = body.get("lines")
        for index, line in enumerate(lines if isinstance(lines, list) else []):
            if not isinstance(line, dict) or problems.covers(["lines", index]):
                continue
            product = line.get("product")
            if product is not None:
                check(["lines", index, "product"], product, "productNumber", agreement.products, "Product", "/products")
                if "quantity" not in line and not problems.covers(["lines", index, "quantity"]):
                    problems.add(
                        ["lines", index, "quantity"],
                        "Property quantity must have a value when product is set.",
                        NEEDS_VALUE,
                        hint="Please check your request data.",
                    )
            elif "quantity" in line or "unitNetPrice" in line:
                problems.add(
                    ["lines", index, "product"],
                    "Property product must have a value when quantity or unitNetPrice is set.",
                    NEEDS_VALUE,
                    hint="Please check your request data.",
                )
