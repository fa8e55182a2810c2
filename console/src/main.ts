// The proctor console: sign-in, live sessions, session review, decisions.
// Plain TypeScript and DOM; the server embeds the built files.

import { api, ApiError, type Alert, type Decision, type EventRecord, type SessionSummary, type Timeline } from "./api";

const main = document.getElementById("main") as HTMLElement;
const top = document.getElementById("top") as HTMLElement;
const region = document.getElementById("alert-region") as HTMLElement;
const soundBox = document.getElementById("sound") as HTMLInputElement;

/** What tests (and the curious) can read: when each alert arrived and was shown. */
type AlertRecord = { session_id: string; seq: number; kind: string; severity: string; receivedAt: number; shownAt?: number };
const probe = { alerts: [] as AlertRecord[] };
(window as unknown as { __invigil: typeof probe }).__invigil = probe;

let me: string | null = null;
let stream: EventSource | null = null;
let refreshTimer: number | undefined;
/** The latest alert per session, shown on its card. */
const lastAlert = new Map<string, Alert & { at: number }>();

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  // Styles through the CSSOM: the console's CSP forbids style attributes.
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "style") node.style.cssText = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function clock(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  const m = Math.floor(s / 60);
  return `${String(m).padStart(2, "0")}:${(s - m * 60).toFixed(1).padStart(4, "0")}`;
}

function ago(ms: number | null): string {
  if (ms === null) return "never";
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 5) return "just now";
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  return new Date(ms).toLocaleString();
}

const KIND_LABELS: Record<string, string> = {
  absence_warning: "Left the camera view (warning)",
  candidate_absent: "Candidate absent",
  candidate_returned: "Candidate returned",
  multiple_faces: "More than one person",
  multiple_faces_cleared: "One person again",
  camera_blocked: "Camera covered or dark",
  camera_unblocked: "Camera picture back",
  camera_frozen: "Camera picture frozen",
  camera_unfrozen: "Camera picture moving again",
  camera_lost: "Camera lost",
  session_started: "Session started",
  session_ended: "Session ended",
  session_resumed: "Client restarted (session resumed)",
  clip_saved: "Clip saved",
  checkin_completed: "Check-in completed",
};
const label = (kind: string) => KIND_LABELS[kind] ?? kind;

function band(priority: number): "high" | "medium" | "low" {
  return priority >= 60 ? "high" : priority >= 25 ? "medium" : "low";
}

function priorityBadge(s: SessionSummary): HTMLElement {
  const b = band(s.priority);
  return el("span", { class: `badge ${b}`, title: "Review priority, 0-100 (see the console guide)" }, `Priority ${Math.round(s.priority)} (${b})`);
}

function openBadge(s: SessionSummary): HTMLElement {
  return s.open_alerts > 0
    ? el("span", { class: "badge violation open-count" }, `${s.open_alerts} open alert${s.open_alerts === 1 ? "" : "s"}`)
    : el("span", { class: "badge ok open-count" }, "No open alerts");
}

function connection(s: SessionSummary): string {
  if (s.state !== "live") return s.end_reason ? `Ended (${s.end_reason})` : "Ended";
  if (s.last_seen_ms !== null && Date.now() - s.last_seen_ms < 75_000) return "Connected";
  return `No contact since ${ago(s.last_seen_ms ?? s.created_ms)}`;
}

function setTitle(text: string): void {
  document.title = `${text} · invigil console`;
}

function show(title: string, ...content: Node[]): void {
  setTitle(title);
  main.replaceChildren(el("h1", { id: "page-title", tabindex: "-1" }, title), ...content);
}

// ------------------------------------------------------------------ alerts

function beep(): void {
  if (!soundBox.checked) return;
  try {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 880;
    gain.gain.value = 0.08;
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.25);
    osc.onended = () => void ctx.close();
  } catch {
    // No audio output: the visual alert stays.
  }
}

function toast(a: Alert): void {
  const t = el(
    "div",
    { class: `toast ${a.event.severity}` },
    `${a.event.severity === "violation" ? "Violation" : "Warning"}: ${label(a.event.kind)} — ${a.candidate_id} (${a.exam_id})`,
  );
  region.append(t);
  setTimeout(() => t.remove(), 8000);
}

