"""The `launchpad` dialect: Sealos App Launchpad's `AppEditType` as JSON (README "Form dialects").

Read: cpu and memory as Kubernetes quantity strings (`"200m"`, `"1"` = one core, `"256Mi"`,
`"64M"` = 64 decimal megabytes) or as the legacy JSON numbers (millicores, Mi); storage as a
quantity (`"10Gi"`) or a number of Gi; missing fields take the launchpad's `defaultEditVal`.
Written: always complete, cpu in millicores (`"1000m"`, never `"1"`, which the launchpad's own
hydration reads as one millicore), memory and storage in binary units (`"512Mi"`, `"2Gi"`);
existing networks keep their names and domains, a new one gets names in the launchpad's formats
and the domain of the page's networks (else `AIOPS_LAUNCHPAD_DOMAIN`); `valueFrom` variables,
labels, volumes and volumeMounts are never changed; `kind` is `statefulset` exactly when
`storeList` is not empty.
"""

from __future__ import annotations

import copy
import secrets
import string
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from aiops import rich
from aiops.dialects import Context, Reading, overlay_objects, quantity, shape_error
from aiops.form import Limits, Notice, shown
from aiops.messages import INVALID_VALUE, text
from aiops.sizes import memory_mib

_LETTERS = string.ascii_lowercase
FIELDS: tuple[str, ...] = (
    "kind",
    "appName",
    "imageName",
    "runCMD",
    "cmdParam",
    "replicas",
    "cpu",
    "memory",
    "networks",
    "envs",
    "hpa",
    "configMapList",
    "secret",
    "storeList",
    "volumes",
    "volumeMounts",
    "gpu",
    "labels",
)
RENAMES: dict[str, str] = {
    "app_name": "appName",
    "image_name": "imageName",
    "instance": "replicas",
    "command": "runCMD",
    "parameters": "cmdParam",
    "environment": "envs",
    "configmap": "configMapList",
    "storage": "storeList",
    "ports": "networks",
    "autoscaling": "hpa",
    "registry": "secret",
}


def nanoid() -> str:
    """12 random lower-case letters, the launchpad's `customAlphabet('a..z', 12)`."""
    return "".join(secrets.choice(_LETTERS) for _ in range(12))


def mount_path_key(path: str) -> str:
    """The launchpad's `mountPathToConfigMapKey`: `/etc/nginx/nginx.conf` →
    `vn-etcvn-nginxvn-nginxvn-conf`."""
    if path.endswith("/"):
        path = path[:-1]
    key = path.replace("_", "-").replace("/", "vn-").replace(".", "vn-").lower()
    return key[-63:]


def defaults() -> dict[str, Any]:
    """The launchpad's `defaultEditVal` (a fresh `portName` each time, like its `nanoid()`)."""
    return {
        "kind": "deployment",
        "appName": "hello-world",
        "imageName": "nginx",
        "runCMD": "",
        "cmdParam": "",
        "replicas": 1,
        "cpu": "200m",
        "memory": "256Mi",
        # The page's default network is a new one not yet named, without a domain.
        "networks": [{**_new_network(""), "networkName": "", "publicDomain": ""}],
        "envs": [],
        "hpa": {"use": False, "target": "cpu", "value": 50, "minReplicas": 1, "maxReplicas": 5},
        "configMapList": [],
        "secret": {"use": False, "username": "", "password": "", "serverAddress": "docker.io"},
        "storeList": [],
        "volumes": [],
        "volumeMounts": [],
        "gpu": {"manufacturers": "nvidia", "type": "", "amount": 1},
        "labels": {},
    }


class _Bad(Exception):
    def __init__(self, notice: Notice) -> None:
        super().__init__(notice.message)
        self.notice = notice


def _bad(where: str, message_id: str, **params: Any) -> _Bad:
    return _Bad(Notice(where, INVALID_VALUE, text(message_id, **params)))


# --- reading -----------------------------------------------------------------------------------


def _cores(value: Any) -> float:
    """cpu: a quantity string in cores, or a legacy number of millicores."""
    if isinstance(value, bool):
        raise _bad("cpu", "dialect_quantity", name="cpu", value=shown(value), example='"500m"')
    if isinstance(value, int | float):
        return value / 1000
    parsed = quantity.parse(value) if isinstance(value, str) else None
    if parsed is None:
        raise _bad("cpu", "dialect_quantity", name="cpu", value=shown(value), example='"500m"')
    return float(parsed)


