"""The image catalogue (README "The image catalogue"): facts about popular images, taken from
their own documentation and checked against it on a recorded date.

Owns `catalog.json` and everything read from it:
- the schema of the file (pydantic models that reject a malformed entry when the file loads),
  including each entry's record of what was checked against which source, and when;
- typed access to an entry's ports (`Entry.main_port`, `Entry.web_ui_port`, `Port.http`);
- loading it (`load`: read, validated and indexed on each call; the app object calls it once
  at start and keeps the result, README "Layout");
- finding the entries a request concerns, without a model call (`Catalog.match`): images named
  in pasted docs (`docker run`, compose `image:`, `docker pull`, `FROM`), then names and aliases
  in the text (English with word boundaries, Chinese as substrings), then the current image;
- the compact facts sent to the model (`facts_for_prompt`);
- the warnings raised when the form the model produced disagrees with the facts (`check_form`).

`python -m aiops.catalog check` reports each entry's pin, source and check date
(aiops/catalog_check.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aiops import images
from aiops.form import ENV_NAME_PATTERN, MOUNT_PATH_PATTERN, Limits, Notice
from aiops.messages import Text, text
from aiops.sizes import memory_mib

CATALOG_PATH = Path(__file__).with_name("catalog.json")

# The form's default memory choices: an entry's minimum is one of them.
MEMORY_CHOICES: tuple[str, ...] = Limits.memory_choices  # the form's default choices

CATEGORIES: dict[str, str] = {
    "database": "relational, document, time-series, graph and vector databases",
    "cache": "in-memory caches and key-value stores",
    "queue": "message queues, brokers and streaming",
    "search": "search engines",
    "web-server": "web servers and reverse proxies",
    "cms": "blogs and content management systems",
    "wiki": "wikis",
    "git-ci": "git hosting, CI and artifact registries",
    "monitoring": "monitoring, logs, tracing and dashboards",
    "object-storage": "S3-compatible object storage",
    "files": "file sharing, sync and browsing",
    "auth": "identity, single sign-on, directories and password managers",
    "automation": "workflow automation and job scheduling",
    "ai-frontend": "chat front ends and LLM app builders",
    "model-server": "model servers and model API gateways",
    "tools": "database admin UIs, IDEs and configuration centres",
}

_MOUNT_PATH = rf"^{MOUNT_PATH_PATTERN}$"
_ENV_NAME = rf"^{ENV_NAME_PATTERN}$"
# Characters that may separate the words of a name: "open webui", "open-webui", "wiki.js".
_SEPARATORS = " ._-"
_GAP = "\x00"  # stands for a separator in a name's spelling; no name contains it
# Last path segments too generic to identify an image on their own ("vaultwarden/server").
_GENERIC_REPOSITORY_NAMES = frozenset({"server", "app", "api", "web", "core", "all-in-one", "wiki"})
# Suffixes of repository names that other publishers add: "mysql-server", "grafana-oss".
_REPOSITORY_SUFFIXES = ("-server", "-oss", "-ce", "-ee", "-community", "-enterprise", "-alpine")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Transport = Literal["tcp", "udp"]
# The application protocol a port speaks, where it is one a platform can route by: http (plain
# HTTP, publishable on a public HTTPS address), ws (WebSocket, also publishable), https (the
# container terminates TLS itself), grpc (HTTP/2 gRPC). None: another protocol (SQL, AMQP, MQTT…).
Application = Literal["http", "ws", "https", "grpc"]
_PUBLISHABLE: frozenset[str] = frozenset({"http", "ws"})
# A source is a repository file at a commit, or a documentation page.
_SOURCE = r"^(?:github:[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+@[0-9a-f]{7,40}:\S+|https://\S+)$"


class Port(_Strict):
    """A port the container listens on: its transport, application protocol and role."""

    number: int = Field(ge=1, le=65535)
    protocol: Transport
    application: Application | None
    web_ui: bool
    purpose: str = ""

    @property
    def http(self) -> bool:
        """Whether the port speaks plain HTTP (or WebSocket): it can be published on a public
        HTTPS address, which terminates TLS and forwards HTTP."""
        return self.application in _PUBLISHABLE


class Check(_Strict):
    """What was checked against which source, and when: where the next check starts.
    `sources` are files (`github:owner/name@commit:path`) or pages (`https://…`); `pin` says
    what the source shows about the pinned tag; `gaps` names facts no primary source confirmed.
    A date after today is reported by the check command, not refused here: loading the
    catalogue must not depend on the serving machine's clock."""

    on: date
    sources: list[str] = Field(min_length=1)
    pin: str = Field(min_length=1)
    gaps: str = ""

    @field_validator("sources")
    @classmethod
    def _sources_are_addresses(cls, sources: list[str]) -> list[str]:
        for source in sources:
            if not re.match(_SOURCE, source):
                raise ValueError(
                    f"source {source!r}: github:owner/name@commit:path or an https:// page"
                )
        return sources