function onAlert(a: Alert): void {
  const record: AlertRecord = { session_id: a.session_id, seq: a.event.seq, kind: a.event.kind, severity: a.event.severity, receivedAt: Date.now() };
  probe.alerts.push(record);
  lastAlert.set(a.session_id, { ...a, at: Date.now() });
  if (a.event.severity === "violation") beep();
  toast(a);
  const card = main.querySelector<HTMLElement>(`li.card[data-session="${CSS.escape(a.session_id)}"]`);
  if (card) {
    fillCardAlert(card, a.session_id);
    if (a.event.severity === "violation") {
      card.classList.add("open");
      const badge = card.querySelector(".open-count");
      const n = Number(card.dataset.open ?? "0") + 1;
      card.dataset.open = String(n);
      badge?.replaceWith(el("span", { class: "badge violation open-count" }, `${n} open alert${n === 1 ? "" : "s"}`));
    }
    card.classList.remove("fresh");
    void card.offsetWidth;
    card.classList.add("fresh");
  }
  requestAnimationFrame(() => {
    record.shownAt = Date.now();
  });
  if (location.hash.startsWith("#/live") || location.hash === "" || location.hash === "#/") {
    clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(() => void liveScreen(false), 700);
  }
}

/** Another proctor's decision: keep this console in step. */
function onDecision(d: { decision: Decision & { session_id: string }; session: SessionSummary }): void {
  if (d.decision.proctor === me) return;
  const id = d.decision.session_id;
  const what = DECIDED[d.decision.action] ?? d.decision.action;
  const n = el("div", { class: "toast", style: "background: var(--accent)" }, `${d.decision.proctor}: ${what} — ${d.session.candidate_id}`);
  region.append(n);
  setTimeout(() => n.remove(), 6000);
  if (location.hash.startsWith("#/live") || location.hash === "" || location.hash === "#/") {
    clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(() => void liveScreen(false), 300);
  } else if (location.hash === `#/session/${encodeURIComponent(id)}`) {
    // Redraw, unless this proctor is typing a note.
    const typing = document.activeElement?.matches("input, textarea");
    if (!typing) void sessionScreen(id);
  }
}

function openStream(): void {
  if (stream) return;
  stream = new EventSource("/api/v1/alerts");
  stream.addEventListener("alert", (ev) => onAlert(JSON.parse((ev as MessageEvent).data) as Alert));
  stream.addEventListener("decision", (ev) => onDecision(JSON.parse((ev as MessageEvent).data)));
}

function closeStream(): void {
  stream?.close();
  stream = null;
}

// ------------------------------------------------------------------ sign-in

function signInScreen(note?: string): void {
  top.hidden = true;
  closeStream();
  const user = el("input", { id: "username", name: "username", autocomplete: "username", required: "" });
  const pass = el("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: "" });
  const error = el("p", { id: "signin-error", class: "error", role: "alert" }, note ?? "");
  const button = el("button", { id: "sign-in", type: "submit" }, "Sign in");
  const form = el(
    "form",
    { class: "signin", id: "signin-form" },
    el("h1", { id: "page-title", tabindex: "-1" }, "Proctor sign-in"),
    el("label", { for: "username" }, "User name", user),
    el("label", { for: "password" }, "Password", pass),
    error,
    button,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    error.textContent = "";
    try {
      const r = await api.login(user.value.trim(), pass.value);
      me = r.username;
      pass.value = "";
      if (!location.hash.startsWith("#/session/") && !location.hash.startsWith("#/sessions")) location.hash = "#/live";
      await route();
    } catch (e) {
      error.textContent = e instanceof ApiError && e.status === 401 ? "Wrong user name or password." : message(e);
      button.disabled = false;
      pass.focus();
    }
  });
  setTitle("Sign in");
  main.replaceChildren(form);
  user.focus();
}

async function signOut(): Promise<void> {
  closeStream();
  try {
    await api.logout();
  } catch {
    // Signed out already: the cookie is gone either way.
  }
  me = null;
  lastAlert.clear();
  // Back to the start page without a hashchange (which would route again
  // and replace the message).
  history.replaceState(null, "", "#/live");
  signInScreen("You are signed out.");
}

// ------------------------------------------------------------------ live

function fillCardAlert(card: HTMLElement, id: string): void {
  const a = lastAlert.get(id);
  const line = card.querySelector<HTMLElement>(".last-alert");
  if (!a || !line) return;
  card.dataset.alertSeq = String(a.event.seq);
  line.textContent = `Last alert: ${label(a.event.kind)} at ${clock(a.event.t_ms)} (${ago(a.at)})`;
}

