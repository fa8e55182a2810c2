// The check-in: face photo, head-turn check, ID photo and room scan with
// live guidance, then a review of the photos.

import { invoke } from "@tauri-apps/api/core";
import type { CheckInView, PhotoView, Step } from "../bindings";
import { el, errorText, show } from "../dom";
import { examScreen } from "./exam";
import { startScreen } from "./start";

const SIDES = ["front", "right", "back", "left", "desk"];

/** The step and room side that take a photo slot. */
function stepOf(slot: string): [Step, number] {
  return slot === "face" || slot === "id" || slot === "liveness" ? [slot, 0] : ["room", Math.max(0, SIDES.indexOf(slot))];
}

function slotOf(step: Step, side: number): string {
  return step === "room" ? SIDES[side] : step;
}

const STEP_TEXT: Record<Step, { title: string; help: string }> = {
  face: {
    title: "Face photo",
    help: "Look at the camera. The photo can be taken when your face alone is in the middle of the picture, close enough and well lit.",
  },
  id: {
    title: "ID photo",
    help: "Hold your photo ID up to the camera, photo side facing it, so that it fills about a quarter of the picture. Hold it still.",
  },
  liveness: {
    title: "Head-turn check",
    help: "This shows that a live person is in front of the camera, not a photo. Look at the camera, then turn your head when asked, slowly, and back. No photo is taken.",
  },
  room: { title: "Room scan", help: "" },
};

export async function startCheckIn(): Promise<void> {
  show("Check-in", el("p", { role: "status" }, "Opening the camera…"));
  try {
    await invoke("checkin_start");
  } catch (e) {
    startScreen(errorText(e));
    return;
  }
  const v = await invoke<CheckInView | null>("checkin_status");
  const [step, side] = stepOf(v?.required[0] ?? "face");
  await checkinStep(step, side, false);
}

