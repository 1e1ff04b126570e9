"""Reading the model's answer (README "How a request is served"): one JSON object, found and
repaired tolerantly.

The model is asked for `{"changes": {...}, "reply": "...", "questions": [...]}`. What comes back
may be that, or a bare (full or partial) form object, wrapped in code fences, `<think>` reasoning
or prose, with trailing commas, single quotes, comments, Python literals, or cut off mid-way.
`parse_reply` turns any of these into a `ModelReply`, or raises `UnreadableReply` with one short
sentence that can be shown to the model when it is asked once more.

Strict JSON costs one `json` decode. Only when that fails is the text scanned: `<think>` blocks
are dropped, and every balanced (or unclosed) `{...}` span is read as strict JSON, else after a
linear clean-up of the usual defects (`_cleaned`), else, if small, by `json_repair`. The best
object wins: a wrapper first, then the one with most form fields, then a complete object over
a cut-off one, a strict one over a repaired one, and a later one over an earlier one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import json_repair


@dataclass
class ModelReply:
    """What the model asked for: changes to the form, a sentence for the user, open questions."""

    changes: dict[str, Any]
    reply: str
    questions: list[str]
    shape: Literal["wrapper", "form"]


class UnreadableReply(Exception):
    """The text holds no usable JSON object; str(exc) says why in one short English sentence."""


_EMPTY = "The answer was empty; answer with one JSON object."
_NO_OBJECT = "The answer held no JSON object; answer with one JSON object and no prose."
_ONLY_REASONING = "The answer held JSON only inside its <think> reasoning; put the object after it."
_ARRAY = "The answer was a JSON array; answer with one JSON object instead."
_CUT_OFF = "The answer was cut off before any change, reply or question; answer again, shorter."
_UNEXPECTED = "The answer could not be read as JSON; answer with one JSON object."

_WRAPPER_KEYS = frozenset({"changes", "reply", "questions"})
_DECODER = json.JSONDecoder(strict=False)  # strict=False: raw newlines inside strings are fine
_UNREAD = object()  # marks a span that could not be read

# Limits that keep the fallback linear-ish. json_repair is quadratic on some broken input
# (`{a:b,a:b,…}` of 8 KiB takes 0.4 s, of 32 KiB 7 s) and slow on deep nesting, so it only
# sees small spans, within a budget; the common defects are fixed by `_cleaned` in linear time.
_MAX_REPAIR_DEPTH = 32
_MAX_REPAIR_CHARS = 8 * 1024
_REPAIR_BUDGET_CHARS = 16 * 1024
_MAX_RESCANS = 3

_THINK_TAG = re.compile(r"<(/?)(?:think|thinking)\s*>", re.IGNORECASE)
_FENCE = re.compile(r"```[^\n`]*\n(.*?)(?:```|\Z)", re.DOTALL)
_ARRAY_START = re.compile(r"\A\s*(?:```[^\n`]*\n\s*)?\[\s*[\[{\"'\]]")
_TOKEN = re.compile(r"""[{}\[\],"'\\\n]|//|/\*""")
_LEXEME = re.compile(
    r"""
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<single>'(?:[^'\\\n]|\\.)*')
    | (?P<comment>//[^\n]*|/\*.*?(?:\*/|\Z)|\#[^\n]*)
    | (?P<key>[A-Za-z_$][\w$]*)(?=\s*:)
    | (?P<word>[A-Za-z_$][\w$]*)
    | (?P<open>[{\[])
    | (?P<close>[}\]])
    | (?P<comma>,)
    | (?P<other>[^"'/\#A-Za-z_${}\[\],]+|.)
    """,
    re.DOTALL | re.VERBOSE,
)
_SINGLE_QUOTED_ESCAPE = re.compile(r'\\(.)|"', re.DOTALL)
_PYTHON_WORDS = {"True": "true", "False": "false", "None": "null"}


