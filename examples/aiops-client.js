// AIops client: one call of POST /gen from a browser (an ES module, no dependencies).
//
// Copy this file into a front end and call `generate(...)`: it sends the user's request with the
// form as it stands, parses `GenParamsStr`, and returns the new form with what changed, the
// reply, warnings, questions and the `MessageId` to send back on the next turn; or it throws an
// `AiopsError` carrying the service's error `code` (README "The API" lists them), the HTTP
// status, the field to fix and `Retry-After` in seconds.
//
// The key is sent as `Authorization: Bearer <key>` for this one request and kept nowhere.

/** The twelve fields of the form, in the service's order. */
export const FIELDS = Object.freeze([
  "app_name",
  "image_name",
  "instance",
  "cpu",
  "memory",
  "container_port",
  "public_access",
  "command",
  "parameters",
  "environment",
  "configmap",
  "storage",
]);

/**
 * Codes the client itself gives, besides the service's own (`invalid_token`, `rate_limited`, …):
 * the service could not be reached or the browser refused its answer (CORS), the answer was not
 * the service's, the client's own deadline passed, or the caller aborted.
 */
export const CLIENT_CODES = Object.freeze([
  "network_error",
  "bad_response",
  "client_timeout",
  "aborted",
]);

/** A failed generation: `code` says what happened, `message` what to fix. */
export class AiopsError extends Error {
  constructor({ code, message, status = 0, field = null, retryAfter = null, requestId = null }) {
    super(message);
    this.name = "AiopsError";
    this.code = code; // the service's error code, or one of CLIENT_CODES
    this.status = status; // HTTP status; 0 when no answer could be read
    this.field = field; // the request field to fix ("openai_token", "params.cpu", …) or null
    this.retryAfter = retryAfter; // seconds to wait before trying again (429), or null
    this.requestId = requestId; // X-Request-Id of the answer: quote it when reporting a problem
  }
}

/**
 * Ask the service for the new form.
 *
 * @param {object} options
 * @param {string} [options.api] base URL of the service ("" or omitted: the page's own origin)
 * @param {string} options.key the user's own provider key (sent for this request only)
 * @param {string} options.userInput what the user asked for
 * @param {object} options.form the form as the page shows it now (sent as `params`)
 * @param {string|null} [options.parentMessageId] `messageId` of the previous turn, or null to
 *   start a new conversation
 * @param {string|null} [options.model] a model the deployment allows, or null for its default
 * @param {number} [options.timeoutMs] give up after this long (the service has its own deadlines)
 * @param {AbortSignal} [options.signal] aborts the request
 * @param {typeof fetch} [options.fetch] the fetch to use (default: the browser's)
 * @returns {Promise<{form: object, changes: object, reply: string, warnings: Array<{field: string,
 *   message: string, code?: string}>, questions: string[], messageId: string, usage: object,
 *   model: string, requestId: string|null}>}
 * @throws {AiopsError}
 */
export async function generate({
  api = "",
  key,
  userInput,
  form,
  parentMessageId = null,
  model = null,
  timeoutMs = 60000,
  signal,
  fetch: fetchImpl = globalThis.fetch,
}) {
  const url = genUrl(api);
  const body = { user_input: userInput, params: form };
  if (parentMessageId) body.parent_message_id = parentMessageId;
  if (model) body.model = model;
  const headers = { "Content-Type": "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;

  if (signal?.aborted) throw new AiopsError({ code: "aborted", message: "The request was cancelled." });
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), timeoutMs);
  const onAbort = () => deadline.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  let response;
  try {
    response = await fetchImpl(url, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      signal: deadline.signal,
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
  } catch (error) {
    throw transportError(error, url, signal, timeoutMs);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
  const requestId = response.headers.get("X-Request-Id");
  const payload = await readJson(response);
  if (!response.ok) throw serviceError(response, payload, requestId);
  return answerOf(payload, response.status, requestId);
}

/** `<api>/gen`: the base URL without trailing slashes, or the same origin when empty. */
export function genUrl(api) {
  return `${String(api || "").replace(/\/+$/, "")}/gen`;
}

/** Seconds to wait from a `Retry-After` header (seconds or an HTTP date), or null. */
export function retryAfterSeconds(value, now = Date.now()) {
  if (value == null || value === "") return null;
  const text = String(value).trim();
  if (/^\d+$/.test(text)) return Number(text);
  const when = Date.parse(text);
  return Number.isNaN(when) ? null : Math.max(0, Math.ceil((when - now) / 1000));
}

function transportError(error, url, signal, timeoutMs) {
  if (signal?.aborted) {
    return new AiopsError({ code: "aborted", message: "The request was cancelled." });
  }
  if (error?.name === "AbortError") {
    return new AiopsError({
      code: "client_timeout",
      message: `No answer from ${url} within ${Math.round(timeoutMs / 1000)} s; try again.`,
    });
  }
  return new AiopsError({
    code: "network_error",
    message:
      `Could not reach ${url}: the service is down, the address is wrong, or it does not ` +
      "allow this page's origin (AIOPS_CORS_ORIGINS).",
  });
}

async function readJson(response) {
  try {
    return await response.json();
  } catch {
    return undefined;
  }
}

function serviceError(response, payload, requestId) {
  const known = payload && typeof payload.code === "string" && typeof payload.error === "string";
  return new AiopsError({
    code: known ? payload.code : "bad_response",
    message: known
      ? payload.error
      : `The service answered HTTP ${response.status} without an AIops error; check the address.`,
    status: response.status,
    field: known ? (payload.field ?? null) : null,
    retryAfter: retryAfterSeconds(response.headers.get("Retry-After")),
    requestId,
  });
}

function answerOf(payload, status, requestId) {
  let form;
  try {
    form = JSON.parse(payload?.GenParamsStr);
  } catch {
    form = undefined;
  }
  if (!form || typeof form !== "object" || Array.isArray(form) || !payload.MessageId) {
    throw new AiopsError({
      code: "bad_response",
      message: "The answer has no readable GenParamsStr or MessageId; is this an AIops service?",
      status,
      requestId,
    });
  }
  return {
    form,
    changes: payload.Changes ?? {},
    reply: payload.Reply ?? "",
    warnings: payload.Warnings ?? [],
    questions: payload.Questions ?? [],
    messageId: payload.MessageId,
    usage: payload.Usage ?? null,
    model: payload.Model ?? "",
    requestId,
  };
}
