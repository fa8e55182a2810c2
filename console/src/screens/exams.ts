// Exams: the list, one exam with its roster and launch codes, and for
// admins the forms that create an exam, enrol candidates (a CSV roster or
// one at a time), issue new codes and set accommodations.

import { api, ApiError, type BadgeList, type Enrolment, type Exam, type Issued, type NewExam } from "../api";
import type { BreakClock, ForensicsReport, IssuedCode } from "../bindings";
import { badgesSection } from "../badges";
import { flagHead, flagRow } from "../forensics";
import { announce, el, message, show } from "../dom";
import { handle } from "../router";
import { state } from "../state";

const when = (ms: number): string => new Date(ms).toLocaleString();

/** `datetime-local` value for a time, in this browser's time zone. */
function localInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

/** Policy keys written one per line, `key = value`. */
function readKeys(text: string, what: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  text.split("\n").forEach((line, i) => {
    const t = line.replace(/#.*/, "").trim();
    if (!t) return;
    const m = /^([a-z_0-9]+)\s*=\s*(.+)$/.exec(t);
    if (!m) throw new ApiError(400, `${what}, line ${i + 1}: write key = value, e.g. absence_flag_s = 30`);
    const v = m[2].trim();
    const n = Number(v);
    out[m[1]] = v === "true" ? true : v === "false" ? false : Number.isFinite(n) ? n : v.replace(/^"(.*)"$/, "$1");
  });
  return out;
}

const showKeys = (keys: Record<string, unknown>): string =>
  Object.keys(keys).length === 0 ? "" : Object.entries(keys).map(([k, v]) => `${k} = ${String(v)}`).join(", ");

/** An error as a form shows it: the field the server names, then why. */
function formError(e: unknown): string {
  return e instanceof ApiError && e.field ? `${e.field}: ${e.message}` : message(e);
}

function onOff(b: boolean): string {
  return b ? "yes" : "no";
}

/** The launch link of a code, with its offline ticket (docs/exams.md). */
function launchLink(c: IssuedCode): string {
  const q = encodeURIComponent;
  return `invigil://launch?server=${q(location.origin)}&code=${q(c.code)}&ticket=${q(c.ticket)}`;
}

/** The codes as CSV for mailing: candidate_id,name,email,code,link. */
function codesCsv(issued: Issued): string {
  const field = (s: string): string => {
    const safe = /^[=+\-@]/.test(s) ? `'${s}` : s;
    return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
  };
  return ["candidate_id,name,email,code,link", ...issued.codes.map((c) => [c.candidate_id, c.name, c.email, c.code, launchLink(c)].map(field).join(","))].join("\n") + "\n";
}

/** The codes just issued: shown once, with a CSV download. */
function codesBlock(issued: Issued): HTMLElement {
  const url = URL.createObjectURL(new Blob([codesCsv(issued)], { type: "text/csv" }));
  const rows = issued.codes.map((c) => el("tr", { "data-candidate": c.candidate_id }, el("td", {}, c.candidate_id), el("td", {}, c.name), el("td", {}, c.email), el("td", { class: "code" }, c.code)));
  return el(
    "section",
    { id: "issued", class: "notice", "aria-labelledby": "issued-title" },
    el("h2", { id: "issued-title" }, `${issued.codes.length} launch code${issued.codes.length === 1 ? "" : "s"} issued`),
    el("p", {}, "Shown this once: the server keeps only their hashes. Download them now for mailing; new codes can be issued for unused ones."),
    el("a", { id: "codes-csv", href: url, download: `${issued.exam_id}-codes.csv`, class: "button" }, "Download codes (CSV)"),
    el("table", { id: "codes-table" }, el("thead", {}, el("tr", {}, ...["Candidate", "Name", "E-mail", "Launch code"].map((h) => el("th", { scope: "col" }, h)))), el("tbody", {}, ...rows)),
  );
}

export async function examsScreen(): Promise<void> {
  let exams: Exam[];
  try {
    exams = (await api.exams()).exams;
  } catch (e) {
    return handle(e);
  }
  const rows = exams.map((x) =>
    el(
      "tr",
      { "data-exam": x.id },
      el("td", {}, el("a", { href: `#/exam/${encodeURIComponent(x.id)}` }, x.id)),
      el("td", {}, x.title),
      el("td", {}, when(x.opens_ms)),
      el("td", {}, when(x.closes_ms)),
      el("td", {}, String(x.enrolled)),
      el("td", {}, String(x.started)),
    ),
  );
  const head = el("tr", {}, ...["Exam", "Title", "Opens", "Closes", "Enrolled", "Started"].map((h) => el("th", { scope: "col" }, h)));
  const parts: Node[] = [
    el("table", { id: "exams-table" }, el("thead", {}, head), el("tbody", {}, ...rows)),
  ];
  if (exams.length === 0) parts.unshift(el("p", { class: "muted" }, "No exams yet."));
  if (state.admin) parts.push(examForm());
  else parts.push(el("p", { class: "muted" }, "Only admins create exams and enrol candidates."));
  show("Exams", ...parts);
  (document.getElementById("page-title") as HTMLElement).focus();
}

/** The form that creates an exam (or, given one, changes it). */
function examForm(exam?: Exam): HTMLElement {
  const now = Date.now();
  const id = el("input", { id: "exam-id", required: "", pattern: "[A-Za-z0-9._:\\-]{1,64}", value: exam?.id ?? "" });
  if (exam) id.setAttribute("readonly", "");
  const title = el("input", { id: "exam-title", required: "", value: exam?.title ?? "" });
  const opens = el("input", { id: "exam-opens", type: "datetime-local", required: "", value: localInput(exam?.opens_ms ?? now) });
  const closes = el("input", { id: "exam-closes", type: "datetime-local", required: "", value: localInput(exam?.closes_ms ?? now + 3 * 3_600_000) });
  const box = (bid: string, text: string, checked: boolean): [HTMLInputElement, HTMLElement] => {
    const input = el("input", { id: bid, type: "checkbox" });
    input.checked = checked;
    return [input, el("label", { class: "row", for: bid }, input, text)];
  };
  const [face, faceL] = box("exam-face", "Face photo", exam?.checkin.face ?? true);
  const [idPhoto, idL] = box("exam-id-photo", "ID photo", exam?.checkin.id ?? true);
  const [room, roomL] = box("exam-room", "Room scan", exam?.checkin.room ?? true);
  const [live, liveL] = box("exam-liveness", "Head-turn liveness check (with the face photo)", exam?.checkin.liveness ?? true);
  const [paper, paperL] = box("exam-paper", "Scratch paper allowed (looking down is not flagged)", exam?.aids.scratch_paper ?? false);
  const [books, booksL] = box("exam-books", "Books allowed (a book in view is not flagged)", exam?.aids.books ?? false);
  const breaks = el("input", { id: "exam-breaks", type: "number", min: "0", max: "20", value: String(exam?.aids.breaks?.count ?? 0) });
  const minutes = el("input", { id: "exam-break-minutes", type: "number", min: "1", max: "240", step: "any", value: String(exam?.aids.breaks?.minutes ?? 10) });
  const clock = el("select", { id: "exam-break-clock" }, el("option", { value: "paused" }, "Exam clock paused"), el("option", { value: "running" }, "Exam clock running"));
  clock.value = exam?.aids.breaks?.clock ?? "paused";
  const policy = el("textarea", { id: "exam-policy", rows: "4", placeholder: "absence_flag_s = 8\nmultiple_faces_flag_s = 2" });
  policy.value = exam ? Object.entries(exam.policy).map(([k, v]) => `${k} = ${String(v)}`).join("\n") : "";
  const error = el("p", { class: "error", id: "exam-error", role: "alert" });
  const button = el("button", { type: "submit", id: "exam-save" }, exam ? "Save changes" : "Create exam");
  const form = el(
    "form",
    { id: "exam-form", class: "stack" },
    el("h2", {}, exam ? "Change this exam" : "New exam"),
    el("label", { for: "exam-id" }, "Exam id (letters, digits, . _ : -)"),
    id,
    el("label", { for: "exam-title" }, "Title"),
    title,
    el("label", { for: "exam-opens" }, "Launch codes work from"),
    opens,
    el("label", { for: "exam-closes" }, "Until"),
    closes,
    el("fieldset", {}, el("legend", {}, "Check-in asks for"), faceL, liveL, idL, roomL),
    el("fieldset", {}, el("legend", {}, "Aids"), paperL, booksL, el("label", { for: "exam-breaks" }, "Breaks"), breaks, el("label", { for: "exam-break-minutes" }, "Minutes each"), minutes, clock),
    el("label", { for: "exam-policy" }, "Policy keys that differ from the defaults, one per line (see the policy guide)"),
    policy,
    error,
    button,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    button.disabled = true;
    try {
      const body: NewExam = {
        id: id.value.trim(),
        title: title.value.trim(),
        opens_ms: new Date(opens.value).getTime(),
        closes_ms: new Date(closes.value).getTime(),
        policy: readKeys(policy.value, "Policy"),
        checkin: { face: face.checked, id: idPhoto.checked, room: room.checked, liveness: live.checked },
        aids: {
          scratch_paper: paper.checked,
          books: books.checked,
          ...(Number(breaks.value) > 0 ? { breaks: { count: Number(breaks.value), minutes: Number(minutes.value), clock: clock.value as BreakClock } } : {}),
        },
      };
      const saved = exam ? await api.updateExam(exam.id, body) : await api.createExam(body);
      announce(exam ? `Exam ${saved.id} changed` : `Exam ${saved.id} created`);
      if (exam) void examScreen(saved.id);
      else location.hash = `#/exam/${encodeURIComponent(saved.id)}`;
    } catch (e) {
      error.textContent = formError(e);
      button.disabled = false;
    }
  });
  return form;
}