class Volume(_Strict):
    """A directory to persist, with a suggested size in GiB."""

    path: str = Field(pattern=_MOUNT_PATH)
    capacity_gi: int = Field(default=1, ge=1, le=20)
    purpose: str = ""


class EnvVar(_Strict):
    """An environment variable of the image; `example` is never given for a secret."""

    name: str = Field(pattern=_ENV_NAME)
    meaning: str = Field(min_length=1)
    required: bool = False
    secret: bool = False
    example: str | None = None

    @model_validator(mode="after")
    def _no_secret_example(self) -> EnvVar:
        if self.secret and self.example is not None:
            raise ValueError(f"{self.name} is secret: give no example value")
        return self


class Entry(_Strict):
    """Facts about one image. `ports` lists every port the image serves; `ports[0]` is the main
    one, the port to put in `container_port`."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    names: list[str] = Field(min_length=1)
    image: str
    category: str
    ports: list[Port] = Field(min_length=1)
    volumes: list[Volume]
    env: list[EnvVar]
    min_memory: str
    web: bool
    command: str = ""
    parameters: str = ""
    notes: str = ""
    source: str = Field(pattern=r"^https://\S+$")
    checked: Check

    @property
    def main_port(self) -> Port:
        """The port the single-port form uses (`container_port`)."""
        return self.ports[0]

    @property
    def web_ui_port(self) -> Port | None:
        """The port of the image's web UI, if it has one."""
        return next((port for port in self.ports if port.web_ui), None)

    @field_validator("names")
    @classmethod
    def _names_are_words(cls, names: list[str]) -> list[str]:
        for name in names:
            if name != name.strip() or not any(ch.isalnum() for ch in name) or "\x00" in name:
                raise ValueError(f"name {name!r}: a word or phrase, no surrounding spaces")
        return names

    @field_validator("image")
    @classmethod
    def _image_is_pinned(cls, image: str) -> str:
        tag = image_tag(image)
        path = image.rsplit(":", 1)[0]
        if not image_repository(image) or path != path.lower():
            raise ValueError(f"{image!r} is not an image reference with a lower-case path")
        if not tag or tag == "latest" or not any(ch.isdigit() for ch in tag):
            raise ValueError(f"{image!r} needs a pinned version tag (not latest, not missing)")
        return image

    @field_validator("category")
    @classmethod
    def _known_category(cls, category: str) -> str:
        if category not in CATEGORIES:
            raise ValueError(f"unknown category {category!r}; one of {', '.join(CATEGORIES)}")
        return category

    @field_validator("min_memory")
    @classmethod
    def _memory_choice(cls, memory: str) -> str:
        if memory not in MEMORY_CHOICES:
            raise ValueError(f"min_memory must be one of {', '.join(MEMORY_CHOICES)}")
        return memory

    @field_validator("command", "parameters")
    @classmethod
    def _json_argv(cls, text: str) -> str:
        if text and not _is_json_argv(text):
            raise ValueError("command and parameters are JSON array text, e.g. '[\"server\"]'")
        return text

    @model_validator(mode="after")
    def _unique_items(self) -> Entry:
        for what, keys in (
            ("port", [(p.number, p.protocol) for p in self.ports]),
            ("volume path", [v.path for v in self.volumes]),
            ("variable", [e.name for e in self.env]),
        ):
            if len(keys) != len(set(keys)):
                raise ValueError(f"{self.id}: a {what} is listed twice")
        return self


