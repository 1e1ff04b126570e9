"""Form dialects (README "Form dialects"): the shapes a request's `params` and the answer's
`GenParamsStr` can take, each mapped to and from the rich form (aiops.rich).

- `aiops` (the default): the flat form of the original service, served as it always was;
- `launchpad`: Sealos App Launchpad's `AppEditType` as JSON;
- `sealos-v2alpha`: the body of Sealos's `POST /api/v2alpha/apps`.

A dialect reads a document into raw rich values (normalised afterwards by aiops.rich) and a
`carry`: what the rich form does not hold but the answer must give back unchanged (network
names and domains, `valueFrom` variables, config map keys, labels, volumes, unknown keys). It
writes a normalised rich form back, with that carry, as a complete document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiops.form import Limits, Notice
from aiops.messages import text

DEFAULT = "aiops"


@dataclass
class Reading:
    """A document read into raw rich values, what must come back unchanged, and what could not
    be read (notices named by the dialect's own fields)."""

    values: dict[str, Any]
    carry: dict[str, Any]
    errors: list[Notice] = field(default_factory=list)


@dataclass(frozen=True)
class Context:
    """What writing a document may need besides the form: the platform's domain for new
    public ports (`AIOPS_LAUNCHPAD_DOMAIN`)."""

    domain: str = ""


class Dialect(Protocol):
    name: str
    fields: tuple[str, ...]  # the document's top-level fields
    renames: Mapping[str, str]  # rich field → the dialect's field, for warnings and errors

    def limits(self, limits: Limits) -> Limits: ...

    def read(self, document: Mapping[str, Any]) -> Reading: ...

    def overlay(self, document: Mapping[str, Any], changes: Mapping[str, Any]) -> dict:
        """`document` with a model's partial changes written in this dialect."""
        ...

    def write(self, form: Mapping[str, Any], carry: Mapping[str, Any], context: Context) -> dict:
        """The complete document of a normalised rich form."""
        ...


class UnknownDialect(ValueError):
    """A `form` the service does not know; str() names the known ones."""


def get(name: str | None) -> Dialect:
    from aiops.dialects import flat, launchpad, sealos_v2alpha

    known: dict[str, Dialect] = {
        flat.DIALECT.name: flat.DIALECT,
        launchpad.DIALECT.name: launchpad.DIALECT,
        sealos_v2alpha.DIALECT.name: sealos_v2alpha.DIALECT,
    }
    chosen = known.get(name or DEFAULT)
    if chosen is None:
        raise UnknownDialect(", ".join(known))
    return chosen


NAMES: tuple[str, ...] = ("aiops", "launchpad", "sealos-v2alpha")


def overlay_objects(
    document: Mapping[str, Any], changes: Mapping[str, Any], objects: tuple[str, ...]
) -> dict[str, Any]:
    """`document` with `changes`; an object-valued field in `objects` given as an object is
    merged one level deep (`{"quota": {"cpu": 1}}` keeps the other quota keys)."""
    merged = dict(document)
    for key, value in changes.items():
        old = document.get(key)
        if key in objects and isinstance(value, Mapping) and isinstance(old, Mapping):
            merged[key] = {**old, **value}
        else:
            merged[key] = value
    return merged


def renamed(notice: Notice, renames: Mapping[str, str]) -> Notice:
    """`notice` named by the dialect's field: `storage[0].capacity` → `storeList[0].capacity`."""
    for rich_name, own in renames.items():
        rest = notice.field[len(rich_name) :]
        if notice.field.startswith(rich_name) and (not rest or rest[0] in ".["):
            return Notice(own + rest, notice.code, notice.text)
    return notice


def shape_error(name: str, shape: str, value: Any) -> Notice:
    from aiops.form import kind_of

    return Notice(
        name, "invalid_value", text("dialect_shape", name=name, shape=shape, kind=kind_of(value))
    )
