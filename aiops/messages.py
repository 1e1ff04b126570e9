"""Every text a user reads in `Warnings[].message` and in an error's `error`, in English and in
Chinese (README "Warnings and messages"): the two tables, the warning codes, and the choice of
the request's language.

A site never writes a sentence: it names a message id with its parameters (`text("id", x=1)`),
which is rendered in the request's language when the answer is made. Parameters may themselves
be texts (a rule, the kind of a value), rendered in the same language. A plain English string
is accepted wherever a text is, and shown as it is in both languages (for sites not converted).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Literal, Union

Lang = Literal["en", "zh"]
LANGUAGES: tuple[Lang, ...] = ("en", "zh")

# The `code` of a Warnings entry: one per kind of event, stable across releases and languages.
WARNING_CODES: tuple[str, ...] = (
    "rounded_up",
    "clamped",
    "rewritten",
    "docker_command_image",
    "no_version_tag",
    "duplicate_replaced",
    "unknown_field_ignored",
    "kept_previous_value",
    "generated_secret",
    "key_in_request",
    "store_unavailable",
    "catalog_port_mismatch",
    "catalog_storage_missing",
    "catalog_env_missing",
    "catalog_memory_low",
    "catalog_tcp_public",
    "misplaced_secret",
    "answer_cut_off",
)
# The code of a value that could not be normalised at all (an error, never a warning itself:
# it becomes `kept_previous_value` or a 400).
INVALID_VALUE = "invalid_value"
NOTICE_CODES = frozenset({*WARNING_CODES, INVALID_VALUE})

Param = Union[str, int, float, "Text"]


@dataclass(frozen=True)
class Text:
    """A message id and its named parameters, not yet in any language."""

    id: str
    params: tuple[tuple[str, Param], ...] = ()

    def render(self, lang: Lang = "en") -> str:
        template = TABLES[lang][self.id]
        return template.format(**{name: render(value, lang) for name, value in self.params})

    def __str__(self) -> str:
        return self.render("en")


def text(message_id: str, **params: Param) -> Text:
    """The message `message_id` with its parameters; an unknown id fails at once."""
    if message_id not in EN:
        raise KeyError(f"no message {message_id!r}")
    return Text(message_id, tuple(params.items()))


def render(value: Param, lang: Lang = "en") -> str:
    """A text in `lang`; a plain string or number as it is."""
    return value.render(lang) if isinstance(value, Text) else str(value)


# --- the request's language ------------------------------------------------------------------

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def is_chinese(user_input: str | None) -> bool:
    """Whether a text is written in Chinese (holds CJK ideographs)."""
    return user_input is not None and _CJK.search(user_input) is not None


_Q_VALUE = re.compile(r"-?\d+(\.\d+)?")


def ranked_languages(accept_language: str | None) -> list[str]:
    """An Accept-Language header's tags, most preferred first (RFC 9110, as werkzeug ranks
    them: highest q first, header order on a tie, `*` last); tags with q=0 or a q that is not
    a number from 0 to 1 are left out."""
    ranked: list[tuple[bool, float, str]] = []
    for item in (accept_language or "")[:1000].split(","):
        tag, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                value = value.strip()
                quality = float(value) if _Q_VALUE.fullmatch(value) else -1.0
        if tag and 0 < quality <= 1:
            ranked.append((tag != "*", quality, tag))
    ranked.sort(key=lambda entry: entry[:2], reverse=True)  # stable: header order on a tie
    return [tag for _, _, tag in ranked]


def prefers_chinese(accept_language: str | None) -> bool:
    """Whether an Accept-Language header ranks `zh` (any region or script) above English;
    languages we have no texts for are skipped."""
    for value in ranked_languages(accept_language):
        primary = value.split("-", 1)[0].split("_", 1)[0].lower()
        if primary in LANGUAGES:
            return primary == "zh"
    return False


def language(user_input: str | None, accept_language: str | None) -> Lang:
    """Chinese when the request's text is Chinese or the browser prefers `zh`, else English."""
    return "zh" if is_chinese(user_input) or prefers_chinese(accept_language) else "en"