function card(s: SessionSummary): HTMLLIElement {
  const li = el(
    "li",
    { class: `card${s.open_alerts > 0 ? " open" : ""}`, "data-session": s.session_id, "data-open": String(s.open_alerts) },
    el("a", { class: "title", href: `#/session/${encodeURIComponent(s.session_id)}` }, s.candidate_id),
    el("span", { class: "muted" }, `Exam ${s.exam_id}`),
    el("div", { class: "row" }, el("span", { class: "badge status" }, s.verdict === "invalidated" ? "Live, invalidated" : "Live"), openBadge(s), priorityBadge(s)),
    el("span", { class: "last-alert" }, s.last_event_ms ? `Last event ${ago(s.last_event_ms)}` : "No events yet"),
    el("span", { class: "connection" }, connection(s)),
    el("span", { class: "muted" }, `${s.violations} violation${s.violations === 1 ? "" : "s"}, ${s.warnings} warning${s.warnings === 1 ? "" : "s"}`),
  );
  fillCardAlert(li, s.session_id);
  return li;
}

async function liveScreen(focus = true): Promise<void> {
  let sessions: SessionSummary[];
  try {
    sessions = (await api.sessions("state=live&order=attention")).sessions;
  } catch (e) {
    return handle(e);
  }
  if (!(location.hash.startsWith("#/live") || location.hash === "" || location.hash === "#/")) return;
  const list = el("ul", { class: "cards", id: "cards", "aria-label": "Live sessions, most urgent first" });
  for (const s of sessions) list.append(card(s));
  const content = sessions.length
    ? list
    : el("p", { id: "no-sessions", class: "muted" }, "No live sessions. Sessions appear here as candidates start their exams.");
  const hadFocus = document.activeElement?.closest("li.card")?.getAttribute("data-session");
  show(
    "Live sessions",
    el("p", { class: "muted" }, "Sessions with undecided alerts come first, then by review priority. New alerts arrive as they happen."),
    content,
  );
  if (hadFocus) main.querySelector<HTMLElement>(`li.card[data-session="${CSS.escape(hadFocus)}"] a`)?.focus();
  else if (focus) (document.getElementById("page-title") as HTMLElement).focus();
}

// ------------------------------------------------------------------ all sessions

async function sessionsScreen(): Promise<void> {
  const params = new URLSearchParams(location.hash.split("?")[1] ?? "");
  const state = params.get("state") ?? "all";
  let sessions: SessionSummary[];
  try {
    sessions = (await api.sessions(`state=${encodeURIComponent(state)}&order=priority`)).sessions;
  } catch (e) {
    return handle(e);
  }
  const select = el("select", { id: "state-filter" });
  for (const [v, t] of [["all", "All"], ["live", "Live"], ["ended", "Ended"]]) {
    const o = el("option", { value: v }, t);
    if (v === state) o.selected = true;
    select.append(o);
  }
  select.addEventListener("change", () => (location.hash = `#/sessions?state=${select.value}`));
  const rows = sessions.map((s) =>
    el(
      "tr",
      { "data-session": s.session_id },
      el("td", {}, el("a", { href: `#/session/${encodeURIComponent(s.session_id)}` }, s.candidate_id)),
      el("td", {}, s.exam_id),
      el("td", {}, priorityBadge(s)),
      el("td", {}, String(s.open_alerts)),
      el("td", {}, String(s.violations)),
      el("td", {}, s.state === "live" ? "Live" : `Ended (${s.end_reason ?? ""})`),
      el("td", {}, s.verdict ?? ""),
      el("td", {}, new Date(s.created_ms).toLocaleString()),
    ),
  );
  const head = el("tr", {}, ...["Candidate", "Exam", "Priority", "Open alerts", "Violations", "State", "Verdict", "Started"].map((h) => el("th", { scope: "col" }, h)));
  show(
    "All sessions",
    el("p", { class: "muted" }, "Highest review priority first: start with the riskiest sessions."),
    el("label", { class: "row" }, "Show", select),
    el("table", { id: "sessions-table" }, el("thead", {}, head), el("tbody", {}, ...rows)),
  );
  (document.getElementById("page-title") as HTMLElement).focus();
}

// ------------------------------------------------------------------ session

type Clip = { event: EventRecord; seqs: number[]; start: number; end: number; sha: string };