def parse_reply(text: str, form_fields: Collection[str]) -> ModelReply:
    """The model's answer in `text`, read tolerantly; raises only `UnreadableReply`."""
    try:
        return _parsed(text, _FieldNames(form_fields))
    except UnreadableReply:
        raise
    except Exception as exc:  # the contract: no input string raises anything else
        raise UnreadableReply(_UNEXPECTED) from exc


class _FieldNames:
    """The form's field names, and the canonical spelling of a key written in another case."""

    def __init__(self, names: Collection[str]) -> None:
        self.names = frozenset(names)
        self._by_folded = {name.casefold(): name for name in self.names}

    def canonical(self, key: str) -> str:
        if key in self.names:
            return key
        return self._by_folded.get(key.strip().casefold(), key)

    def count_in(self, obj: dict[str, Any]) -> int:
        return sum(1 for key in obj if key in self.names)


def _parsed(text: str, fields: _FieldNames) -> ModelReply:
    if not isinstance(text, str):
        raise UnreadableReply("The answer was not text.")
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise UnreadableReply(_EMPTY)
    try:
        value = _DECODER.decode(text)
    except (ValueError, RecursionError):
        return _reply_found_in(text, fields)
    return _reply_from_value(value, fields)


def _reply_from_value(value: Any, fields: _FieldNames) -> ModelReply:
    if isinstance(value, dict):
        return _reply_from_object(value, fields)
    if isinstance(value, list):
        raise UnreadableReply(_ARRAY)
    raise UnreadableReply(f"The answer was a JSON {_kind(value)}, not a JSON object.")


# --- choosing the object ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    value: dict[str, Any]
    position: int
    closed: bool
    strict: bool


def _reply_found_in(text: str, fields: _FieldNames) -> ModelReply:
    body = _without_reasoning(text)
    if _ARRAY_START.match(body):
        raise UnreadableReply(_ARRAY)
    best: tuple[tuple[int, ...], ModelReply] | None = None
    failure: tuple[bool, UnreadableReply] | None = None
    for candidate in _candidates(body):
        try:
            reply = _reply_from_candidate(candidate, fields)
        except UnreadableReply as exc:
            failure = _more_telling(failure, candidate, exc)
            continue
        rank = _rank(candidate, reply, fields)
        if best is None or rank > best[0]:
            best = (rank, reply)
    if best is not None:
        return best[1]
    if failure is not None:
        raise failure[1]
    raise UnreadableReply(_ONLY_REASONING if "{" in text and "{" not in body else _NO_OBJECT)


def _reply_from_candidate(candidate: _Candidate, fields: _FieldNames) -> ModelReply:
    reply = _reply_from_object(candidate.value, fields, cut_off=not candidate.closed)
    if not candidate.closed and not (reply.changes or reply.reply or reply.questions):
        raise UnreadableReply(_CUT_OFF)
    return reply


def _rank(candidate: _Candidate, reply: ModelReply, fields: _FieldNames) -> tuple[int, ...]:
    """Higher is better: wrapper, form, `{}`; then form fields, closed, strict, later."""
    if _wrapper_values(candidate.value):
        tier = 2
    elif candidate.value:
        tier = 1
    else:
        tier = 0
    return (
        tier,
        fields.count_in(reply.changes),
        candidate.closed,
        candidate.strict,
        candidate.position,
    )


def _more_telling(
    failure: tuple[bool, UnreadableReply] | None, candidate: _Candidate, exc: UnreadableReply
) -> tuple[bool, UnreadableReply]:
    """The failure to report: one from an object with wrapper keys beats one from stray braces."""
    wrapped = bool(_wrapper_values(candidate.value))
    if failure is None or (wrapped and not failure[0]):
        return (wrapped, exc)
    return failure


