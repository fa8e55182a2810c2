// One session: its timeline strip and events with decisions, check-in
// photos, flagged clips and the audit trail.

import { api, type Decision, type DecisionAction, type StoredEvent, type Timeline } from "../api";
import { announce, clock, connection, DECIDED, el, label, main, message, openBadge, priorityBadge, show } from "../dom";
import { handle } from "../router";
import { FINDING_TEXT } from "../alerts";
import { flagHead, flagRow, INDEX_TEXT, pText } from "../forensics";
import { state } from "../state";

type Clip = { event: StoredEvent; seqs: number[]; start: number; end: number; sha: string };

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


function details(e: StoredEvent): string {
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
    case "looking_away_warning":
    case "looking_away":
      // Degrees from the candidate's own neutral pose; the direction is theirs.
      return `to their ${String(d.direction ?? "?")} (yaw ${Number(d.yaw).toFixed(0)}°, pitch ${Number(d.pitch).toFixed(0)}°) for ${secs(d.duration_ms)}`;
    case "looking_back":
      return `looked ${String(d.direction ?? "?")} for ${secs(d.duration_ms)}${d.flagged ? ", was flagged" : ""}`;
    case "object_detected":
      return `${String(d.label ?? "object")} (score ${Number(d.score).toFixed(2)}) for ${secs(d.seen_ms)}`;
    case "object_cleared":
      return `${String(d.label ?? "object")} gone after ${secs(d.duration_ms)}`;
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
  const identity = identityRow(t, checkin?.data.identity);
  const live = livenessLine(checkin?.data.liveness);
  return el("section", { "aria-labelledby": "photos-title" }, el("h2", { id: "photos-title" }, "Check-in photos"), ...(identity ? [identity] : []), ...(live ? [live] : []), list);
}

/** The head-turn check's result as the candidate's app reported it
 * (docs/identity.md): every value from the candidate's machine is
 * checked before it is shown. */
function livenessLine(raw: unknown): HTMLElement | null {
  if (!raw || typeof raw !== "object") return null;
  const l = raw as Record<string, unknown>;
  const passed = l.passed === true;
  const attempts = within(l.attempts, 0, 1000);
  const tries = attempts !== null ? `${attempts} attempt${attempts === 1 ? "" : "s"}` : "";
  let text: string;
  if (passed) {
    const order = Array.isArray(l.order) ? l.order.filter((o) => o === "left" || o === "right") : [];
    const peaks = Array.isArray(l.peaks) ? l.peaks.map((p) => within(p, -10, 10)) : [];
    const turns = order.length === 2 && peaks.length === 2 && peaks.every((p) => p !== null) ? `turned ${order[0]} ${peaks[0]!.toFixed(2)}, ${order[1]} ${peaks[1]!.toFixed(2)} eye distances (from 0.22)` : "";
    const sim = within(l.similarity, -1, 1);
    const same = sim !== null ? `face similarity to the photo ${sim.toFixed(2)}` : "";
    text = `Head-turn check passed: ${[tries, turns, same].filter(Boolean).join("; ")}`;
  } else {
    const why = typeof l.failure === "string" ? l.failure.slice(0, 200) : "";
    text = `Head-turn check not passed${tries ? ` after ${tries}` : ""}${why ? `: ${why}` : ""}`;
  }
  return el("p", { class: `liveness ${passed ? "" : "disagrees"}`, id: "liveness", "data-passed": String(passed) }, text);
}

/** A number from the candidate's machine, kept within [lo, hi]. */
function within(v: unknown, lo: number, hi: number): number | null {
  return typeof v === "number" && Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : null;
}

/** Face photo, the ID's portrait (cropped from the ID photo) and their
 * similarity side by side, as the candidate's app compared them
 * (docs/identity.md). */
