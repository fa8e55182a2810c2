// The exam: the self-view with the faces seen, the absence and
// looking-away countdowns,
// what has been flagged and the connection; then the receipt.

import { invoke } from "@tauri-apps/api/core";
import type { Receipt, Snapshot, StartedSession } from "../bindings";
import { announce, app, connectionLine, describe, el, errorText, eventText, show } from "../dom";
import { startScreen } from "./start";

export async function examScreen(): Promise<void> {
  show("Starting…", el("p", { role: "status" }, "Starting the exam…"));
  let started: StartedSession;
  try {
    started = await invoke<StartedSession>("start_exam");
  } catch (e) {
    // The photos and the session are kept: trying again is enough once the
    // camera is free.
    const again = el("button", { id: "retry-exam" }, "Try again");
    again.addEventListener("click", () => void examScreen());
    const over = el("button", { class: "secondary", id: "start-over" }, "Start over");
    over.addEventListener("click", () => startScreen());
    show("The exam could not start", el("p", { role: "alert", class: "error" }, errorText(e)), el("p", {}, "Your check-in photos are kept."), again, over);
    return;
  }
  const img = el("img", { alt: "Your camera picture", id: "selfview-img" });
  const view = el("div", { class: "selfview", id: "selfview" }, img);
  const countdown = el("div", { class: "countdown", id: "countdown", hidden: "" });
  const status = el("p", { id: "status-line", role: "status" });
  const flagged = el("ol", { class: "flagged", id: "flagged" });
  const end = el("button", { id: "end-exam", class: "secondary" }, "End the exam");
  const breaks = breakPanel();
  const panel = el(
    "div",
    { class: "status" },
    countdown,
    status,
    breaks.root,
    el("h2", {}, "Flagged so far"),
    el("p", { class: "hint", id: "flagged-empty" }, "Nothing has been flagged."),
    flagged,
    end,
  );
  show("Exam in progress", el("div", { class: "exam" }, view, panel));
  app.append(el("p", { class: "hint" }, `Session ${started.session_id}`));

  let stopped = false;
  const finish = async () => {
    stopped = true;
    end.setAttribute("disabled", "");
    const receipt = await invoke<Receipt | null>("end_exam");
    receiptScreen(receipt);
  };
  end.addEventListener("click", () => void finish());

  while (!stopped) {
    const [snap, preview] = await Promise.all([invoke<Snapshot | null>("exam_status"), invoke<string | null>("exam_preview")]);
    if (!snap) break;
    // The same picture again need not be decoded and drawn again.
    if (preview && preview !== img.src) img.src = preview;
    render(snap, view, countdown, status, flagged);
    breaks.render(snap);
    if (snap.receipt) {
      stopped = true;
      await invoke("end_exam");
      receiptScreen(snap.receipt);
      break;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

function render(s: Snapshot, view: HTMLElement, countdown: HTMLElement, status: HTMLElement, flagged: HTMLElement): void {
  view.querySelectorAll(".facebox").forEach((b) => b.remove());
  for (const f of s.faces) {
    const b = el("div", { class: "facebox", "aria-hidden": "true" });
    b.style.left = `${f.x * 100}%`;
    b.style.top = `${f.y * 100}%`;
    b.style.width = `${f.w * 100}%`;
    b.style.height = `${f.h * 100}%`;
    view.append(b);
  }
  if (s.countdown_ms !== null) {
    const secs = Math.max(0, Math.ceil(s.countdown_ms / 1000));
    const text = `Return to the camera view: ${secs} s`;
    countdown.textContent = text;
    countdown.hidden = false;
    announce(text);
  } else if (s.look_back_ms !== null) {
    const secs = Math.max(0, Math.ceil(s.look_back_ms / 1000));
    const text = `Look back at the screen: ${secs} s`;
    countdown.textContent = text;
    countdown.hidden = false;
    announce(text);
  } else {
    countdown.hidden = true;
  }
  const faces = s.faces.length === 1 ? "you are in view" : s.faces.length === 0 ? "no one in view" : `${s.faces.length} people in view`;
  const clock = `exam time ${clockText(s.exam_ms)}${s.clock_paused ? " (paused)" : ""}`;
  status.textContent = `${faces} · ${clock} · ${s.events} events`;
  if (flagged.children.length !== s.flagged.length) {
    flagged.replaceChildren(...s.flagged.map((e) => el("li", { "data-kind": e.kind }, describe(e))));
    (document.getElementById("flagged-empty") as HTMLElement).hidden = s.flagged.length > 0;
    const last = s.flagged[s.flagged.length - 1];
    if (last && last.severity === "violation") announce(`Flagged: ${eventText(last.kind)}`);
  }
  const c = s.connection;
  connectionLine.dataset.state = c.state;
  connectionLine.textContent =
    c.state === "online"
      ? "Connected"
      : c.state === "offline"
        ? `Offline — ${c.pending} item(s) kept on this computer, sent when the connection is back`
        : c.state === "refused"
          ? `The server refused this session: ${c.last_error ?? ""}`
          : "Connecting…";
}

/** `m:ss`, or `h:mm:ss` from an hour. */
function clockText(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const [h, m, sec] = [Math.floor(total / 3600), Math.floor(total / 60) % 60, total % 60];
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(sec).padStart(2, "0")}`;
}

/**
 * *Take a break* for exams that allow breaks: asked for, confirmed (the
 * number and length are said first), then a break screen with its time
 * left, whether the exam clock stops, and *End the break*.
 */
function breakPanel(): { root: HTMLElement; render: (s: Snapshot) => void } {
  const left = el("p", { class: "hint", id: "breaks-left" });
  const take = el("button", { id: "take-break", class: "secondary" }, "Take a break");
  const confirmText = el("p", { id: "break-confirm-text" });
  const confirmBtn = el("button", { id: "confirm-break" }, "Start the break");
  const cancel = el("button", { id: "cancel-break", class: "secondary" }, "Cancel");
  const confirm = el("div", { class: "break-confirm", id: "break-confirm", hidden: "" }, confirmText, confirmBtn, cancel);
  const onBreakTime = el("p", { class: "break-time", id: "break-time", role: "status" });
  const clockNote = el("p", { id: "break-clock" });
  const back = el("button", { id: "end-break" }, "End the break");
  const onBreak = el(
    "div",
    { class: "on-break", id: "on-break", hidden: "" },
    el("h2", {}, "On a break"),
    onBreakTime,
    clockNote,
    el("p", { class: "hint" }, "Your camera keeps recording. Come back into view and end the break before its time is up: a break that runs over is flagged."),
    back,
  );
  const error = el("p", { class: "error", id: "break-error", role: "alert", hidden: "" });
  const offer = el("div", { id: "break-offer" }, left, take, confirm);
  const root = el("div", { class: "breaks", id: "breaks", hidden: "" }, offer, onBreak, error);
  let last: Snapshot | null = null;
  let busy = false;

  const fail = (e: unknown) => {
    error.textContent = errorText(e);
    error.hidden = false;
  };
  take.addEventListener("click", () => {
    if (!last) return;
    const b = last.breaks;
    const clock = b.pauses_clock ? "The exam clock stops while you are away." : "The exam clock keeps running.";
    confirmText.textContent = `Start break ${b.taken + 1} of ${b.allowed}? It lasts up to ${minutesText(b.minutes)}. ${clock}`;
    confirm.hidden = false;
    take.hidden = true;
    error.hidden = true;
  });
  cancel.addEventListener("click", () => {
    confirm.hidden = true;
    take.hidden = false;
  });
  confirmBtn.addEventListener("click", async () => {
    if (busy) return;
    busy = true;
    try {
      await invoke<number>("take_break");
      confirm.hidden = true;
      take.hidden = false;
      announce("Your break has started.");
    } catch (e) {
      fail(e);
    } finally {
      busy = false;
    }
  });
  back.addEventListener("click", async () => {
    if (busy) return;
    busy = true;
    try {
      await invoke("end_break");
      announce("Your break has ended. The exam continues.");
    } catch (e) {
      fail(e);
    } finally {
      busy = false;
    }
  });

  const render = (s: Snapshot) => {
    last = s;
    const b = s.breaks;
    root.hidden = b.allowed === 0;
    if (b.allowed === 0) return;
    const remaining = Math.max(0, b.allowed - b.taken);
    left.textContent =
      remaining === 0
        ? `You have taken all ${b.allowed} break${b.allowed === 1 ? "" : "s"} this exam allows.`
        : `${remaining} of ${b.allowed} break${b.allowed === 1 ? "" : "s"} left, up to ${minutesText(b.minutes)} each.`;
    take.toggleAttribute("disabled", remaining === 0 || b.on_break);
    offer.hidden = b.on_break;
    onBreak.hidden = !b.on_break;
    if (b.on_break) {
      // Until the break's first frame, the whole length is left.
      const ms = s.break_left_ms ?? b.minutes * 60_000;
      onBreakTime.textContent = `${clockText(ms)} left of your break`;
      clockNote.textContent = b.pauses_clock ? "The exam clock is paused while you are away." : "The exam clock keeps running during breaks.";
    }
  };
  return { root, render };
}

function minutesText(minutes: number): string {
  return minutes === 1 ? "1 minute" : `${minutes} minutes`;
}

function receiptScreen(r: Receipt | null): void {
  connectionLine.textContent = "";
  if (!r) {
    startScreen();
    return;
  }
  const dl = el(
    "dl",
    { class: "receipt", id: "receipt" },
    el("dt", {}, "Session"),
    el("dd", { id: "receipt-session" }, r.session_id ?? "—"),
    el("dt", {}, "Events recorded"),
    el("dd", { id: "receipt-events" }, String(r.events)),
    el("dt", {}, "Last event hash"),
    el("dd", { id: "receipt-hash" }, r.last_hash ?? "—"),
    el("dt", {}, "Delivery"),
    el(
      "dd",
      { id: "receipt-delivery" },
      r.connection.pending === 0 ? "Everything was delivered to the exam server." : `${r.connection.pending} item(s) are kept on this computer and will be sent the next time the app runs.`,
    ),
  );
  const reason =
    r.reason === "camera_lost"
      ? "The exam ended because the camera stopped working. This was recorded and your proctors can see it; contact your exam's support."
      : r.reason === "source_error"
        ? "The exam ended because the camera picture could not be read. Contact your exam's support."
        : "";
  show(
    "Exam ended",
    ...(reason ? [el("p", { class: "error", id: "receipt-reason", role: "alert" }, reason)] : []),
    el("p", {}, "Keep this receipt: the hash identifies exactly what was recorded."),
    dl,
  );
}