def _without_reasoning(text: str) -> str:
    """`text` without `<think>…</think>` blocks; an unclosed `<think>` keeps what follows it."""
    pieces: list[str] = []
    kept_from = 0
    opened_at: int | None = None
    for tag in _THINK_TAG.finditer(text):
        closing = bool(tag.group(1))
        if opened_at is None and not closing:
            pieces.append(text[kept_from : tag.start()])
            opened_at = tag.end()
        elif opened_at is not None and closing:
            opened_at = None
            kept_from = tag.end()
        elif opened_at is None:  # a closing tag alone: the provider cut the opening one off
            pieces = []
            kept_from = tag.end()
    pieces.append(text[kept_from:] if opened_at is None else text[opened_at:])
    return "\n".join(pieces)


# --- finding objects in text -----------------------------------------------------------------


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    closed: bool
    depth: int  # deepest nesting of braces and brackets
    complete_end: int  # where the last complete member ends: `end` unless unclosed


def _candidates(body: str) -> list[_Candidate]:
    """Every JSON object in `body`, inside code fences first (they bound a broken object)."""
    spans: dict[int, tuple[str, _Span, bool]] = {}
    for offset, segment, cut_off in _segments(body):
        for span in _spans_with_rescans(segment):
            spans.setdefault(offset + span.start, (segment, span, cut_off))
    found: list[_Candidate] = []
    budget = _RepairBudget()
    for position in sorted(spans, reverse=True):  # the answer is usually last: repair it first
        segment, span, cut_off = spans[position]
        source = segment[span.start : span.complete_end if cut_off else span.end]
        value, strict = _value_of(source, span, budget)
        if isinstance(value, dict):
            found.append(_Candidate(value, position, span.closed, strict))
    return found


def _segments(body: str) -> Iterator[tuple[int, str, bool]]:
    """(offset, text, whether the text was cut off) of each fence's content, then of `body`.

    In text that was cut off (by the model's token limit), the member of an unclosed object that
    was cut in the middle (a port `54` of `5432`, half a path) is dropped rather than completed.
    """
    for fence in _FENCE.finditer(body):
        yield (
            fence.start(1),
            fence.group(1),
            not fence.group(0).endswith("```"),
        )
    yield 0, body, True


def _spans_with_rescans(text: str) -> Iterator[_Span]:
    """Object spans; after an unclosed one, look again just past its `{` (it may be stray prose).

    A rescan yields only closed spans: the unclosed tail is already covered by the first one.
    """
    begin = 0
    for rescan in range(_MAX_RESCANS + 1):
        last: _Span | None = None
        for span in _object_spans(text, begin):
            last = span
            if span.closed or not rescan:
                yield span
        if last is None or last.closed:
            return
        begin = last.start + 1


def _object_spans(text: str, begin: int = 0) -> Iterator[_Span]:
    """Top-level `{...}` spans from `begin`, skipping braces in strings and comments; linear.

    An unclosed span runs to the end; its `complete_end` is after its last `{ [ , ] }`.
    """
    depth = brackets = deepest = start = skip_to = boundary = 0
    quote = ""
    for token in _TOKEN.finditer(text, begin):
        at, char = token.start(), token.group()
        if at < skip_to:
            continue
        if depth == 0:
            if char == "{":
                start, depth, brackets, deepest, boundary = at, 1, 0, 1, at + 1
        elif quote:
            if char == "\\":
                skip_to = at + 2
            elif (char == quote and _closes_string(text, at)) or (char == "\n" and quote == "'"):
                quote = ""
        elif char == '"' or (char == "'" and _opens_string(text, at)):
            quote = char
        elif char in ("//", "/*"):
            skip_to = _comment_end(text, at)
        elif char in "{[,]":
            depth += char == "{"
            brackets = max(brackets + (char == "[") - (char == "]"), 0)
            deepest = max(deepest, depth + brackets)
            boundary = at + 1
        elif char == "}":
            depth -= 1
            boundary = at + 1
            if depth == 0:
                yield _Span(start, at + 1, True, deepest, at + 1)
    if depth:
        yield _Span(start, len(text), False, deepest, boundary)