class CatalogFile(_Strict):
    """The shape of catalog.json."""

    about: str = ""
    entries: list[Entry]


class Catalog:
    """The entries, with the indexes that find them: built once, then read-only."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries: list[Entry] = list(entries)
        self._by_id: dict[str, Entry] = {}
        for entry in self.entries:
            if entry.id in self._by_id:
                raise ValueError(f"catalogue id {entry.id!r} is used twice")
            self._by_id[entry.id] = entry
        self._by_repository = _repository_index(self.entries)
        self._by_name = _name_index(self.entries)
        self._by_repository_name = _repository_name_index(self.entries)
        spelled = {_spelling(name) for entry in self.entries for name in _names_of(entry)}
        self._ascii_names = _Names([name for name in spelled if name.isascii()], bounded=True)
        self._other_names = _Names([name for name in spelled if not name.isascii()], bounded=False)

    @classmethod
    def from_file(cls, path: Path = CATALOG_PATH) -> Catalog:
        """The catalogue in a JSON file, validated."""
        data = CatalogFile.model_validate_json(path.read_bytes())
        return cls(data.entries)

    def get(self, entry_id: str) -> Entry | None:
        """The entry with this id, if any."""
        return self._by_id.get(entry_id)

    def for_image(self, image_name: str) -> Entry | None:
        """The entry of an image reference: `bitnami/redis:7.2` → redis, `docker.io/library/mysql:8`
        → mysql. Tries the full repository path, then its last segment as a name."""
        repository = image_repository(image_name)
        if not repository:
            return None
        if repository in self._by_repository:
            return self._by_id[self._by_repository[repository]]
        last = repository.rsplit("/", 1)[-1]
        for candidate in map(_squashed, (last, *_without_suffixes(last))):
            entry_id = self._by_repository_name.get(candidate) or self._by_name.get(candidate)
            if entry_id:
                return self._by_id[entry_id]
        return None

    def match(self, text: str, image_name: str | None = None, limit: int = 5) -> list[Entry]:
        """The entries a request concerns, most relevant first, at most `limit`: images named in
        pasted docs (`docker run`, compose `image:`…), then names in the text (ASCII names in
        order of appearance, then Chinese ones), then the current image `image_name`."""
        lowered = text.lower()
        found: dict[str, Entry] = {}
        candidates = [
            *(self.for_image(ref) for ref in dict.fromkeys(images.references(text, lowered))),
            *(self._by_id[entry_id] for entry_id in self._ids_named_in(lowered)),
            self.for_image(image_name) if image_name else None,
        ]
        for entry in candidates:
            if entry is not None:
                found.setdefault(entry.id, entry)
        return list(found.values())[: max(limit, 0)]

    def _ids_named_in(self, lowered: str) -> list[str]:
        """Entries named in the text: ASCII names (product names, mostly) in order of
        appearance, then names in other scripts (mostly generic Chinese terms like 对象存储)."""
        if lowered.isascii():
            return [self._by_name[_squashed(name)] for name in self._ascii_names_in(lowered)]
        # Each run of Chinese (or other non-ASCII) text is a word boundary: one space is enough,
        # and there are far fewer places for a name to start.
        names = self._ascii_names_in(_NON_ASCII_RUN.sub(" ", lowered))
        names.update(self._other_names.found_in(lowered))
        return [self._by_name[_squashed(name)] for name in names]

    def _ascii_names_in(self, text: str) -> dict[str, None]:
        return self._ascii_names.found_in(" " + text)


def load(path: Path = CATALOG_PATH) -> Catalog:
    """The catalogue in catalog.json next to this module (or `path`), read, validated and
    indexed: a new one on each call (the app keeps the one it loaded at start)."""
    return Catalog.from_file(path)


# --- image references (aiops.images) ----------------------------------------------------------

image_repository = images.repository
image_tag = images.tag
image_references = images.references
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")


def _without_suffixes(name: str) -> list[str]:
    return [name.removesuffix(s) for s in _REPOSITORY_SUFFIXES if name.endswith(s) and name != s]


def _repository_index(entries: Iterable[Entry]) -> dict[str, str]:
    index: dict[str, str] = {}
    for entry in entries:
        index.setdefault(image_repository(entry.image), entry.id)
    return index


# --- names in text ----------------------------------------------------------------------------


def _squashed(name: str) -> str:
    """A name without case and word separators: "Open WebUI", "open-webui" → "openwebui"."""
    return "".join(ch for ch in name.lower() if ch not in _SEPARATORS)


def _spelling(name: str) -> str:
    """A name in lower case, each run of separators one _GAP: "Open  WebUI" → "open·webui"."""
    return re.sub(f"[{re.escape(_SEPARATORS)}]+", _GAP, name.lower().strip(_SEPARATORS))


def _names_of(entry: Entry) -> list[str]:
    """The names an entry is known by in text: its id and its names."""
    return [entry.id, *entry.names]


def _name_index(entries: Iterable[Entry]) -> dict[str, str]:
    """Squashed name → entry id. The first entry to claim a name keeps it (the tests check that
    no name is claimed twice)."""
    index: dict[str, str] = {}
    for entry in entries:
        for name in _names_of(entry):
            index.setdefault(_squashed(name), entry.id)
    return index


def _repository_name_index(entries: Iterable[Entry]) -> dict[str, str]:
    """Squashed last segment of each entry's repository → entry id, generic segments left out:
    `louislam/uptime-kuma` gives "uptimekuma", `vaultwarden/server` gives nothing."""
    index: dict[str, str] = {}
    for entry in entries:
        last = image_repository(entry.image).rsplit("/", 1)[-1]
        if last not in _GENERIC_REPOSITORY_NAMES:
            index.setdefault(_squashed(last), entry.id)
    return index


_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")
_GAP_CHARS = frozenset(_SEPARATORS)
_END = ""  # the key of a trie node where a name ends


class _Names:
    """The names of one script, found in lower-case text by walking a trie of their spellings
    (a dict per character), as one regex alternation of them would: at each start, the first
    spelling in sorted order that matches wins, a longer name before its own prefix; matches do
    not overlap. A gap in a spelling stands for one separator or none ("open webui",
    "openwebui"). Building it costs a fraction of a millisecond (a regex of every name took
    ~6 ms to compile at start); a C regex over the first two characters of the names picks the
    places worth walking from.

    `bounded` (ASCII names): a name starts after a character that is not a letter or digit
    ("pg" not in "upgrade"; search " " + text to find one at the very start) and is not followed
    by a letter, though a version may follow ("pg16", "mysql8", "postgres:16")."""

    def __init__(self, spellings: Iterable[str], bounded: bool) -> None:
        self._root: dict[str, Any] = {}
        for spelling in spellings:
            node = self._root
            for ch in spelling:
                node = node.setdefault(ch, {})
            node[_END] = {}
        self._bounded = bounded
        starts = _starts_pattern(self._root, bounded)
        self._starts = re.compile(("(?<![a-z0-9])" if bounded else "") + starts) if starts else None

    def found_in(self, text: str) -> dict[str, None]:
        """The names in `text`, in order of appearance, each once."""
        found: dict[str, None] = {}
        if self._starts is None:
            return found
        search, walk, root, size = self._starts.search, self._end_of, self._root, len(text)
        position = 0
        while (start := search(text, position)) is not None:
            begin = start.start()
            end = walk(text, begin, root, size)
            if end is None or end == begin:
                position = begin + 1
            else:
                found[text[begin:end]] = None
                position = end
        return found

    def _end_of(self, text: str, at: int, node: dict[str, Any], size: int) -> int | None:
        """Where the first spelling below `node` that matches `text` at `at` ends, or None.
        Tried in the order a sorted alternation would: a gap (one separator first, then none),
        then the next character, then the end of a name here."""
        gap = node.get(_GAP)
        if gap is not None:
            if at < size and text[at] in _GAP_CHARS:
                end = self._end_of(text, at + 1, gap, size)
                if end is not None:
                    return end
            end = self._end_of(text, at, gap, size)
            if end is not None:
                return end
        if at < size:
            child = node.get(text[at])
            if child is not None:
                end = self._end_of(text, at + 1, child, size)
                if end is not None:
                    return end
        if _END in node and not (self._bounded and at < size and text[at] in _LETTERS):
            return at
        return None


def _starts_pattern(root: Mapping[str, Any], bounded: bool) -> str:
    """A regex of where a name may start: its first character, then what may come second (the
    next character, also after a gap, a separator for the gap, or the end of a one-letter
    name, not followed by a letter when bounded)."""
    alternatives = []
    for first, child in sorted(root.items()):
        if first in (_END, _GAP):
            continue
        after_gap = child.get(_GAP, {})
        seconds = "".join(sorted({*child, *after_gap} - {_END, _GAP}))
        options = [f"[{re.escape(seconds)}]"] if seconds else []
        if after_gap:
            options.append("[ ._-]")
        if _END in child:
            options.append("(?![a-z])" if bounded else "")
        alternatives.append(re.escape(first) + "(?=" + "|".join(options) + ")")
    return "(?:" + "|".join(alternatives) + ")" if alternatives else ""


# --- facts for the model ----------------------------------------------------------------------


def facts_for_prompt(entries: Sequence[Entry]) -> str:
    """Compact facts for the model, a few lines per entry; "" for no entries."""
    return "\n".join(_entry_facts(entry) for entry in entries)


def _entry_facts(entry: Entry) -> str:
    lines = [
        f"- {entry.id} (image {entry.image})",
        "ports: " + ", ".join(_port_fact(p) for p in entry.ports),
        "data: " + ", ".join(_volume_fact(v) for v in entry.volumes) if entry.volumes else "",
        "env: " + "; ".join(_env_fact(e) for e in entry.env) if entry.env else "",
        f"command: {entry.command}" if entry.command else "",
        f"parameters: {entry.parameters}" if entry.parameters else "",
        f"min memory {entry.min_memory}; "
        + ("web app (public_access true)" if entry.web else "not a public web app"),
        f"notes: {entry.notes}" if entry.notes else "",
    ]
    return "\n  ".join(line for line in lines if line)


def _port_fact(port: Port) -> str:
    kind = port.application or port.protocol
    if port.protocol == "udp" and port.application:
        kind = f"udp {port.application}"
    role = " (web UI)" if port.web_ui and "web UI" not in port.purpose else ""
    return f"{port.number}/{kind}" + (f" {port.purpose}" if port.purpose else "") + role


def _volume_fact(volume: Volume) -> str:
    return f"{volume.path} ({volume.capacity_gi}Gi)"


def _env_fact(var: EnvVar) -> str:
    flags = [flag for flag, on in (("required", var.required), ("secret", var.secret)) if on]
    if var.example is not None:
        flags.append(f"e.g. {var.example}")
    return var.name + (f" ({', '.join(flags)})" if flags else "") + f": {var.meaning}"


# --- checks of the model's answer -------------------------------------------------------------


def check_form(form: Mapping[str, Any], entry: Entry) -> list[Notice]:
    """Warnings where the normalised form (aiops.form.normalise) disagrees with the entry: port,
    data paths, required variables, memory, public access on a plain-TCP port. Checks that
    depend on the image's own variable names and paths run only when the form uses the entry's
    image, not another publisher's."""
    own_image = image_repository(str(form.get("image_name") or entry.image)) == image_repository(
        entry.image
    )
    notices = [
        *_port_notices(form, entry),
        *_storage_notices(form, entry, own_image),
        *(_env_notices(form, entry) if own_image else []),
        *_memory_notices(form, entry),
        *_public_access_notices(form, entry),
    ]
    return notices


