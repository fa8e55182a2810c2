// Badges on the exam page (docs/badges.md): the exam's achievement, the
// badges issued with their status and public links, and for admins the
// forms that set the achievement, record passes (one candidate or a
// results CSV) and suspend, reinstate or revoke a badge.

import { api, ApiError, type BadgeList, type Enrolment, type Exam } from "./api";
import type { Badge, BadgeStatus } from "./bindings";
import { announce, el, message } from "./dom";
import { state } from "./state";

const when = (ms: number): string => new Date(ms).toLocaleString();
const formError = (e: unknown): string => (e instanceof ApiError && e.field ? `${e.field}: ${e.message}` : message(e));

const STATUS_TEXT: Record<BadgeStatus, string> = { valid: "Valid", suspended: "Suspended", revoked: "Revoked" };

/** A PNG file as base64, for the achievement's image. */
async function base64(file: File): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function achievementForm(exam: Exam, list: BadgeList, reload: () => Promise<void>): HTMLElement {
  const a = list.achievement;
  const name = el("input", { id: "achievement-name", required: "", maxlength: "200", value: a?.name ?? exam.title });
  const description = el("textarea", { id: "achievement-description", rows: "2", maxlength: "2000" });
  description.value = a?.description ?? "";
  const criteria = el("textarea", { id: "achievement-criteria", rows: "2", required: "", maxlength: "2000" });
  criteria.value = a?.criteria ?? "";
  const months = el("input", { id: "achievement-months", type: "number", min: "1", max: "1200", value: a?.valid_months ? String(a.valid_months) : "" });
  const image = el("input", { id: "achievement-image", type: "file", accept: "image/png" });
  const error = el("p", { class: "error", id: "achievement-error", role: "alert" });
  const button = el("button", { type: "submit", id: "achievement-save" }, a ? "Save the achievement" : "Give this exam a badge");
  const form = el(
    "form",
    { id: "achievement-form", class: "stack" },
    el("h3", {}, a ? "Change the achievement" : "Define the achievement"),
    el("p", { class: "muted" }, "What the badge says. Changes apply to badges issued afterwards; issued badges keep what they said."),
    el("label", { for: "achievement-name" }, "Name"),
    name,
    el("label", { for: "achievement-description" }, "Description"),
    description,
    el("label", { for: "achievement-criteria" }, "Criteria (how it is earned)"),
    criteria,
    el("label", { for: "achievement-months" }, "Valid for (months; empty: no expiry)"),
    months,
    el("label", { for: "achievement-image" }, "Badge image (PNG, at most 256 KiB; empty: keep the current one)"),
    image,
    error,
    button,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    button.disabled = true;
    try {
      const file = image.files?.[0];
      await api.setAchievement(exam.id, {
        name: name.value,
        description: description.value,
        criteria: criteria.value,
        ...(months.value ? { valid_months: Number(months.value) } : {}),
        ...(file ? { image_png_base64: await base64(file) } : {}),
      });
      announce("Achievement saved");
      await reload();
    } catch (e) {
      error.textContent = formError(e);
      button.disabled = false;
    }
  });
  return form;
}

function statusCell(b: Badge): HTMLElement {
  const cell = el("td", { class: "badge-status" }, el("span", { class: `badge ${b.status === "valid" ? "" : "violation"}` }, STATUS_TEXT[b.status]));
  if (b.status_reason) cell.append(el("br"), el("span", { class: "muted" }, `${b.status_reason}${b.status_ms ? ` (${when(b.status_ms)})` : ""}`));
  return cell;
}

/** Suspend / reinstate / revoke, with the reason asked inline. */
function statusActions(b: Badge, reload: () => Promise<void>): HTMLElement {
  const cell = el("td", {});
  if (!state.admin || b.status === "revoked") return cell;
  const choices: [BadgeStatus, string][] = b.status === "valid" ? [["suspended", "Suspend"], ["revoked", "Revoke"]] : [["valid", "Reinstate"], ["revoked", "Revoke"]];
  for (const [to, label] of choices) {
    const button = el("button", { class: "secondary small", "data-badge-action": to }, label);
    button.addEventListener("click", () => {
      const reason = el("input", { id: `reason-${b.id}`, maxlength: "500", required: "" });
      const error = el("p", { class: "error", role: "alert" });
      const confirm = el("button", { type: "submit", "data-badge-confirm": to }, label);
      const form = el("form", { class: "inline", "data-badge-form": b.id }, el("label", { for: `reason-${b.id}` }, "Reason"), reason, confirm, error);
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        confirm.disabled = true;
        try {
          await api.setBadgeStatus(b.id, { status: to, reason: reason.value });
          announce(`Badge of ${b.candidate_id}: ${STATUS_TEXT[to].toLowerCase()}`);
          await reload();
        } catch (e) {
          error.textContent = formError(e);
          confirm.disabled = false;
        }
      });
      cell.replaceChildren(form);
      reason.focus();
    });
    cell.append(button);
  }
  return cell;
}