def _opens_string(text: str, at: int) -> bool:
    """Whether the `'` at `at` opens a string: only after `{ [ , :`, so apostrophes do not."""
    before = at - 1
    while before >= 0 and text[before] in " \t\r\n":
        before -= 1
    return before >= 0 and text[before] in "{[,:"


def _closes_string(text: str, at: int) -> bool:
    """Whether the quote at `at` closes its string: only before `: , } ] " '`, a comment or the
    end, so that a stray quote inside a value (`"it"s"`, `'it's'`) does not."""
    after = at + 1
    while after < len(text) and text[after] in " \t\r\n":
        after += 1
    return after == len(text) or text[after] in ":,}]\"'/#"


def _comment_end(text: str, at: int) -> int:
    if text.startswith("//", at):
        end = text.find("\n", at)
        return len(text) if end < 0 else end
    end = text.find("*/", at + 2)
    return len(text) if end < 0 else end + 2


class _RepairBudget:
    """How much more text json_repair may see while one answer is read."""

    def __init__(self) -> None:
        self.chars_left = _REPAIR_BUDGET_CHARS

    def spend(self, source: str, span: _Span) -> bool:
        """Whether json_repair may read `source`: small, shallow, with a `:`, within budget."""
        if (
            len(source) > min(_MAX_REPAIR_CHARS, self.chars_left)
            or span.depth > _MAX_REPAIR_DEPTH
            or ":" not in source
        ):
            return False
        self.chars_left -= len(source)
        return True


def _value_of(source: str, span: _Span, budget: _RepairBudget) -> tuple[Any, bool]:
    """The JSON value in `source` (`_UNREAD` if none) and whether it was strict JSON."""
    value = _strict_value(source)
    if value is not _UNREAD:
        return value, True
    value = _strict_value(_cleaned(source, close=not span.closed))
    if value is _UNREAD and budget.spend(source, span):
        value = _repaired(source)
    return value, False


def _strict_value(source: str) -> Any:
    try:
        return _DECODER.decode(source)
    except (ValueError, RecursionError):
        return _UNREAD


def _cleaned(source: str, *, close: bool) -> str:
    """`source` with the usual defects fixed in one linear pass; maybe still not JSON.

    Comments are dropped, single-quoted strings and bare keys double-quoted, Python's
    `True`/`False`/`None` spelt as JSON, trailing commas dropped and, with `close`, the brackets
    left open closed.
    """
    out: list[str] = []
    closers: list[str] = []
    for lexeme in _LEXEME.finditer(source):
        kind, text = lexeme.lastgroup, lexeme.group()
        if kind == "comment":
            continue
        if kind == "single":
            text = _double_quoted(text[1:-1])
        elif kind == "key":
            text = f'"{text}"'
        elif kind == "word":
            text = _PYTHON_WORDS.get(text, text)
        elif kind == "open":
            closers.append("}" if text == "{" else "]")
        elif kind == "close":
            _drop_trailing_comma(out)
            if closers:
                closers.pop()
        out.append(text)
    if close:
        _drop_trailing_comma(out)
        out.extend(reversed(closers))
    return "".join(out)