def _mebibytes(value: Any, name: str = "memory") -> float:
    """memory: a quantity string in bytes (`64M` is decimal), or a legacy number of Mi."""
    if isinstance(value, bool):
        raise _bad(name, "dialect_quantity", name=name, value=shown(value), example='"512Mi"')
    if isinstance(value, int | float):
        return value
    parsed = quantity.parse(value) if isinstance(value, str) else None
    if parsed is None:
        raise _bad(name, "dialect_quantity", name=name, value=shown(value), example='"512Mi"')
    return round(float(parsed / quantity.MEBI), 4)


def _gibibytes(value: Any, where: str) -> float:
    """A storeList value: a quantity string (`"10Gi"`), or a legacy number of Gi."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    parsed = quantity.parse(value) if isinstance(value, str) else None
    if parsed is None:
        raise _bad(where, "dialect_quantity", name=where, value=shown(value), example='"10Gi"')
    return float(parsed / Decimal(quantity.GIBI))


def _list(document: Mapping[str, Any], name: str) -> list[Any]:
    value = document[name]
    if not isinstance(value, list):
        raise _Bad(shape_error(name, "a list", value))
    return value


def _objects(document: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    items = _list(document, name)
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise _Bad(shape_error(f"{name}[{index}]", "an object", item))
    return items


def _object(document: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = document[name]
    if not isinstance(value, Mapping):
        raise _Bad(shape_error(name, "an object", value))
    return value


def _network_protocol(network: Mapping[str, Any], where: str) -> str:
    transport = network.get("protocol") or "TCP"
    application = network.get("appProtocol")
    if not isinstance(transport, str) or transport.upper() not in ("TCP", "UDP", "SCTP"):
        raise _bad(
            f"{where}.protocol",
            "dialect_protocol",
            value=shown(transport),
            choices="TCP, UDP, SCTP",
        )
    if transport.upper() == "TCP" and isinstance(application, str) and application:
        if application.upper() not in ("HTTP", "GRPC", "WS"):
            raise _bad(
                f"{where}.appProtocol",
                "dialect_protocol",
                value=shown(application),
                choices="HTTP, GRPC, WS",
            )
        return application.lower()
    return transport.lower()


def _ports(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    ports = []
    for index, network in enumerate(_objects(document, "networks")):
        protocol = _network_protocol(network, f"networks[{index}]")
        web = protocol in rich.WEB_PROTOCOLS
        public = network.get("openPublicDomain") if web else network.get("openNodePort")
        ports.append({"port": network.get("port"), "protocol": protocol, "public": bool(public)})
    return ports


def _environment(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    variables = []
    for index, item in enumerate(_objects(document, "envs")):
        if item.get("valueFrom") is not None:
            continue  # carried as it is
        if not isinstance(item.get("key"), str):
            raise _Bad(shape_error(f"envs[{index}].key", "a string", item.get("key")))
        variables.append({"name": item["key"], "value": item.get("value")})
    return variables


def _autoscaling(document: Mapping[str, Any]) -> dict[str, Any] | None:
    hpa = _object(document, "hpa")
    if not hpa.get("use"):
        return None
    return {
        "target": hpa.get("target"),
        "value": hpa.get("value"),
        "min_replicas": hpa.get("minReplicas"),
        "max_replicas": hpa.get("maxReplicas"),
    }


def _registry(document: Mapping[str, Any]) -> dict[str, Any] | None:
    secret = _object(document, "secret")
    if not secret.get("use"):
        return None
    names = (("username", "username"), ("password", "password"), ("server", "serverAddress"))
    return {key: secret.get(own) for key, own in names}


def _gpu(document: Mapping[str, Any]) -> dict[str, Any] | None:
    gpu = _object(document, "gpu")
    if not gpu.get("type"):
        return None
    return {
        "vendor": gpu.get("manufacturers") or "nvidia",
        "type": gpu.get("type"),
        "amount": gpu.get("amount", 1),
    }


def _instance(document: Mapping[str, Any]) -> Any:
    replicas = document["replicas"]
    if replicas == "":  # autoscaled: the launchpad leaves replicas empty
        hpa = document.get("hpa")
        return hpa.get("minReplicas", 1) if isinstance(hpa, Mapping) else 1
    return replicas


_READERS: dict[str, Any] = {
    "app_name": lambda d: d["appName"],
    "image_name": lambda d: d["imageName"],
    "instance": _instance,
    "cpu": lambda d: _cores(d["cpu"]),
    "memory": lambda d: _mebibytes(d["memory"]),
    "ports": _ports,
    "command": lambda d: d["runCMD"],
    "parameters": lambda d: d["cmdParam"],
    "environment": _environment,
    "configmap": lambda d: [
        {"file_path": c.get("mountPath"), "file_content": c.get("value")}
        for c in _objects(d, "configMapList")
    ],
    "storage": lambda d: [
        {"capacity": _gibibytes(s.get("value"), f"storeList[{i}].value"), "value": s.get("path")}
        for i, s in enumerate(_objects(d, "storeList"))
    ],
    "autoscaling": _autoscaling,
    "registry": _registry,
    "gpu": _gpu,
}


# --- writing -----------------------------------------------------------------------------------


def _transport_of(network: Mapping[str, Any]) -> str:
    transport = network.get("protocol")
    return transport.lower() if isinstance(transport, str) else "tcp"


def _new_network(domain: str) -> dict[str, Any]:
    """A network the page would add for a new port (HTTP on 80 until the caller sets it)."""
    return {
        "networkName": f"network-{nanoid()}",
        "portName": nanoid(),
        "port": 80,
        "protocol": "TCP",
        "appProtocol": "HTTP",
        "openPublicDomain": False,
        "openNodePort": False,
        "publicDomain": nanoid(),
        "customDomain": "",
        "domain": domain,
    }


def _networks(ports: list[dict[str, Any]], old: list[Any], context: Context) -> list[dict]:
    known = [n for n in old if isinstance(n, Mapping)]
    by_key: dict[tuple[Any, str], Mapping[str, Any]] = {}
    for network in known:
        if isinstance(network.get("port"), int):
            by_key.setdefault((network["port"], _transport_of(network)), network)
    domain = next(
        (n["domain"] for n in known if isinstance(n.get("domain"), str) and n["domain"]), ""
    )
    domain = domain or context.domain
    networks = []
    for port in ports:
        previous = by_key.get((port["port"], rich.transport(port["protocol"])))
        fresh = _new_network(domain)
        # an existing network keeps what it has; what it lacks (a network the model or the page
        # gave without names) is filled in the launchpad's formats
        network = fresh if previous is None else {**fresh, **previous}
        web = port["protocol"] in rich.WEB_PROTOCOLS
        network["port"] = port["port"]
        network["protocol"] = "TCP" if web else port["protocol"].upper()
        if web:
            network["appProtocol"] = port["protocol"].upper()
        else:
            network.pop("appProtocol", None)
        network["openPublicDomain"] = web and port["public"]
        network["openNodePort"] = not web and port["public"]
        if network["openPublicDomain"]:
            network["publicDomain"] = network.get("publicDomain") or nanoid()
            network["domain"] = network.get("domain") or domain
        networks.append(network)
    return networks


def _envs(environment: list[dict[str, str]], old: list[Any]) -> list[dict[str, Any]]:
    """Plain variables where they were (new ones at the end); `valueFrom` ones untouched."""
    values = {item["name"]: item["value"] for item in environment}
    envs: list[dict[str, Any]] = []
    for item in old:
        if not isinstance(item, Mapping):
            continue
        if item.get("valueFrom") is not None:
            envs.append(copy.deepcopy(dict(item)))
            if isinstance(item.get("key"), str):
                values.pop(item["key"], None)
        elif isinstance(item.get("key"), str) and item["key"] in values:
            envs.append({**item, "value": values.pop(item["key"])})
    envs.extend({"key": name, "value": value} for name, value in values.items())
    return envs


def _config_maps(files: list[dict[str, str]], old: list[Any], app_name: str) -> list[dict]:
    by_path = {
        c["mountPath"]: c
        for c in old
        if isinstance(c, Mapping) and isinstance(c.get("mountPath"), str)
    }
    maps = []
    for item in files:
        path, content = item["file_path"], item["file_content"]
        previous = by_path.get(path)
        if previous is not None:
            maps.append({**previous, "value": content})
        else:
            maps.append(
                {
                    "mountPath": path,
                    "value": content,
                    "key": mount_path_key(path),
                    "volumeName": f"{app_name}-cm",
                }
            )
    return maps


def _stores(storage: list[dict[str, Any]], old: list[Any]) -> list[dict[str, Any]]:
    names = {
        s["path"]: s.get("name")
        for s in old
        if isinstance(s, Mapping) and isinstance(s.get("path"), str)
    }
    return [
        {
            "name": names.get(item["value"]) or mount_path_key(item["value"]),
            "path": item["value"],
            "value": f"{item['capacity']}Gi",
        }
        for item in storage
    ]


# The launchpad's names of the rich form's autoscaling and registry fields.
_HPA_NAMES = {
    "target": "target",
    "value": "value",
    "min_replicas": "minReplicas",
    "max_replicas": "maxReplicas",
}
_SECRET_NAMES = {"username": "username", "password": "password", "server": "serverAddress"}


def _switched(
    name: str, old: Any, values: dict[str, Any] | None, names: dict[str, str]
) -> dict[str, Any]:
    """The page's `hpa`/`secret` object (else its default) switched off, or on with `values`
    under the launchpad's `names`: fields the rich form does not hold stay as the page had them."""
    kept = dict(old) if isinstance(old, Mapping) else defaults()[name]
    if values is None:
        return {**kept, "use": False}
    return {**kept, "use": True, **{ours: values[theirs] for theirs, ours in names.items()}}


