"""The rich form (README "Form dialects"): what the launchpad form and the Sealos create-app API
can say beyond the flat form, declared once as a table of fields.

The rich form is the flat form's fields, with `container_port`/`public_access` replaced by
`ports` (several, each with its protocol and exposure), plus `autoscaling`, `registry` (a
private registry's credentials) and `gpu`. Each rich-only field is one `aiops.form.Field` (the
flat form's type): its default, its normaliser, the rule in words the model is told, and its
strict JSON schema. `FORM` is the rich form's table: the flat form's own `Field`s for the fields
both share (so both forms agree on cpu, memory, names, environment, config files and volumes),
then the rich-only ones.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
from typing import Any

from aiops import form as flat
from aiops.form import (
    Field,
    Invalid,
    Limits,
    Normalised,
    Notes,
    array_of,
    normalised_field,
    object_of,
    shown,
)
from aiops.messages import text

SHARED: tuple[str, ...] = (
    "app_name",
    "image_name",
    "instance",
    "cpu",
    "memory",
    "command",
    "parameters",
    "environment",
    "configmap",
    "storage",
)
# Application protocols a public port reaches through a domain; the others through a NodePort.
WEB_PROTOCOLS: tuple[str, ...] = ("http", "grpc", "ws")
PROTOCOLS: tuple[str, ...] = (*WEB_PROTOCOLS, "tcp", "udp", "sctp")
MAX_PORTS = 15
MAX_GPUS = 8
AUTOSCALING_TARGETS: tuple[str, ...] = ("cpu", "memory", "gpu")


def transport(protocol: str) -> str:
    """The transport of a rich port protocol: `udp`, `sctp`, else `tcp`."""
    return protocol if protocol in ("udp", "sctp") else "tcp"


# --- ports -----------------------------------------------------------------------------------


def _port_number(value: Any, where: str) -> int:
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,5}", value.strip()):
        value = int(value.strip())
    if not _whole(value) or not 1 <= value <= 65535:
        raise Invalid(text("rich_port_number", value=shown(value)), where)
    return int(value)


def _port(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        raise Invalid(text("rich_ports_shape", max=MAX_PORTS), where)
    protocol = item.get("protocol", "http")
    protocol = protocol.strip().lower() if isinstance(protocol, str) else protocol
    if protocol not in PROTOCOLS:
        raise Invalid(
            text("rich_port_protocol", value=shown(protocol), choices=", ".join(PROTOCOLS)),
            f"{where}.protocol",
        )
    public = item.get("public", False)
    if not isinstance(public, bool):
        raise Invalid(text("rich_port_public", value=shown(public)), f"{where}.public")
    return {
        "port": _port_number(item.get("port"), f"{where}.port"),
        "protocol": protocol,
        "public": public,
    }


def _ports(value: Any, limits: Limits, notes: Notes) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise Invalid(text("rich_ports_shape", max=MAX_PORTS))
    ports: dict[tuple[int, str], dict[str, Any]] = {}
    for index, item in enumerate(value):
        port = _port(item, f"[{index}]")
        key = (port["port"], transport(port["protocol"]))
        if key in ports:
            notes.warn(
                "duplicate_replaced",
                text("rich_port_twice", port=key[0], transport=key[1]),
                f"[{index}]",
            )
        ports[key] = port
    if len(ports) > MAX_PORTS:
        raise Invalid(text("rich_ports_too_many", count=len(ports), max=MAX_PORTS))
    return list(ports.values())


def _ports_rule(limits: Limits) -> str:
    return (
        f'- ports: array of at most {MAX_PORTS} {{"port": 1..65535, "protocol": one of '
        f'{", ".join(PROTOCOLS)}, "public": boolean}}: every port the app listens on, the main '
        "one first. A public http/grpc/ws port gets an HTTPS domain; a public tcp/udp port a "
        "NodePort. Make public only what users open in a browser or must reach from outside "
        "(a web UI, a public API); keep database, cluster and admin ports private.\n"
    )


def _ports_schema(limits: Limits) -> dict[str, Any]:
    return array_of(
        port={"type": "integer"},
        protocol={"type": "string", "enum": list(PROTOCOLS)},
        public={"type": "boolean"},
    )


# --- autoscaling -----------------------------------------------------------------------------


def _autoscaling(value: Any, limits: Limits, notes: Notes) -> dict[str, Any] | None:
    if value is None or value is False:
        return None
    rule = text("rich_autoscaling_rule", max=limits.max_instances)
    if not isinstance(value, Mapping):
        raise Invalid(rule)
    target = value.get("target", "cpu")
    numbers = [value.get(key) for key in ("value", "min_replicas", "max_replicas")]
    if target not in AUTOSCALING_TARGETS or not all(_whole(n) for n in numbers):
        raise Invalid(rule)
    percent, low, high = (int(n) for n in numbers)
    if not (1 <= percent <= 100 and 1 <= low <= high <= limits.max_instances):
        raise Invalid(rule)
    return {"target": target, "value": percent, "min_replicas": low, "max_replicas": high}


def _whole(value: Any) -> bool:
    """A JSON number without a fraction (NaN and infinities, which a model may write, are not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or (math.isfinite(value) and value.is_integer())


def _autoscaling_rule(limits: Limits) -> str:
    return (
        '- autoscaling: null (a fixed number of instances) or {"target": "cpu" | "memory" | '
        '"gpu", "value": 1..100 (percent of the limit), "min_replicas": integer, '
        f'"max_replicas": integer}} with 1 <= min_replicas <= max_replicas <= '
        f"{limits.max_instances}; only when the user asks for autoscaling.\n"
    )


def _autoscaling_schema(limits: Limits) -> dict[str, Any]:
    return object_of(
        target={"type": "string", "enum": list(AUTOSCALING_TARGETS)},
        value={"type": "integer"},
        min_replicas={"type": "integer"},
        max_replicas={"type": "integer"},
    )


# --- registry --------------------------------------------------------------------------------


def _registry(value: Any, limits: Limits, notes: Notes) -> dict[str, str] | None:
    if value is None or value is False:
        return None
    fields = ("username", "password", "server")
    if not isinstance(value, Mapping) or not all(
        isinstance(value.get(key), str) and value.get(key).strip() for key in fields
    ):
        raise Invalid(text("rich_registry_rule"))
    return {key: value[key].strip() for key in fields}


def _registry_rule(limits: Limits) -> str:
    return (
        '- registry: null (a public image) or {"username", "password", "server"} of a private '
        'registry (e.g. "registry.example.com"); image_name then leaves the registry host out.\n'
    )


def _registry_schema(limits: Limits) -> dict[str, Any]:
    string = {"type": "string"}
    return object_of(username=string, password=string, server=string)


# --- gpu ---------------------------------------------------------------------------------------


def _gpu(value: Any, limits: Limits, notes: Notes) -> dict[str, Any] | None:
    if value is None or value is False:
        return None
    rule = text("rich_gpu_rule", max=MAX_GPUS)
    if not isinstance(value, Mapping):
        raise Invalid(rule)
    vendor, kind, amount = value.get("vendor", "nvidia"), value.get("type"), value.get("amount", 1)
    if not (isinstance(vendor, str) and isinstance(kind, str) and kind.strip()):
        raise Invalid(rule)
    if not _whole(amount) or not 1 <= amount <= MAX_GPUS:
        raise Invalid(rule)
    return {"vendor": vendor.strip() or "nvidia", "type": kind.strip(), "amount": int(amount)}


def _gpu_rule(limits: Limits) -> str:
    return (
        '- gpu: null or {"vendor": "nvidia", "type": the GPU model the user names, "amount": '
        f"1..{MAX_GPUS}}}; only when the user asks for a GPU.\n"
    )


def _gpu_schema(limits: Limits) -> dict[str, Any]:
    return object_of(vendor={"type": "string"}, type={"type": "string"}, amount={"type": "integer"})


def _default_ports() -> list[dict[str, Any]]:
    return [{"port": 80, "protocol": "http", "public": False}]


RICH_ONLY: tuple[Field, ...] = (
    Field("ports", _default_ports, _ports, _ports_rule, _ports_schema),
    Field("autoscaling", lambda: None, _autoscaling, _autoscaling_rule, _autoscaling_schema),
    Field("registry", lambda: None, _registry, _registry_rule, _registry_schema),
    Field("gpu", lambda: None, _gpu, _gpu_rule, _gpu_schema),
)
_BY_NAME = {field.name: field for field in RICH_ONLY}
# The rich form's table: the flat fields where the flat form has them, then the rich ones.
FORM: tuple[Field, ...] = (
    *(flat.field(name) for name in SHARED[:5]),
    RICH_ONLY[0],
    *(flat.field(name) for name in SHARED[5:]),
    *RICH_ONLY[1:],
)
FIELDS: tuple[str, ...] = tuple(field.name for field in FORM)


def default_form() -> dict[str, Any]:
    shared = flat.default_form()
    rich = {field.name: field.default() for field in RICH_ONLY}
    return {name: shared[name] if name in shared else rich[name] for name in FIELDS}


def normalise(
    values: Mapping[str, Any], limits: Limits, previous: Mapping[str, Any] | None = None
) -> Normalised:
    """The complete, valid rich form for `values` (aiops.form.normalise's contract): a field
    that cannot be normalised is an error and keeps `previous`'s value (or the default)."""
    if not isinstance(values, Mapping):
        values = {}
    shared = flat.normalise({k: values[k] for k in SHARED if k in values}, limits, previous)
    warnings = list(shared.warnings)
    errors = list(shared.errors)
    result = {name: shared.form[name] for name in SHARED}
    for field in RICH_ONLY:
        if field.name not in values:
            result[field.name] = _fallback(field, previous)
            continue
        value, notes = normalised_field(field, values[field.name], limits)
        if notes.errors:
            errors.extend(notes.errors)
            result[field.name] = _fallback(field, previous)
        else:
            warnings.extend(notes.warnings)
            result[field.name] = value
    ordered = {name: result[name] for name in FIELDS}
    ordered.update((k, v) for k, v in values.items() if k not in ordered)
    return Normalised(form=ordered, warnings=warnings, errors=errors)


def _fallback(field: Field, previous: Mapping[str, Any] | None) -> Any:
    if previous is not None and field.name in previous:
        return copy.deepcopy(previous[field.name])
    return field.default()


# --- the flat form as a projection ---------------------------------------------------------------


def from_flat(form: Mapping[str, Any]) -> dict[str, Any]:
    """The rich form of a normalised flat form: its one port becomes `ports[0]` (HTTP). Keys
    that are not flat fields pass through, unless named like a rich field."""
    port = {"port": form["container_port"], "protocol": "http", "public": form["public_access"]}
    rich = {name: form.get(name) for name in SHARED}
    rich |= {"ports": [port], "autoscaling": None, "registry": None, "gpu": None}
    rich = {name: rich[name] for name in FIELDS}
    # unknown keys pass through, except those named like a rich field: the rich form owns them
    rich.update((k, v) for k, v in form.items() if k not in flat.FIELDS and k not in rich)
    return rich


def to_flat(rich: Mapping[str, Any]) -> dict[str, Any]:
    """The flat form of a rich form: its main port (`ports[0]`, else port 80) and whether it is
    public; what the flat form cannot say is left out."""
    main = rich["ports"][0] if rich.get("ports") else {"port": 80, "public": False}
    values = {name: rich[name] for name in SHARED} | {
        "container_port": main["port"],
        "public_access": main["public"],
    }
    result = {name: values[name] for name in flat.FIELDS}
    result.update((k, v) for k, v in rich.items() if k not in FIELDS)
    return result


def changes_from_flat(changes: Mapping[str, Any], form: Mapping[str, Any]) -> dict[str, Any]:
    """Changes to the flat projection of the rich `form` (an instant edit proposes them) as
    changes to `form`: `container_port`/`public_access` edit its main port (`ports[0]`), the
    other flat fields are the rich form's own."""
    rich_changes = {
        k: v for k, v in changes.items() if k not in ("container_port", "public_access")
    }
    if "container_port" in changes or "public_access" in changes:
        ports = [dict(port) for port in form.get("ports") or _default_ports()]
        if "container_port" in changes:
            ports[0]["port"] = changes["container_port"]
        if "public_access" in changes:
            ports[0]["public"] = changes["public_access"]
        rich_changes["ports"] = ports
    return rich_changes


def secrets_of(form: Mapping[str, Any]) -> list[str]:
    """Secret values of the rich-only fields (the registry's password), for masking."""
    registry = form.get("registry")
    if isinstance(registry, Mapping) and isinstance(registry.get("password"), str):
        return [registry["password"]]
    return []


def value_schemas(limits: Limits) -> list[dict[str, Any]]:
    """The strict schemas of the rich-only values (nullable objects allowed by `null`)."""
    return [field.schema(limits) for field in RICH_ONLY]
