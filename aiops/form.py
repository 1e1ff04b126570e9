"""The deploy form (SPEC §2): its fields, normalisation, validation and diff."""

from __future__ import annotations

from dataclasses import dataclass

FIELDS: tuple[str, ...] = (
    "app_name",
    "image_name",
    "instance",
    "cpu",
    "memory",
    "container_port",
    "public_access",
    "command",
    "parameters",
    "environment",
    "configmap",
    "storage",
)


@dataclass(frozen=True)
class Notice:
    """A warning or a validation error about one field (`field` may be dotted: `environment.X`)."""

    field: str
    message: str
