// The live alert stream: a tone, a notice and the card of each alert as it
// arrives, and other proctors' decisions, so consoles stay in step.

import type { Alert, Decided, NoteAlert } from "./api";
import { DECIDED, el, label, main, region, soundBox } from "./dom";
import { fillCardAlert, liveScreen } from "./screens/live";
import { sessionScreen } from "./screens/session";
import { onLivePage, state } from "./state";

/** What tests (and the curious) can read: when each alert arrived and was shown. */
type AlertRecord = { session_id: string; seq: number; kind: string; severity: string; receivedAt: number; shownAt?: number };
const probe = { alerts: [] as AlertRecord[] };
(window as unknown as { __invigil: typeof probe }).__invigil = probe;

let stream: EventSource | null = null;
let refreshTimer: number | undefined;

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

/** Alerts shown, by `session:seq`: a stream resumed after a reconnect
 * (the browser sends Last-Event-ID) repeats the last minute's. */
const shown = new Set<string>();

function onAlert(a: Alert): void {
  const key = `${a.session_id}:${a.event.seq}`;
  if (shown.has(key)) return;
  if (shown.size > 20000) shown.clear();
  shown.add(key);
  const record: AlertRecord = { session_id: a.session_id, seq: a.event.seq, kind: a.event.kind, severity: a.event.severity, receivedAt: Date.now() };
  probe.alerts.push(record);
  state.lastAlert.set(a.session_id, { ...a, at: Date.now() });
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
  if (onLivePage()) {
    clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(() => void liveScreen(false), 700);
  }
}

/** How the console names what the server found about a session. */
export const FINDING_TEXT: Record<string, string> = {
  policy_mismatch: "Client runs another policy than the exam's",
  break_not_allowed: "A break the exam does not allow",
  checkin_incomplete: "Check-in without every photo the exam asks for",
  checkin_missing: "Session without the check-in the exam asks for",
  analysis_disagreement: "A spot check disagrees with what the client reported",
  closed_before_contact: "Began offline; the server first heard of it after the exam closed",
  identity_unverified: "The ID's photo did not match the face photo at check-in",
  liveness_unverified: "The check-in's head-turn liveness check did not pass",
};

/** What the server found about a session (e.g. a client running another
 * policy than its exam's): a violation-like notice. */
function onNote(n: NoteAlert): void {
  beep();
  const what = FINDING_TEXT[n.note.kind] ?? n.note.kind.replace(/_/g, " ");
  const t = el("div", { class: "toast violation", "data-note": n.note.kind }, `Server: ${what} — ${n.candidate_id} (${n.exam_id})`);
  region.append(t);
  setTimeout(() => t.remove(), 10000);
  if (onLivePage()) {
    clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(() => void liveScreen(false), 700);
  } else if (location.hash === `#/session/${encodeURIComponent(n.session_id)}`) {
    const typing = document.activeElement?.matches("input, textarea");
    if (!typing) void sessionScreen(n.session_id);
  }
}

/** Another proctor's decision: keep this console in step. */
function onDecision(d: Decided): void {
  if (d.decision.proctor === state.me) return;
  const id = d.decision.session_id;
  const what = DECIDED[d.decision.action] ?? d.decision.action;
  const n = el("div", { class: "toast", style: "background: var(--accent)" }, `${d.decision.proctor}: ${what} — ${d.session.candidate_id}`);
  region.append(n);
  setTimeout(() => n.remove(), 6000);
  if (onLivePage()) {
    clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(() => void liveScreen(false), 300);
  } else if (location.hash === `#/session/${encodeURIComponent(id)}`) {
    // Redraw, unless this proctor is typing a note.
    const typing = document.activeElement?.matches("input, textarea");
    if (!typing) void sessionScreen(id);
  }
}

export function openStream(): void {
  if (stream) return;
  stream = new EventSource("/api/v1/alerts");
  stream.addEventListener("alert", (ev) => onAlert(JSON.parse((ev as MessageEvent).data) as Alert));
  stream.addEventListener("decision", (ev) => onDecision(JSON.parse((ev as MessageEvent).data) as Decided));
  stream.addEventListener("note", (ev) => onNote(JSON.parse((ev as MessageEvent).data) as NoteAlert));
}

export function closeStream(): void {
  stream?.close();
  stream = null;
}

