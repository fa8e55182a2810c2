// The proctor API (docs/api.md), as the console uses it. Authentication is
// the HttpOnly cookie that /api/v1/auth/login sets; no token is kept in JS.

export type SessionSummary = {
  session_id: string;
  exam_id: string;
  candidate_id: string;
  state: "live" | "ended";
  created_ms: number;
  ended_ms: number | null;
  end_reason: string | null;
  next_seq: number;
  last_event_ms: number | null;
  violations: number;
  warnings: number;
  media: number;
  rejected_batches: number;
  priority: number;
  open_alerts: number;
  verdict: string | null;
  last_seen_ms: number | null;
};

export type EventRecord = {
  seq: number;
  t_ms: number;
  kind: string;
  severity: "info" | "warning" | "violation";
  data: Record<string, unknown>;
  hash: string;
  received_ms: number;
};

export type Media = { sha256: string; name: string; kind: string; content_type: string; bytes: number; received_ms: number };
export type Note = { at_ms: number; kind: string; actor: string; detail: Record<string, unknown> };
export type Decision = { id: string; event_seq: number | null; action: string; note: string; proctor: string; at_ms: number };
export type Timeline = { session: SessionSummary; events: EventRecord[]; media: Media[]; notes: Note[]; decisions: Decision[] };
export type Alert = { session_id: string; exam_id: string; candidate_id: string; received_ms: number; event: EventRecord };

/** An API error with the server's message (and field, when it names one). */
export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
    public field?: string,
  ) {
    super(message);
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch (e) {
    throw new ApiError(0, `The server cannot be reached (${e instanceof Error ? e.message : String(e)}).`);
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: reported below
  }
  if (!response.ok) {
    const err = (json as { error?: { message?: string; field?: string } } | null)?.error;
    throw new ApiError(response.status, err?.message ?? `HTTP ${response.status}`, err?.field);
  }
  return json as T;
}

export const api = {
  me: () => call<{ role: string; username?: string }>("GET", "/api/v1/auth/me"),
  login: (username: string, password: string) => call<{ username: string }>("POST", "/api/v1/auth/login", { username, password }),
  logout: () => call<void>("POST", "/api/v1/auth/logout"),
  sessions: (query: string) => call<{ sessions: SessionSummary[] }>("GET", `/api/v1/sessions?${query}`),
  timeline: (id: string) => call<Timeline>("GET", `/api/v1/sessions/${encodeURIComponent(id)}/timeline`),
  decide: (id: string, action: string, eventSeq: number | null, note: string) =>
    call<{ session: SessionSummary; decision: Decision }>("POST", `/api/v1/sessions/${encodeURIComponent(id)}/decisions`, {
      action,
      ...(eventSeq === null ? {} : { event_seq: eventSeq }),
      note,
    }),
  mediaUrl: (id: string, sha: string) => `/api/v1/sessions/${encodeURIComponent(id)}/media/${sha}`,
};