export async function examScreen(examId: string, issued?: Issued): Promise<void> {
  let exam: Exam;
  let enrolments: Enrolment[];
  let report: ForensicsReport | null = null;
  let badges: BadgeList;
  try {
    [exam, enrolments, badges] = await Promise.all([api.exam(examId), api.enrolments(examId).then((l) => l.enrolments), api.badges(examId)]);
    if (exam.results_analysed_ms !== null) report = await api.forensics(examId);
  } catch (e) {
    return handle(e);
  }
  const c = exam.checkin;
  const b = exam.aids.breaks;
  const facts = el(
    "dl",
    { id: "exam-facts", class: "facts" },
    el("dt", {}, "Window"),
    el("dd", {}, `${when(exam.opens_ms)} to ${when(exam.closes_ms)}`),
    el("dt", {}, "Policy"),
    el("dd", { id: "exam-policy-keys" }, showKeys(exam.policy) || "the defaults"),
    el("dt", {}, "Check-in"),
    el("dd", {}, `face photo ${onOff(c.face)}, ID photo ${onOff(c.id)}, room scan ${onOff(c.room)}, head-turn liveness check ${onOff(c.face && c.liveness)}`),
    el("dt", {}, "Aids"),
    el("dd", {}, `scratch paper ${onOff(exam.aids.scratch_paper)}; books ${onOff(exam.aids.books)}; ${b ? `${b.count} break${b.count === 1 ? "" : "s"} of ${b.minutes} min (exam clock ${b.clock})` : "no breaks"}`),
    el("dt", {}, "Candidates"),
    el("dd", {}, `${exam.enrolled} enrolled, ${exam.started} started`),
  );
  const rows = enrolments.map((e) => {
    const status = e.session_id
      ? el("a", { href: `#/session/${encodeURIComponent(e.session_id)}` }, `Started ${e.redeemed_ms ? when(e.redeemed_ms) : ""}`)
      : document.createTextNode("Code unused");
    const row = el(
      "tr",
      { "data-candidate": e.candidate_id },
      el("td", {}, e.candidate_id),
      el("td", {}, e.name),
      el("td", {}, e.email),
      el("td", { class: "accommodations" }, showKeys(e.overrides)),
      el("td", {}, status),
    );
    if (state.admin && !e.session_id) {
      const edit = el("button", { class: "secondary small", "data-accommodate": e.candidate_id }, "Accommodations");
      edit.addEventListener("click", () => row.after(accommodationRow(exam, e)));
      row.append(el("td", {}, edit));
    } else row.append(el("td", {}));
    return row;
  });
  const head = el("tr", {}, ...["Candidate", "Name", "E-mail", "Accommodations", "Status", ""].map((h) => el("th", { scope: "col" }, h)));
  const parts: Node[] = [el("p", {}, el("a", { href: "#/exams" }, "All exams")), facts];
  if (issued) parts.push(codesBlock(issued));
  parts.push(el("h2", {}, "Roster"), el("table", { id: "roster-table" }, el("thead", {}, head), el("tbody", {}, ...rows)));
  parts.push(forensicsSection(exam, report));
  parts.push(
    badgesSection(exam, enrolments, badges, async () => {
      await examScreen(exam.id);
      document.getElementById("badges-title")?.scrollIntoView();
    }),
  );
  if (state.admin) {
    parts.push(rosterForm(exam), enrolOneForm(exam));
    if (enrolments.some((e) => !e.session_id)) parts.push(reissueButton(exam));
    if (exam.started === 0) parts.push(examForm(exam));
  }
  show(`${exam.title} (${exam.id})`, ...parts);
  (document.getElementById(issued ? "issued-title" : "page-title") as HTMLElement).focus();
}

