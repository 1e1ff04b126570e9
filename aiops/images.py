"""Image references and `docker` command lines (README "Layout"), a leaf: it imports nothing
of the service.

Owns the one reading of an image reference (`[registry[:port]/]path[:tag][@digest]`, `Ref`,
`split`, `is_reference`, `repository`, `tag`), the one table of `docker run`/`docker pull`
options (`RUN`, `PULL`) with the one walk over them that finds the image (`first_operand`), and
finding the images that pasted text mentions (`references`: `docker run|create|pull` commands,
compose/Kubernetes `image:` keys, `--image` flags, Dockerfile `FROM` lines). aiops.form
validates a form's `image_name` with it; aiops.catalog looks entries up and reads pasted docs
with it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# --- references ------------------------------------------------------------------------------

DOMAIN = re.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"(?::[0-9]+)?"
)
PATH = re.compile(
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
)
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
# The looser path the catalogue accepts for a lookup (any run of `._-` between words).
_REPOSITORY_PATH = re.compile(r"[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*")


@dataclass(frozen=True)
class Ref:
    """The parts of an image reference, as written (`split` does not validate or fold case)."""

    domain: str
    path: str
    tag: str
    digest: str
    has_tag: bool = False
    has_digest: bool = False

    @property
    def repository(self) -> str:
        return f"{self.domain}/{self.path}" if self.domain else self.path

    @property
    def text(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return self.repository + tag + digest

    @property
    def floating(self) -> bool:
        """Without a digest and without a version tag (none, or `latest`)."""
        return not self.digest and self.tag in ("", "latest")


def split(reference: str) -> Ref:
    """`reference` split into registry, path, tag and digest: the digest follows the first `@`,
    the tag the first `:` of the last `/`-segment; the first segment is a registry when it has a
    `.` or a `:` or is `localhost`, and there is a path after it."""
    name, at, digest = reference.partition("@")
    head, slash, last = name.rpartition("/")
    last, colon, tag = last.partition(":")
    repository = head + slash + last
    domain, _, path = repository.partition("/")
    if not path or not ("." in domain or ":" in domain or domain.lower() == "localhost"):
        domain, path = "", repository
    return Ref(domain, path, tag, digest, has_tag=bool(colon), has_digest=bool(at))


def is_reference(ref: Ref) -> bool:
    """Whether the parts follow Docker's grammar of a reference (the path in lower case)."""
    return (
        (not ref.domain or DOMAIN.fullmatch(ref.domain) is not None)
        and PATH.fullmatch(ref.path) is not None
        and (not ref.has_tag or TAG.fullmatch(ref.tag) is not None)
        and (not ref.has_digest or DIGEST.fullmatch(ref.digest) is not None)
    )


def repository(reference: str) -> str:
    """The repository path of an image reference, lower-case, without registry, `library/`, tag
    or digest: `docker.io/library/mysql:8` → `mysql`, `quay.io/keycloak/keycloak:26.0` →
    `keycloak/keycloak`. "" when the text is not an image reference."""
    path = split(reference.strip().lower()).path
    if path.startswith("library/"):
        path = path.removeprefix("library/")
    return path if _REPOSITORY_PATH.fullmatch(path) else ""


def tag(reference: str) -> str:
    """The tag of an image reference (`redis:7.4` → `7.4`), "" when it has none."""
    return split(reference.strip()).tag


# --- docker command lines --------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """The options of one docker command: which take no value, which take the next word."""

    short_switches: frozenset[str]
    short_with_value: frozenset[str]
    long_switches: frozenset[str]
    long_with_value: frozenset[str]


def _words(text: str) -> list[str]:
    return text.split()


PULL = Options(
    short_switches=frozenset("aq"),
    short_with_value=frozenset(),
    long_switches=frozenset({"all-tags", "quiet", "disable-content-trust", "help"}),
    long_with_value=frozenset({"platform"}),
)
RUN = Options(  # also `docker create`
    short_switches=frozenset("ditPq"),
    short_with_value=frozenset("acehlmpuvw"),
    long_switches=frozenset(
        _words(
            "detach interactive tty rm privileged init read-only publish-all oom-kill-disable "
            "no-healthcheck disable-content-trust quiet help"
        )
    ),
    long_with_value=frozenset(
        _words(
            "add-host annotation attach blkio-weight cap-add cap-drop cgroup-parent cgroupns "
            "cidfile cpu-period cpu-quota cpu-shares cpus cpuset-cpus cpuset-mems device "
            "detach-keys dns dns-option dns-search domainname entrypoint env env-file expose "
            "gpus group-add health-cmd health-interval health-retries health-start-period "
            "health-timeout hostname ip ip6 ipc isolation label label-file link log-driver "
            "log-opt mac-address memory memory-reservation memory-swap mount name network net "
            "network-alias pid pids-limit platform publish pull restart runtime security-opt "
            "shm-size stop-signal stop-timeout storage-opt sysctl tmpfs ulimit user userns uts "
            "volume volumes-from workdir"
        )
    ),
)


