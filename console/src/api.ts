// The proctor API (docs/api.md), as the console uses it. Authentication is
// the HttpOnly cookie that /api/v1/auth/login sets; no token is kept in JS.
// The types are generated from the server's (bindings.ts).

import type {
  Accommodations,
  Achievement,
  Badge,
  BadgeList,
  NewAchievement,
  NewBadgeStatus,
  PassesRecorded,
  Decided,
  DecisionAction,
  Enrolment,
  EnrolmentList,
  ErrorBody,
  Exam,
  ExamList,
  ForensicsReport,
  Issued,
  Me,
  NewEnrolment,
  NewExam,
  ResponsesUpload,
  SessionList,
  SignedIn,
  Timeline,
} from "./bindings";

export type { Achievement, Badge, BadgeList, Alert, Decided, Decision, DecisionAction, Enrolment, Exam, ForensicFlag, ForensicsReport, Issued, NewExam, NoteAlert, SessionSummary, StoredEvent, Timeline } from "./bindings";

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
      // Writes always say JSON: the server refuses cookie-signed writes that
      // do not (its guard against cross-site forgery, docs/api.md).
      headers: method === "GET" ? {} : { "content-type": "application/json" },
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
    const err = (json as Partial<ErrorBody> | null)?.error;
    throw new ApiError(response.status, err?.message ?? `HTTP ${response.status}`, err?.field);
  }
  return json as T;
}

export const api = {
  me: () => call<Me>("GET", "/api/v1/auth/me"),
  login: (username: string, password: string) => call<SignedIn>("POST", "/api/v1/auth/login", { username, password }),
  logout: () => call<void>("POST", "/api/v1/auth/logout"),
  sessions: (query: string) => call<SessionList>("GET", `/api/v1/sessions?${query}`),
  /** The whole timeline: its event pages followed to the end. */
  timeline: async (id: string): Promise<Timeline> => {
    const path = `/api/v1/sessions/${encodeURIComponent(id)}/timeline`;
    const first = await call<Timeline>("GET", path);
    let next = first.next_after_seq;
    while (next !== undefined && next !== null) {
      const page = await call<Timeline>("GET", `${path}?after_seq=${next}`);
      first.events.push(...page.events);
      next = page.next_after_seq;
    }
    first.next_after_seq = undefined;
    return first;
  },
  /** A decision; an invalidation may cite forensic flags by id. */
  decide: (id: string, action: DecisionAction, eventSeq: number | null, note: string, cites: string[] = []) =>
    call<Decided>("POST", `/api/v1/sessions/${encodeURIComponent(id)}/decisions`, {
      action,
      ...(eventSeq === null ? {} : { event_seq: eventSeq }),
      note,
      cites,
    }),
  exams: () => call<ExamList>("GET", "/api/v1/exams"),
  exam: (id: string) => call<Exam>("GET", `/api/v1/exams/${encodeURIComponent(id)}`),
  createExam: (exam: NewExam) => call<Exam>("POST", "/api/v1/exams", exam),
  updateExam: (id: string, exam: NewExam) => call<Exam>("PUT", `/api/v1/exams/${encodeURIComponent(id)}`, exam),
  enrolments: (id: string) => call<EnrolmentList>("GET", `/api/v1/exams/${encodeURIComponent(id)}/enrolments`),
  enrol: (id: string, candidates: NewEnrolment[]) => call<Issued>("POST", `/api/v1/exams/${encodeURIComponent(id)}/enrolments`, { candidates }),
  /** A CSV roster file's text (candidate_id,name,email). */
  roster: (id: string, csv: string) => call<Issued>("POST", `/api/v1/exams/${encodeURIComponent(id)}/roster`, { csv }),
  reissue: (id: string, candidates?: string[]) =>
    call<Issued>("POST", `/api/v1/exams/${encodeURIComponent(id)}/codes`, candidates ? { candidates } : {}),
  accommodate: (id: string, candidate: string, body: Accommodations) =>
    call<Enrolment>("PUT", `/api/v1/exams/${encodeURIComponent(id)}/enrolments/${encodeURIComponent(candidate)}`, body),
  /** The latest data-forensics analysis of an exam (404: none yet). */
  forensics: (id: string) => call<ForensicsReport>("GET", `/api/v1/exams/${encodeURIComponent(id)}/forensics`),
  /** Uploads an exam's results (CSV texts) and analyses them. */
  uploadResponses: (id: string, files: ResponsesUpload) =>
    call<ForensicsReport>("POST", `/api/v1/exams/${encodeURIComponent(id)}/responses`, files),
  /** The exam's achievement and the badges issued (docs/badges.md). */
  badges: (id: string) => call<BadgeList>("GET", `/api/v1/exams/${encodeURIComponent(id)}/badges`),
  setAchievement: (id: string, body: NewAchievement) => call<Achievement>("PUT", `/api/v1/exams/${encodeURIComponent(id)}/achievement`, body),
  /** Records passes and issues their badges: candidate ids, or a results CSV's text. */
  recordPasses: (id: string, passes: { candidate_ids: string[] } | { csv: string }) =>
    call<PassesRecorded>("POST", `/api/v1/exams/${encodeURIComponent(id)}/passes`, passes),
  setBadgeStatus: (id: string, body: NewBadgeStatus) => call<Badge>("POST", `/api/v1/badges/${encodeURIComponent(id)}/status`, body),
  mediaUrl: (id: string, sha: string) => `/api/v1/sessions/${encodeURIComponent(id)}/media/${sha}`,
};