def placeholders(template: str) -> set[str]:
    """The named parameters a template uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


# --- the tables ----------------------------------------------------------------------------------
# Keys: message ids. Both tables have the same keys and, per key, the same placeholders
# (tests/test_messages.py). Literal braces are doubled.

EN: dict[str, str] = {
    # words used inside other messages
    "spoken_tcp": "plain TCP",
    "spoken_udp": "UDP",
    "spoken_https": "HTTPS itself (TLS inside the container)",
    "spoken_grpc": "gRPC",
    "kind_null": "null",
    "kind_boolean": "a boolean",
    "kind_number": "a number",
    "kind_string": "a string",
    "kind_object": "an object",
    "kind_list": "a list",
    "kind_other": "{name}",
    "what_value_of": "the value of {name}",
    "what_path": "the path",
    "rule_choices": "use one of {choices}",
    "rule_app_name": (
        'use lower-case letters, digits and "-", starting with a letter, at most {max} characters'
    ),
    "rule_image": (
        'use [registry[:port]/]name[:tag][@digest], e.g. "nginx:1.27" or "ghcr.io/org/app:v2"'
    ),
    "rule_instance": "use a whole number from 1 to {max}",
    "rule_argv": "use a string or a list of strings",
    "rule_env_name": 'use letters, digits, "-", "_" and ".", not starting with a digit',
    "rule_env_shape": (
        'use a list of {{"name", "value"}}, an object {{"NAME": "value"}} or "NAME=value" lines'
    ),
    "rule_mount_path": (
        'use an absolute path of letters, digits, "_", "/", "." and "-", e.g. "/data"'
    ),
    "rule_capacity": 'use whole GiB from 1 to {max}, e.g. 10 or "10Gi"',
    "shape_configmap": 'objects {{"file_path", "file_content"}}',
    "shape_storage": 'objects {{"capacity", "value"}}',
    # the form: values that were changed (warnings)
    "rounded_up": "{name} {value} rounded up to {kept} ({rule})",
    "above_maximum": "{name} {value} is above the maximum; set to {kept}",
    "instance_out_of_range": "instance {value} is out of range; set to {kept} ({rule})",
    "capacity_below_minimum": "capacity {value} is below 1 GiB; set to 1 ({rule})",
    "app_name_rewritten": "app_name {value} became {name}; {rule}",
    "image_lower_cased": "image_name {value} became {image}: image names are lower-case",
    "image_of_docker_command": (
        "image_name {value} became {image}: only the image of a docker command is kept, "
        "its options and arguments (if any) are not applied"
    ),
    "image_without_tag": (
        "no version tag: `{repository}` follows `latest`; pin a version such as "
        "`{repository}:<version>` for repeatable deploys"
    ),
    "env_set_twice": "environment variable {name} is set twice; the last value is kept",
    "file_given_twice": "file {path} is given twice; the last one is kept",
    "mount_given_twice": "mount path {path} is given twice; the last one is kept",
    # the form: values that could not be read (errors)
    "form_not_object": "the form must be a JSON object; got {kind}",
    "app_name_not_string": "app_name must be a string; got {kind}; {rule}",
    "app_name_no_letter": "app_name {value} has no letter to keep; {rule}",
    "image_not_string": "image_name must be a string; got {kind}; {rule}",
    "image_command_unclear": (
        "image_name {value}: cannot tell the image in this docker command; "
        "give the image alone, {rule}"
    ),
    "image_empty": "image_name is empty; {rule}",
    "image_has_spaces": "image_name {value} contains spaces; {rule}",
    "image_not_reference": "image_name {value} is not an image reference; {rule}",
    "text_too_long": "{what} has {count} characters; at most {max} are allowed",
    "instance_not_whole": "instance {value} is not a whole number; {rule}",
    "cpu_not_cores": "cpu {value} is not a number of cores; {rule}",
    "cpu_not_positive": "cpu {value} must be more than 0 cores; {rule}",
    "memory_not_size": "memory {value} is not a size; {rule}",
    "memory_not_positive": "memory {value} must be more than 0; {rule}",
    "port_invalid": "container_port {value} is not a port; use a whole number from 1 to 65535",
    "public_access_invalid": "public_access {value} is not a yes/no value; use true or false",
    "argv_wrong_type": "{name} must be a string or a list; got {kind}; {rule}",
    "argv_item_wrong": "{name} item {index} is {kind}; {rule}",
    "env_wrong_type": "environment is {kind}; {rule}",
    "env_item_not_variable": "environment item {index} is not a variable; {rule}",
    "env_line_invalid": "environment line {number} {line} is not NAME=value",
    "env_name_invalid": "environment variable name {name} is not allowed; {rule}",
    "env_value_wrong": "environment variable {name} has {kind} as value; use a string",
    "env_too_many": "environment has {count} variables; at most {max} are allowed",
    "configmap_too_many": "configmap has {count} files; at most {max} are allowed",
    "storage_too_many": "storage has {count} volumes; at most {max} are allowed",
    "file_content_wrong": "file_content is {kind}; use the file's text as a string",
    "list_wrong_type": "{name} is {kind}; use a list of {shape}",
    "list_item_wrong": "{name} item {index} is {kind}; use {shape}",
    "path_wrong_type": "the path is {kind}; {rule}",
    "path_invalid": "path {path} is not allowed; {rule}",
    "capacity_not_size": "capacity {value} is not a size; {rule}",
    # one generation
    "unknown_field": "the model proposed a field the form does not have; ignored",
    "kept_previous_value": "kept the previous value: {reason}",
    "turn_not_saved": (
        "the conversation store is unreachable: this turn was not saved, "
        "so it cannot be continued with parent_message_id"
    ),
    "key_in_request": (
        "your API key is in the request: it was hidden from the model and is not stored "
        "with the conversation"
    ),
    "weak_secret_replaced": (
        "the model chose a weak value for this secret; replaced it with a random "
        "{length}-character value (change it if you have your own)"
    ),
    # the catalogue's facts
    "catalog_port": (
        "{image} listens on {listed}, not on {port}: "
        "use {suggested} unless the app is configured for another port"
    ),
    "catalog_no_storage": (
        "{image} keeps its data in {paths}: with no storage mounted, "
        "the data is lost on every restart"
    ),
    "catalog_storage_elsewhere": (
        "no storage is mounted on the data path of {image} ({paths}): "
        "its data is lost on every restart"
    ),
    "catalog_env_needed": "{image} needs {name}: {meaning}",
    "catalog_memory_low": (
        "{image} needs at least {need} of memory; {have} is likely to be killed for lack of memory"
    ),
    "catalog_tcp_public": (
        "port {port} of {image} speaks {spoken}, not plain HTTP: a public HTTPS address will not "
        "reach it; keep it internal or use the platform's TCP exposure"
    ),
    "misplaced_secret_kept": (
        "kept the previous value: the model's value held a secret placeholder that does not "
        "belong here (a secret is restored only where it was)"
    ),
    "misplaced_secret_dropped": (
        "dropped: the model's value held a secret placeholder that does not belong here "
        "(a secret is restored only where it was)"
    ),
    "answer_cut_off": (
        "the model's answer was cut off by its token limit: only its complete changes were "
        "applied; ask again for the rest"
    ),
    "model_budget_spent": (
        "The model did not answer within this request's time budget; try again, or ask "
        "for a smaller change."
    ),
    "model_timeout": (
        "The model did not answer within {seconds} s; try again, or ask for a smaller change."
    ),
    "wait_seconds": "wait {seconds} s",
    "wait_a_little": "wait a little",
    "provider_rate_limited": "The provider rate-limited this key; {wait} and try again.",
    "provider_unknown_model": (
        "The provider does not know the model {model}, or this key may not use it; "
        "choose another model (or check OPENAI_BASE_URL)."
    ),
    "provider_failed": "The model provider failed (HTTP {status}); try again in a moment.",
    "provider_stopped": "The model provider stopped the answer ({reason}); try again in a moment.",
    "provider_invalid_key": "The provider rejected the API key; check openai_token.",
    "provider_quota": (
        "The provider says this key's account is out of balance or quota; top it up (or "
        "raise its budget) at the provider, then try again."
    ),
    "provider_input_too_long": (
        "The request is too long for the model's context; shorten user_input (paste only "
        "the part of the docs that matters), or start a new conversation."
    ),
    "provider_content_filtered": (
        "The provider's content moderation refused the request or the answer; rephrase user_input."
    ),
    "provider_refused": (
        "The provider refused the request (HTTP {status}): a parameter the service sends "
        "does not suit this model or provider; the operator should check AIOPS_MODEL, "
        "AIOPS_EXTRA_BODY and OPENAI_BASE_URL."
    ),
    "provider_not_a_completion": (
        "The provider answered with something that is not a chat completion; check OPENAI_BASE_URL."
    ),
    "provider_unreachable": (
        "The model provider at {where} could not be reached ({cause}); check "
        "OPENAI_BASE_URL and that the provider is up, then try again."
    ),
    "cause_dns": "DNS lookup failed: the host name is unknown",
    "cause_tls": "TLS handshake failed: check the certificate, or http:// versus https://",
    "cause_refused": "connection refused: nothing listens at that address and port",
    "cause_closed": "the provider closed the connection",
    "cause_network": "network error",
    # errors (the `error` of a non-200 answer)
    "body_too_large": "The request body is larger than {max} bytes; shorten the pasted text.",
    "body_not_object": "The body must be a JSON object.",
    "body_too_deep": "The body is nested too deeply.",
    "body_value_problem": "{where} {what}.",
    "the_body": "The body",
    "value_out_of_range": "is a number out of range; use a finite number",
    "value_too_deep": "is nested more than {max} levels deep",
    "key_too_long": "The API key has {count} characters; at most {max} are allowed. Copy it again.",
    "body_not_unicode": "The body holds text that is not valid Unicode.",
    "body_not_json": "The body is not valid JSON: {reason} (line {line}, column {column}).",
    "body_json_constant": "The body is not valid JSON: {name} is no JSON value.",
    "json_expecting_value": "a value is missing",
    "json_property_name": "a property name in double quotes is missing",
    "json_colon": "a ':' is missing",
    "json_comma": "a ',' is missing",
    "json_unterminated_string": "a string is not closed",
    "json_extra_data": "more follows the JSON value",
    "json_control_character": "a control character is inside a string",
    "json_bad_escape": "a \\ escape is not valid",
    "json_trailing_comma": "a ',' stands before the end of a list or object",
    "json_malformed": "the text is malformed here",
    "body_json_number_too_long": "The body holds a number with too many digits; write it shorter.",
    "field_required": "{field} is required.",
    "field_invalid": "{field}: {detail}.",
    "field_not_string": "{field}: Input should be a valid string.",
    "field_not_object": "{field}: Input should be a valid dictionary.",
    "field_too_long": "{field}: String should have at most {max_length} characters.",
    "body_invalid": "{detail}.",
    "user_input_empty": (
        "user_input is empty (or only invisible characters): describe what to deploy or change"
    ),
    "input_too_long": "user_input has {count} characters; at most {max} are allowed.",
    "key_bad_characters": (
        "The API key has characters no key has (spaces, line breaks or non-ASCII); copy it again."
    ),
    "key_missing": (
        "No API key: send openai_token in the body or an 'Authorization: Bearer <key>' header."
    ),
    "healthz_method": "{method} is not allowed on /healthz; use GET.",
    "gen_method": "{method} is not allowed; POST a JSON body to /gen.",
    "get_only_method": "{method} is not allowed on {path}; use GET.",
    "page_not_shipped": "{path} is not part of this deployment (examples/ was not shipped).",
    "no_such_endpoint": "No such endpoint {path}; POST to /gen.",
    "internal_error": "Something went wrong on our side; try again.",
    "model_not_allowed": "model {model} is not allowed; use one of: {allowed}",
    "params_invalid": "params.{field}: {reason}",
    "store_unreachable": (
        "The conversation store is unreachable, so this conversation cannot be continued "
        "right now; try again shortly, or start a new conversation without parent_message_id."
    ),
    "conversation_not_found": (
        "parent_message_id is unknown or expired (or belongs to another key); "
        "start a new conversation without it."
    ),
    "model_output_unreadable": (
        "The model's answer could not be read twice ({detail}); try again or rephrase the request."
    ),
    # the rich form and the dialects (aiops.rich, aiops.dialects)
    "form_unknown": "form {value} is not a form dialect; use one of: {known}",
    "dialect_shape": "{name} is {kind}; use {shape}",
    "dialect_quantity": "{name} {value} is not a Kubernetes quantity; write it like {example}",
    "dialect_protocol": "protocol {value} is not one of {choices}",
    "dialect_replicas_or_hpa": (
        "quota gives both replicas and hpa; give replicas for a fixed number of instances or hpa "
        "for autoscaling, not both"
    ),
    "rich_port_number": "port {value} is not a port; use a whole number from 1 to 65535",
    "rich_ports_shape": (
        'ports must be a list of at most {max} {{"port", "protocol", "public"}} objects'
    ),
    "rich_port_protocol": "protocol {value} is not one of {choices}",
    "rich_port_public": "public {value} is not a boolean; use true or false",
    "rich_port_twice": "port {port}/{transport} was given twice; the last one is kept",
    "rich_ports_too_many": "{count} ports; at most {max} are allowed",
    "rich_autoscaling_rule": (
        'autoscaling must be null or {{"target": cpu, memory or gpu, "value": 1..100 (percent of '
        'the limit), "min_replicas", "max_replicas"}} with 1 <= min_replicas <= max_replicas <= '
        "{max}"
    ),
    "rich_registry_rule": (
        "a private registry needs a non-empty username, password and server address"
    ),
    "rich_gpu_rule": 'gpu must be null or {{"vendor", "type" (the GPU model), "amount": 1..{max}}}',
}

ZH: dict[str, str] = {
    "spoken_tcp": "纯 TCP",
    "spoken_udp": "UDP 协议",
    "spoken_https": "容器内自行终止的 HTTPS（TLS）",
    "spoken_grpc": "gRPC 协议",
    "kind_null": "null",
    "kind_boolean": "布尔值",
    "kind_number": "数字",
    "kind_string": "字符串",
    "kind_object": "对象",
    "kind_list": "列表",
    "kind_other": "{name}",
    "what_value_of": "{name} 的值",
    "what_path": "路径",
    "rule_choices": "可选值：{choices}",
    "rule_app_name": '请使用小写字母、数字和 "-"，以字母开头，最多 {max} 个字符',
    "rule_image": (
        "请使用 [registry[:port]/]name[:tag][@digest] 格式，"
        '例如 "nginx:1.27" 或 "ghcr.io/org/app:v2"'
    ),
    "rule_instance": "请使用 1 到 {max} 之间的整数",
    "rule_argv": "请使用字符串或字符串列表",
    "rule_env_name": '请使用字母、数字、"-"、"_" 和 "."，且不能以数字开头',
    "rule_env_shape": (
        '请使用 {{"name", "value"}} 列表、{{"NAME": "value"}} 对象或 "NAME=value" 多行文本'
    ),
    "rule_mount_path": '请使用由字母、数字、"_"、"/"、"." 和 "-" 组成的绝对路径，例如 "/data"',
    "rule_capacity": '请使用 1 到 {max} 之间的整数 GiB，例如 10 或 "10Gi"',
    "shape_configmap": '{{"file_path", "file_content"}} 对象',
    "shape_storage": '{{"capacity", "value"}} 对象',
    "rounded_up": "{name} {value} 已向上取整为 {kept}（{rule}）",
    "above_maximum": "{name} {value} 超过上限，已设为 {kept}",
    "instance_out_of_range": "instance {value} 超出范围，已设为 {kept}（{rule}）",
    "capacity_below_minimum": "capacity {value} 小于 1 GiB，已设为 1（{rule}）",
    "app_name_rewritten": "app_name {value} 已改为 {name}；{rule}",
    "image_lower_cased": "image_name {value} 已改为 {image}：镜像名必须小写",
    "image_of_docker_command": (
        "image_name {value} 已改为 {image}：docker 命令只保留镜像，其选项和参数（如有）不会生效"
    ),
    "image_without_tag": (
        "没有版本标签：`{repository}` 会跟随 `latest`；请固定一个版本，例如 "
        "`{repository}:<version>`，以便部署可重复"
    ),
    "env_set_twice": "环境变量 {name} 设置了两次，保留最后一个值",
    "file_given_twice": "文件 {path} 出现了两次，保留最后一个",
    "mount_given_twice": "挂载路径 {path} 出现了两次，保留最后一个",
    "form_not_object": "表单必须是 JSON 对象，收到的是{kind}",
    "app_name_not_string": "app_name 必须是字符串，收到的是{kind}；{rule}",
    "app_name_no_letter": "app_name {value} 中没有可保留的字母；{rule}",
    "image_not_string": "image_name 必须是字符串，收到的是{kind}；{rule}",
    "image_command_unclear": (
        "image_name {value}：无法从这条 docker 命令中确定镜像；请只填写镜像，{rule}"
    ),
    "image_empty": "image_name 为空；{rule}",
    "image_has_spaces": "image_name {value} 含有空格；{rule}",
    "image_not_reference": "image_name {value} 不是有效的镜像引用；{rule}",
    "text_too_long": "{what} 有 {count} 个字符，最多允许 {max} 个",
    "instance_not_whole": "instance {value} 不是整数；{rule}",
    "cpu_not_cores": "cpu {value} 不是有效的核数；{rule}",
    "cpu_not_positive": "cpu {value} 必须大于 0 核；{rule}",
    "memory_not_size": "memory {value} 不是有效的大小；{rule}",
    "memory_not_positive": "memory {value} 必须大于 0；{rule}",
    "port_invalid": "container_port {value} 不是有效端口；请使用 1 到 65535 之间的整数",
    "public_access_invalid": "public_access {value} 无法识别为开或关；请使用 true 或 false",
    "argv_wrong_type": "{name} 必须是字符串或列表，收到的是{kind}；{rule}",
    "argv_item_wrong": "{name} 第 {index} 项是{kind}；{rule}",
    "env_wrong_type": "environment 是{kind}；{rule}",
    "env_item_not_variable": "environment 第 {index} 项不是变量；{rule}",
    "env_line_invalid": "environment 第 {number} 行 {line} 不是 NAME=value 格式",
    "env_name_invalid": "环境变量名 {name} 不允许；{rule}",
    "env_value_wrong": "环境变量 {name} 的值是{kind}；请使用字符串",
    "env_too_many": "environment 有 {count} 个变量，最多允许 {max} 个",
    "configmap_too_many": "configmap 有 {count} 个文件，最多允许 {max} 个",
    "storage_too_many": "storage 有 {count} 个存储卷，最多允许 {max} 个",
    "file_content_wrong": "file_content 是{kind}；请把文件内容写成字符串",
    "list_wrong_type": "{name} 是{kind}；请使用由 {shape} 组成的列表",
    "list_item_wrong": "{name} 第 {index} 项是{kind}；请使用 {shape}",
    "path_wrong_type": "路径是{kind}；{rule}",
    "path_invalid": "路径 {path} 不允许；{rule}",
    "capacity_not_size": "capacity {value} 不是有效的大小；{rule}",
    "unknown_field": "模型提出了表单中没有的字段，已忽略",
    "kept_previous_value": "保留了原来的值：{reason}",
    "turn_not_saved": "会话存储无法访问：本轮没有保存，因此不能用 parent_message_id 继续",
    "key_in_request": "请求中含有你的 API 密钥：已对模型隐藏，也不会随会话保存",
    "weak_secret_replaced": (
        "模型为这个密钥选了一个弱值，已替换为 {length} 位的随机值（如有自己的值请修改）"
    ),
    "catalog_port": (
        "{image} 监听的是 {listed}，不是 {port}：除非应用配置了其他端口，否则请使用 {suggested}"
    ),
    "catalog_no_storage": "{image} 的数据保存在 {paths}：没有挂载存储，每次重启数据都会丢失",
    "catalog_storage_elsewhere": (
        "{image} 的数据路径（{paths}）上没有挂载存储：每次重启数据都会丢失"
    ),
    "catalog_env_needed": "{image} 需要 {name}：{meaning}",
    "catalog_memory_low": "{image} 至少需要 {need} 内存；{have} 很可能因内存不足被终止",
    "catalog_tcp_public": (
        "{image} 的端口 {port} 使用{spoken}而不是普通 HTTP：公网 HTTPS 地址无法访问它；"
        "请保持内部访问，或使用平台的 TCP 暴露方式"
    ),
    "misplaced_secret_kept": (
        "保留了原值：模型给出的值中含有不属于此处的密文占位符（密文只会还原到它原来的位置）"
    ),
    "misplaced_secret_dropped": (
        "已丢弃：模型给出的值中含有不属于此处的密文占位符（密文只会还原到它原来的位置）"
    ),
    "answer_cut_off": (
        "模型的回答因令牌上限被截断：只应用了其中完整的修改；请再问一次以完成其余部分"
    ),
    "model_budget_spent": "模型没有在这个请求的时间预算内回答；请重试，或要求更小的修改。",
    "model_timeout": "模型没有在 {seconds} 秒内回答；请重试，或要求更小的修改。",
    "wait_seconds": "等待 {seconds} 秒",
    "wait_a_little": "稍等片刻",
    "provider_rate_limited": "模型服务商对这个密钥限流了；请{wait}后重试。",
    "provider_unknown_model": (
        "模型服务商不认识模型 {model}，或这个密钥无权使用它；"
        "请换一个模型（或检查 OPENAI_BASE_URL）。"
    ),
    "provider_failed": "模型服务商出错（HTTP {status}）；请稍后重试。",
    "provider_stopped": "模型服务商中止了回答（{reason}）；请稍后重试。",
    "provider_invalid_key": "模型服务商拒绝了这个 API 密钥；请检查 openai_token。",
    "provider_quota": (
        "模型服务商表示这个密钥的账户余额或额度不足；请先在服务商处充值（或提高预算），再重试。"
    ),
    "provider_input_too_long": (
        "请求超出了模型的上下文长度；请缩短 user_input（只粘贴文档中相关的部分），或开始新会话。"
    ),
    "provider_content_filtered": "模型服务商的内容审核拒绝了这个请求或回答；请换一种说法。",
    "provider_refused": (
        "模型服务商拒绝了请求（HTTP {status}）：服务发送的某个参数不适合这个模型或服务商；"
        "请运维检查 "
        "AIOPS_MODEL、AIOPS_EXTRA_BODY 和 OPENAI_BASE_URL。"
    ),
    "provider_not_a_completion": "模型服务商返回的不是对话补全结果；请检查 OPENAI_BASE_URL。",
    "provider_unreachable": (
        "无法连接位于 {where} 的模型服务商（{cause}）；"
        "请检查 OPENAI_BASE_URL 以及服务商是否可用，然后重试。"
    ),
    "cause_dns": "DNS 解析失败：主机名不存在",
    "cause_tls": "TLS 握手失败：请检查证书，或 http:// 与 https:// 是否写错",
    "cause_refused": "连接被拒绝：该地址和端口上没有服务在监听",
    "cause_closed": "服务商关闭了连接",
    "cause_network": "网络错误",
    "body_too_large": "请求体超过 {max} 字节；请缩短粘贴的文本。",
    "body_not_object": "请求体必须是 JSON 对象。",
    "body_too_deep": "请求体嵌套过深。",
    "body_value_problem": "{where} {what}。",
    "the_body": "请求体",
    "value_out_of_range": "是超出范围的数字；请使用有限的数字",
    "value_too_deep": "嵌套超过了 {max} 层",
    "key_too_long": "API 密钥有 {count} 个字符，最多允许 {max} 个；请重新复制。",
    "body_not_unicode": "请求体中含有无效的 Unicode 文本。",
    "body_not_json": "请求体不是有效的 JSON：{reason}（第 {line} 行，第 {column} 列）。",
    "body_json_constant": "请求体不是有效的 JSON：{name} 不是 JSON 的值。",
    "json_expecting_value": "缺少一个值",
    "json_property_name": "缺少用双引号括起的属性名",
    "json_colon": "缺少“:”",
    "json_comma": "缺少“,”",
    "json_unterminated_string": "字符串没有结束",
    "json_extra_data": "JSON 值之后还有多余的内容",
    "json_control_character": "字符串中有控制字符",
    "json_bad_escape": "“\\”转义无效",
    "json_trailing_comma": "列表或对象结尾前多了“,”",
    "json_malformed": "此处格式有误",
    "body_json_number_too_long": "请求体中有位数过多的数字，请写短一些。",
    "field_required": "缺少必填项 {field}。",
    "field_invalid": "{field}：{detail}。",
    "field_not_string": "{field}：必须是字符串。",
    "field_not_object": "{field}：必须是 JSON 对象。",
    "field_too_long": "{field}：最多 {max_length} 个字符。",
    "body_invalid": "{detail}。",
    "user_input_empty": "user_input 为空（或只有不可见字符）：请描述要部署或修改的内容",
    "input_too_long": "user_input 有 {count} 个字符，最多允许 {max} 个。",
    "key_bad_characters": (
        "API 密钥中含有密钥不会有的字符（空格、换行或非 ASCII 字符）；请重新复制。"
    ),
    "key_missing": (
        "缺少 API 密钥：请在请求体中发送 openai_token，"
        "或使用 'Authorization: Bearer <key>' 请求头。"
    ),
    "healthz_method": "/healthz 不允许 {method}；请使用 GET。",
    "gen_method": "不允许 {method}；请向 /gen 发送 POST 请求和 JSON 请求体。",
    "get_only_method": "{path} 不允许 {method}；请使用 GET。",
    "page_not_shipped": "{path} 不在这次部署中（没有附带 examples/）。",
    "no_such_endpoint": "没有 {path} 这个接口；请向 /gen 发送 POST 请求。",
    "internal_error": "服务内部出错；请重试。",
    "model_not_allowed": "不允许使用模型 {model}；可用的模型：{allowed}",
    "params_invalid": "params.{field}：{reason}",
    "store_unreachable": (
        "会话存储无法访问，暂时不能继续这个会话；请稍后重试，或不带 parent_message_id 开始新会话。"
    ),
    "conversation_not_found": (
        "parent_message_id 不存在或已过期（或属于另一个密钥）；请不带它开始新会话。"
    ),
    "model_output_unreadable": "模型的回答两次都无法解析（{detail}）；请重试或换个说法。",
    # 富表单与表单方言（aiops.rich、aiops.dialects）
    "form_unknown": "form {value} 不是已知的表单方言；请使用：{known}",
    "dialect_shape": "{name} 是{kind}；请使用{shape}",
    "dialect_quantity": "{name} {value} 不是 Kubernetes 资源数量；请写成 {example} 这样的形式",
    "dialect_protocol": "协议 {value} 不在 {choices} 之中",
    "dialect_replicas_or_hpa": (
        "quota 同时给了 replicas 和 hpa；固定实例数请给 replicas，弹性伸缩请给 hpa，只能二选一"
    ),
    "rich_port_number": "端口 {value} 不是有效端口；请使用 1 到 65535 之间的整数",
    "rich_ports_shape": 'ports 必须是最多 {max} 个 {{"port", "protocol", "public"}} 对象组成的列表',
    "rich_port_protocol": "协议 {value} 不在 {choices} 之中",
    "rich_port_public": "public {value} 不是布尔值；请使用 true 或 false",
    "rich_port_twice": "端口 {port}/{transport} 给了两次；保留最后一个",
    "rich_ports_too_many": "共 {count} 个端口；最多允许 {max} 个",
    "rich_autoscaling_rule": (
        'autoscaling 必须是 null 或 {{"target": cpu、memory 或 gpu, '
        '"value": 1..100（占上限的百分比）, "min_replicas", "max_replicas"}}，'
        "且 1 <= min_replicas <= max_replicas <= {max}"
    ),
    "rich_registry_rule": "私有镜像仓库需要非空的用户名、密码和服务器地址",
    "rich_gpu_rule": 'gpu 必须是 null 或 {{"vendor", "type"（GPU 型号）, "amount": 1..{max}}}',
}

TABLES: dict[Lang, dict[str, str]] = {"en": EN, "zh": ZH}