/** The latest analysis of the exam's results, and for admins the upload. */
function forensicsSection(exam: Exam, report: ForensicsReport | null): HTMLElement {
  const section = el("section", { id: "forensics", "aria-labelledby": "forensics-title" }, el("h2", { id: "forensics-title" }, "Data forensics"));
  if (!report) section.append(el("p", { class: "muted", id: "forensics-none" }, "No results uploaded yet."));
  else {
    section.append(
      el(
        "p",
        { id: "forensics-summary" },
        `${report.candidates} candidates, ${report.items} items, analysed ${when(report.at_ms)} (uploaded by ${report.by}): ${report.flags.length} flag${report.flags.length === 1 ? "" : "s"} for review, ${report.invalidations} meeting the invalidation conditions. A flag is evidence for a person to weigh, never a verdict.`,
      ),
      ...report.notes.map((n) => el("p", { class: "notice forensics-note" }, n)),
    );
    if (report.flags.length) section.append(el("table", { id: "forensics-table" }, el("thead", {}, flagHead(true)), el("tbody", {}, ...report.flags.map((f) => flagRow(f, true)))));
  }
  if (!state.admin) return section;
  const file = (id: string, required: boolean) => el("input", { id, type: "file", accept: ".csv,text/csv", ...(required ? { required: "" } : {}) });
  const responses = file("responses-file", true);
  const items = file("items-file", false);
  const candidates = file("candidates-file", false);
  const error = el("p", { class: "error", id: "responses-error", role: "alert" });
  const button = el("button", { type: "submit", id: "responses-upload" }, "Upload and analyse");
  const form = el(
    "form",
    { id: "responses-form", class: "stack" },
    el("h3", {}, "Upload the results"),
    el("p", { class: "muted" }, "Item-level results as CSV: candidate_id, item_id, response, score, rt_s (see the forensics guide). Optional: an item file (key, options, compromised) and a candidate file (centre, attempt)."),
    el("label", { for: "responses-file" }, "Results"),
    responses,
    el("label", { for: "items-file" }, "Items (optional)"),
    items,
    el("label", { for: "candidates-file" }, "Candidates (optional)"),
    candidates,
    error,
    button,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    const r = responses.files?.[0];
    if (!r) {
      error.textContent = "Choose the results file.";
      return;
    }
    button.disabled = true;
    button.textContent = "Analysing…";
    try {
      const it = items.files?.[0];
      const ca = candidates.files?.[0];
      const done = await api.uploadResponses(exam.id, {
        responses: await r.text(),
        ...(it ? { items: await it.text() } : {}),
        ...(ca ? { candidates: await ca.text() } : {}),
      });
      announce(`Results analysed: ${done.flags.length} flags, ${done.invalidations} meeting the invalidation conditions`);
      await examScreen(exam.id);
      document.getElementById("forensics-title")?.scrollIntoView();
    } catch (e) {
      error.textContent = formError(e);
      button.disabled = false;
      button.textContent = "Upload and analyse";
    }
  });
  section.append(form);
  return section;
}

