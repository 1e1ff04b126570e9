"""Provider conformance: for each provider of README "Providers", its documented error bodies
and reply shapes, replayed by the scripted model over real HTTP through the real openai SDK,
each with the status and code the caller gets and how many model calls were made.

The bodies are those collected (with sources) in the project's provider notes; each case says
which provider it stands for. A response format a provider rejects is scripted per rung of the
ladder (`rungs`), so a case also shows how far down the ladder the service went.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.fixtures.app import FAKE_KEY, START_FORM, edge_app, fresh_app, start_live_server
from tests.fixtures.model_server import NO_USAGE, Scripted, ScriptedModel

GOOD = json.dumps({"changes": {"memory": "128M"}, "reply": "Memory is now 128M.", "questions": []})
GOOD_IN_FENCE = f"Here is the JSON:\n```json\n{GOOD}\n```"


def err(
    message: str | None = None, type_: Any = "invalid_request_error", **extra: Any
) -> dict[str, Any]:
    """An OpenAI-style error envelope."""
    error: dict[str, Any] = {"message": message, "type": type_, "param": None, "code": None}
    error.update(extra)
    return {"error": {k: v for k, v in error.items() if v is not ... and k}}


def status(code: int, body: Any, **kwargs: Any) -> Scripted:
    if isinstance(body, str):
        return Scripted(status=code, raw=body.encode(), content_type="text/plain", **kwargs)
    return Scripted(status=code, body=body, **kwargs)


def message(**fields: Any) -> Scripted:
    return Scripted(message={"role": "assistant", **fields})


@dataclass
class Case:
    provider: str
    name: str
    answers: list[Scripted] = dataclasses.field(
        default_factory=list
    )  # in order, whatever the format
    status: int = 200
    code: str | None = None
    calls: int = 1
    field: str | None = None
    rungs: dict[str, Scripted] = dataclasses.field(default_factory=dict)  # per response format
    remembered: str = "json_schema"

    @property
    def id(self) -> str:
        return f"{self.provider}:{self.name}"


# --- the bodies -------------------------------------------------------------------------------

OPENAI_SCHEMA_UNSUPPORTED = status(
    400,
    err(
        "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this "
        "model. Learn more about supported models at the Structured Outputs guide: https://…"
    ),
)
OPENAI_INVALID_SCHEMA = status(
    400,
    err(
        "Invalid schema for response_format 'form_update': In context=(), 'additionalProperties' "
        "is required to be supplied and to be false.",
        param="response_format",
        code="invalid_json_schema",
    ),
)
OPENAI_NEEDS_JSON = status(
    400,
    err(
        "'messages' must contain the word 'json' in some form, to use 'response_format' of type "
        "'json_object'.",
        param="messages",
    ),
)
OPENAI_KEY = status(
    401,
    err(
        f"Incorrect API key provided: {FAKE_KEY}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    ),
)
OPENAI_QUOTA = status(
    429,
    err(
        "You exceeded your current quota, please check your plan and billing details. For more "
        "information on this error, read the docs: https://platform.openai.com/docs/guides/"
        "error-codes/api-errors.",
        type_="insufficient_quota",
        code="insufficient_quota",
    ),
    headers={"Retry-After": "20"},
)
OPENAI_RATE = status(
    429,
    err(
        "Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM): Limit "
        "30000, Used 29937, Requested 385. Please try again in 644ms.",
        type_="tokens",
        code="rate_limit_exceeded",
    ),
    headers={"Retry-After": "1", "x-ratelimit-remaining-tokens": "63"},
)
OPENAI_TOO_LARGE = status(
    429,
    err(
        "Request too large for gpt-4o in organization org-x on tokens per min (TPM): Limit "
        "30000, Requested 31538.",
        type_="tokens",
        code="rate_limit_exceeded",
    ),
)
OPENAI_NO_MODEL = status(
    404,
    err(
        "The model `gpt-4o` does not exist or you do not have access to it.",
        code="model_not_found",
    ),
)
OPENAI_CONTEXT = status(
    400,
    err(
        "This model's maximum context length is 8192 tokens. However, your messages resulted in "
        "8227 tokens. Please reduce the length of the messages.",
        param="messages",
        code="context_length_exceeded",
    ),
)
DEEPSEEK_NO_SCHEMA = status(
    400, err("This response_format type is unavailable now", code="invalid_request_error")
)
DASHSCOPE_NEEDS_JSON = status(
    400,
    err(
        "<400> InternalError.Algo.InvalidParameter: 'messages' must contain the word 'json' in "
        "some form, to use 'response_format' of type 'json_object'.",
        code="invalid_parameter_error",
    ),
)


def unsupported(param: str, text: str, code: str = "unsupported_value") -> Scripted:
    return status(400, err(text, param=param, code=code))


def usage(**extra: Any) -> dict[str, Any]:
    return {"prompt_tokens": 1500, "completion_tokens": 20, "total_tokens": 1520, **extra}


CASES: list[Case] = [
    # 1. OpenAI
    Case("openai", "strict json_schema", [Scripted(content=GOOD)]),
    Case(
        "openai",
        "json_schema unsupported by the model",
        rungs={"json_schema": OPENAI_SCHEMA_UNSUPPORTED, "json_object": Scripted(content=GOOD)},
        calls=2,
        remembered="json_object",
    ),
    Case(
        "openai",
        "strict schema rules",
        rungs={"json_schema": OPENAI_INVALID_SCHEMA, "json_object": Scripted(content=GOOD)},
        calls=2,
        remembered="json_object",
    ),
    Case(
        "openai",
        "json_object needs the word json",
        rungs={
            "json_schema": OPENAI_SCHEMA_UNSUPPORTED,
            "json_object": OPENAI_NEEDS_JSON,
            "text": Scripted(content=GOOD),
        },
        calls=3,
        remembered="text",
    ),
    Case(
        "openai",
        "max_tokens on a reasoning model",
        [
            unsupported(
                "max_tokens",
                "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
                "'max_completion_tokens' instead.",
                "unsupported_parameter",
            )
        ],
        status=502,
        code="upstream_error",
    ),
    Case(
        "openai",
        "temperature",
        [
            unsupported(
                "temperature",
                "Unsupported value: 'temperature' does not support 0.7 with this model. Only "
                "the default (1) value is supported.",
            )
        ],
        status=502,
        code="upstream_error",
    ),
    Case(
        "openai",
        "system role on o1-mini",
        [
            unsupported(
                "messages[0].role",
                "Unsupported value: 'messages[0].role' does not support 'system' with this model.",
            )
        ],
        status=502,
        code="upstream_error",
    ),
    Case(
        "openai",
        "refusal",
        [message(content=None, refusal="I'm sorry, I can't help with that.")],
        status=422,
        code="content_filtered",
    ),
    Case(
        "openai",
        "reasoning used the whole budget",
        [Scripted(content="", finish_reason="length"), Scripted(content=GOOD)],
        calls=2,
    ),
    Case("openai", "401", [OPENAI_KEY], 401, "invalid_token", field="openai_token"),
    Case("openai", "insufficient_quota", [OPENAI_QUOTA], 402, "quota_exceeded"),
    Case("openai", "rate limit", [OPENAI_RATE], 429, "rate_limited"),
    Case(
        "openai", "request too large", [OPENAI_TOO_LARGE], 400, "input_too_long", field="user_input"
    ),
    Case("openai", "404 model", [OPENAI_NO_MODEL], 502, "upstream_error", field="model"),
    Case("openai", "context", [OPENAI_CONTEXT], 400, "input_too_long", field="user_input"),
    Case(
        "openai",
        "cached prompt",
        [Scripted(content=GOOD, usage=usage(prompt_tokens_details={"cached_tokens": 1280}))],
    ),
    # 2. Azure OpenAI
    Case(
        "azure",
        "json_schema before 2024-08-01-preview",
        rungs={
            "json_schema": status(
                400,
                {
                    "error": {
                        "code": "BadRequest",
                        "message": "response_format value as json_schema is enabled only for "
                        "api versions 2024-08-01-preview and later",
                    }
                },
            ),
            "json_object": Scripted(content=GOOD),
        },
        calls=2,
        remembered="json_object",
    ),
    Case(
        "azure",
        "401",
        [
            status(
                401,
                {
                    "error": {
                        "code": "401",
                        "message": "Access denied due to invalid subscription key or wrong API "
                        "endpoint. Make sure to provide a valid key for an active subscription "
                        "and use a correct regional API endpoint for your resource.",
                    }
                },
            )
        ],
        401,
        "invalid_token",
        field="openai_token",
    ),
    Case(
        "azure",
        "deployment not found",
        [
            status(
                404,
                {
                    "error": {
                        "code": "DeploymentNotFound",
                        "message": "The API deployment for this resource does not exist. If you "
                        "created the deployment within the last 5 minutes, please wait a moment "
                        "and try again.",
                    }
                },
            )
        ],
        502,
        "upstream_error",
        field="model",
    ),
    Case(
        "azure",
        "429 with a day's Retry-After",
        [
            status(
                429,
                {
                    "error": {
                        "code": "429",
                        "message": "Requests to the ChatCompletions_Create Operation under Azure "
                        "OpenAI API version 2024-08-01-preview have exceeded token rate limit of "
                        "your current OpenAI S0 pricing tier. Please retry after 86400 seconds.",
                    }
                },
                headers={"Retry-After": "86400"},
            )
        ],
        429,
        "rate_limited",
    ),
    Case(
        "azure",
        "prompt filtered",
        [
            status(
                400,
                {
                    "error": {
                        "message": "The response was filtered due to the prompt triggering Azure "
                        "OpenAI's content management policy. Please modify your prompt and retry.",
                        "type": None,
                        "param": "prompt",
                        "code": "content_filter",
                        "status": 400,
                        "innererror": {
                            "code": "ResponsibleAIPolicyViolation",
                            "content_filter_result": {"hate": {"filtered": True}},
                        },
                    }
                },
            )
        ],
        422,
        "content_filtered",
    ),
    Case(
        "azure",
        "output filtered",
        [Scripted(content='{"changes": {"mem', finish_reason="content_filter")],
        422,
        "content_filtered",
    ),
    # 3. DeepSeek
    Case(
        "deepseek",
        "json_schema unavailable",
        rungs={"json_schema": DEEPSEEK_NO_SCHEMA, "json_object": Scripted(content=GOOD)},
        calls=2,
        remembered="json_object",
    ),
    Case(
        "deepseek",
        "json_schema unavailable, older servers (422)",
        rungs={
            "json_schema": status(
                422,
                "Failed to deserialize the JSON body into the target type: response_format: "
                "response_format.type `json_schema` is unavailable now at line 1 column 4242",
            ),
            "json_object": Scripted(content=GOOD),
        },
        calls=2,
        remembered="json_object",
    ),
    Case(
        "deepseek",
        "json_object needs the word json",
        rungs={
            "json_schema": DEEPSEEK_NO_SCHEMA,
            "json_object": status(
                400,
                err(
                    "Prompt must contain the word 'json' in some form to use 'response_format' "
                    "of type 'json_object'",
                    code="invalid_request_error",
                ),
            ),
            "text": Scripted(content=GOOD),
        },
        calls=3,
        remembered="text",
    ),
    Case("deepseek", "reasoner", [message(content=GOOD, reasoning_content="首先，用户想要…{")]),
    Case(
        "deepseek",
        "401",
        [
            status(
                401,
                err(
                    "Authentication Fails, Your api key: ****18b is invalid",
                    type_="authentication_error",
                    code="invalid_request_error",
                ),
            )
        ],
        401,
        "invalid_token",
        field="openai_token",
    ),
    Case(
        "deepseek",
        "402",
        [
            status(
                402,
                err("Insufficient Balance", type_="unknown_error", code="invalid_request_error"),
            )
        ],
        402,
        "quota_exceeded",
    ),
    Case(
        "deepseek",
        "model not exist (400)",
        [status(400, err("Model Not Exist", code="invalid_request_error"))],
        502,
        "upstream_error",
        field="model",
    ),
    Case(
        "deepseek",
        "context",
        [
            status(
                400,
                err(
                    "This model's maximum context length is 65536 tokens. However, you requested "
                    "69648 tokens (69648 in the messages, 0 in the completion). Please reduce the "
                    "length of the messages or completion.",
                    code="invalid_request_error",
                ),
            )
        ],
        400,
        "input_too_long",
        field="user_input",
    ),
    Case(
        "deepseek",
        "cache hit tokens",
        [
            Scripted(
                content=GOOD,
                usage=usage(prompt_cache_hit_tokens=1280, prompt_cache_miss_tokens=220),
            )
        ],
    ),
    Case(
        "deepseek",
        "503 overloaded, tried once more",
        [status(503, err("Server Overloaded")), status(503, err("Server Overloaded"))],
        502,
        "upstream_error",
        calls=2,
    ),
    Case(
        "deepseek",
        "insufficient_system_resource, tried once more",
        [
            Scripted(content='{"changes": {', finish_reason="insufficient_system_resource"),
            Scripted(content=GOOD),
        ],
        calls=2,
    ),
    # 4. DashScope / Qwen
    Case(
        "dashscope",
        "enable_thinking must be false",
        [
            status(
                400,
                {
                    "error": {
                        "code": "invalid_parameter_error",
                        "param": None,
                        "message": "parameter.enable_thinking must be set to false for "
                        "non-streaming calls",
                        "type": "invalid_request_error",
                    },
                    "id": "chatcmpl-x",
                    "request_id": "r-1",
                },
            )
        ],
        502,
        "upstream_error",
    ),
    Case(
        "dashscope",
        "stream only",
        [
            status(
                400,
                err(
                    "This model only support stream mode, please enable the stream parameter",
                    code="invalid_parameter_error",
                ),
            )
        ],
        502,
        "upstream_error",
    ),
    Case(
        "dashscope",
        "json_object needs the word json",
        rungs={
            "json_schema": DEEPSEEK_NO_SCHEMA,
            "json_object": DASHSCOPE_NEEDS_JSON,
            "text": Scripted(content=GOOD),
        },
        calls=3,
        remembered="text",
    ),
    Case(
        "dashscope",
        "data inspection",
        [
            status(
                400,
                {
                    "error": {
                        "code": "data_inspection_failed",
                        "param": None,
                        "message": "Input data may contain inappropriate content.",
                        "type": "data_inspection_failed",
                    },
                    "id": "chatcmpl-x",
                    "request_id": "r-2",
                },
            )
        ],
        422,
        "content_filtered",
    ),
    Case(
        "dashscope",
        "arrears (400)",
        [
            status(
                400,
                {
                    "error": {
                        "code": "Arrearage",
                        "param": None,
                        "message": "Access denied, please make sure your account is in good "
                        "standing.",
                        "type": "Arrearage",
                    }
                },
            )
        ],
        402,
        "quota_exceeded",
    ),
    Case(
        "dashscope",
        "input length",
        [
            status(
                400,
                err(
                    "<400> InternalError.Algo.InvalidParameter: Range of input length should be "
                    "[1, 204800]",
                    code="invalid_parameter_error",
                ),
            )
        ],
        400,
        "input_too_long",
        field="user_input",
    ),
    Case("dashscope", "reasoning_content", [message(content=GOOD, reasoning_content="好的…")]),
    Case(
        "dashscope",
        "cached tokens",
        [Scripted(content=GOOD, usage=usage(prompt_tokens_details={"cached_tokens": 1280}))],
    ),
    # 5. Zhipu GLM
    Case("glm", "json_schema accepted but fenced", [Scripted(content=GOOD_IN_FENCE)]),
    Case("glm", "<think> in content", [Scripted(content=f"<think>先想想 {{</think>{GOOD}")]),
    Case("glm", "empty content, reasoning", [message(content="", reasoning_content=GOOD)]),
    Case(
        "glm",
        "finish_reason sensitive",
        [Scripted(content="", finish_reason="sensitive")],
        422,
        "content_filtered",
    ),
    Case(
        "glm",
        "finish_reason network_error, tried once more",
        [Scripted(content="", finish_reason="network_error"), Scripted(content=GOOD)],
        calls=2,
    ),
    Case(
        "glm",
        "balance (429 code 1113)",
        [status(429, {"error": {"code": "1113", "message": "余额不足或无可用资源包,请充值。"}})],
        402,
        "quota_exceeded",
    ),
    Case(
        "glm",
        "moderation 1301",
        [
            status(
                400,
                {
                    "error": {
                        "code": "1301",
                        "message": "系统检测到输入或生成内容可能包含不安全或敏感内容，"
                        "请您避免输入易产生敏感内容的提示语，感谢您的配合。",
                    }
                },
            )
        ],
        422,
        "content_filtered",
    ),
    Case(
        "glm",
        "parameters 1210",
        [status(400, {"error": {"code": "1210", "message": "API 调用参数有误，请检查文档。"}})],
        502,
        "upstream_error",
    ),
    Case(
        "glm",
        "401",
        [status(401, {"error": {"code": "401", "message": "令牌已过期或验证不正确！"}})],
        401,
        "invalid_token",
        field="openai_token",
    ),
    Case(
        "glm",
        "500 network error, tried once more",
        [
            status(
                500, {"error": {"code": "1234", "message": "网络错误，错误id：x，请联系客服。"}}
            ),
            Scripted(content=GOOD),
        ],
        calls=2,
    ),
    # 9. SiliconFlow
    Case(
        "siliconflow",
        "model does not exist",
        [
            status(
                400,
                {
                    "code": 20012,
                    "message": "Model does not exist. Please check it carefully.",
                    "data": None,
                },
            )
        ],
        502,
        "upstream_error",
        field="model",
    ),
    Case(
        "siliconflow",
        "json mode unsupported",
        rungs={
            "json_schema": status(
                400, {"code": 20024, "message": "Json mode is not supported for this model."}
            ),
            "json_object": status(
                400,
                {
                    "code": 20024,
                    "message": "Json mode is not supported for this model.",
                    "data": None,
                },
            ),
            "text": Scripted(content=GOOD),
        },
        calls=3,
        remembered="text",
    ),
    Case(
        "siliconflow",
        "context 20015",
        [
            status(
                400,
                {
                    "code": 20015,
                    "message": "length of prompt_tokens (68957) must be less than max_seq_len "
                    "(65536).",
                    "data": None,
                },
            )
        ],
        400,
        "input_too_long",
        field="user_input",
    ),
    Case(
        "siliconflow",
        "401 plain text",
        [status(401, "Invalid token")],
        401,
        "invalid_token",
        field="openai_token",
    ),
    Case(
        "siliconflow",
        "503 under load",
        [status(503, "Service Unavailable"), status(503, "Service Unavailable")],
        502,
        "upstream_error",
        calls=2,
    ),
    Case("siliconflow", "reasoning_content", [message(content=GOOD, reasoning_content="嗯…")]),
    # 15. Ollama
    Case(
        "ollama",
        "model not pulled",
        [
            status(
                404,
                err(
                    'model "qwen3:8b" not found, try pulling it first', type_="api_error", code=None
                ),
            )
        ],
        502,
        "upstream_error",
        field="model",
    ),
    Case("ollama", "answer in reasoning", [message(content="", reasoning=GOOD)]),
    Case("ollama", "older <think> in content", [Scripted(content=f"<think>ok</think>\n{GOOD}")]),
    Case("ollama", "no usage", [Scripted(content=GOOD, usage=NO_USAGE)]),
    # 16. vLLM
    Case(
        "vllm",
        "model does not exist (int code)",
        [
            status(
                404,
                {
                    "object": "error",
                    "message": "The model `qwen` does not exist.",
                    "type": "NotFoundError",
                    "param": None,
                    "code": 404,
                },
            )
        ],
        502,
        "upstream_error",
        field="model",
    ),
    Case(
        "vllm",
        "context",
        [
            status(
                400,
                {
                    "object": "error",
                    "message": "This model's maximum context length is 6048 tokens. However, you "
                    "requested 6616 tokens (568 in the messages, 6048 in the completion).",
                    "type": "BadRequestError",
                    "param": None,
                    "code": 400,
                },
            )
        ],
        400,
        "input_too_long",
        field="user_input",
    ),
    Case("vllm", "JSON in the reasoning field", [message(content=None, reasoning=GOOD)]),
    Case(
        "vllm",
        "content as a list of parts",
        [message(content=[{"type": "text", "text": GOOD[:9]}, {"type": "text", "text": GOOD[9:]}])],
    ),
    # 17. LM Studio
    Case("lmstudio", "json_schema", [Scripted(content=GOOD)]),
    Case(
        "lmstudio",
        "json_object rejected",
        rungs={
            "json_schema": OPENAI_SCHEMA_UNSUPPORTED,
            "json_object": status(
                400, {"error": "'response_format.type' must be 'json_schema' or 'text'"}
            ),
            "text": Scripted(content=GOOD),
        },
        calls=3,
        remembered="text",
    ),
    # 19. LiteLLM proxy
    Case(
        "litellm",
        "wrapped json_schema rejection",
        rungs={
            "json_schema": status(
                400,
                err(
                    "litellm.BadRequestError: DeepseekException - This response_format type is "
                    "unavailable now",
                    type_=None,
                    code="400",
                ),
            ),
            "json_object": Scripted(content=GOOD),
        },
        calls=2,
        remembered="json_object",
    ),
    Case(
        "litellm",
        "invalid model name",
        [
            status(
                400,
                {
                    "error": "/chat/completions: Invalid model name passed in model=gpt-9. Call "
                    "`/v1/models` to view available models for your key."
                },
            )
        ],
        502,
        "upstream_error",
        field="model",
    ),
    Case(
        "litellm",
        "401",
        [
            status(
                401,
                err(
                    "Authentication Error, Invalid proxy server token passed.",
                    type_="token_not_found_in_db",
                    param="key",
                    code="401",
                ),
            )
        ],
        401,
        "invalid_token",
        field="openai_token",
    ),
    Case(
        "litellm",
        "budget exceeded",
        [
            status(
                429,
                err(
                    "Budget has been exceeded! Current cost: 5.1, Max budget: 5.0",
                    type_="budget_exceeded",
                    code="429",
                ),
            )
        ],
        402,
        "quota_exceeded",
    ),
    # Shapes of no particular provider
    Case(
        "any",
        "FastAPI detail string",
        [status(401, {"detail": "Not authenticated"})],
        401,
        "invalid_token",
        field="openai_token",
    ),
    Case(
        "any",
        "FastAPI detail list naming response_format",
        rungs={
            "json_schema": status(
                422,
                {
                    "detail": [
                        {
                            "loc": ["body", "response_format"],
                            "msg": "extra fields not permitted",
                            "type": "value_error.extra",
                        }
                    ]
                },
            ),
            "json_object": Scripted(content=GOOD),
        },
        calls=2,
        remembered="json_object",
    ),
    Case(
        "any",
        "a JSON array of errors",
        [
            status(
                429,
                [
                    {
                        "error": {
                            "code": 429,
                            "message": "Resource exhausted.",
                            "status": "UNAVAILABLE",
                        }
                    }
                ],
            )
        ],
        429,
        "rate_limited",
    ),
    Case(
        "any",
        "plain-text 502 from a gateway",
        [status(502, "Bad Gateway"), status(502, "<html>Bad Gateway</html>")],
        502,
        "upstream_error",
        calls=2,
    ),
    Case(
        "any",
        "a 200 HTML page",
        [Scripted(raw=b"<html><body>Sign in</body></html>")],
        502,
        "upstream_error",
    ),
    Case(
        "any",
        "an empty 200",
        [Scripted(raw=b"", content_type="application/json")],
        502,
        "upstream_error",
    ),
    Case(
        "any",
        "a 200 that is not JSON",
        [Scripted(raw=b"{not json", content_type="application/json")],
        502,
        "upstream_error",
    ),
    Case(
        "any",
        "a 200 that is an error object",
        [
            Scripted(
                body={"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}}
            )
        ],
        429,
        "rate_limited",
    ),
    Case(
        "any",
        "a 400 about nothing the service knows",
        [status(400, err("Something about the request is wrong."))],
        502,
        "upstream_error",
    ),
    Case(
        "any",
        "a cut-off answer in the strict list shape",
        [
            Scripted(
                content='{"changes":[{"field":"memory","value":"128M"},{"field":"cpu","value":0.',
                finish_reason="length",
            )
        ],
    ),
]


def scripted_by_format(rungs: dict[str, Scripted]) -> Callable[[dict[str, Any]], Scripted]:
    def answer(body: dict[str, Any]) -> Scripted:
        kind = (body.get("response_format") or {}).get("type", "text")
        return rungs.get(kind) or Scripted(status=500, error={"message": f"no answer for {kind}"})

    return answer


def post(client: Any, **overrides: Any) -> Any:
    payload = {"user_input": "more memory", "openai_token": FAKE_KEY, "params": START_FORM}
    payload.update(overrides)
    return client.post("/gen", json=payload)


def use(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    fresh_app()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_provider_behaviour(client: Any, model: ScriptedModel, case: Case) -> None:
    if case.rungs:
        model.responder = scripted_by_format(case.rungs)
    model.reply(*case.answers)
    response = post(client)
    text = response.get_data(as_text=True)
    assert response.status_code == case.status, text
    assert len(model.requests) == case.calls
    assert FAKE_KEY not in text and "Traceback" not in text
    answer = response.get_json()
    if case.status == 200:
        assert json.loads(answer["GenParamsStr"])["memory"] == "128M"
        assert answer["Usage"]["llm_calls"] == case.calls
    else:
        assert (answer["code"], answer["field"]) == (case.code, case.field)
    assert edge_app().providers.remembered_mode(model.base_url, "gpt-4o-mini") == case.remembered


def test_rate_limited_passes_retry_after_on(client: Any, model: ScriptedModel) -> None:
    model.reply(OPENAI_RATE)
    assert post(client).headers["Retry-After"] == "1"


def test_a_days_retry_after_is_capped(client: Any, model: ScriptedModel) -> None:
    azure = next(c for c in CASES if c.id == "azure:429 with a day's Retry-After")
    model.reply(*azure.answers)
    assert post(client).headers["Retry-After"] == "60"


def test_quota_has_no_retry_after(client: Any, model: ScriptedModel) -> None:
    model.reply(OPENAI_QUOTA)
    response = post(client)
    assert response.status_code == 402 and "Retry-After" not in response.headers


def test_the_unknown_model_is_named_in_the_message(client: Any, model: ScriptedModel) -> None:
    model.reply(OPENAI_NO_MODEL)
    assert "'gpt-4o-mini'" in post(client).get_json()["error"]


@pytest.mark.parametrize(
    ("shape", "cached"),
    [
        ({"prompt_tokens_details": {"cached_tokens": 1280}}, 1280),
        ({"prompt_cache_hit_tokens": 1024, "prompt_cache_miss_tokens": 476}, 1024),
        ({}, 0),
    ],
    ids=["openai-dashscope", "deepseek", "none"],
)
def test_cached_prompt_tokens_appear_in_usage(
    client: Any, model: ScriptedModel, shape: dict[str, Any], cached: int
) -> None:
    model.reply(Scripted(content=GOOD, usage=usage(**shape)))
    assert post(client).get_json()["Usage"]["cached_prompt_tokens"] == cached


def test_a_cut_off_answer_keeps_its_complete_changes_with_a_warning(
    client: Any, model: ScriptedModel
) -> None:
    cut = '{"changes": {"memory": "128M", "container_port": 54'
    model.reply(Scripted(content=cut, finish_reason="length"))
    answer = post(client).get_json()
    assert answer["Changes"] == {"memory": "128M"}
    assert any(w["field"] == "Changes" and "cut off" in w["message"] for w in answer["Warnings"])


def test_a_one_callers_bad_request_never_changes_the_remembered_format(
    client: Any, model: ScriptedModel
) -> None:
    model.reply(OPENAI_CONTEXT, Scripted(content=GOOD))
    assert post(client).status_code == 400
    assert post(client).status_code == 200
    assert [r.get("response_format", {}).get("type") for r in model.requests] == [
        "json_schema",
        "json_schema",
    ]


def test_extra_body_reaches_every_request(
    client: Any, model: ScriptedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, AIOPS_EXTRA_BODY='{"enable_thinking": false}')
    model.responder = scripted_by_format(
        {"json_schema": DEEPSEEK_NO_SCHEMA, "json_object": Scripted(content=GOOD)}
    )
    assert post(client).status_code == 200
    assert [r.get("enable_thinking") for r in model.requests] == [False, False]


# --- a provider that trickles: the deadlines hold ---------------------------------------------


def trickling() -> Scripted:
    """A whole answer, headers included, one byte every 0.5 s (about 3 min in all)."""
    return Scripted(content=GOOD, trickle_s=0.5)


@pytest.mark.parametrize(
    "env",
    [
        {"AIOPS_LLM_TIMEOUT_S": "2", "AIOPS_LLM_MAX_RETRIES": "0"},
        {"AIOPS_LLM_TIMEOUT_S": "30", "AIOPS_REQUEST_DEADLINE_S": "3"},
    ],
    ids=["call-timeout", "request-deadline"],
)
def test_a_trickling_provider_gets_504_and_the_worker_serves_again(
    client: Any, model: ScriptedModel, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    use(monkeypatch, **env)
    model.reply(trickling(), Scripted(content=GOOD))
    started = time.monotonic()
    response = post(client)
    assert response.status_code == 504, response.get_data(as_text=True)
    assert response.get_json()["code"] == "upstream_timeout"
    assert time.monotonic() - started < 20  # a hang guard (the trickle lasts minutes)
    assert post(client).status_code == 200


def test_the_live_server_answers_a_trickling_provider_in_time(
    model: ScriptedModel, tmp_path: Any
) -> None:
    server = start_live_server(
        {"OPENAI_BASE_URL": model.base_url, "AIOPS_REQUEST_DEADLINE_S": "3"},
        tmp_path / "server.log",
    )
    try:
        import urllib.error
        import urllib.request

        model.reply(trickling(), Scripted(content=GOOD))
        payload = json.dumps(
            {"user_input": "more memory", "openai_token": FAKE_KEY, "params": START_FORM}
        ).encode()

        def send() -> tuple[int, dict[str, Any]]:
            request = urllib.request.Request(
                server.url + "/gen", payload, {"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    return answer.status, json.loads(answer.read())
            except urllib.error.HTTPError as error:
                return error.code, json.loads(error.read())

        status_code, answer = send()
        assert (status_code, answer["code"]) == (504, "upstream_timeout")
        assert send()[0] == 200
        assert FAKE_KEY not in server.output()
    finally:
        server.stop()


# --- an unreachable provider ------------------------------------------------------------------


def test_an_unreachable_provider_is_named_with_its_cause_in_answer_and_log(
    client: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    use(monkeypatch, OPENAI_BASE_URL=url, AIOPS_LLM_MAX_RETRIES="0")
    response = post(client)
    answer = response.get_json()
    assert (response.status_code, answer["code"]) == (502, "upstream_error")
    assert url in answer["error"] and "connection refused" in answer["error"]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    unreachable = [line for line in lines if line["message"] == "model provider unreachable"]
    assert unreachable and unreachable[0]["base_url"] == url
    assert "refused" in unreachable[0]["cause"]
    request = next(line for line in lines if line["message"] == "request")
    assert request["provider"] == {"base_url": url, "cause": unreachable[0]["cause"]}
    assert all(FAKE_KEY not in json.dumps(line) for line in lines)


def test_a_failed_requests_log_line_counts_its_model_calls(
    client: Any, model: ScriptedModel, capsys: pytest.CaptureFixture[str]
) -> None:
    refused = unsupported("temperature", "Unsupported value: 'temperature' does not support 0.7")
    rungs = {"json_schema": DEEPSEEK_NO_SCHEMA, "json_object": refused}
    model.responder = scripted_by_format(rungs)
    response = post(client)
    assert (response.status_code, response.get_json()["code"]) == (502, "upstream_error")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    request = next(line for line in lines if line["message"] == "request")
    assert request["llm_calls"] == 2 and request["error"] == "upstream_error"
