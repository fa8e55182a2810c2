// The candidate app: start -> system check -> check-in (face photo, ID
// photo, room scan) -> exam -> receipt.
// Every type crossing the IPC comes from ./bindings (generated from Rust).
import { invoke } from "@tauri-apps/api/core";
import type { AppConfig, CheckInView, PhotoView, Receipt, Snapshot, StartedSession, Step, SystemCheck, EventView } from "./bindings";

const app = document.getElementById("app") as HTMLElement;
const announcer = document.getElementById("announcer") as HTMLElement;
const connection = document.getElementById("connection") as HTMLElement;

let config: AppConfig;
let server = "";
let sessionCode = "";

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

/** Shows a screen and moves keyboard focus to its heading. */
function show(title: string, ...content: Node[]): void {
  const h = el("h1", { tabindex: "-1", id: "screen-title" }, title);
  app.replaceChildren(h, ...content);
  h.focus();
}

function announce(text: string): void {
  if (announcer.textContent !== text) announcer.textContent = text;
}

function errorText(e: unknown): string {
  return typeof e === "string" ? e : e instanceof Error ? e.message : JSON.stringify(e);
}

const KIND_TEXT: Record<string, string> = {
  absence_warning: "You were out of view (warning)",
  candidate_absent: "Out of view for too long",
  multiple_faces: "More than one person in view",
  camera_blocked: "Camera covered or dark",
  camera_frozen: "Camera picture frozen",
  camera_lost: "Camera disconnected",
  session_resumed: "The app restarted during the exam",
};

function describe(e: EventView): string {
  const at = `${Math.floor(e.t_ms / 60000)}:${String(Math.floor((e.t_ms % 60000) / 1000)).padStart(2, "0")}`;
  return `${at} — ${KIND_TEXT[e.kind] ?? e.kind}`;
}

function startScreen(message?: string): void {
  const serverInput = el("input", { id: "server", type: "url", autocomplete: "url", value: server || config.server || "" });
  const codeInput = el("input", { id: "session-code", autocomplete: "off", spellcheck: "false", value: sessionCode || config.session_code || "" });
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
        {},
        "What is sent to your exam's proctors: the events the exam rules raise (for example, “out of view for 5 seconds”), your check-in photos, and short clips (about 10 seconds) around moments that break a rule. ",
        `They are kept for ${config.retention_days} days, then deleted.`,
      ),
      el("p", {}, "You see everything that is flagged, as it happens."),
    ),
    el("label", { for: "server" }, "Exam server address"),
    serverInput,
    el("label", { for: "session-code" }, "Session code"),
    codeInput,
    el("p", { class: "error", id: "start-error", role: "alert" }, message ?? ""),
    el("button", { type: "submit", id: "start" }, "Accept and continue"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    server = serverInput.value.trim();
    sessionCode = codeInput.value.trim();
    if (!server || !sessionCode) {
      (document.getElementById("start-error") as HTMLElement).textContent = "Enter the exam server address and your session code.";
      return;
    }
    void beginSession(codeInput.value.trim());
  });
  show("Start your exam", form);
  if (config.fixture) app.append(el("p", { class: "hint" }, `Test mode: the camera is the fixture ${config.source}.`));
}