function rosterForm(exam: Exam): HTMLElement {
  const file = el("input", { id: "roster-file", type: "file", accept: ".csv,text/csv", required: "" });
  const error = el("p", { class: "error", id: "roster-error", role: "alert" });
  const button = el("button", { type: "submit", id: "roster-upload" }, "Enrol the roster");
  const form = el(
    "form",
    { id: "roster-form", class: "stack" },
    el("h2", {}, "Enrol a roster"),
    el("p", { class: "muted" }, "A CSV file with the columns candidate_id,name,email (a header line is optional). All of it is enrolled, or nothing."),
    el("label", { for: "roster-file" }, "Roster file"),
    file,
    error,
    button,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    const f = file.files?.[0];
    if (!f) {
      error.textContent = "Choose a CSV file.";
      return;
    }
    button.disabled = true;
    try {
      const issued = await api.roster(exam.id, await f.text());
      await examScreen(exam.id, issued);
    } catch (e) {
      error.textContent = formError(e);
      button.disabled = false;
    }
  });
  return form;
}

function enrolOneForm(exam: Exam): HTMLElement {
  const cid = el("input", { id: "enrol-candidate", required: "" });
  const name = el("input", { id: "enrol-name" });
  const email = el("input", { id: "enrol-email", type: "email" });
  const keys = el("textarea", { id: "enrol-overrides", rows: "2", placeholder: "absence_flag_s = 30" });
  const error = el("p", { class: "error", id: "enrol-error", role: "alert" });
  const button = el("button", { type: "submit", id: "enrol-one" }, "Enrol");
  const form = el(
    "form",
    { id: "enrol-form", class: "stack" },
    el("h2", {}, "Enrol one candidate"),
    el("label", { for: "enrol-candidate" }, "Candidate id"),
    cid,
    el("label", { for: "enrol-name" }, "Name"),
    name,
    el("label", { for: "enrol-email" }, "E-mail"),
    email,
    el("label", { for: "enrol-overrides" }, "Accommodations: policy keys for this candidate, one per line"),
    keys,
    error,
    button,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    button.disabled = true;
    try {
      const issued = await api.enrol(exam.id, [{ candidate_id: cid.value.trim(), name: name.value.trim(), email: email.value.trim(), overrides: readKeys(keys.value, "Accommodations") }]);
      await examScreen(exam.id, issued);
    } catch (e) {
      error.textContent = formError(e);
      button.disabled = false;
    }
  });
  return form;
}