function identityRow(t: Timeline, raw: unknown): HTMLElement | null {
  if (!raw || typeof raw !== "object") return null;
  const id = raw as Record<string, unknown>;
  const face = t.media.find((m) => m.kind === "face_photo");
  const card = t.media.find((m) => m.kind === "id_photo");
  if (!face || !card) return null;
  const faceUrl = api.mediaUrl(t.session.session_id, face.sha256);
  const cardUrl = api.mediaUrl(t.session.session_id, card.sha256);
  const box = Array.isArray(id.portrait) ? id.portrait.map((v) => within(v, 0, 1)) : [];
  let portrait: HTMLElement;
  if (box.length === 4 && box.every((v) => v !== null)) {
    const [x, y, w, h] = box as number[];
    const bw = Math.max(w, 0.01);
    const bh = Math.max(h, 0.01);
    portrait = el("div", { class: "portrait", role: "img", "aria-label": "The portrait on the ID" });
    portrait.style.backgroundImage = `url("${cardUrl}")`;
    portrait.style.backgroundSize = `${100 / bw}% ${100 / bh}%`;
    portrait.style.backgroundPosition = `${bw < 1 ? (x / (1 - bw)) * 100 : 0}% ${bh < 1 ? (y / (1 - bh)) * 100 : 0}%`;
  } else {
    portrait = el("img", { src: cardUrl, alt: "The ID photo (no portrait found on it)" });
  }
  const sim = within(id.similarity, -1, 1);
  const same = id.same_person === true;
  const attempts = within(id.attempts, 0, 1000);
  const verdict = sim === null ? "No portrait found on the ID" : same ? `Same person (similarity ${sim.toFixed(2)}; from 0.40)` : `Not the same person by the app's comparison (similarity ${sim.toFixed(2)}; from 0.40): compare them yourself`;
  const tries = attempts !== null ? ` — ${attempts} ID photo${attempts === 1 ? "" : "s"} taken` : "";
  return el(
    "div",
    { class: `identity ${same ? "" : "disagrees"}`, id: "identity", "data-same": String(same) },
    el("figure", {}, el("img", { src: faceUrl, alt: "Face photo" }), el("figcaption", {}, "Face photo")),
    el("figure", {}, portrait, el("figcaption", {}, "ID portrait")),
    el("p", { class: "verdict" }, `${verdict}${tries}`),
  );
}

/** Spot checks: each snapshot with the client's count, the server's, and
 * the verdict (docs/spot-checks.md). */
function spotSection(t: Timeline): HTMLElement | null {
  if (!t.spot_checks.length) return null;
  const verdicts: Record<string, string> = {
    agree: "agrees",
    no_face: "no face, client said one",
    extra_faces: "more faces than the client counted",
    events_claim_presence: "nobody, and no absence reported",
    repeated: "same picture as before",
    unreadable: "unreadable",
    missing: "not sent",
    judging: "being checked",
  };
  const list = el("ul", { class: "photos", id: "spot-checks" });
  for (const c of t.spot_checks) {
    const text = `${c.t_ms !== null ? clock(c.t_ms) : "asked"} — ${c.verdict ? verdicts[c.verdict] ?? c.verdict : "pending"} (client ${c.client_faces ?? "?"}, server ${c.server_faces ?? "?"})`;
    const figure = c.sha256
      ? el("figure", {}, el("a", { href: api.mediaUrl(t.session.session_id, c.sha256), target: "_blank", rel: "noopener" }, el("img", { src: api.mediaUrl(t.session.session_id, c.sha256), alt: `Spot check ${text}`, loading: "lazy" })), el("figcaption", {}, text))
      : el("figure", {}, el("figcaption", {}, text));
    list.append(el("li", { "data-verdict": c.verdict ?? "pending", class: c.verdict && c.verdict !== "agree" && c.verdict !== "judging" ? "disagrees" : "" }, figure));
  }
  const off = t.spot_checks.filter((c) => c.verdict && !["agree", "judging"].includes(c.verdict)).length;
  return el(
    "section",
    { "aria-labelledby": "spot-title" },
    el("h2", { id: "spot-title" }, "Spot checks"),
    el("p", { class: "muted" }, `${t.spot_checks.length} asked, ${off} disagreeing with the candidate's client.`),
    list,
  );
}

/** The data-forensics flags on the candidate (docs/forensics.md), beside
 * the proctoring record; admins choose which an invalidation cites. */
function forensicsSection(t: Timeline): HTMLElement | null {
  if (!t.forensics.length) return null;
  const met = t.forensics.filter((f) => f.invalidation).length;
  const rows = t.forensics.map((f) => {
    const row = flagRow(f, false);
    if (state.admin) {
      const box = el("input", { type: "checkbox", "data-cite": f.id, "aria-label": `Cite ${INDEX_TEXT[f.index] ?? f.index} in an invalidation` });
      box.checked = f.invalidation;
      row.prepend(el("td", {}, box));
    }
    return row;
  });
  const head = flagHead(false);
  if (state.admin) head.prepend(el("th", { scope: "col" }, "Cite"));
  return el(
    "section",
    { id: "forensics", "aria-labelledby": "forensics-title" },
    el("h2", { id: "forensics-title" }, "Data forensics"),
    el("p", { class: met ? "badge violation" : "muted", id: "forensics-standing" }, `${t.forensics.length} flag${t.forensics.length === 1 ? "" : "s"} from the exam's results, ${met} meeting the invalidation conditions. Weigh them with the timeline: a flag is not a verdict.`),
    el("table", { id: "forensics-flags" }, el("thead", {}, head), el("tbody", {}, ...rows)),
    ...(state.admin ? [el("p", { class: "muted" }, "Ticked flags are cited if you invalidate the session.")] : []),
  );
}