function clipsOf(t: Timeline): Clip[] {
  return t.events
    .filter((e) => e.kind === "clip_saved")
    .map((e) => ({
      event: e,
      seqs: (e.data.event_seqs as number[] | undefined) ?? [Number(e.data.event_seq)],
      start: Number(e.data.start_ms),
      end: Number(e.data.end_ms),
      sha: String(e.data.sha256),
    }));
}

/** The decision in force on each event, and all decisions by event. */
function decisionsByEvent(t: Timeline): Map<number, Decision[]> {
  const out = new Map<number, Decision[]>();
  for (const d of t.decisions) {
    if (d.event_seq === null) continue;
    out.set(d.event_seq, [...(out.get(d.event_seq) ?? []), d]);
  }
  return out;
}

const DECIDED: Record<string, string> = { acknowledge: "Acknowledged", dismiss: "Dismissed (false flag)", confirm: "Confirmed", end: "Ended the session", invalidate: "Invalidated the session" };

function details(e: EventRecord): string {
  const d = e.data;
  const secs = (v: unknown) => `${(Number(v) / 1000).toFixed(1)} s`;
  switch (e.kind) {
    case "absence_warning":
      return `gone ${secs(d.absent_ms)}, flag in ${secs(d.flag_in_ms)}`;
    case "candidate_absent":
      return `gone ${secs(d.absent_ms)}`;
    case "candidate_returned":
      return `away ${secs(d.absence_ms)}${d.flagged ? ", was flagged" : ""}`;
    case "multiple_faces":
      return `${d.faces} faces for ${secs(d.seen_ms)}`;
    case "camera_lost":
      return String(d.error ?? "");
    case "clip_saved":
      return `${clock(Number(d.start_ms))}–${clock(Number(d.end_ms))}, ${Math.round(Number(d.bytes) / 1024)} KB`;
    case "session_ended":
      return `${d.reason}, ${secs(d.duration_ms)}`;
    default:
      return "duration_ms" in d ? `lasted ${secs(d.duration_ms)}` : "";
  }
}

function photosSection(t: Timeline): HTMLElement | null {
  const byKind = (kind: string) => t.media.filter((m) => m.kind === kind);
  const checkin = t.events.find((e) => e.kind === "checkin_completed");
  const sides = new Map<string, string>();
  for (const r of (checkin?.data.room_scan as { side: string; sha256: string }[] | undefined) ?? []) sides.set(r.sha256, r.side);
  const items = [
    ...byKind("face_photo").map((m) => [m, "Face photo"] as const),
    ...byKind("id_photo").map((m) => [m, "ID photo"] as const),
    ...byKind("room_scan").map((m) => [m, `Room: ${sides.get(m.sha256) ?? m.name.replace(/\.jpg$/, "")}`] as const),
  ];
  if (!items.length) return null;
  const list = el("ul", { class: "photos", id: "photos" });
  for (const [m, text] of items) {
    const href = api.mediaUrl(t.session.session_id, m.sha256);
    list.append(el("li", { "data-kind": m.kind }, el("figure", {}, el("a", { href, target: "_blank", rel: "noopener" }, el("img", { src: href, alt: text, loading: "lazy" })), el("figcaption", {}, text))));
  }
  return el("section", { "aria-labelledby": "photos-title" }, el("h2", { id: "photos-title" }, "Check-in photos"), list);
}

function strip(t: Timeline, zoom: number, visible: (e: EventRecord) => boolean, select: (seq: number) => void): HTMLElement {
  // A little room after the last event, so its mark stays inside the strip.
  const last = Math.max(0, ...t.events.map((e) => e.t_ms));
  const end = Math.max(1000, last + Math.max(500, last * 0.02));
  const pct = (ms: number) => `${((100 * ms) / end).toFixed(3)}%`;
  const bar = el("div", { class: "strip", id: "strip", style: `width: ${100 * zoom}%` });
  // Episodes: a violation until the event that clears it (or the end).
  const clearing: Record<string, string> = { candidate_absent: "candidate_returned", multiple_faces: "multiple_faces_cleared", camera_blocked: "camera_unblocked", camera_frozen: "camera_unfrozen" };
  for (const v of t.events.filter((e) => e.severity === "violation" && visible(e))) {
    const clear = t.events.find((e) => e.seq > v.seq && e.kind === clearing[v.kind]);
    const to = clear?.t_ms ?? end;
    bar.append(el("div", { class: "span violation", style: `left: ${pct(v.t_ms)}; width: ${pct(Math.max(to - v.t_ms, end / 400))}`, title: `${label(v.kind)} ${clock(v.t_ms)}–${clock(to)}` }));
  }
  for (const e of t.events.filter((e) => e.severity !== "info" && visible(e))) {
    const mark = el("button", { class: `mark ${e.severity}`, style: `left: ${pct(e.t_ms)}`, "aria-label": `${label(e.kind)} at ${clock(e.t_ms)}`, title: `${label(e.kind)} at ${clock(e.t_ms)}`, "data-seq": String(e.seq) });
    mark.addEventListener("click", () => select(e.seq));
    bar.append(mark);
  }
  const step = end / (6 * zoom) > 60_000 ? 60_000 : end / (6 * zoom) > 10_000 ? 10_000 : 5_000;
  for (let ms = 0; ms <= end; ms += step) bar.append(el("span", { class: "tick", style: `left: ${pct(ms)}` }, clock(ms)));
  return el("div", { class: "strip-wrap" }, bar);
}