def first_operand(words: Sequence[str], options: Options, *, strict: bool = True) -> int | None:
    """The index of the first word that is neither an option nor an option's value (the image),
    None when there is none. `strict`: an option the table does not know makes it None (the
    form asks again); otherwise it is guessed (pasted docs: `-x1` or `--y=1` stand alone, `-x`
    or `--y` take the next word)."""
    index = 0
    while index < len(words):
        word = words[index]
        if word == "--":
            index += 1
            break
        if not word.startswith("-") or word == "-":
            break
        width = option_width(word, options)
        if width is None and strict:
            return None
        index += width or _guessed_width(word)
    return index if index < len(words) else None


def option_width(word: str, options: Options) -> int | None:
    """How many words an option spans (1 or 2), or None for an option the table does not know."""
    if word.startswith("--"):
        name, has_value, _ = word[2:].partition("=")
        if name in options.long_switches:
            return 1
        if name in options.long_with_value:
            return 1 if has_value else 2
        return None
    letters = word[1:]
    for position, letter in enumerate(letters):
        if letter in options.short_with_value:
            return 2 if position == len(letters) - 1 else 1
        if letter not in options.short_switches:
            return None
    return 1


def _guessed_width(word: str) -> int:
    if word.startswith("--"):
        return 1 if "=" in word else 2
    return 1 if len(word) > 2 else 2


# --- references in pasted text ---------------------------------------------------------------

_IMAGE_REFERENCE = re.compile(r"[a-z0-9][a-z0-9._/:@-]*")
_IMAGE_KEY = re.compile(r"""image:[ \t]*["']?([^\s"'#]+)""")  # compose, Kubernetes
_FLAG_IMAGE = re.compile(r"""--image[= \t]+["']?([^\s"']+)""")  # kubectl run --image=…
_FROM_LINE = re.compile(r"from[ \t]+(?:--platform=\S+[ \t]+)?(\S+)")  # Dockerfile
_DOCKER_COMMAND = re.compile(
    r"docker(?:[ \t]+(?:container|image))?[ \t]+(run|create|pull)[ \t]+([^\n|;&>]*)"
)
_LINE_CONTINUATION = re.compile(r"\\\r?\n")
_SHELL_WORD = re.compile(r"""(?:"[^"]*"|'[^']*'|[^\s"'])+""")


def references(text: str, lowered: str | None = None) -> list[str]:
    """Image references in text, lower-cased, in order of appearance: `docker run|create|pull`
    commands, compose/Kubernetes `image:` keys, `--image` flags and Dockerfile `FROM` lines.
    `lowered` is `text.lower()` when the caller has it already."""
    # Keywords are searched in the lower-cased text by regexes that start with a literal, which
    # the regex engine finds fast; docker options are read from the original (-P is not -p).
    lowered = text.lower() if lowered is None else lowered
    original = text if len(text) == len(lowered) else lowered
    hits: list[tuple[int, str]] = []
    if "image" in lowered:
        hits += [(m.start(), m.group(1)) for m in _FLAG_IMAGE.finditer(lowered)]
        hits += [
            (m.start(), m.group(1))
            for m in _IMAGE_KEY.finditer(lowered)
            if _starts_line(lowered, m.start(), " \t-")
        ]
    if "from" in lowered:
        hits += [
            (m.start(), m.group(1))
            for m in _FROM_LINE.finditer(lowered)
            if _starts_line(lowered, m.start(), " \t")
        ]
    if "docker" in lowered:
        hits += _docker_command_images(original, lowered)
    refs = (ref.lower() for _, ref in sorted(hits))
    return [ref for ref in refs if _IMAGE_REFERENCE.fullmatch(ref)]


def _starts_line(text: str, position: int, indent: str) -> bool:
    """Whether only `indent` characters stand between the line's start and `position`."""
    line_start = text.rfind("\n", 0, position) + 1
    return not text[line_start:position].strip(indent)


def _docker_command_images(original: str, lowered: str) -> list[tuple[int, str]]:
    original, lowered = _joined_lines(original), _joined_lines(lowered)
    found: list[tuple[int, str]] = []
    for match in _DOCKER_COMMAND.finditer(lowered):
        words = _shell_words(original[match.start(2) : match.end(2)])
        options = PULL if match.group(1) == "pull" else RUN
        index = first_operand(words, options, strict=False)
        if index is not None and words[index]:
            found.append((match.start(), words[index]))
    return found


def _joined_lines(text: str) -> str:
    """Shell line continuations joined, with the same length: positions stay comparable."""
    return _LINE_CONTINUATION.sub(lambda m: " " * len(m.group()), text) if "\\" in text else text


def _shell_words(text: str) -> list[str]:
    """Words of a shell command line, quotes removed (a simple, fast subset of shlex)."""
    return [word.replace('"', "").replace("'", "") for word in _SHELL_WORD.findall(text)]
