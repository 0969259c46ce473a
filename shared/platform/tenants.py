"""Tenant ids: the leaf every other module may import (keys, secrets, export messages, the CLI)."""

from __future__ import annotations

import re

from shared.errors import FieldError, Invalid

TENANT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
"""1-64 letters, digits, '-' or '_', starting with a letter or digit."""


def validate_tenant(tenant: str) -> str:
    if not TENANT_RE.fullmatch(tenant):
        raise Invalid(
            "The tenant id is invalid.",
            [FieldError("tenant", "must be 1-64 letters, digits, '-' or '_', starting with a letter or digit")],
        )
    return tenant