async function sessionScreen(id: string, focusSeq?: number): Promise<void> {
  let t: Timeline;
  try {
    t = await api.timeline(id);
  } catch (e) {
    return handle(e);
  }
  const s = t.session;
  const clips = clipsOf(t);
  const decided = decisionsByEvent(t);
  const bySeq = new Map(t.events.map((e) => [e.seq, e]));
  const kinds = [...new Set(t.events.map((e) => e.kind))];
  const hidden = new Set<string>(JSON.parse(sessionStorage.getItem("invigil.hidden") ?? "[]") as string[]);
  const visible = (e: EventRecord) => !hidden.has(e.kind);
  let zoom = Number(sessionStorage.getItem("invigil.zoom") ?? "1");

  const summary = el(
    "div",
    { class: "row", id: "session-summary" },
    el("span", { class: "badge" }, s.state === "live" ? "Live" : `Ended (${s.end_reason ?? ""})`),
    ...(s.verdict ? [el("span", { class: "badge violation", id: "verdict" }, `Verdict: ${s.verdict}`)] : []),
    priorityBadge(s),
    openBadge(s),
    el("span", { class: "muted" }, `${s.violations} violations, ${s.warnings} warnings, ${s.next_seq} events`),
    ...(s.rejected_batches ? [el("span", { class: "badge violation" }, `${s.rejected_batches} rejected batch(es): tampering suspected`)] : []),
    ...(s.state === "live" ? [el("span", { class: "muted" }, connection(s))] : []),
  );

  // Session actions.
  const sessionNote = el("textarea", { id: "session-note", "aria-label": "Note for ending or invalidating the session" });
  const endButton = el("button", { id: "end-session", class: "secondary" }, "End session");
  endButton.disabled = s.state !== "live";
  const invalidate = el("button", { id: "invalidate", class: "danger" }, "Invalidate session");
  invalidate.disabled = s.verdict === "invalidated";
  const actionError = el("p", { class: "error", id: "action-error", role: "alert" });
  const sessionAction = async (action: string) => {
    if (action === "invalidate" && !sessionNote.value.trim()) {
      actionError.textContent = "Say in the note why the session is invalidated.";
      sessionNote.focus();
      return;
    }
    try {
      await api.decide(id, action, null, sessionNote.value);
      announce(action === "end" ? "Session ended." : "Session invalidated.");
      await sessionScreen(id);
    } catch (e) {
      actionError.textContent = message(e);
    }
  };
  endButton.addEventListener("click", () => void sessionAction("end"));
  invalidate.addEventListener("click", () => void sessionAction("invalidate"));
  const actions = el("section", { class: "actions", "aria-labelledby": "actions-title" }, el("h2", { id: "actions-title" }, "Session decision"), el("label", { for: "session-note" }, "Note"), sessionNote, el("div", { class: "row" }, endButton, invalidate), actionError);

  // Filters and zoom.
  const filters = el("fieldset", { class: "filters", id: "filters" }, el("legend", {}, "Show events"));
  for (const k of kinds) {
    const box = el("input", { type: "checkbox", id: `filter-${k}`, "data-kind": k });
    box.checked = !hidden.has(k);
    box.addEventListener("change", () => {
      if (box.checked) hidden.delete(k);
      else hidden.add(k);
      sessionStorage.setItem("invigil.hidden", JSON.stringify([...hidden]));
      redraw();
    });
    filters.append(el("label", {}, box, ` ${label(k)}`));
  }
  const zoomSelect = el("select", { id: "zoom" });
  for (const z of [1, 2, 4, 8, 16]) {
    const o = el("option", { value: String(z) }, `${z}×`);
    if (z === zoom) o.selected = true;
    zoomSelect.append(o);
  }
  zoomSelect.addEventListener("change", () => {
    zoom = Number(zoomSelect.value);
    sessionStorage.setItem("invigil.zoom", String(zoom));
    redraw();
  });

  const stripHolder = el("div", { id: "strip-holder" });
  const tbody = el("tbody", {});
  const table = el("table", { id: "events" }, el("thead", {}, el("tr", {}, ...["Time", "Event", "Details", "Review"].map((h) => el("th", { scope: "col" }, h)))), tbody);

  const clipSection = el("section", { "aria-labelledby": "clips-title", id: "clips" }, el("h2", { id: "clips-title" }, "Flagged clips"));
  if (!clips.length) clipSection.append(el("p", { class: "muted" }, "No clips."));
  for (const c of clips) {
    const video = el("video", { controls: "", preload: "metadata", src: api.mediaUrl(id, c.sha), "data-sha": c.sha, "aria-label": `Clip ${clock(c.start)}–${clock(c.end)}` });
    clipSection.append(el("figure", { class: "clip", id: `clip-${c.seqs[0]}` }, video, el("figcaption", {}, `${c.seqs.map((q) => label(bySeq.get(q)?.kind ?? "")).join(", ")} — ${clock(c.start)} to ${clock(c.end)}`)));
  }
  const play = (seq: number) => {
    const c = clips.find((x) => x.seqs.includes(seq));
    const e = bySeq.get(seq);
    const video = c && main.querySelector<HTMLVideoElement>(`#clip-${c.seqs[0]} video`);
    if (!c || !e || !video) return;
    const at = Math.max(0, (e.t_ms - c.start) / 1000 - 1);
    const go = () => {
      video.currentTime = at;
      void video.play().catch(() => undefined);
    };
    if (video.readyState >= 1) go();
    else video.addEventListener("loadedmetadata", go, { once: true });
    video.scrollIntoView({ block: "center" });
    video.focus();
  };

  const selectRow = (seq: number) => {
    const row = tbody.querySelector<HTMLElement>(`tr[data-seq="${seq}"]`);
    tbody.querySelectorAll("tr.selected").forEach((r) => r.classList.remove("selected"));
    if (row) {
      row.classList.add("selected");
      row.scrollIntoView({ block: "center" });
      row.querySelector<HTMLElement>("button, input")?.focus();
    }
  };

  const decide = async (seq: number, action: string, note: HTMLInputElement, error: HTMLElement) => {
    try {
      await api.decide(id, action, seq, note.value);
      announce(`${DECIDED[action]}: event ${seq}.`);
      await sessionScreen(id, seq);
    } catch (e) {
      error.textContent = message(e);
    }
  };

  const row = (e: EventRecord): HTMLTableRowElement => {
    const review = el("td", {});
    if (e.severity !== "info") {
      const history = decided.get(e.seq) ?? [];
      const current = history[history.length - 1];
      review.append(
        el(
          "p",
          { class: current ? "decision" : "decision muted", "data-action": current?.action ?? "" },
          current ? `${DECIDED[current.action]} by ${current.proctor} at ${new Date(current.at_ms).toLocaleTimeString()}${current.note ? `: “${current.note}”` : ""}` : "Not yet reviewed",
        ),
      );
      const note = el("input", { type: "text", "aria-label": `Note on event ${e.seq}`, placeholder: "Note (optional)", maxlength: "2000", "data-note": String(e.seq) });
      const error = el("span", { class: "error", role: "alert" });
      const buttons = (["acknowledge", "dismiss", "confirm"] as const).map((a) => {
        const b = el("button", { class: a === "confirm" ? "danger" : "secondary", "data-action": a, "data-seq": String(e.seq) }, a === "acknowledge" ? "Acknowledge" : a === "dismiss" ? "Dismiss" : "Confirm");
        b.addEventListener("click", () => void decide(e.seq, a, note, error));
        return b;
      });
      review.append(el("div", { class: "decide" }, note, ...buttons), error);
      if (clips.some((c) => c.seqs.includes(e.seq))) {
        const p = el("button", { class: "secondary play", "data-play": String(e.seq) }, "Play clip");
        p.addEventListener("click", () => play(e.seq));
        review.append(p);
      }
    }
    return el(
      "tr",
      { class: e.severity, "data-seq": String(e.seq), "data-kind": e.kind },
      el("td", {}, clock(e.t_ms)),
      el("td", {}, label(e.kind), " ", el("span", { class: `badge ${e.severity}` }, e.severity)),
      el("td", {}, details(e)),
      review,
    );
  };

  const redraw = () => {
    stripHolder.replaceChildren(strip(t, zoom, visible, selectRow));
    tbody.replaceChildren(...t.events.filter(visible).map(row));
  };
  redraw();

  // The audit trail: every decision and server note, in time order.
  const audit = [
    ...t.decisions.map((d) => ({ at: d.at_ms, who: d.proctor, what: `${DECIDED[d.action] ?? d.action}${d.event_seq !== null ? ` — event ${d.event_seq} (${label(bySeq.get(d.event_seq)?.kind ?? "")})` : ""}`, note: d.note })),
    ...t.notes.map((n) => ({ at: n.at_ms, who: n.actor, what: n.kind.replace(/_/g, " "), note: String(n.detail.message ?? n.detail.reason ?? "") })),
  ].sort((a, b) => a.at - b.at);
  const auditList = el("ol", { id: "audit" });
  for (const a of audit) auditList.append(el("li", { class: "audit" }, `${new Date(a.at).toLocaleString()} — ${a.who}: ${a.what}${a.note ? ` “${a.note}”` : ""}`));
  if (!audit.length) auditList.append(el("li", { class: "muted" }, "No decisions yet."));

  const photos = photosSection(t);
  show(
    `${s.candidate_id} — ${s.exam_id}`,
    el("p", {}, el("a", { href: "#/live" }, "← Live sessions")),
    summary,
    el(
      "div",
      { class: "layout two" },
      el(
        "div",
        {},
        el("h2", {}, "Timeline"),
        el("div", { class: "row" }, el("label", { for: "zoom" }, "Zoom"), zoomSelect),
        stripHolder,
        filters,
        table,
      ),
      el("div", {}, actions, ...(photos ? [photos] : []), clipSection, el("section", { "aria-labelledby": "audit-title" }, el("h2", { id: "audit-title" }, "Audit trail"), auditList)),
    ),
  );
  if (focusSeq !== undefined) selectRow(focusSeq);
  else (document.getElementById("page-title") as HTMLElement).focus();
}

