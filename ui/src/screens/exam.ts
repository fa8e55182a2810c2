// The exam: the self-view with the faces seen, the absence countdown,
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
  const panel = el(
    "div",
    { class: "status" },
    countdown,
    status,
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
    if (preview) img.src = preview;
    render(snap, view, countdown, status, flagged);
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
  } else {
    countdown.hidden = true;
  }
  const faces = s.faces.length === 1 ? "you are in view" : s.faces.length === 0 ? "no one in view" : `${s.faces.length} people in view`;
  status.textContent = `${faces} · ${Math.floor(s.t_ms / 1000)} s · ${s.events} events`;
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