function reissueButton(exam: Exam): HTMLElement {
  const button = el("button", { class: "secondary", id: "reissue" }, "New codes for every unused code");
  const error = el("p", { class: "error", id: "reissue-error", role: "alert" });
  button.addEventListener("click", async () => {
    if (!confirm("Issue new launch codes? The codes sent before stop working.")) return;
    button.disabled = true;
    try {
      await examScreen(exam.id, await api.reissue(exam.id));
    } catch (e) {
      error.textContent = message(e);
      button.disabled = false;
    }
  });
  return el("div", {}, button, error);
}

/** An inline editor for one candidate's accommodations, with the reason. */
function accommodationRow(exam: Exam, e: Enrolment): HTMLElement {
  document.getElementById("accommodation-row")?.remove();
  const keys = el("textarea", { id: "accommodation-keys", rows: "2", "aria-label": `Accommodations for ${e.candidate_id}` });
  keys.value = Object.entries(e.overrides).map(([k, v]) => `${k} = ${String(v)}`).join("\n");
  const reason = el("input", { id: "accommodation-reason", required: "", placeholder: "Why (kept in the audit trail)", "aria-label": "Reason" });
  const error = el("p", { class: "error", id: "accommodation-error", role: "alert" });
  const save = el("button", { type: "submit", id: "accommodation-save" }, "Save");
  const form = el("form", { class: "stack" }, keys, reason, error, save);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    save.disabled = true;
    try {
      await api.accommodate(exam.id, e.candidate_id, { overrides: readKeys(keys.value, "Accommodations"), reason: reason.value.trim() });
      announce(`Accommodations of ${e.candidate_id} saved`);
      await examScreen(exam.id);
    } catch (err) {
      error.textContent = formError(err);
      save.disabled = false;
    }
  });
  return el("tr", { id: "accommodation-row" }, el("td", { colspan: "6" }, form));
}
