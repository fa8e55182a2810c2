// Live sessions: a card each, the most urgent first.

import { api, type SessionSummary } from "../api";
import { ago, clock, connection, el, label, main, openBadge, priorityBadge, show } from "../dom";
import { handle } from "../router";
import { onLivePage, state } from "../state";

export function fillCardAlert(card: HTMLElement, id: string): void {
  const a = state.lastAlert.get(id);
  const line = card.querySelector<HTMLElement>(".last-alert");
  if (!a || !line) return;
  card.dataset.alertSeq = String(a.event.seq);
  line.textContent = `Last alert: ${label(a.event.kind)} at ${clock(a.event.t_ms)} (${ago(a.at)})`;
}

function card(s: SessionSummary): HTMLLIElement {
  const li = el(
    "li",
    { class: `card${s.open_alerts > 0 ? " open" : ""}`, "data-session": s.session_id, "data-open": String(s.open_alerts) },
    ...(s.snapshot ? [el("img", { class: "thumb", src: api.mediaUrl(s.session_id, s.snapshot), alt: `Latest spot-check picture of ${s.candidate_id}`, width: "80", height: "60" })] : []),
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

export async function liveScreen(focus = true): Promise<void> {
  let sessions: SessionSummary[];
  try {
    sessions = (await api.sessions("state=live&order=attention")).sessions;
  } catch (e) {
    return handle(e);
  }
  if (!onLivePage()) return;
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