function strip(t: Timeline, zoom: number, visible: (e: StoredEvent) => boolean, select: (seq: number) => void): HTMLElement {
  // A little room after the last event, so its mark stays inside the strip.
  const last = Math.max(0, ...t.events.map((e) => e.t_ms));
  const end = Math.max(1000, last + Math.max(500, last * 0.02));
  const pct = (ms: number) => `${((100 * ms) / end).toFixed(3)}%`;
  const bar = el("div", { class: "strip", id: "strip", style: `width: ${100 * zoom}%` });
  // Episodes: a violation until the event that clears it (or the end).
  const clearing: Record<string, string> = {
    candidate_absent: "candidate_returned",
    multiple_faces: "multiple_faces_cleared",
    camera_blocked: "camera_unblocked",
    camera_frozen: "camera_unfrozen",
    identity_mismatch: "identity_restored",
    looking_away: "looking_back",
    object_detected: "object_cleared",
  };
  // An object's episode ends when that label has gone.
  const sameLabel = (v: StoredEvent, e: StoredEvent) => v.kind !== "object_detected" || e.data.label === v.data.label;
  for (const v of t.events.filter((e) => e.severity === "violation" && visible(e))) {
    const clear = t.events.find((e) => e.seq > v.seq && e.kind === clearing[v.kind] && sameLabel(v, e));
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

export async function sessionScreen(id: string, focusSeq?: number): Promise<void> {
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
  const visible = (e: StoredEvent) => !hidden.has(e.kind);
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
  // What differs for this candidate, and what the server found.
  const keys = (o: Record<string, unknown>) => Object.entries(o).map(([k, v]) => `${k} = ${String(v)}`).join(", ");
  const mismatches = t.notes.filter((n) => n.kind === "policy_mismatch");
  const findings = t.notes.filter((n) => n.kind in FINDING_TEXT && n.kind !== "policy_mismatch");
  const flags = el(
    "div",
    { id: "session-flags" },
    ...(s.accommodations && Object.keys(s.accommodations).length
      ? [el("p", { class: "notice", id: "accommodations" }, el("strong", {}, "Accommodations: "), keys(s.accommodations), " (set by an admin for this candidate; see the exam's audit trail)")]
      : []),
    ...t.notes
      .filter((n) => n.kind === "started_offline")
      .map((n) => {
        const outdated = (n.detail.outdated ?? {}) as Record<string, { now: unknown; link: unknown }>;
        const parts = Object.entries(outdated).map(([k, d]) => `${k}: ran ${String(d.link)}, exam now ${String(d.now)}`);
        return el(
          "p",
          { class: "notice", id: "started-offline" },
          el("strong", {}, "Began offline: "),
          `the candidate's client started from its launch link before it reached the server, which first heard of the session at ${new Date(Number(n.detail.first_contact_ms)).toLocaleString()}${n.detail.after_close ? ", after the exam closed" : ""}.`,
          parts.length ? ` The link was issued before a change: ${parts.join("; ")}.` : "",
        );
      }),
    ...mismatches.map((n) => {
      const diff = (n.detail.differences ?? {}) as Record<string, { session: unknown; client: unknown }>;
      const parts = Object.entries(diff).map(([k, d]) => `${k}: exam ${String(d.session)}, client ${String(d.client)}`);
      return el(
        "p",
        { class: "badge violation policy-mismatch" },
        `The candidate's client ran another policy than the exam's (${n.detail.at === "session_started" ? "at the start" : "when it asked for the session"}): ${parts.join("; ") || String(n.detail.unreadable ?? "")}`,
      );
    }),
    ...findings.map((n) => {
      const why = n.kind === "break_not_allowed" ? String(n.detail.problem ?? "") : n.kind === "checkin_incomplete" ? `missing ${((n.detail.missing ?? []) as string[]).join(", ")}` : n.kind === "identity_unverified" ? identityWhy(n.detail) : n.kind === "liveness_unverified" ? livenessWhy(n.detail) : "";
      return el("p", { class: "badge violation server-finding", "data-kind": n.kind }, `${FINDING_TEXT[n.kind]}${why ? `: ${why}` : ""}`);
    }),
  );

  // Session actions.
  const sessionNote = el("textarea", { id: "session-note", "aria-label": "Note for ending or invalidating the session" });
  const endButton = el("button", { id: "end-session", class: "secondary" }, "End session");
  endButton.disabled = s.state !== "live";
  const invalidate = el("button", { id: "invalidate", class: "danger" }, "Invalidate session");
  invalidate.disabled = s.verdict === "invalidated";
  const actionError = el("p", { class: "error", id: "action-error", role: "alert" });
  const sessionAction = async (action: DecisionAction) => {
    if (action === "invalidate" && !sessionNote.value.trim()) {
      actionError.textContent = "Say in the note why the session is invalidated.";
      sessionNote.focus();
      return;
    }
    try {
      const cites = action === "invalidate" ? [...document.querySelectorAll<HTMLInputElement>("#forensics input[data-cite]:checked")].map((b) => b.dataset.cite ?? "") : [];
      await api.decide(id, action, null, sessionNote.value, cites);
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

  const decide = async (seq: number, action: DecisionAction, note: HTMLInputElement, error: HTMLElement) => {
    try {
      await api.decide(id, action, seq, note.value);
      announce(`${DECIDED[action]}: event ${seq}.`);
      await sessionScreen(id, seq);
    } catch (e) {
      error.textContent = message(e);
    }
  };

  const row = (e: StoredEvent): HTMLTableRowElement => {
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
    ...t.decisions.map((d) => ({
      at: d.at_ms,
      who: d.proctor,
      what: `${DECIDED[d.action] ?? d.action}${d.event_seq !== null ? ` — event ${d.event_seq} (${label(bySeq.get(d.event_seq)?.kind ?? "")})` : ""}${d.cites.length ? ` — citing ${d.cites.map((f) => `${INDEX_TEXT[f.index] ?? f.index} (p ${pText(f.p)}${f.partner_id ? ` with ${f.partner_id}` : ""})`).join("; ")}` : ""}`,
      note: d.note,
    })),
    ...t.notes.map((n) => ({ at: n.at_ms, who: n.actor, what: n.kind.replace(/_/g, " "), note: String(n.detail.message ?? n.detail.reason ?? "") })),
  ].sort((a, b) => a.at - b.at);
  const auditList = el("ol", { id: "audit" });
  for (const a of audit) auditList.append(el("li", { class: "audit" }, `${new Date(a.at).toLocaleString()} — ${a.who}: ${a.what}${a.note ? ` “${a.note}”` : ""}`));
  if (!audit.length) auditList.append(el("li", { class: "muted" }, "No decisions yet."));

  const photos = photosSection(t);
  const spots = spotSection(t);
  const forensics = forensicsSection(t);
  show(
    `${s.candidate_id} — ${s.exam_id}`,
    el("p", {}, el("a", { href: "#/live" }, "← Live sessions")),
    summary,
    flags,
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
      el("div", {}, ...(forensics ? [forensics] : []), actions, ...(photos ? [photos] : []), ...(spots ? [spots] : []), clipSection, el("section", { "aria-labelledby": "audit-title" }, el("h2", { id: "audit-title" }, "Audit trail"), auditList)),
    ),
  );
  if (focusSeq !== undefined) selectRow(focusSeq);
  else (document.getElementById("page-title") as HTMLElement).focus();
}

/** Why the head-turn check did not show a live person. */
function livenessWhy(d: Record<string, unknown>): string {
  if (typeof d.problem === "string") return d.problem;
  const tries = typeof d.attempts === "number" ? `${d.attempts} attempt${d.attempts === 1 ? "" : "s"}` : "";
  const failure = typeof d.failure === "string" ? d.failure : "";
  return [tries, failure].filter(Boolean).join(", last: ") + "; check the face photo and the first minutes of the exam";
}

/** Why the check-in could not tell that the ID is the candidate's. */
function identityWhy(d: Record<string, unknown>): string {
  if (typeof d.problem === "string") return d.problem;
  const sim = typeof d.similarity === "number" ? `similarity ${d.similarity.toFixed(2)} (same person from 0.40)` : "no portrait found on the ID";
  const tries = typeof d.attempts === "number" ? `, ${d.attempts} ID photo${d.attempts === 1 ? "" : "s"} taken` : "";
  return `${sim}${tries}: compare the face photo with the ID photo`;
}
