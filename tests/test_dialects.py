"""The form dialects, field by field in both directions (aiops.dialects): the launchpad's
`AppEditType` and the Sealos v2alpha create-app body read into the rich form and written back,
with the pitfalls of the Sealos source (`"1"` cpu, `"64M"` decimal memory, `"10GB"`), the round
trips, and flat → rich → flat as the identity."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiops import dialects, rich
from aiops.dialects import Context, launchpad, sealos_v2alpha
from aiops.form import FIELDS as FLAT_FIELDS
from aiops.form import Limits, normalise
from tests.test_form_properties import forms

LP = dialects.get("launchpad")
V2 = dialects.get("sealos-v2alpha")
NAME_12 = re.compile(r"[a-z]{12}")


def read(dialect: Any, document: dict[str, Any]) -> Any:
    """The document as a normalised rich form, with its carry and every notice."""
    reading = dialect.read(document)
    normalised = rich.normalise(reading.values, dialect.limits(Limits()))
    return normalised, reading


def rich_of(dialect: Any, document: dict[str, Any]) -> dict[str, Any]:
    normalised, reading = read(dialect, document)
    assert not reading.errors and not normalised.errors, (reading.errors, normalised.errors)
    return normalised.form


def codes(dialect: Any, document: dict[str, Any]) -> list[tuple[str, str]]:
    normalised, reading = read(dialect, document)
    notices = reading.errors + normalised.warnings + normalised.errors
    return [(n.field, n.code) for n in notices]


def round_trip(dialect: Any, document: dict[str, Any], domain: str = "") -> dict[str, Any]:
    normalised, reading = read(dialect, document)
    assert not reading.errors and not normalised.errors
    return dialect.write(normalised.form, reading.carry, Context(domain=domain))


def network(port: int, **fields: Any) -> dict[str, Any]:
    return {
        "networkName": f"network-{'abcdefghijkl'}",
        "portName": "abcdefghijkl",
        "port": port,
        "protocol": "TCP",
        "appProtocol": "HTTP",
        "openPublicDomain": False,
        "openNodePort": False,
        "publicDomain": "mnopqrstuvwx",
        "customDomain": "",
        "domain": "cloud.example.io",
        **fields,
    }


# --- launchpad: reading ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cores", "warned"),
    [
        ("200m", 0.2, False),
        ("1", 1, False),  # the form state's JSON for one core
        ("1000m", 1, False),
        ("0.5", 0.5, False),
        ("1500m", 2, True),  # snapped up to the platform's choices
        (1000, 1, False),  # a legacy number: millicores
        (500, 0.5, False),
        (1, 0.1, True),  # one millicore, as the launchpad's hydration reads it
        ("16", 8, True),  # above the largest choice
    ],
)
def test_launchpad_cpu_is_read_as_a_quantity_or_legacy_millicores(
    value: Any, cores: float, warned: bool
) -> None:
    assert rich_of(LP, {"cpu": value})["cpu"] == cores
    assert bool([c for f, c in codes(LP, {"cpu": value}) if f == "cpu"]) is warned


@pytest.mark.parametrize(
    ("value", "label", "warned"),
    [
        ("256Mi", "256M", False),
        ("1Gi", "1G", False),
        ("512Mi", "512M", False),
        (1024, "1G", False),  # legacy Mi
        (2048, "2G", False),
        ("64M", "64M", True),  # decimal: 61.04 Mi, rounded up to the 64M (Mi) choice
        ("1G", "1G", True),  # decimal 10^9 bytes is 953.7 Mi
        ("268435456", "256M", False),  # a plain number string is bytes
        ("32Gi", "16G", True),
    ],
)
def test_launchpad_memory_is_read_as_a_quantity_or_legacy_mebibytes(
    value: Any, label: str, warned: bool
) -> None:
    assert rich_of(LP, {"memory": value})["memory"] == label
    assert bool([c for f, c in codes(LP, {"memory": value}) if f == "memory"]) is warned


@pytest.mark.parametrize("value", ["lots", "1 core", True, None, {"cores": 1}])
def test_launchpad_cpu_that_is_no_quantity_is_an_error_naming_the_field(value: Any) -> None:
    _, reading = read(LP, {"cpu": value})
    assert [(e.field, e.code) for e in reading.errors] == [("cpu", "invalid_value")]
    assert '"500m"' in reading.errors[0].message


@pytest.mark.parametrize(
    ("value", "capacity", "code"),
    [
        ("10Gi", 10, None),
        (10, 10, None),  # legacy Gi
        ("10G", 10, "rounded_up"),  # 10^10 bytes is 9.31 Gi
        ("512Mi", 1, "clamped"),
        ("200Gi", 20, "clamped"),  # AIOPS_MAX_STORAGE_GI
    ],
)
def test_launchpad_store_sizes(value: Any, capacity: int, code: str | None) -> None:
    document = {"storeList": [{"name": "vn-data", "path": "/data", "value": value}]}
    assert rich_of(LP, document)["storage"] == [{"capacity": capacity, "value": "/data"}]
    found = [c for f, c in codes(LP, document) if f.startswith("storage")]
    assert found == ([code] if code else [])


def test_launchpad_10gb_is_refused_not_read_as_zero() -> None:
    document = {"storeList": [{"name": "vn-data", "path": "/data", "value": "10GB"}]}
    _, reading = read(LP, document)
    assert [e.field for e in reading.errors] == ["storeList[0].value"]
    assert '"10Gi"' in reading.errors[0].message


@pytest.mark.parametrize(
    ("fields", "port"),
    [
        ({"protocol": "TCP", "appProtocol": "HTTP", "openPublicDomain": True}, ("http", True)),
        ({"protocol": "TCP", "appProtocol": "GRPC", "openPublicDomain": False}, ("grpc", False)),
        ({"protocol": "TCP", "appProtocol": "WS", "openPublicDomain": True}, ("ws", True)),
        ({"protocol": "TCP", "appProtocol": None, "openNodePort": True}, ("tcp", True)),
        ({"protocol": "UDP", "appProtocol": None, "openNodePort": False}, ("udp", False)),
        ({"protocol": "SCTP", "openNodePort": True}, ("sctp", True)),
        # a web port is public through its domain only, a TCP one through its NodePort only
        ({"appProtocol": "HTTP", "openPublicDomain": False, "openNodePort": True}, ("http", False)),
    ],
)
def test_launchpad_networks_become_ports(fields: dict[str, Any], port: tuple[str, bool]) -> None:
    form = rich_of(LP, {"networks": [network(8080, **fields)]})
    assert form["ports"] == [{"port": 8080, "protocol": port[0], "public": port[1]}]


def test_launchpad_rejects_an_unknown_protocol_and_a_bad_port() -> None:
    _, reading = read(LP, {"networks": [network(80, protocol="QUIC")]})
    assert [e.field for e in reading.errors] == ["networks[0].protocol"]
    normalised, reading = read(LP, {"networks": [network(70000)]})
    assert [e.field for e in normalised.errors] == ["ports[0].port"]


def test_launchpad_hpa_secret_gpu_become_rich_fields() -> None:
    document = {
        "replicas": 2,
        "hpa": {"use": True, "target": "memory", "value": 70, "minReplicas": 2, "maxReplicas": 6},
        "secret": {
            "use": True,
            "username": "robot",
            "password": "s3cr3t-registry-pass",
            "serverAddress": "registry.example.com",
        },
        "gpu": {"manufacturers": "nvidia", "type": "Tesla-T4", "amount": 2},
    }
    form = rich_of(LP, document)
    assert form["instance"] == 2  # replicas stays a number
    assert form["autoscaling"] == {
        "target": "memory",
        "value": 70,
        "min_replicas": 2,
        "max_replicas": 6,
    }
    assert form["registry"] == {
        "username": "robot",
        "password": "s3cr3t-registry-pass",
        "server": "registry.example.com",
    }
    assert form["gpu"] == {"vendor": "nvidia", "type": "Tesla-T4", "amount": 2}
    # unused ones are off
    assert rich_of(LP, {})["autoscaling"] is None
    assert rich_of(LP, {})["registry"] is None
    assert rich_of(LP, {})["gpu"] is None


@pytest.mark.parametrize(
    "hpa",
    [
        {"use": True, "target": "cpu", "value": 0, "minReplicas": 1, "maxReplicas": 5},
        {"use": True, "target": "cpu", "value": 101, "minReplicas": 1, "maxReplicas": 5},
        {"use": True, "target": "cpu", "value": 50, "minReplicas": 0, "maxReplicas": 5},
        {"use": True, "target": "cpu", "value": 50, "minReplicas": 6, "maxReplicas": 5},
        {"use": True, "target": "cpu", "value": 50, "minReplicas": 1, "maxReplicas": 21},
        {"use": True, "target": "disk", "value": 50, "minReplicas": 1, "maxReplicas": 5},
    ],
)
def test_launchpad_hpa_out_of_range_is_an_error(hpa: dict[str, Any]) -> None:
    normalised, _ = read(LP, {"hpa": hpa})
    assert [e.field for e in normalised.errors] == ["autoscaling"]


def test_launchpad_secret_in_use_needs_every_field() -> None:
    secret = {"use": True, "username": "robot", "password": "", "serverAddress": "r.example.com"}
    normalised, _ = read(LP, {"secret": secret})
    assert [e.field for e in normalised.errors] == ["registry"]


# --- launchpad: writing ------------------------------------------------------------------------


def written(form_changes: dict[str, Any], document: dict[str, Any] | None = None, **ctx: Any):
    base, reading = read(LP, document or {})
    return LP.write({**base.form, **form_changes}, reading.carry, Context(**ctx))


@pytest.mark.parametrize(
    ("cores", "text"), [(0.1, "100m"), (0.2, "200m"), (1, "1000m"), (2, "2000m"), (8, "8000m")]
)
def test_launchpad_cpu_is_written_in_millicores_never_a_bare_number(cores: float, text: str):
    assert written({"cpu": cores})["cpu"] == text


@pytest.mark.parametrize(
    ("label", "text"), [("64M", "64Mi"), ("512M", "512Mi"), ("1G", "1Gi"), ("16G", "16Gi")]
)
def test_launchpad_memory_is_written_in_binary_units(label: str, text: str) -> None:
    assert written({"memory": label})["memory"] == text


def test_launchpad_store_list_names_sizes_and_kind() -> None:
    storage = [{"capacity": 10, "value": "/var/lib/mysql"}, {"capacity": 2, "value": "/etc/x.d/"}]
    document = written({"storage": storage})
    assert document["storeList"] == [
        {"name": "vn-varvn-libvn-mysql", "path": "/var/lib/mysql", "value": "10Gi"},
        {"name": "vn-etcvn-xvn-d", "path": "/etc/x.d/", "value": "2Gi"},
    ]
    assert document["kind"] == "statefulset"
    assert written({"storage": []}, {"kind": "statefulset"})["kind"] == "deployment"


def test_launchpad_config_maps_get_the_launchpad_s_key_and_volume_name() -> None:
    files = [{"file_path": "/etc/nginx/nginx.conf", "file_content": "events {}"}]
    document = written({"configmap": files, "app_name": "web"})
    assert document["configMapList"] == [
        {
            "mountPath": "/etc/nginx/nginx.conf",
            "value": "events {}",
            "key": "vn-etcvn-nginxvn-nginxvn-conf",
            "volumeName": "web-cm",
        }
    ]
    # an existing config map keeps its key and volume name (an older subPath too)
    old = {"mountPath": "/a/b", "value": "x", "key": "old-key", "volumeName": "v", "subPath": "s"}
    again = written(
        {"configmap": [{"file_path": "/a/b", "file_content": "y"}]}, {"configMapList": [old]}
    )
    assert again["configMapList"] == [{**old, "value": "y"}]


def test_launchpad_new_ports_get_names_in_the_launchpad_s_formats_and_the_page_s_domain() -> None:
    ports = [
        {"port": 9000, "protocol": "http", "public": False},
        {"port": 9001, "protocol": "http", "public": True},
        {"port": 22, "protocol": "tcp", "public": True},
    ]
    document = written({"ports": ports}, {"networks": [network(9000)]}, domain="other.example")
    kept, console, ssh = document["networks"]
    assert kept == network(9000)  # names and domain of an existing port are kept
    assert NAME_12.fullmatch(console["portName"])
    assert NAME_12.fullmatch(console["publicDomain"])
    assert re.fullmatch(r"network-[a-z]{12}", console["networkName"])
    assert console["domain"] == "cloud.example.io"  # the page's, not the setting's
    assert console["protocol"] == "TCP" and console["appProtocol"] == "HTTP"
    assert console["openPublicDomain"] is True and console["openNodePort"] is False
    assert ssh["protocol"] == "TCP" and "appProtocol" not in ssh
    assert ssh["openNodePort"] is True and ssh["openPublicDomain"] is False
    assert len({console["portName"], ssh["portName"], kept["portName"]}) == 3


def test_launchpad_domain_of_a_new_public_port_comes_from_the_setting_never_the_fallback() -> None:
    ports = [{"port": 8080, "protocol": "http", "public": True}]
    document = written({"ports": ports}, domain="cloud.sealos.io")
    assert document["networks"][0]["domain"] == "cloud.sealos.io"
    assert "gzg.sealos.run" not in json.dumps(written({"ports": ports}))


def test_launchpad_value_from_variables_are_never_changed_or_dropped() -> None:
    secret_ref = {"secretKeyRef": {"name": "db", "key": "password"}}
    envs = [
        {"key": "A", "value": "1"},
        {"key": "DB_PASSWORD", "value": "", "valueFrom": secret_ref},
        {"key": "B", "value": "2"},
    ]
    form = rich_of(LP, {"envs": envs})
    assert form["environment"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    changed = [{"name": "B", "value": "3"}, {"name": "DB_PASSWORD", "value": "x"}]
    document = written({"environment": changed}, {"envs": envs})
    assert document["envs"] == [
        {"key": "DB_PASSWORD", "value": "", "valueFrom": secret_ref},
        {"key": "B", "value": "3"},
    ]


def test_launchpad_labels_volumes_and_unknown_keys_pass_through() -> None:
    extra = {
        "labels": {"team": "a"},
        "volumes": [{"name": "cache", "emptyDir": {}}],
        "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
        "x-page": {"tab": 2},
    }
    document = written({"image_name": "nginx:1.27"}, extra)
    for key, value in extra.items():
        assert document[key] == value


def test_launchpad_a_document_is_always_complete() -> None:
    document = written({})
    assert list(document) == list(launchpad.FIELDS)
    assert document["cpu"] == "200m" and document["memory"] == "256Mi"


def test_mount_path_key_is_the_launchpad_s() -> None:
    assert launchpad.mount_path_key("/etc/nginx/nginx.conf") == "vn-etcvn-nginxvn-nginxvn-conf"
    assert launchpad.mount_path_key("/my_data/") == "vn-my-data"
    assert len(launchpad.mount_path_key("/" + "a" * 100)) == 63


# --- sealos-v2alpha ----------------------------------------------------------------------------


def v2_document(**changes: Any) -> dict[str, Any]:
    document = {
        "name": "web",
        "image": {"imageName": "nginx:1.27"},
        "launchCommand": {},
        "quota": {"cpu": 0.5, "memory": 1, "replicas": 2},
        "ports": [{"number": 80, "protocol": "http", "isPublic": True}],
        "env": [],
        "storage": [],
        "configMap": [],
    }
    return {**document, **changes}


def test_v2alpha_fields_read() -> None:
    document = v2_document(
        launchCommand={"command": "node", "args": ["server.js", "--port", "80"]},
        quota={"cpu": 2, "memory": 4, "replicas": 3, "gpu": {"type": "A100", "amount": 1}},
        ports=[{"number": 3000}, {"number": 22, "protocol": "tcp", "isPublic": False}],
        env=[{"name": "A", "value": "1"}],
        storage=[{"name": "data", "path": "/data", "size": "10Gi"}],
        configMap=[{"path": "/etc/app.conf", "value": "x=1"}],
    )
    form = rich_of(V2, document)
    assert form["app_name"] == "web" and form["image_name"] == "nginx:1.27"
    assert form["cpu"] == 2 and form["memory"] == "4G" and form["instance"] == 3
    assert form["command"] == "node"
    assert json.loads(form["parameters"]) == ["server.js", "--port", "80"]
    # the API's defaults: protocol http, public
    assert form["ports"] == [
        {"port": 3000, "protocol": "http", "public": True},
        {"port": 22, "protocol": "tcp", "public": False},
    ]
    assert form["environment"] == [{"name": "A", "value": "1"}]
    assert form["storage"] == [{"capacity": 10, "value": "/data"}]
    assert form["configmap"] == [{"file_path": "/etc/app.conf", "file_content": "x=1"}]
    assert form["gpu"] == {"vendor": "nvidia", "type": "A100", "amount": 1}


def test_v2alpha_memory_below_a_tenth_of_a_gib_is_not_a_choice() -> None:
    # 64M is 0.0625 GiB, below the API's minimum: the next choice up is taken
    form = rich_of(V2, v2_document(quota={"cpu": 0.1, "memory": 0.0625, "replicas": 1}))
    assert form["memory"] == "128M"
    assert "64M" not in V2.limits(Limits()).memory_choices
    assert ("memory", "rounded_up") in codes(
        V2, v2_document(quota={"cpu": 0.1, "memory": 0.0625, "replicas": 1})
    )


def test_v2alpha_replicas_or_hpa_not_both() -> None:
    hpa = {"target": "cpu", "value": 60, "minReplicas": 1, "maxReplicas": 4}
    _, reading = read(V2, v2_document(quota={"replicas": 2, "hpa": hpa}))
    assert [e.field for e in reading.errors] == ["quota"]
    form = rich_of(V2, v2_document(quota={"cpu": 1, "memory": 1, "hpa": hpa}))
    assert form["autoscaling"] == {
        "target": "cpu",
        "value": 60,
        "min_replicas": 1,
        "max_replicas": 4,
    }
    out = V2.write(form, {}, Context())
    assert out["quota"] == {"cpu": 1, "memory": 1, "hpa": hpa}  # no replicas next to hpa


def test_v2alpha_storage_size_10gb_is_refused_and_names_are_always_filled() -> None:
    _, reading = read(V2, v2_document(storage=[{"name": "d", "path": "/data", "size": "10GB"}]))
    assert [e.field for e in reading.errors] == ["storage[0].size"]
    form = rich_of(V2, v2_document())
    storage = [{"capacity": 5, "value": "/var/lib/data"}]
    out = V2.write({**form, "storage": storage}, {}, Context())
    assert out["storage"] == [
        {"name": "vn-varvn-libvn-data", "path": "/var/lib/data", "size": "5Gi"}
    ]


def test_v2alpha_write_is_what_the_api_takes() -> None:
    form = rich_of(V2, v2_document())
    form |= {
        "cpu": 0.2,
        "memory": "512M",
        "parameters": "--flag value",  # a free string is one argument, as the launchpad has it
        "registry": {"username": "u", "password": "p4ssw0rd-long", "server": "r.example.com"},
        "ports": [
            {"port": 9000, "protocol": "http", "public": False},
            {"port": 1883, "protocol": "tcp", "public": True},
        ],
    }
    out = V2.write(form, {}, Context())
    assert out["quota"] == {"cpu": 0.2, "memory": 0.5, "replicas": 2}
    assert out["launchCommand"] == {"args": ["--flag value"]}
    assert out["image"] == {
        "imageName": "nginx:1.27",
        "imageRegistry": {
            "username": "u",
            "password": "p4ssw0rd-long",
            "serverAddress": "r.example.com",
        },
    }
    assert out["ports"] == [
        {"number": 9000, "protocol": "http", "isPublic": False},
        {"number": 1883, "protocol": "tcp", "isPublic": True},
    ]
    assert list(out) == list(sealos_v2alpha.FIELDS)


def test_v2alpha_value_from_is_kept() -> None:
    ref = {"secretKeyRef": {"name": "s", "key": "k"}}
    document = v2_document(env=[{"name": "TOKEN", "valueFrom": ref}, {"name": "A", "value": "1"}])
    form = rich_of(V2, document)
    assert form["environment"] == [{"name": "A", "value": "1"}]
    assert round_trip(V2, document)["env"] == document["env"]


# --- round trips -------------------------------------------------------------------------------

FULL_LAUNCHPAD = {
    "kind": "statefulset",
    "appName": "minio",
    "imageName": "minio/minio:RELEASE.2025-04-22T22-12-26Z",
    "runCMD": "minio",
    "cmdParam": '["server","/data","--console-address",":9001"]',
    "replicas": 1,
    "cpu": "1000m",
    "memory": "1Gi",
    "networks": [
        network(9000),
        network(
            9001,
            networkName="network-qwertyuiopas",
            portName="zxcvbnmasdfg",
            publicDomain="poiuytrewqas",
            openPublicDomain=True,
        ),
        {
            k: v
            for k, v in network(1883, openNodePort=True, nodePort=31883).items()
            if k != "appProtocol"
        },
    ],
    "envs": [
        {"key": "MINIO_ROOT_USER", "value": "admin"},
        {
            "key": "MINIO_ROOT_PASSWORD",
            "value": "",
            "valueFrom": {"secretKeyRef": {"name": "m", "key": "p"}},
        },
    ],
    "hpa": {"use": True, "target": "cpu", "value": 50, "minReplicas": 1, "maxReplicas": 3},
    "configMapList": [
        {"mountPath": "/etc/minio/x.conf", "value": "a", "key": "k1", "volumeName": "minio-cm"}
    ],
    "secret": {
        "use": True,
        "username": "robot",
        "password": "registry-pass-123",
        "serverAddress": "registry.example.com",
    },
    "storeList": [{"name": "vn-data", "path": "/data", "value": "20Gi"}],
    "volumes": [{"name": "extra", "emptyDir": {}}],
    "volumeMounts": [{"name": "extra", "mountPath": "/extra"}],
    "gpu": {"manufacturers": "nvidia", "type": "", "amount": 1},
    "labels": {"app.kubernetes.io/part-of": "storage"},
    "x-unknown": [1, 2],
}


def test_a_complete_launchpad_document_comes_back_equal() -> None:
    assert round_trip(LP, copy.deepcopy(FULL_LAUNCHPAD)) == FULL_LAUNCHPAD


def test_a_complete_v2alpha_document_comes_back_equal() -> None:
    document = v2_document(
        launchCommand={"command": "minio", "args": ["server", "/data"]},
        quota={
            "cpu": 1,
            "memory": 2,
            "hpa": {"target": "memory", "value": 80, "minReplicas": 1, "maxReplicas": 4},
        },
        image={"imageName": "minio/minio", "imageRegistry": None},
        ports=[
            {"number": 9000, "protocol": "http", "isPublic": False},
            {"number": 9001, "protocol": "http", "isPublic": True},
        ],
        env=[{"name": "A", "value": "1"}],
        storage=[{"name": "data", "path": "/data", "size": "20Gi"}],
        configMap=[{"path": "/etc/x.conf", "value": "y"}],
    )
    assert round_trip(V2, copy.deepcopy(document)) == document


def test_what_the_launchpad_dialect_writes_reads_back_to_the_same_rich_form() -> None:
    form = rich_of(LP, copy.deepcopy(FULL_LAUNCHPAD))
    again = rich_of(LP, round_trip(LP, copy.deepcopy(FULL_LAUNCHPAD)))
    assert again == form


@settings(max_examples=200, deadline=None)
@given(forms)
def test_flat_to_rich_to_flat_is_the_identity(values: Any) -> None:
    # on everything the flat form can say: its fields, and unknown keys not named like the
    # rich form's own fields (ports, autoscaling, registry, gpu)
    if isinstance(values, dict):
        values = {k: v for k, v in values.items() if k not in rich.FIELDS or k in FLAT_FIELDS}
    flat_form = normalise(values).form
    rich_form = rich.from_flat(flat_form)
    assert rich.to_flat(rich_form) == flat_form
    # and the rich form of a valid flat form is itself valid and unchanged by normalising
    normalised = rich.normalise(rich_form, Limits())
    assert not normalised.errors
    assert rich.to_flat(normalised.form) == flat_form


@settings(max_examples=100, deadline=None)
@given(forms)
def test_the_aiops_dialect_is_the_flat_form(values: Any) -> None:
    if isinstance(values, dict):
        values = {k: v for k, v in values.items() if k not in rich.FIELDS or k in FLAT_FIELDS}
    flat = dialects.get("aiops")
    reading = flat.read(values)
    assert flat.write(reading.values, reading.carry, Context()) == normalise(values).form


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "port": st.integers(1, 65535),
                "protocol": st.sampled_from(rich.PROTOCOLS),
                "public": st.booleans(),
            }
        ),
        max_size=15,
        unique_by=lambda p: (p["port"], rich.transport(p["protocol"])),
    )
)
def test_any_ports_survive_both_dialects(ports: list[dict[str, Any]]) -> None:
    form = {**rich.default_form(), "ports": ports}
    for dialect in (LP, V2):
        document = dialect.write(form, {}, Context(domain="cloud.example.io"))
        assert rich_of(dialect, document)["ports"] == ports


def test_unknown_dialect_names_the_known_ones() -> None:
    with pytest.raises(dialects.UnknownDialect, match="aiops, launchpad, sealos-v2alpha"):
        dialects.get("helm")


# --- any input ---------------------------------------------------------------------------------

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)


def documents(fields: tuple[str, ...], item_keys: list[str]) -> st.SearchStrategy[Any]:
    """Documents with the dialect's keys (and their items' keys) holding any JSON value."""
    items = st.dictionaries(st.sampled_from(item_keys), json_values, max_size=6)
    value = json_values | st.lists(items, max_size=3) | items
    return st.dictionaries(st.sampled_from(fields) | st.text(max_size=6), value, max_size=8)


LAUNCHPAD_KEYS = [
    *network(80),
    "key",
    "value",
    "valueFrom",
    "use",
    "target",
    "minReplicas",
    "maxReplicas",
    "username",
    "password",
    "serverAddress",
    "mountPath",
    "name",
    "path",
    "manufacturers",
    "type",
    "amount",
]
V2_KEYS = [
    "number",
    "protocol",
    "isPublic",
    "name",
    "value",
    "valueFrom",
    "path",
    "size",
    "imageName",
    "imageRegistry",
    "command",
    "args",
    "cpu",
    "memory",
    "replicas",
    "hpa",
    "gpu",
]


@settings(max_examples=300, deadline=None)
@given(documents(launchpad.FIELDS, LAUNCHPAD_KEYS) | documents(sealos_v2alpha.FIELDS, V2_KEYS))
def test_any_document_is_read_or_refused_never_raises(document: dict[str, Any]) -> None:
    for dialect in (LP, V2):
        normalised, reading = read(dialect, document)
        written = dialect.write(normalised.form, reading.carry, Context())
        json.dumps(written, allow_nan=False)  # strict JSON
        if not reading.errors and not normalised.errors:
            again = rich_of(dialect, written)  # what is written reads back to the same form
            assert again == {k: v for k, v in normalised.form.items() if k in rich.FIELDS}


@pytest.mark.parametrize(
    "value", [float("inf"), float("nan"), -1, 0, 65536, 80.5, "²", "80x", True, None]
)
def test_a_port_that_is_no_port_is_an_error_not_a_crash(value: Any) -> None:
    normalised = rich.normalise({"ports": [{"port": value, "protocol": "http"}]}, Limits())
    assert [e.field for e in normalised.errors] == ["ports[0].port"]
    assert normalised.form["ports"] == rich.default_form()["ports"]


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 2.5, "5"])
def test_autoscaling_numbers_must_be_whole(value: Any) -> None:
    scaling = {"target": "cpu", "value": value, "min_replicas": 1, "max_replicas": 3}
    normalised = rich.normalise({"autoscaling": scaling}, Limits())
    assert [e.field for e in normalised.errors] == ["autoscaling"]


def test_a_duplicate_port_keeps_the_last_with_a_warning_and_at_most_15() -> None:
    ports = [
        {"port": 80, "protocol": "http", "public": False},
        {"port": 80, "protocol": "ws", "public": True},
        {"port": 80, "protocol": "udp", "public": False},
    ]
    normalised = rich.normalise({"ports": ports}, Limits())
    assert normalised.form["ports"] == ports[1:]  # http and ws share TCP 80; UDP 80 is another
    assert [(w.field, w.code) for w in normalised.warnings] == [("ports[1]", "duplicate_replaced")]
    many = [{"port": n, "protocol": "tcp", "public": False} for n in range(1, 17)]
    assert [e.field for e in rich.normalise({"ports": many}, Limits()).errors] == ["ports"]


# --- one declaration: the prompt, the schema and openapi.yaml follow it -------------------------


def strict_objects(schema: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(schema, dict):
        if schema.get("type") == "object":
            found.append(schema)
        for value in schema.values():
            found += strict_objects(value)
    elif isinstance(schema, list):
        for value in schema:
            found += strict_objects(value)
    return found


def test_the_rich_answer_schema_is_strict_and_lists_every_rich_field() -> None:
    from aiops import prompt

    schema = prompt.rich_answer_schema(Limits())
    for obj in strict_objects(schema):
        assert obj["additionalProperties"] is False
        assert obj["required"] == list(obj["properties"])
    field = schema["properties"]["changes"]["items"]["properties"]["field"]
    assert field["enum"] == list(rich.FIELDS)
    text = prompt.rich_instructions(Limits())
    for name in rich.FIELDS:
        assert f"- {name}:" in text
    assert "container_port" not in text and "public_access" not in text


def test_openapi_describes_every_dialect_and_its_fields() -> None:
    from tests.test_openapi import load_document

    schemas = load_document()["components"]["schemas"]
    enum = schemas["GenRequest"]["properties"]["form"]["enum"]
    assert [name for name in enum if name] == list(dialects.NAMES)
    assert tuple(schemas["LaunchpadForm"]["properties"]) == launchpad.FIELDS
    assert tuple(schemas["LaunchpadForm"]["required"]) == launchpad.FIELDS
    assert tuple(schemas["SealosV2alphaApp"]["properties"]) == sealos_v2alpha.FIELDS
    lp_cpu = schemas["LaunchpadForm"]["properties"]["cpu"]["enum"]
    assert lp_cpu == [f"{round(c * 1000)}m" for c in Limits().cpu_choices]
    v2_memory = schemas["SealosV2alphaApp"]["properties"]["quota"]["properties"]["memory"]["enum"]
    from aiops.sizes import memory_mib

    assert v2_memory == [(memory_mib(m) or 0) / 1024 for m in V2.limits(Limits()).memory_choices]


def test_launchpad_empty_replicas_of_an_autoscaled_app() -> None:
    hpa = {"use": True, "target": "cpu", "value": 50, "minReplicas": 3, "maxReplicas": 5}
    form = rich_of(LP, {"replicas": "", "hpa": hpa})
    assert form["instance"] == 3 and form["autoscaling"]["min_replicas"] == 3
    assert written({}, {"replicas": "", "hpa": hpa})["replicas"] == 3  # a number again


def test_an_unknown_flat_key_named_like_a_rich_field_does_not_become_one() -> None:
    flat_form = normalise({"gpu": {"type": "T4"}, "x": 1}).form
    rich_form = rich.from_flat(flat_form)
    assert rich_form["gpu"] is None and rich_form["x"] == 1


def test_flat_changes_edit_the_main_port_of_a_rich_form() -> None:
    form = {
        **rich.default_form(),
        "ports": [
            {"port": 9000, "protocol": "http", "public": False},
            {"port": 9001, "protocol": "http", "public": True},
        ],
    }
    changes = rich.changes_from_flat(
        {"container_port": 9002, "public_access": True, "cpu": 1}, form
    )
    assert changes == {
        "cpu": 1,
        "ports": [{"port": 9002, "protocol": "http", "public": True}, form["ports"][1]],
    }
    assert form["ports"][0]["port"] == 9000  # the form itself is untouched
    assert rich.changes_from_flat({"instance": 2}, form) == {"instance": 2}