/** One check-in step: live preview with guidance, then the photo. */
export async function checkinStep(step: Step, side: number, reviewAfter: boolean, notice?: string): Promise<void> {
  if (step === "liveness") return livenessStep(reviewAfter);
  let view: CheckInView;
  try {
    view = await invoke<CheckInView>("checkin_step", { step, side });
  } catch (e) {
    startScreen(errorText(e));
    return;
  }
  const text = STEP_TEXT[step];
  const title = step === "room" ? `Room scan ${side + 1} of ${SIDES.length}: ${view.side_words}` : text.title;
  const help = step === "room" ? `Turn the camera (or your laptop) to show ${view.side_words}. Each view must show a different part of the room.` : text.help;
  const img = el("img", { alt: "Your camera picture", id: "checkin-img" });
  const frame = el("div", { class: "selfview large", id: "checkin-view" }, img);
  const guidance = el("ul", { class: "guidance", id: "guidance", "aria-live": "polite" });
  const take = el("button", { id: "take-photo", "aria-disabled": "true" }, "Take photo");
  const message = el("p", { class: "error", id: "checkin-error", role: "alert" });
  const here = view.required.indexOf(slotOf(step, side));
  const progress = el("p", { class: "hint" }, `Step ${here + 1} of ${view.required.length}`);
  // Why this step is shown again (the ID's photo did not match the face).
  const again = notice ? [el("p", { class: "notice", id: "identity-hint", role: "alert" }, notice)] : [];
  show(title, ...again, el("p", {}, help), el("div", { class: "exam" }, frame, el("div", { class: "status" }, guidance, take, message, progress)));

  let done = false;
  let ready = false;
  take.addEventListener("click", async () => {
    if (!ready) {
      message.textContent = "Not yet: follow the guidance above, the button turns blue when the picture is right.";
      return;
    }
    let photo: PhotoView;
    try {
      photo = await invoke<PhotoView>("checkin_capture");
    } catch (e) {
      message.textContent = errorText(e);
      return;
    }
    done = true;
    // The ID's portrait did not match the face photo: ask once more, with
    // a hint (never a refusal: after that it goes to proctors).
    if (photo.identity?.retake) return void checkinStep(step, side, reviewAfter, photo.identity.hint ?? undefined);
    // A new face photo needs the head-turn check again (it is tied to it).
    const status = await invoke<CheckInView | null>("checkin_status");
    if (step === "face" && reviewAfter && status?.liveness && !status.liveness.passed) return void livenessStep(true);
    return void after(view, slotOf(step, side), reviewAfter);
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

/** After this step: the review, or the step after it. */
function after(view: CheckInView, slot: string, reviewAfter: boolean): Promise<void> {
  const next = view.required[view.required.indexOf(slot) + 1];
  if (reviewAfter || next === undefined) return reviewScreen();
  const [nextStep, nextSide] = stepOf(next);
  return checkinStep(nextStep, nextSide, false);
}

/** The head-turn check: live instructions, a retry after a failure, and
 * on to the next step once it passed. */
async function livenessStep(reviewAfter: boolean): Promise<void> {
  let view: CheckInView;
  try {
    view = await invoke<CheckInView>("checkin_step", { step: "liveness", side: 0 });
  } catch (e) {
    startScreen(errorText(e));
    return;
  }
  const text = STEP_TEXT.liveness;
  const img = el("img", { alt: "Your camera picture", id: "checkin-img" });
  const frame = el("div", { class: "selfview large", id: "checkin-view" }, img);
  const say = el("p", { class: "instruction", id: "liveness-instruction", "aria-live": "assertive" });
  const guidance = el("ul", { class: "guidance", id: "guidance", "aria-live": "polite" });
  const retry = el("button", { id: "liveness-retry", class: "secondary", hidden: "" }, "Try again");
  const next = el("button", { id: "liveness-next", "aria-disabled": "true" }, "Continue");
  const message = el("p", { class: "error", id: "checkin-error", role: "alert" });
  const here = view.required.indexOf("liveness");
  const progress = el("p", { class: "hint" }, `Step ${here + 1} of ${view.required.length}`);
  show(text.title, el("p", {}, text.help), el("div", { class: "exam" }, frame, el("div", { class: "status" }, say, guidance, retry, next, message, progress)));

  let done = false;
  let passed = false;
  retry.addEventListener("click", async () => {
    try {
      await invoke<CheckInView>("checkin_step", { step: "liveness", side: 0 });
      message.textContent = "";
    } catch (e) {
      message.textContent = errorText(e);
    }
  });
  next.addEventListener("click", () => {
    if (!passed) {
      message.textContent = "Not yet: follow the instructions above; the button turns blue when the check has passed.";
      return;
    }
    done = true;
    void after(view, "liveness", reviewAfter);
  });
  let lastSaid = "";
  while (!done) {
    const [v, preview] = await Promise.all([invoke<CheckInView | null>("checkin_status"), invoke<string | null>("checkin_preview")]);
    if (!v || done || v.step !== "liveness") break;
    if (preview) img.src = preview;
    drawOverlay(frame, v);
    const l = v.liveness;
    if (!l) break;
    passed = l.passed;
    next.setAttribute("aria-disabled", String(!passed));
    retry.hidden = l.state !== "failed";
    const said = v.error ?? l.instruction;
    if (said !== lastSaid) {
      lastSaid = said;
      say.textContent = said;
      say.dataset.state = l.state;
      if (l.turn) say.dataset.turn = l.turn;
      else delete say.dataset.turn;
    }
    const lines = l.state === "passed" || l.state === "failed" ? [] : v.problems.map((p) => p.message);
    guidance.replaceChildren(...lines.map((t) => el("li", {}, t)));
    guidance.dataset.codes = v.problems.map((p) => p.code).join(" ");
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
export async function reviewScreen(): Promise<void> {
  const v = await invoke<CheckInView | null>("checkin_status");
  if (!v) return startScreen();
  const grid = el("ul", { class: "photos", id: "photos" });
  for (const p of v.photos) {
    const retake = el("button", { class: "secondary", "data-slot": p.slot }, `Retake ${p.label.toLowerCase()}`);
    retake.addEventListener("click", () => {
      const [step, side] = stepOf(p.slot);
      void checkinStep(step, side, true);
    });
    const said = p.identity?.hint ? el("p", { class: "notice", id: "identity-note" }, p.identity.hint) : "";
    grid.append(el("li", { "data-slot": p.slot }, el("img", { src: p.thumbnail, alt: p.label }), el("span", {}, p.label), said, retake));
  }
  if (v.liveness) {
    const again = el("button", { class: "secondary", "data-slot": "liveness" }, "Do the head-turn check again");
    again.addEventListener("click", () => void livenessStep(true));
    const state = v.liveness.passed ? "Passed" : "Not passed yet";
    grid.append(el("li", { "data-slot": "liveness", id: "liveness-summary" }, el("span", {}, `Head-turn check: ${state}`), v.liveness.passed ? "" : again));
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

