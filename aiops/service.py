"""One generation, start to end (README "How a request is served"): the only place that knows
the order of the steps."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from aiops import bounds, catalog, clock, dialects, instant, llm, prompt, rich, secret_values
from aiops.api import ApiError, GenAnswer, GenRequest, Usage, Warning_
from aiops.app import App
from aiops.form import FIELDS, Limits, Normalised, Notice, changed_fields, dumps_form, normalise
from aiops.messages import Lang, language, text
from aiops.provider_errors import Failure
from aiops.reply import ModelReply, UnreadableReply, parse_reply
from aiops.settings import Settings
from aiops.store import (
    Exchange,
    Store,
    StoreUnavailable,
    Turn,
    branch_history,
    hash_key,
    lineage,
)

_CJK = re.compile(r"[\u3400-\u9fff]")
# Kept in a saved turn, so that a history never carries whole pasted documents.
_SAVED_INPUT_CHARS = 2000
# What the model may say back: a reply of a few sentences, a few short questions.
REPLY_MAX_CHARS = 1000
QUESTIONS_MAX = 10
QUESTION_MAX_CHARS = 300
# A model call's failure → the API's error code (README "The API").
_CODE_OF_FAILURE: dict[Failure, str] = {
    Failure.INVALID_KEY: "invalid_token",
    Failure.QUOTA: "quota_exceeded",
    Failure.RATE_LIMITED: "rate_limited",
    Failure.INPUT_TOO_LONG: "input_too_long",
    Failure.CONTENT_FILTERED: "content_filtered",
    Failure.TIMEOUT: "upstream_timeout",
}
CUT_OFF_WARNING = Notice("Changes", "answer_cut_off", text("answer_cut_off"))


def api_error(error: llm.ModelError) -> ApiError:
    """The answer for a failed model call; every failure not listed is a 502 upstream_error."""
    code = _CODE_OF_FAILURE.get(error.failure, "upstream_error")
    retry_after = str(error.retry_after) if error.retry_after else None
    return ApiError(code, error.text, error.field, retry_after=retry_after)


@dataclass(frozen=True)
class Current:
    """The form as the request gives it, in the form the model works in (flat for the `aiops`
    dialect, else rich), with the warnings of reading it, and what the dialect's document keeps
    beyond it (`carry`, {} for `aiops`; never changed: an answer gets a carry of its own)."""

    form: dict[str, Any]
    warnings: list[Notice]
    carry: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    """What one answer (the model's or an instant edit) did to the form, and the carry its
    document is written with."""

    form: dict[str, Any]
    warnings: list[Notice]
    errors: list[Notice]
    reply: str = ""
    questions: list[str] = field(default_factory=list)
    carry: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReaskPolicy:
    """The one re-ask (README "How a request is served"): an unreadable first answer or one with
    invalid values is asked again once, with only what was wrong. When the first answer was
    usable (it had errors, but could be read), a re-ask whose call fails with one of
    `survivable`, or whose answer cannot be read while `unreadable_keeps_first`, keeps the first
    answer; otherwise the failure is the request's."""

    survivable: frozenset[str] = frozenset({"upstream_timeout", "upstream_error", "rate_limited"})
    unreadable_keeps_first: bool = True

    def keeps_first(self, failure: ApiError | UnreadableReply) -> bool:
        """Whether a usable first answer stands after the re-ask failed with `failure`."""
        if isinstance(failure, UnreadableReply):
            return self.unreadable_keeps_first
        return failure.code in self.survivable


REASK = ReaskPolicy()


@dataclass
class Trace:
    """Facts about one generation, for the request log (no user text, no key)."""

    model: str = ""
    usage: Usage = field(default_factory=Usage)
    history_turns: int = 0
    retried: bool = False
    provider: dict[str, str] = field(default_factory=dict)  # an unreachable provider: url, cause


def choose_model(requested: str | None, settings: Settings) -> str:
    if requested is None:
        return settings.model
    if requested not in settings.allowed_models:
        allowed = ", ".join(settings.allowed_models)
        raise ApiError(
            "invalid_request",
            text("model_not_allowed", model=repr(requested), allowed=allowed),
            "model",
        )
    return requested


def refuse_params(errors: list[Notice]) -> None:
    """A value of the request's form that cannot be read is the caller's to fix: 400 naming it."""
    if errors:
        first = errors[0]
        raise ApiError(
            "invalid_request",
            text("params_invalid", field=first.field, reason=first.text),
            f"params.{first.field}",
        )


def load_parent(request: GenRequest, key_hash: str, store: Store) -> Turn | None:
    """The turn the request continues (None: a new conversation)."""
    if request.parent_message_id is None:
        return None
    try:
        parent = store.load(request.parent_message_id, key_hash)
    except StoreUnavailable:
        raise ApiError("store_unavailable", text("store_unreachable")) from None
    if parent is None:
        raise ApiError(
            "conversation_not_found", text("conversation_not_found"), "parent_message_id"
        )
    return parent


def choose_dialect(name: str | None) -> dialects.Dialect:
    try:
        return dialects.get(name)
    except dialects.UnknownDialect as unknown:
        raise ApiError(
            "invalid_request", text("form_unknown", value=repr(name), known=str(unknown)), "form"
        ) from None


def apply_reply(
    reply: ModelReply,
    base: dict[str, Any],
    limits: Limits,
    fields: Collection[str] = FIELDS,
    normaliser: Callable[..., Normalised] = normalise,
) -> Outcome:
    """Merge the model's changes into `base` and normalise; failing fields keep base's values."""
    changes = dict(reply.changes)
    warnings: list[Notice] = []
    if reply.shape == "wrapper":
        changes = {k: v for k, v in changes.items() if v is not None}
    for key in [k for k in changes if k not in fields]:
        if key not in base or base[key] != changes[key]:
            warnings.append(Notice(key, "unknown_field_ignored", text("unknown_field")))
        del changes[key]
    merged = normaliser({**base, **changes}, limits, previous=base)
    return Outcome(
        form=merged.form,
        warnings=warnings + merged.warnings,
        errors=merged.errors,
        reply=prompt.clip(reply.reply.strip(), REPLY_MAX_CHARS),
        questions=[
            prompt.clip(q.strip(), QUESTION_MAX_CHARS) for q in reply.questions if q.strip()
        ][:QUESTIONS_MAX],
    )


def _top_field(name: str) -> str:
    """`environment.X` → `environment`, `storage[1].value` → `storage`."""
    return re.split(r"[.\[]", name, maxsplit=1)[0]


def _dedupe(notices: list[Notice]) -> list[Notice]:
    return list(dict.fromkeys(notices))


def recent(parent: Turn | None, turns: int) -> list[Exchange]:
    """The last `turns` exchanges of the branch, oldest first."""
    return parent.history[-turns:] if parent and turns else []


def settle(outcome: Outcome) -> Outcome:
    """After the one re-ask, remaining errors become warnings: those fields kept their value."""
    kept = [
        Notice(e.field, "kept_previous_value", text("kept_previous_value", reason=e.text))
        for e in outcome.errors
    ]
    return replace(outcome, warnings=outcome.warnings + kept, errors=[])


def still_true(warnings: list[Notice], replaced: Collection[str]) -> list[Notice]:
    """The warnings on fields not `replaced`: a note that `nginx` has no tag is wrong once the
    answer's image is `mysql:8.4`."""
    return [w for w in warnings if _top_field(w.field) not in replaced]


def combined(first: Outcome, fixed: Outcome) -> Outcome:
    """The re-ask's answer over the first one: the first's warnings on fields it left alone."""
    return replace(
        fixed,
        warnings=still_true(first.warnings, changed_fields(first.form, fixed.form))
        + fixed.warnings,
        reply=fixed.reply or first.reply,
        questions=list(dict.fromkeys(first.questions + fixed.questions)),
    )


def _rich_port(port: catalog.Port) -> dict[str, Any]:
    """A catalogue port in the rich form: public only when it is the image's web UI."""
    protocol = port.application if port.application in rich.WEB_PROTOCOLS else port.protocol
    return {"port": port.number, "protocol": protocol, "public": port.web_ui and port.http}


def default_reply(user_input: str, changes: dict[str, Any]) -> str:
    chinese = bool(_CJK.search(user_input))
    names = "、".join(changes) if chinese else ", ".join(changes)
    if not changes:
        return "表单无需修改。" if chinese else "No change to the form was needed."
    return f"已更新：{names}。" if chinese else f"Updated {names}."


class Generation:
    """Serves one POST /gen: `run` is the list of steps, each returning its value. `trace` is the
    one record the steps write to (for the request's log line, kept even when a step fails)."""

    def __init__(
        self,
        request: GenRequest,
        api_key: str,
        app: App,
        lang: Lang | None = None,
        reask: ReaskPolicy = REASK,
    ) -> None:
        self.request = request
        # The language of the answer's warnings: given by the edge (user_input, Accept-Language)
        self.language = lang or language(request.user_input, None)
        self.api_key = api_key
        self.app = app
        self.settings = settings = app.settings
        self.store: Store = app.store
        self.catalog = app.catalog
        self.reask = reask
        self.dialect = choose_dialect(request.form)
        self.rich_form = self.dialect.name != dialects.DEFAULT
        self.limits = self.dialect.limits(settings.limits())
        self.context = dialects.Context(domain=settings.launchpad_domain)
        self.trace = Trace()
        budget = settings.request_deadline_s
        self.deadline = clock.now() + budget if budget is not None else None

    def run(self) -> GenAnswer:
        request = self.request
        model = self.trace.model = choose_model(request.model, self.settings)
        current = self.current()  # 1. the form as it stands
        key_hash = hash_key(self.api_key)
        parent = load_parent(request, key_hash, self.store)  # 2. the conversation so far
        history = recent(parent, self.settings.history_turns)
        self.trace.history_turns = len(history)
        mask = self.secret_mask(current.form, parent, history)
        outcome = self.instant(current, parent)  # an exact edit needs no model
        if outcome is None:
            messages = self.messages(current.form, history)  # 3. the messages
            outcome = self.ask(messages, current, model, mask)  # 4.-5. ask, merge, re-ask once
        else:
            model = self.trace.model = instant.MODEL
        form = self.with_catalog_ports(outcome.form, current.form)
        form, generated = secret_values.replace_weak_secrets(  # 6. secrets
            form, current.form, request.user_input
        )
        answered = changed_fields(current.form, form)  # against the form the model works in
        warnings = still_true(current.warnings, answered) + outcome.warnings
        warnings += generated + self.catalog_warnings(form)
        document, changes = self.answer_document(current, form, outcome.carry)
        # The history (what the model sees on later turns) is in the form the model works in.
        told = answered if self.rich_form else changes
        reply = outcome.reply or default_reply(request.user_input, changes)
        turn = self.new_turn(parent, key_hash, current.form, form, told, reply, model)
        warnings += self.saved(turn)  # 7. save, answer
        if self.rich_form:
            warnings = [dialects.renamed(w, self.dialect.renames) for w in warnings]
        return GenAnswer(
            GenParamsStr=dumps_form(document),
            MessageId=turn.id,
            Changes=changes,
            Reply=reply,
            Questions=outcome.questions,
            Warnings=[Warning_.of(w, self.language) for w in _dedupe(warnings)],
            Usage=self.trace.usage,
            Model=model,
        )

    def current(self) -> Current:
        """The request's form in the form the model works in: flat for the `aiops` dialect,
        else the rich form read from the dialect's document (its carry kept for the answer)."""
        params = self.request.params
        if not self.rich_form:
            read = normalise(params, self.limits)
            refuse_params(read.errors)
            return Current(read.form, self.key_warnings() + read.warnings)
        reading = self.dialect.read(params)
        read = rich.normalise(reading.values, self.limits)
        renames = self.dialect.renames
        refuse_params(reading.errors + [dialects.renamed(e, renames) for e in read.errors])
        return Current(read.form, self.key_warnings() + read.warnings, reading.carry)

    def instant(self, current: Current, parent: Turn | None) -> Outcome | None:
        """The outcome of an exact edit made without a model (README "Instant edits"), merged
        and normalised like a model's answer; None: the model's to answer. In a rich dialect
        the edit is recognised on the form's flat view and applied to its main port."""
        said = self.request.user_input
        pasted_key = secret_values.is_key(self.api_key) and self.api_key in said
        if not self.settings.instant_edits or pasted_key:
            return None
        form = current.form
        last = parent.changes if parent else None
        flat = rich.to_flat(form) if self.rich_form else form
        changes = instant.propose(said, flat, self.limits, self.catalog, last)
        if changes is None:
            return None
        if self.rich_form:
            changes = rich.changes_from_flat(changes, form)
        outcome = self.apply(ModelReply(changes, "", [], "wrapper"), form, current.carry)
        if outcome.errors:
            return None
        after = rich.to_flat(outcome.form) if self.rich_form else outcome.form
        return replace(outcome, reply=instant.describe(flat, after, said))

    def answer_document(
        self, current: Current, form: dict[str, Any], carry: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The answer's form in the request's dialect, and its changes against what the page
        sent (a field it did not send: against its default), so that a value the service
        normalised ("500Mi" → "512M") is a change too."""
        fields = self.dialect.fields
        sent = {k: v for k, v in self.request.params.items() if k in fields}
        if not self.rich_form:
            return form, changed_fields({**current.form, **sent}, form)
        document = self.dialect.write(form, carry, self.context)
        before = self.dialect.write(current.form, current.carry, self.context)
        return document, changed_fields({**before, **sent}, document)

    def with_catalog_ports(self, form: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
        """A new image of the catalogue whose ports the model left as they were gets every port
        the image serves, only its web UI public (rich dialects only)."""
        if not self.rich_form or form["image_name"] == before["image_name"]:
            return form
        if form["ports"] != before["ports"]:
            return form
        entry = self.catalog.for_image(form["image_name"])
        if entry is None:
            return form
        return {**form, "ports": [_rich_port(port) for port in entry.ports]}

    def secret_mask(
        self, form: dict[str, Any], parent: Turn | None, history: list[Exchange]
    ) -> secret_values.Mask:
        """Placeholders for every secret the conversation knows, and for the caller's key."""
        forms = [form] + ([parent.form_after] if parent else [])
        changes = [turn.changes for turn in history]
        known = secret_values.known_secrets(forms, changes)
        found = [v for f in forms for v in rich.secrets_of(f)]
        found = [v for v in found if len(v) >= secret_values.MASK_MIN_LENGTH]
        known = sorted({*known, *found}, key=len, reverse=True)
        if secret_values.is_key(self.api_key):
            known = sorted({*known, self.api_key}, key=len, reverse=True)
        # The key is revealed only where the user pasted it into this request's form: stored
        # forms and changes never hold it (without_key), and the text is no place of the form.
        return secret_values.Mask.for_forms(known, [*forms, *changes])

    def messages(self, form: dict[str, Any], history: list[Exchange]) -> list[dict[str, str]]:
        text = self.request.user_input
        # Images the request names; else the form's current image (an edit of that app). A
        # request naming another image replaces the current one, whose facts would be noise.
        known = self.catalog
        entries = known.match(text) or known.match("", form.get("image_name"))
        return prompt.build_messages(
            limits=self.limits,
            form=form,
            user_input=text,
            history=history,
            facts=catalog.facts_for_prompt(entries),
            rich_form=self.rich_form,
        )

    def catalog_warnings(self, form: dict[str, Any]) -> list[Notice]:
        entry = self.catalog.for_image(form["image_name"])
        if entry is None:
            return []
        if not self.rich_form:
            return catalog.check_form(form, entry)
        # The checks read the flat form: its port is the rich port on the image's main port
        # (else the first), public there only through a domain (a NodePort reaches TCP).
        ports = form["ports"]
        index = next((i for i, p in enumerate(ports) if p["port"] == entry.main_port.number), 0)
        flat_form = rich.to_flat(form)
        if ports:
            port = ports[index]
            flat_form["container_port"] = port["port"]
            flat_form["public_access"] = port["public"] and port["protocol"] in rich.WEB_PROTOCOLS
        flat_names = {"container_port": f"ports[{index}].port", "public_access": f"ports[{index}]"}
        return [
            Notice(flat_names.get(n.field, n.field), n.code, n.text)
            for n in catalog.check_form(flat_form, entry)
        ]

    def saved(self, turn: Turn) -> list[Notice]:
        """Save the turn; a store that is down costs the conversation, never the answer."""
        try:
            self.store.save(turn)
        except StoreUnavailable:
            return [Notice("MessageId", "store_unavailable", text("turn_not_saved"))]
        return []

    def key_warnings(self) -> list[Notice]:
        """A key pasted into the text or the form: hidden from the model and from the store."""
        if not secret_values.is_key(self.api_key):
            return []
        pasted = [
            name
            for name, value in (
                ("user_input", self.request.user_input),
                ("params", self.request.params),
            )
            if self.api_key
            in (value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
        ]
        return [Notice(name, "key_in_request", text("key_in_request")) for name in pasted]

    def call(
        self, messages: list[dict[str, str]], model: str, mask: secret_values.Mask
    ) -> llm.Completion:
        """One model call, with every known secret masked; its usage (and, when the provider
        could not be reached, where and why) goes to the trace."""
        try:
            completion = llm.complete(
                mask.hide_messages(messages),
                providers=self.app.providers,
                api_key=self.api_key,
                model=model,
                schema=(prompt.rich_answer_schema if self.rich_form else prompt.answer_schema)(
                    self.limits
                ),
                base_url=self.settings.openai_base_url,
                timeout_s=self.settings.llm_timeout_s,
                max_retries=self.settings.llm_max_retries,
                deadline=self.deadline,
                extra_body=self.settings.extra_body,
            )
        except llm.ModelError as error:
            self.trace.usage = self.trace.usage.add(Usage(llm_calls=error.calls))
            self.trace.provider = error.facts
            raise api_error(error) from None
        self.trace.usage = self.trace.usage.add(completion.usage)
        return completion

    def ask(
        self,
        messages: list[dict[str, str]],
        current: Current,
        model: str,
        mask: secret_values.Mask,
    ) -> Outcome:
        """Ask the model; an answer that cannot be read or has invalid values is asked again
        once, with only what was wrong (`self.reask` says what survives a failed re-ask)."""
        first_call = self.call(messages, model, mask)
        try:
            first: Outcome | None = self.applied(first_call, current.form, current.carry, mask)
            unreadable = ""
        except UnreadableReply as exc:
            first, unreadable = None, str(exc)
        if first is not None and not first.errors:
            return first
        self.trace.retried = True
        retry = prompt.retry_messages(
            messages, first_call.text, errors=first.errors if first else (), unreadable=unreadable
        )
        base, carry = (first.form, first.carry) if first else (current.form, current.carry)
        try:
            fixed = self.applied(self.call(retry, model, mask), base, carry, mask)
        except (ApiError, UnreadableReply) as failure:
            if first is not None and self.reask.keeps_first(failure):
                return settle(first)  # the first answer is usable: keep it
            if isinstance(failure, UnreadableReply):
                detail = str(failure)
                raise ApiError(
                    "bad_model_output", text("model_output_unreadable", detail=detail)
                ) from None
            raise
        return settle(combined(first, fixed) if first else fixed)

    def applied(
        self,
        completion: llm.Completion,
        base: dict[str, Any],
        carry: Mapping[str, Any],
        mask: secret_values.Mask,
    ) -> Outcome:
        """`completion` read and merged into `base`, the masked secrets revealed only in the
        places they came from; a cut-off answer says so in a warning."""
        outcome = self.apply(self.read(completion.text, mask), base, carry)
        form, misplaced = mask.reveal_form(outcome.form, base)
        warnings = outcome.warnings + misplaced
        if completion.cut_off:
            warnings.append(CUT_OFF_WARNING)
        return replace(outcome, form=form, warnings=warnings)

    def read(self, text: str, mask: secret_values.Mask) -> ModelReply:
        """The model's answer, parsed and bounded; placeholders in Reply and Questions are
        `[secret]`, those in the changes are revealed by `applied` where they belong."""
        fields = (*rich.FIELDS, *self.dialect.fields) if self.rich_form else FIELDS
        reply = parse_reply(text, fields)
        problem = bounds.first_problem(reply.changes, "changes")
        if problem is not None:
            where, what = problem
            raise UnreadableReply(f"The answer's {where} {what}; answer with plain form values.")
        # A provider knows the key: a known secret written out counts as its placeholder, which
        # `applied` reveals only where it belongs, and Reply and Questions show as `[secret]`.
        changes, said, questions = mask.hide_all(
            bounds.valid_text([reply.changes, reply.reply, reply.questions])
        )
        return ModelReply(
            changes=changes,
            reply=mask.scrub(said),
            questions=[mask.scrub(q) for q in questions],
            shape=reply.shape,
        )

    def apply(self, reply: ModelReply, base: dict[str, Any], carry: Mapping[str, Any]) -> Outcome:
        """The answer merged into `base`, in the form the model works in."""
        if not self.rich_form:
            return apply_reply(reply, base, self.limits)
        changes = reply.changes
        if reply.shape == "wrapper":  # null there means "unchanged"
            changes = {k: v for k, v in changes.items() if v is not None}
        changes, carry, errors = self.from_dialect(changes, base, carry)
        outcome = apply_reply(
            replace(reply, changes=changes), base, self.limits, rich.FIELDS, rich.normalise
        )
        return replace(outcome, errors=errors + outcome.errors, carry=carry)

    def from_dialect(
        self, changes: dict[str, Any], base: dict[str, Any], carry: Mapping[str, Any]
    ) -> tuple[dict[str, Any], Mapping[str, Any], list[Notice]]:
        """Changes written in the request's dialect (a model mirroring the form it was shown)
        as rich changes, with the carry of the document they make: the dialect's fields are
        read over the current document. An answer with any field only the dialect has is read
        in the dialect; others in the rich form."""
        fields = self.dialect.fields
        if not any(key in fields and key not in rich.FIELDS for key in changes):
            return changes, carry, []
        own = {key: value for key, value in changes.items() if key in fields}
        document = self.dialect.write(base, carry, self.context)
        reading = self.dialect.read(self.dialect.overlay(document, own))
        renames = self.dialect.renames
        converted = {
            name: value for name, value in reading.values.items() if renames.get(name, name) in own
        }
        rest = {key: value for key, value in changes.items() if key not in own}
        errors = [e for e in reading.errors if _top_field(e.field) in own]
        return {**converted, **rest}, reading.carry, errors

    def new_turn(
        self,
        parent: Turn | None,
        key_hash: str,
        before: dict[str, Any],
        after: dict[str, Any],
        changes: dict[str, Any],
        reply: str,
        model: str,
    ) -> Turn:
        """The turn to save, without the caller's key anywhere in it."""
        key = self.api_key
        before, after, changes, reply = secret_values.without_key(
            (before, after, changes, reply), key
        )
        user_input = secret_values.without_key(self.request.user_input, key)
        exchange = Exchange(user_input[:_SAVED_INPUT_CHARS], changes, reply)
        return Turn(
            id=str(uuid.uuid4()),
            parent_id=parent.id if parent else None,
            key_hash=key_hash,
            user_input=user_input,
            form_before=before,
            form_after=after,
            changes=changes,
            reply=reply,
            model=model,
            usage=self.trace.usage.model_dump(),
            history=branch_history(parent, exchange),
            ancestors=lineage(parent),
        )
