// All sessions, highest review priority first.

import { api, type SessionSummary } from "../api";
import { el, priorityBadge, show } from "../dom";
import { handle } from "../router";

export async function sessionsScreen(): Promise<void> {
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