function passesForm(exam: Exam, reload: () => Promise<void>): HTMLElement {
  const file = el("input", { id: "passes-file", type: "file", accept: ".csv,text/csv", required: "" });
  const error = el("p", { class: "error", id: "passes-error", role: "alert" });
  const button = el("button", { type: "submit", id: "passes-upload" }, "Record the passes");
  const form = el(
    "form",
    { id: "passes-form", class: "stack" },
    el("h3", {}, "Record passes from a results file"),
    el("p", { class: "muted" }, "A CSV file with a candidate_id column and, optionally, a passed column (true/false); other columns are ignored. Every pass is checked first: all badges are issued, or none."),
    el("label", { for: "passes-file" }, "Results file"),
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
      const done = await api.recordPasses(exam.id, { csv: await f.text() });
      announce(`${done.issued.length} badges issued`);
      await reload();
    } catch (e) {
      error.textContent = formError(e);
      button.disabled = false;
    }
  });
  return form;
}

/** The exam page's badges section. */
export function badgesSection(exam: Exam, enrolments: Enrolment[], list: BadgeList, reload: () => Promise<void>): HTMLElement {
  const section = el("section", { id: "badges", "aria-labelledby": "badges-title" }, el("h2", { id: "badges-title" }, "Badges"));
  const a = list.achievement;
  if (!a) section.append(el("p", { class: "muted", id: "badges-none" }, "This exam gives no badge yet."));
  else
    section.append(
      el(
        "div",
        { id: "achievement", class: "achievement" },
        el("img", { src: `${new URL(a.url).pathname}/image.png`, alt: "", width: "64", height: "64" }),
        el("div", {}, el("strong", {}, a.name), el("p", { class: "muted" }, a.criteria), el("p", { class: "muted" }, a.valid_months ? `Valid for ${a.valid_months} months` : "No expiry")),
      ),
    );
  const badged = new Set(list.badges.map((b) => b.candidate_id));
  if (list.badges.length) {
    const head = el("tr", {}, ...["Candidate", "Issued", "Status", "Public page", ""].map((h) => el("th", { scope: "col" }, h)));
    const rows = list.badges.map((b) =>
      el(
        "tr",
        { "data-badge": b.id, "data-candidate": b.candidate_id },
        el("td", {}, el("a", { href: `#/session/${encodeURIComponent(b.session_id)}` }, b.candidate_id)),
        el("td", {}, `${when(b.issued_ms)} by ${b.issued_by}`),
        statusCell(b),
        el("td", {}, el("a", { href: b.url, target: "_blank", rel: "noopener" }, "Badge page"), " · ", el("a", { href: b.png_url }, "PNG"), " · ", el("a", { href: b.credential_url }, "JSON")),
        statusActions(b, reload),
      ),
    );
    section.append(el("table", { id: "badges-table" }, el("thead", {}, head), el("tbody", {}, ...rows)));
  }
  if (!state.admin) return section;
  if (a) {
    // One pass at a time: candidates who sat the exam and have no badge.
    const waiting = enrolments.filter((e) => e.session_id && !badged.has(e.candidate_id));
    if (waiting.length) {
      const error = el("p", { class: "error", id: "pass-error", role: "alert" });
      const rows = waiting.map((e) => {
        const button = el("button", { class: "small", "data-pass": e.candidate_id }, "Record pass");
        button.addEventListener("click", async () => {
          button.disabled = true;
          error.textContent = "";
          try {
            await api.recordPasses(exam.id, { candidate_ids: [e.candidate_id] });
            announce(`Badge issued to ${e.candidate_id}`);
            await reload();
          } catch (err) {
            error.textContent = formError(err);
            button.disabled = false;
          }
        });
        return el("tr", { "data-candidate": e.candidate_id }, el("td", {}, e.candidate_id), el("td", {}, e.name), el("td", {}, e.email || "(no email: no badge)"), el("td", {}, button));
      });
      section.append(
        el("h3", {}, "Record a pass"),
        el("p", { class: "muted" }, "The session must have ended and not be invalidated; the badge names the candidate only by a salted hash of their email."),
        el("table", { id: "pass-table" }, el("tbody", {}, ...rows)),
        error,
      );
    }
    section.append(passesForm(exam, reload));
  }
  section.append(achievementForm(exam, list, reload));
  return section;
}
