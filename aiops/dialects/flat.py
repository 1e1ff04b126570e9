"""The `aiops` dialect: the flat form of the original service (README "The API"), mapped to and
from the rich form. The service serves this dialect with the flat prompt and schema, exactly as
before dialects existed; this mapping is what the rich form means for a flat form (its one port
is `ports[0]`, HTTP), and the identity flat → rich → flat holds on every normalised flat form."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiops import form as flat
from aiops import rich
from aiops.dialects import Context, Reading
from aiops.form import Limits


class Flat:
    name = "aiops"
    fields = flat.FIELDS
    renames: Mapping[str, str] = {"ports": "container_port"}

    def limits(self, limits: Limits) -> Limits:
        return limits

    def read(self, document: Mapping[str, Any]) -> Reading:
        normalised = flat.normalise(document)
        values = rich.from_flat(normalised.form)
        return Reading(values=values, carry={}, errors=list(normalised.errors))

    def overlay(self, document: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
        return {**document, **changes}

    def write(
        self, form: Mapping[str, Any], carry: Mapping[str, Any], context: Context
    ) -> dict[str, Any]:
        return rich.to_flat(form)


DIALECT = Flat()