def _port_notices(form: Mapping[str, Any], entry: Entry) -> list[Notice]:
    port = _port_of(form)
    known = [p.number for p in entry.ports]  # known[0] is the main port
    if port is None or port in known or _configured_elsewhere(form, str(port)):
        return []
    listed = ", ".join(_port_fact(p) for p in entry.ports)
    return [
        Notice(
            "container_port",
            "catalog_port_mismatch",
            text("catalog_port", image=entry.id, listed=listed, port=port, suggested=known[0]),
        )
    ]


def _storage_notices(form: Mapping[str, Any], entry: Entry, own_image: bool) -> list[Notice]:
    if not entry.volumes:
        return []
    wanted = ", ".join(v.path for v in entry.volumes)
    mounts = _storage_paths(form)
    if not mounts:
        return [
            Notice(
                "storage",
                "catalog_storage_missing",
                text("catalog_no_storage", image=entry.id, paths=wanted),
            )
        ]
    if own_image and not any(_covers(m, v.path) for m in mounts for v in entry.volumes):
        return [
            Notice(
                "storage",
                "catalog_storage_missing",
                text("catalog_storage_elsewhere", image=entry.id, paths=wanted),
            )
        ]
    return []


def _env_notices(form: Mapping[str, Any], entry: Entry) -> list[Notice]:
    present = {name for name, value in _environment(form).items() if value != ""}
    return [
        Notice(
            f"environment.{var.name}",
            "catalog_env_missing",
            text("catalog_env_needed", image=entry.id, name=var.name, meaning=var.meaning),
        )
        for var in entry.env
        if var.required and var.name not in present
    ]


