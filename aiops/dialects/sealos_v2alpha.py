"""The `sealos-v2alpha` dialect: the body of Sealos's `POST /api/v2alpha/apps` (README "Form
dialects"), written so that it can be sent to that API as it is.

`quota.cpu` in cores and `quota.memory` in GiB (both 0.1–32 there: so the memory choices below
0.1 GiB, such as 64M, are left out of this dialect's choices), exactly one of `quota.replicas`
and `quota.hpa`; `ports[]` with a lower-case protocol (`isPublic` defaults to true, as in the
API); `env[]` with `name` (a `valueFrom` entry is never changed); `storage[]` with a `name`
always filled (derived from the path) and a size always in `Gi` (the API turns `"10GB"` into a
volume of 0 bytes); `launchCommand.args` as a list of strings.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from aiops import sizes
from aiops.dialects import Context, Reading, overlay_objects, quantity, shape_error
from aiops.dialects.launchpad import mount_path_key
from aiops.form import Limits, Notice, shown
from aiops.messages import INVALID_VALUE, text
from aiops.sizes import memory_mib

FIELDS: tuple[str, ...] = (
    "name",
    "image",
    "launchCommand",
    "quota",
    "ports",
    "env",
    "storage",
    "configMap",
)
RENAMES: dict[str, str] = {
    "app_name": "name",
    "image_name": "image",
    "instance": "quota",
    "cpu": "quota",
    "memory": "quota",
    "autoscaling": "quota",
    "gpu": "quota",
    "registry": "image",
    "command": "launchCommand",
    "parameters": "launchCommand",
    "environment": "env",
    "configmap": "configMap",
}
MIN_MEMORY_GIB = 0.1


def defaults() -> dict[str, Any]:
    """What the API assumes for a key left out."""
    return {
        "name": "hello-world",
        "image": {"imageName": "nginx"},
        "launchCommand": {},
        "quota": {"cpu": 0.2, "memory": 0.5, "replicas": 1},
        "ports": [{"number": 80, "protocol": "http", "isPublic": True}],
        "env": [],
        "storage": [],
        "configMap": [],
    }


class _Bad(Exception):
    def __init__(self, notice: Notice) -> None:
        super().__init__(notice.message)
        self.notice = notice


def _object(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _Bad(shape_error(name, "an object", value))
    return value


def _objects(value: Any, name: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        raise _Bad(shape_error(name, "a list", value))
    for index, item in enumerate(value):
        _object(item, f"{name}[{index}]")
    return value


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Bad(shape_error(name, "a number", value))
    return value


def _read_quota(document: Mapping[str, Any], values: dict[str, Any]) -> None:
    quota = _object(document["quota"], "quota")
    if "cpu" in quota:
        values["cpu"] = _number(quota["cpu"], "quota.cpu")
    if "memory" in quota:
        values["memory"] = round(_number(quota["memory"], "quota.memory") * 1024, 4)
    if "hpa" in quota and "replicas" in quota:
        raise _Bad(Notice("quota", INVALID_VALUE, text("dialect_replicas_or_hpa")))
    if isinstance(quota.get("hpa"), Mapping):
        hpa = quota["hpa"]
        values["autoscaling"] = {
            "target": hpa.get("target"),
            "value": hpa.get("value"),
            "min_replicas": hpa.get("minReplicas"),
            "max_replicas": hpa.get("maxReplicas"),
        }
        values["instance"] = hpa.get("minReplicas")
    else:
        values["autoscaling"] = None
        values["instance"] = quota.get("replicas", 1)
    gpu = quota.get("gpu")
    values["gpu"] = (
        None
        if gpu is None
        else {
            "vendor": _object(gpu, "quota.gpu").get("vendor", "nvidia"),
            "type": gpu.get("type"),
            "amount": gpu.get("amount", 1),
        }
    )


def _read_image(document: Mapping[str, Any], values: dict[str, Any]) -> None:
    image = _object(document["image"], "image")
    values["image_name"] = image.get("imageName")
    registry = image.get("imageRegistry")
    values["registry"] = (
        None
        if registry is None
        else {
            "username": _object(registry, "image.imageRegistry").get("username"),
            "password": registry.get("password"),
            "server": registry.get("serverAddress"),
        }
    )


def _read_command(document: Mapping[str, Any], values: dict[str, Any]) -> None:
    command = _object(document["launchCommand"], "launchCommand")
    values["command"] = command.get("command", "")
    args = command.get("args")
    if args is not None and not (isinstance(args, list) and all(isinstance(a, str) for a in args)):
        raise _Bad(shape_error("launchCommand.args", "a list of strings", args))
    values["parameters"] = args or ""


def _size_gi(value: Any, where: str) -> float:
    parsed = quantity.parse(value) if isinstance(value, str) else None
    if parsed is None:
        raise _Bad(
            Notice(
                where,
                INVALID_VALUE,
                text("dialect_quantity", name=where, value=shown(value), example='"10Gi"'),
            )
        )
    return float(parsed / Decimal(quantity.GIBI))


def _read_lists(document: Mapping[str, Any], values: dict[str, Any]) -> list[Notice]:
    errors: list[Notice] = []
    readers = {
        "ports": lambda: [
            {
                "port": p.get("number"),
                "protocol": p.get("protocol", "http"),
                "public": p.get("isPublic", True),
            }
            for p in _objects(document["ports"], "ports")
        ],
        "environment": lambda: [
            {"name": e.get("name"), "value": e.get("value")}
            for e in _objects(document["env"], "env")
            if e.get("valueFrom") is None
        ],
        "storage": lambda: [
            {
                "capacity": _size_gi(s.get("size", "1Gi"), f"storage[{i}].size"),
                "value": s.get("path"),
            }
            for i, s in enumerate(_objects(document["storage"], "storage"))
        ],
        "configmap": lambda: [
            {"file_path": c.get("path"), "file_content": c.get("value")}
            for c in _objects(document["configMap"], "configMap")
        ],
    }
    for name, reader in readers.items():
        try:
            values[name] = reader()
        except _Bad as bad:
            errors.append(bad.notice)
    return errors


def _args(parameters: str) -> list[str]:
    """`launchCommand.args` of the form's parameters: a JSON array text as its items, any other
    text as one argument (what the launchpad does with `cmdParam`)."""
    if not parameters:
        return []
    try:
        parsed = json.loads(parameters)
    except ValueError:
        return [parameters]
    if isinstance(parsed, list) and all(isinstance(a, str) for a in parsed):
        return parsed
    return [parameters]


def _quota(form: Mapping[str, Any], old: Mapping[str, Any]) -> dict[str, Any]:
    quota: dict[str, Any] = {
        "cpu": form["cpu"],
        "memory": sizes.whole_as_int(round((memory_mib(form["memory"]) or 0) / 1024, 4)),
    }
    scaling = form["autoscaling"]
    if scaling is None:
        quota["replicas"] = form["instance"]
    else:
        quota["hpa"] = {
            "target": scaling["target"],
            "value": scaling["value"],
            "minReplicas": scaling["min_replicas"],
            "maxReplicas": scaling["max_replicas"],
        }
    if form["gpu"] is not None:
        gpu = form["gpu"]
        quota["gpu"] = {"vendor": gpu["vendor"], "type": gpu["type"], "amount": gpu["amount"]}
    quota.update(
        (k, copy.deepcopy(v))
        for k, v in old.items()
        if k not in quota and k not in ("replicas", "hpa", "gpu")
    )
    return quota


def _env(environment: list[dict[str, str]], old: list[Any]) -> list[dict[str, Any]]:
    values = {item["name"]: item["value"] for item in environment}
    env: list[dict[str, Any]] = []
    for item in old:
        if not isinstance(item, Mapping):
            continue
        if item.get("valueFrom") is not None:
            env.append(copy.deepcopy(dict(item)))
            if isinstance(item.get("name"), str):
                values.pop(item["name"], None)
        elif isinstance(item.get("name"), str) and item["name"] in values:
            env.append({**item, "value": values.pop(item["name"])})
    env.extend({"name": name, "value": value} for name, value in values.items())
    return env


class SealosV2alpha:
    name = "sealos-v2alpha"
    fields = FIELDS
    renames: Mapping[str, str] = RENAMES

    def limits(self, limits: Limits) -> Limits:
        allowed = tuple(
            label
            for label in limits.memory_choices
            if (memory_mib(label) or 0) >= MIN_MEMORY_GIB * 1024
        )
        return replace(limits, memory_choices=allowed or limits.memory_choices)

    def read(self, document: Mapping[str, Any]) -> Reading:
        complete = {**defaults(), **document}
        values: dict[str, Any] = {"app_name": complete["name"]}
        errors: list[Notice] = []
        for reader in (_read_quota, _read_image, _read_command):
            try:
                reader(complete, values)
            except _Bad as bad:
                errors.append(bad.notice)
        errors += _read_lists(complete, values)
        return Reading(values=values, carry=copy.deepcopy(complete), errors=errors)

    def overlay(self, document: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
        merged = overlay_objects(document, changes, ("image", "launchCommand", "quota"))
        given = changes.get("quota")
        if isinstance(given, Mapping) and isinstance(merged.get("quota"), Mapping):
            # replicas and hpa exclude each other: the one the model gave wins
            quota = dict(merged["quota"])
            if "hpa" in given and "replicas" not in given:
                quota.pop("replicas", None)
            if "replicas" in given and "hpa" not in given:
                quota.pop("hpa", None)
            merged["quota"] = quota
        return merged

    def write(
        self, form: Mapping[str, Any], carry: Mapping[str, Any], context: Context
    ) -> dict[str, Any]:
        old = {**defaults(), **carry}
        image: dict[str, Any] = {"imageName": form["image_name"]}
        registry = form["registry"]
        if registry is not None:
            image["imageRegistry"] = {
                "username": registry["username"],
                "password": registry["password"],
                "serverAddress": registry["server"],
            }
        elif isinstance(old["image"], Mapping) and "imageRegistry" in old["image"]:
            image["imageRegistry"] = None
        command: dict[str, Any] = {}
        if form["command"]:
            command["command"] = form["command"]
        if form["parameters"]:
            command["args"] = _args(form["parameters"])
        old_quota = old["quota"] if isinstance(old["quota"], Mapping) else {}
        old_names = {
            s["path"]: s.get("name")
            for s in _list(old["storage"])
            if isinstance(s, Mapping) and isinstance(s.get("path"), str)
        }
        document = {
            "name": form["app_name"],
            "image": image,
            "launchCommand": command,
            "quota": _quota(form, old_quota),
            "ports": [
                {"number": p["port"], "protocol": p["protocol"], "isPublic": p["public"]}
                for p in form["ports"]
            ],
            "env": _env(form["environment"], _list(old["env"])),
            "storage": [
                {
                    "name": old_names.get(s["value"]) or mount_path_key(s["value"]),
                    "path": s["value"],
                    "size": f"{s['capacity']}Gi",
                }
                for s in form["storage"]
            ],
            "configMap": [
                {"path": c["file_path"], "value": c["file_content"]} for c in form["configmap"]
            ],
        }
        document.update((k, copy.deepcopy(v)) for k, v in carry.items() if k not in FIELDS)
        return document


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


DIALECT = SealosV2alpha()