def _hpa(autoscaling: dict[str, Any] | None, old: Any) -> dict[str, Any]:
    return _switched("hpa", old, autoscaling, _HPA_NAMES)


def _secret(registry: dict[str, str] | None, old: Any) -> dict[str, Any]:
    return _switched("secret", old, registry, _SECRET_NAMES)


def _gpu_out(gpu: dict[str, Any] | None, old: Any) -> dict[str, Any]:
    previous = dict(old) if isinstance(old, Mapping) else defaults()["gpu"]
    if gpu is None:
        return {**previous, "type": ""} if previous.get("type") else previous
    return {
        **previous,
        "manufacturers": gpu["vendor"],
        "type": gpu["type"],
        "amount": gpu["amount"],
    }


class Launchpad:
    name = "launchpad"
    fields = FIELDS
    renames: Mapping[str, str] = RENAMES

    def limits(self, limits: Limits) -> Limits:
        return limits

    def read(self, document: Mapping[str, Any]) -> Reading:
        complete = {**defaults(), **document}
        values: dict[str, Any] = {}
        errors: list[Notice] = []
        for name, reader in _READERS.items():
            try:
                values[name] = reader(complete)
            except _Bad as bad:
                errors.append(bad.notice)
        return Reading(values=values, carry=copy.deepcopy(complete), errors=errors)

    def overlay(self, document: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
        return overlay_objects(document, changes, ("hpa", "secret", "gpu", "labels"))

    def write(
        self, form: Mapping[str, Any], carry: Mapping[str, Any], context: Context
    ) -> dict[str, Any]:
        old = {**defaults(), **carry}
        stores = _stores(form["storage"], _as_list(old["storeList"]))
        document = {
            "kind": "statefulset" if stores else "deployment",
            "appName": form["app_name"],
            "imageName": form["image_name"],
            "runCMD": form["command"],
            "cmdParam": form["parameters"],
            "replicas": form["instance"],
            "cpu": quantity.millicores(form["cpu"]),
            "memory": quantity.mebibytes(memory_mib(form["memory"]) or 0),
            "networks": _networks(form["ports"], _as_list(old["networks"]), context),
            "envs": _envs(form["environment"], _as_list(old["envs"])),
            "hpa": _hpa(form["autoscaling"], old["hpa"]),
            "configMapList": _config_maps(
                form["configmap"], _as_list(old["configMapList"]), form["app_name"]
            ),
            "secret": _secret(form["registry"], old["secret"]),
            "storeList": stores,
            "volumes": copy.deepcopy(old["volumes"]),
            "volumeMounts": copy.deepcopy(old["volumeMounts"]),
            "gpu": _gpu_out(form["gpu"], old["gpu"]),
            "labels": copy.deepcopy(old["labels"]),
        }
        document.update((k, copy.deepcopy(v)) for k, v in carry.items() if k not in FIELDS)
        return document


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


DIALECT = Launchpad()