def _double_quoted(inner: str) -> str:
    def escaped(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return '\\"'
        return "'" if match.group(1) == "'" else match.group(0)

    return '"' + _SINGLE_QUOTED_ESCAPE.sub(escaped, inner) + '"'


def _drop_trailing_comma(out: list[str]) -> None:
    at = len(out) - 1
    while at >= 0 and out[at].isspace():
        at -= 1
    if at >= 0 and out[at] == ",":
        del out[at]


def _repaired(source: str) -> Any:
    try:
        return json_repair.loads(source, skip_json_loads=True)
    except Exception:  # json_repair is a heuristic: any failure means "not readable"
        return _UNREAD


# --- reading the chosen object ---------------------------------------------------------------


def _reply_from_object(
    obj: dict[str, Any], fields: _FieldNames, *, cut_off: bool = False
) -> ModelReply:
    wrapper = _wrapper_values(obj)
    rest = _with_canonical_keys(
        {key: value for key, value in obj.items() if _folded(key) not in _WRAPPER_KEYS}, fields
    )
    reply = _reply_text(wrapper.get("reply"))
    questions = _questions(wrapper.get("questions"))
    if "changes" in wrapper:
        changes = _changes(wrapper["changes"], fields, cut_off=cut_off)
        strays = {k: v for k, v in rest.items() if k in fields.names and k not in changes}
        return ModelReply({**changes, **strays}, reply, questions, "wrapper")
    if fields.count_in(rest):  # form fields at the top, next to "reply"/"questions"
        return ModelReply(rest, reply, questions, "form")
    if wrapper or not obj:
        return ModelReply({}, reply, questions, "wrapper")
    raise UnreadableReply(
        f'The JSON object had neither "changes" nor any form field (it had {_some_keys(obj)}).'
    )


def _wrapper_values(obj: dict[str, Any]) -> dict[str, Any]:
    """`changes`/`reply`/`questions` in any case; the lower-case spelling wins a tie."""
    found: dict[str, Any] = {}
    for key, value in obj.items():
        folded = _folded(key)
        if folded in _WRAPPER_KEYS and (folded not in found or key == folded):
            found[folded] = value
    return found


def _folded(key: str) -> str:
    return key.strip().casefold()


def _with_canonical_keys(obj: dict[str, Any], fields: _FieldNames) -> dict[str, Any]:
    """`obj` with form-field keys in their own spelling (`Image_Name` → `image_name`)."""
    result: dict[str, Any] = {}
    for key, value in obj.items():
        name = fields.canonical(key)
        if name not in result or key == name:
            result[name] = value
    return result


def _changes(value: Any, fields: _FieldNames, *, cut_off: bool = False) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return _with_canonical_keys(value, fields)
    if isinstance(value, str):
        return _with_canonical_keys(_object_in_string(value), fields)
    if isinstance(value, list):
        return _with_canonical_keys(_folded_items(value, cut_off=cut_off), fields)
    raise UnreadableReply(f'"changes" was a JSON {_kind(value)}, not an object of fields.')


def _folded_items(items: list[Any], *, cut_off: bool = False) -> dict[str, Any]:
    """`[{"field": "cpu", "value": 0.5}, ...]` (the strict schema's shape) as `{"cpu": 0.5}`;
    a later item for the same field wins. In an answer that was `cut_off`, the last item,
    when it lost its field or value, is dropped: it is the one being written at the cut."""
    if cut_off and items and not _is_item(items[-1]):
        items = items[:-1]
    folded: dict[str, Any] = {}
    for item in items:
        if not _is_item(item):
            raise UnreadableReply(
                '"changes" was a list whose items are not {"field": ..., "value": ...} objects.'
            )
        folded[item["field"]] = item["value"]
    return folded


def _is_item(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("field"), str) and "value" in item


def _object_in_string(text: str) -> dict[str, Any]:
    """The object a `"changes"` string holds (`""` and `"null"` hold none)."""
    value = _strict_value(text.strip()) if text.strip() else None
    if value is _UNREAD:
        objects = _candidates(text)
        value = min(objects, key=lambda c: c.position).value if objects else _UNREAD
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise UnreadableReply('"changes" was a string that holds no JSON object.')


def _reply_text(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(text for text in map(_text_of, value) if text)
    return _text_of(value)


def _questions(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [text for text in map(_text_of, items) if text]


def _text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else type(value).__name__


def _some_keys(obj: dict[str, Any]) -> str:
    shown = ", ".join(json.dumps(key[:40], ensure_ascii=False) for key in list(obj)[:3])
    return shown + (", …" if len(obj) > 3 else "")