function announce(text: string): void {
  const n = el("div", { class: "toast", style: "background: var(--ok)" }, text);
  region.append(n);
  setTimeout(() => n.remove(), 4000);
}

// ------------------------------------------------------------------ routing

function handle(e: unknown): void {
  if (e instanceof ApiError && e.status === 401) {
    me = null;
    signInScreen("Your sign-in has expired. Sign in again.");
    return;
  }
  show("Something went wrong", el("p", { class: "error", role: "alert" }, message(e)), el("p", {}, el("a", { href: "#/live" }, "Back to live sessions")));
}

async function route(): Promise<void> {
  if (!me) {
    try {
      const who = await api.me();
      if (who.role !== "proctor") throw new ApiError(403, "This is the proctors' console.");
      me = who.username ?? "";
    } catch (e) {
      return signInScreen(e instanceof ApiError && e.status === 403 ? e.message : undefined);
    }
  }
  top.hidden = false;
  (document.getElementById("who") as HTMLElement).textContent = `Signed in as ${me}`;
  openStream();
  const hash = location.hash || "#/live";
  for (const a of top.querySelectorAll("nav a")) {
    if (hash.startsWith(a.getAttribute("href") ?? "")) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (hash.startsWith("#/session/")) return sessionScreen(decodeURIComponent(hash.slice("#/session/".length)));
  if (hash.startsWith("#/sessions")) return sessionsScreen();
  return liveScreen();
}

soundBox.checked = localStorage.getItem("invigil.sound") !== "off";
soundBox.addEventListener("change", () => localStorage.setItem("invigil.sound", soundBox.checked ? "on" : "off"));
(document.getElementById("sign-out") as HTMLButtonElement).addEventListener("click", () => void signOut());
window.addEventListener("hashchange", () => void route());
setInterval(() => {
  if (me && (location.hash.startsWith("#/live") || location.hash === "")) void liveScreen(false);
}, 5000);
void route();