def _memory_notices(form: Mapping[str, Any], entry: Entry) -> list[Notice]:
    have = memory_mib(form.get("memory") or "")
    need = memory_mib(entry.min_memory)
    if have is None or need is None or have >= need:
        return []
    return [
        Notice(
            "memory",
            "catalog_memory_low",
            text(
                "catalog_memory_low",
                image=entry.id,
                need=entry.min_memory,
                have=str(form.get("memory")),
            ),
        )
    ]


def _public_access_notices(form: Mapping[str, Any], entry: Entry) -> list[Notice]:
    port = _port_of(form)
    spoken = next((p for p in entry.ports if p.number == port), None)
    if form.get("public_access") is not True or spoken is None or spoken.http:
        return []
    return [
        Notice(
            "public_access",
            "catalog_tcp_public",
            text("catalog_tcp_public", image=entry.id, port=spoken.number, spoken=_spoken(spoken)),
        )
    ]


def _spoken(port: Port) -> Text:
    """What a port speaks that a public HTTPS address cannot forward to."""
    if port.protocol == "udp":
        return text("spoken_udp")
    return text(
        {"https": "spoken_https", "grpc": "spoken_grpc"}.get(port.application or "", "spoken_tcp")
    )


def _port_of(form: Mapping[str, Any]) -> int | None:
    return form.get("container_port")


def _environment(form: Mapping[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in form.get("environment") or []}


def _storage_paths(form: Mapping[str, Any]) -> list[str]:
    return [item["value"] for item in form.get("storage") or []]


def _covers(mount: str, data_path: str) -> bool:
    """Whether a mount persists a data path: the same directory or one of its parents."""
    mount, data_path = mount.rstrip("/") or "/", data_path.rstrip("/")
    return data_path == mount or data_path.startswith(mount.rstrip("/") + "/")


def _configured_elsewhere(form: Mapping[str, Any], port: str) -> bool:
    """Whether the port also appears in the command, arguments or a variable: set on purpose."""
    texts = [str(form.get("command") or ""), str(form.get("parameters") or "")]
    texts += _environment(form).values()
    return any(re.search(rf"(?<!\d){port}(?!\d)", text) for text in texts)


def _is_json_argv(text: str) -> bool:
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


if __name__ == "__main__":  # python -m aiops.catalog check
    from aiops.catalog_check import main

    raise SystemExit(main())
