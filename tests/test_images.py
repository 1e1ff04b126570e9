"""aiops.images: one reading of image references and of `docker` command lines, used by both
the form (strict: an unknown option makes the form ask again) and the catalogue (pasted docs:
an unknown option is guessed)."""

from __future__ import annotations

import pytest

from aiops import images


@pytest.mark.parametrize(
    ("reference", "parts"),
    [
        ("mysql", ("", "mysql", "", "")),
        ("mysql:8.4", ("", "mysql", "8.4", "")),
        ("localhost:5000/team/app:1", ("localhost:5000", "team/app", "1", "")),
        ("ghcr.io/org/app@sha256:" + "a" * 64, ("ghcr.io", "org/app", "", "sha256:" + "a" * 64)),
        ("halohub/halo:2.5", ("", "halohub/halo", "2.5", "")),
        ("localhost:5000", ("", "localhost", "5000", "")),
    ],
)
def test_a_reference_splits_into_registry_path_tag_and_digest(
    reference: str, parts: tuple[str, str, str, str]
) -> None:
    ref = images.split(reference)
    assert (ref.domain, ref.path, ref.tag, ref.digest) == parts
    assert ref.text == reference
    assert images.is_reference(ref)


@pytest.mark.parametrize("reference", ["MySQL:8", "mysql:", "a..b", "app@sha256:abc", "/x"])
def test_what_docker_would_refuse_is_no_reference(reference: str) -> None:
    assert not images.is_reference(images.split(reference))


def test_floating_means_no_digest_and_no_version_tag() -> None:
    assert images.split("nginx").floating
    assert images.split("nginx:latest").floating
    assert not images.split("nginx:1.27").floating
    assert not images.split("nginx@sha256:" + "b" * 64).floating


@pytest.mark.parametrize(
    ("words", "options", "image"),
    [
        ("-d -p 80:80 nginx:1.27", images.RUN, "nginx:1.27"),
        ("-dp 8080:80 nginx:1.27", images.RUN, "nginx:1.27"),
        ("-de A=1 nginx:1.27", images.RUN, "nginx:1.27"),
        ("--rm -it --name=web ubuntu:24.04 bash", images.RUN, "ubuntu:24.04"),
        ("-- nginx:1.27", images.RUN, "nginx:1.27"),
        ("--platform linux/amd64 redis:7", images.PULL, "redis:7"),
        ("-q valkey/valkey:8.0", images.PULL, "valkey/valkey:8.0"),
    ],
)
def test_the_first_operand_is_the_image(words: str, options: images.Options, image: str) -> None:
    tokens = words.split()
    for strict in (True, False):
        index = images.first_operand(tokens, options, strict=strict)
        assert index is not None and tokens[index] == image


def test_an_unknown_option_is_unclear_when_strict_and_guessed_otherwise() -> None:
    tokens = ["--frobnicate", "1", "nginx:1.27"]
    assert images.first_operand(tokens, images.RUN) is None
    assert tokens[images.first_operand(tokens, images.RUN, strict=False) or 0] == "nginx:1.27"
    tokens = ["-x1", "nginx:1.27"]
    assert tokens[images.first_operand(tokens, images.RUN, strict=False) or 0] == "nginx:1.27"
    assert images.first_operand(["-d"], images.RUN) is None


def test_pasted_docs_name_the_images_their_commands_run() -> None:
    text = (
        "docker run -de TZ=UTC mysql:8.4\n"
        "docker run -- caddy:2.8\n"
        "docker pull --all-tags valkey/valkey:8.0\n"
    )
    assert images.references(text) == ["mysql:8.4", "caddy:2.8", "valkey/valkey:8.0"]


def test_the_catalogue_lookup_key_is_the_repository_path() -> None:
    assert images.repository("docker.io/library/mysql:8") == "mysql"
    assert images.repository("Quay.io/Keycloak/keycloak:26.0") == "keycloak/keycloak"
    assert images.repository("not an image") == ""
    assert images.tag("redis:7.4") == "7.4"
    assert images.tag("localhost:5000/app") == ""
