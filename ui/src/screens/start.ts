// The start screen (privacy notice, server and launch code) and the
// system check.

import { invoke } from "@tauri-apps/api/core";
import type { ServerInfo, StartedSession, SystemCheck } from "../bindings";
import { app, el, errorText, show } from "../dom";
import { state } from "../state";
import { startCheckIn } from "./checkin";
import { examScreen } from "./exam";

/** Says how long the exam server keeps the evidence, as the server says. */
async function retention(server: string, line: HTMLElement): Promise<void> {
  try {
    const info = await invoke<ServerInfo>("server_info", { server });
    line.textContent =
      info.retention_days === null
        ? "They are kept until your exam provider deletes them."
        : `They are kept for ${info.retention_days} day${info.retention_days === 1 ? "" : "s"} after your exam, then deleted.`;
  } catch {
    line.textContent = "How long they are kept is set by your exam provider.";
  }
}

export function startScreen(message?: string): void {
  const keptFor = el("span", { id: "kept-for" }, "How long they are kept is set by your exam provider.");
  const serverInput = el("input", { id: "server", type: "url", autocomplete: "url", value: state.server || state.config.server || "" });
  const codeInput = el("input", {
    id: "session-code",
    autocomplete: "off",
    autocapitalize: "characters",
    spellcheck: "false",
    placeholder: "K7QF-3MZC-T9XA-HW4P",
    "aria-describedby": "code-hint",
    value: state.sessionCode || state.config.session_code || "",
  });
  const form = el(
    "form",
    { id: "start-form" },
    el(
      "section",
      { class: "notice", "aria-labelledby": "privacy-title" },
      el("h2", { id: "privacy-title" }, "Your privacy"),
      el("p", {}, "The camera picture is analysed on this computer only. It is never streamed or stored."),
      el(
        "p",
        { id: "spot-check-notice" },
        "Spot checks: unless your exam turns them off, the exam server asks at random moments, about once a minute, for one small still picture from your camera (320 pixels wide), to check that this computer's analysis is honest. Your proctors see these pictures.",
      ),
      el(
        "p",
        {},
        "What is sent to your exam's proctors: the events the exam rules raise (for example, “out of view for 5 seconds”), your check-in photos, and short clips (about 10 seconds) around moments that break a rule. ",
        keptFor,
      ),
      el("p", {}, "You see everything that is flagged, as it happens."),
    ),
    el("label", { for: "server" }, "Exam server address"),
    serverInput,
    el("label", { for: "session-code" }, "Launch code"),
    codeInput,
    el(
      "p",
      { class: "hint", id: "code-hint" },
      state.config.from_link
        ? "Filled in from your launch link."
        : "The 16-character code your exam's organisers sent you, e.g. K7QF-3MZC-T9XA-HW4P (upper or lower case, dashes optional).",
    ),
    el("p", { class: "error", id: "start-error", role: "alert" }, message ?? state.config.link_error ?? ""),
    el("button", { type: "submit", id: "start" }, "Accept and continue"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.server = serverInput.value.trim();
    state.sessionCode = codeInput.value.trim();
    if (!state.server || !state.sessionCode) {
      (document.getElementById("start-error") as HTMLElement).textContent = "Enter the exam server address and your launch code.";
      return;
    }
    void beginSession(codeInput.value.trim());
  });
  serverInput.addEventListener("change", () => void retention(serverInput.value, keptFor));
  show("Start your exam", form);
  if (state.config.fixture) app.append(el("p", { class: "hint" }, `Test mode: the camera is the fixture ${state.config.source}.`));
  if (serverInput.value) void retention(serverInput.value, keptFor);
}

async function beginSession(code: string): Promise<void> {
  show("Start your exam", el("p", { role: "status", id: "begin-progress" }, "Checking your launch code with the exam server…"));
  try {
    const started = await invoke<StartedSession>("begin_session", {
      request: { server: state.server, session_code: code, session_id: state.config.session_id, exam_id: null, candidate_id: null },
    });
    state.checkin = started.checkin;
  } catch (e) {
    startScreen(errorText(e));
    return;
  }
  await checkScreen();
}

async function checkScreen(): Promise<void> {
  show("System check", el("p", { id: "check-progress", role: "status" }, "Checking your camera, lighting and connection…"));
  let result: SystemCheck;
  try {
    result = await invoke<SystemCheck>("system_check", { server: state.server });
  } catch (e) {
    startScreen(errorText(e));
    return;
  }
  const list = el("ul", { class: "checks", id: "checks" });
  for (const item of result.items) {
    const li = el("li", { "data-ok": String(item.ok), "data-check": item.id }, el("strong", {}, `${item.label}: `), item.detail);
    if (item.hint) li.append(el("span", { class: "hint" }, item.hint));
    list.append(li);
  }
  const c = state.checkin;
  const noCheckin = !c.face && !c.id && !c.room;
  // An exam that asks for no photos goes straight to the exam.
  const begin = noCheckin ? el("button", { id: "begin-exam" }, "Begin the exam") : el("button", { id: "begin-checkin" }, "Continue to check-in");
  const again = el("button", { class: "secondary", id: "check-again" }, "Check again");
  const back = el("button", { class: "secondary", id: "back" }, "Back");
  begin.toggleAttribute("disabled", !result.ok);
  begin.addEventListener("click", () => void (noCheckin ? examScreen() : startCheckIn()));
  again.addEventListener("click", () => void checkScreen());
  back.addEventListener("click", () => startScreen());
  show("System check", list, begin, again, back);
}

