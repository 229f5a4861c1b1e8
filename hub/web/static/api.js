// Talk to the hub: JSON calls and server-sent event streams, with the web UI's CSRF header.

const CLIENT_HEADER = { "X-Hub-Client": "web" };

/** An error answer from the hub, in OpenAI's error shape. */
export class ApiError extends Error {
  constructor(status, message, code = null, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

async function errorFrom(response) {
  let message = `${response.status} ${response.statusText}`;
  let code = null;
  try {
    const body = await response.json();
    message = body?.error?.message || message;
    code = body?.error?.code || null;
  } catch {
    // not JSON: keep the status line
  }
  // The session ended (expired, signed out elsewhere): back to the sign-in page.
  if (code === "invalid_api_key") window.dispatchEvent(new CustomEvent("hub:signed-out"));
  return new ApiError(response.status, message, code, response.headers.get("Retry-After"));
}

function request(method, body, signal) {
  const headers = { ...CLIENT_HEADER };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    signal,
  };
}

/** Call a JSON endpoint; resolves to the parsed answer or throws ApiError. */
export async function api(method, path, body) {
  const response = await fetch(path, request(method, body));
  if (!response.ok) throw await errorFrom(response);
  return response.status === 204 ? null : response.json();
}

/** Call an endpoint that answers with a file (audio, ...); resolves to a Blob or throws ApiError. */
export async function apiBlob(method, path, body) {
  const response = await fetch(path, request(method, body));
  if (!response.ok) throw await errorFrom(response);
  return response.blob();
}

/** POST/PUT and read the answer as SSE chat chunks, calling onChunk for each; abort with signal. */
export async function streamChunks(method, path, body, { signal, onChunk }) {
  const response = await fetch(path, request(method, body, signal));
  if (!response.ok) throw await errorFrom(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trimStart())
        .join("\n");
      if (!data) continue;
      if (data === "[DONE]") return;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new ApiError(500, chunk.error.message, chunk.error.code);
      onChunk(chunk);
    }
  }
}