async function beginSession(code: string): Promise<void> {
  show("Start your exam", el("p", { role: "status", id: "begin-progress" }, "Checking your session code with the exam server…"));
  try {
    await invoke<StartedSession>("begin_session", {
      request: { server, session_code: code, session_id: config.session_id, exam_id: null, candidate_id: null },
    });
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
    result = await invoke<SystemCheck>("system_check", { server });
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
  const begin = el("button", { id: "begin-checkin" }, "Continue to check-in");
  const again = el("button", { class: "secondary", id: "check-again" }, "Check again");
  const back = el("button", { class: "secondary", id: "back" }, "Back");
  begin.toggleAttribute("disabled", !result.ok);
  begin.addEventListener("click", () => void startCheckIn());
  again.addEventListener("click", () => void checkScreen());
  back.addEventListener("click", () => startScreen());
  show("System check", list, begin, again, back);
}

const SIDES = 5;

const STEP_TEXT: Record<Step, { title: string; help: string }> = {
  face: {
    title: "Face photo",
    help: "Look at the camera. The photo can be taken when your face alone is in the middle of the picture, close enough and well lit.",
  },
  id: {
    title: "ID photo",
    help: "Hold your photo ID up to the camera, photo side facing it, so that it fills about a quarter of the picture. Hold it still.",
  },
  room: { title: "Room scan", help: "" },
};

async function startCheckIn(): Promise<void> {
  show("Check-in", el("p", { role: "status" }, "Opening the camera…"));
  try {
    await invoke("checkin_start");
  } catch (e) {
    startScreen(errorText(e));
    return;
  }
  await checkinStep("face", 0, false);
}

/** One check-in step: live preview with guidance, then the photo. */
async function checkinStep(step: Step, side: number, reviewAfter: boolean): Promise<void> {
  let view: CheckInView;
  try {
    view = await invoke<CheckInView>("checkin_step", { step, side });
  } catch (e) {
    startScreen(errorText(e));
    return;
  }
  const text = STEP_TEXT[step];
  const title = step === "room" ? `Room scan ${side + 1} of ${SIDES}: ${view.side_words}` : text.title;
  const help = step === "room" ? `Turn the camera (or your laptop) to show ${view.side_words}. Each view must show a different part of the room.` : text.help;
  const img = el("img", { alt: "Your camera picture", id: "checkin-img" });
  const frame = el("div", { class: "selfview large", id: "checkin-view" }, img);
  const guidance = el("ul", { class: "guidance", id: "guidance", "aria-live": "polite" });
  const take = el("button", { id: "take-photo", "aria-disabled": "true" }, "Take photo");
  const message = el("p", { class: "error", id: "checkin-error", role: "alert" });
  const progress = el("p", { class: "hint" }, `Step ${step === "face" ? 1 : step === "id" ? 2 : 3 + side} of ${2 + SIDES}`);
  show(title, el("p", {}, help), el("div", { class: "exam" }, frame, el("div", { class: "status" }, guidance, take, message, progress)));

  let done = false;
  let ready = false;
  take.addEventListener("click", async () => {
    if (!ready) {
      message.textContent = "Not yet: follow the guidance above, the button turns blue when the picture is right.";
      return;
    }
    try {
      await invoke<PhotoView>("checkin_capture");
    } catch (e) {
      message.textContent = errorText(e);
      return;
    }
    done = true;
    if (reviewAfter) return void reviewScreen();
    if (step === "face") return void checkinStep("id", 0, false);
    if (step === "id") return void checkinStep("room", 0, false);
    if (side + 1 < SIDES) return void checkinStep("room", side + 1, false);
    return void reviewScreen();
  });
  let lastGuidance = "";
  while (!done) {
    const [v, preview] = await Promise.all([invoke<CheckInView | null>("checkin_status"), invoke<string | null>("checkin_preview")]);
    if (!v || done) break;
    if (preview) img.src = preview;
    drawOverlay(frame, v);
    ready = v.ready;
    take.setAttribute("aria-disabled", String(!ready));
    const lines = v.error ? [v.error] : v.ready ? ["The picture is right: take the photo."] : v.problems.map((p) => p.message);
    const joined = lines.join("\n");
    if (joined !== lastGuidance) {
      lastGuidance = joined;
      guidance.replaceChildren(...lines.map((l) => el("li", { "data-ready": String(v.ready) }, l)));
      guidance.dataset.codes = v.problems.map((p) => p.code).join(" ");
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

function drawOverlay(frame: HTMLElement, v: CheckInView): void {
  frame.querySelectorAll(".facebox, svg").forEach((b) => b.remove());
  for (const f of v.faces) {
    const b = el("div", { class: "facebox", "aria-hidden": "true" });
    b.style.left = `${f.x * 100}%`;
    b.style.top = `${f.y * 100}%`;
    b.style.width = `${f.w * 100}%`;
    b.style.height = `${f.h * 100}%`;
    frame.append(b);
  }
  if (v.document) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 100 100");
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("aria-hidden", "true");
    const poly = document.createElementNS(ns, "polygon");
    poly.setAttribute("points", v.document.map(([x, y]) => `${x * 100},${y * 100}`).join(" "));
    svg.append(poly);
    frame.append(svg);
  }
}

/** All photos, each with a retake button, then the exam. */
async function reviewScreen(): Promise<void> {
  const v = await invoke<CheckInView | null>("checkin_status");
  if (!v) return startScreen();
  const grid = el("ul", { class: "photos", id: "photos" });
  for (const p of v.photos) {
    const retake = el("button", { class: "secondary", "data-slot": p.slot }, `Retake ${p.label.toLowerCase()}`);
    retake.addEventListener("click", () => {
      const side = ["front", "right", "back", "left", "desk"].indexOf(p.slot);
      void checkinStep(p.slot === "face" ? "face" : p.slot === "id" ? "id" : "room", Math.max(0, side), true);
    });
    grid.append(el("li", { "data-slot": p.slot }, el("img", { src: p.thumbnail, alt: p.label }), el("span", {}, p.label), retake));
  }
  const begin = el("button", { id: "begin-exam" }, "Begin the exam");
  begin.toggleAttribute("disabled", !v.complete);
  begin.addEventListener("click", () => void examScreen());
  show(
    "Check your photos",
    el("p", {}, "These photos are sent to your exam's proctors with the session. Retake any that are not right."),
    grid,
    begin,
  );
}

async function examScreen(): Promise<void> {
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
    if (last && last.severity === "violation") announce(`Flagged: ${KIND_TEXT[last.kind] ?? last.kind}`);
  }
  const c = s.connection;
  connection.dataset.state = c.state;
  connection.textContent =
    c.state === "online"
      ? "Connected"
      : c.state === "offline"
        ? `Offline — ${c.pending} item(s) kept on this computer, sent when the connection is back`
        : c.state === "refused"
          ? `The server refused this session: ${c.last_error ?? ""}`
          : "Connecting…";
}

function receiptScreen(r: Receipt | null): void {
  connection.textContent = "";
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

async function main(): Promise<void> {
  config = await invoke<AppConfig>("app_config");
  server = config.server ?? "";
  startScreen();
}

void main();
