// Data-forensics flags (docs/forensics.md) as the exam and session pages
// show them: what each index means in words, the p-value, whether the
// invalidation conditions are met, and the second piece of evidence.

import type { ForensicFlag } from "./bindings";
import { el } from "./dom";

/** How proctors read each index. */
export const INDEX_TEXT: Record<string, string> = {
  gbt: "Answers too alike (GBT)",
  person_fit_exact: "Scores do not fit the candidate's ability",
  preknowledge_exact: "Better on the compromised items",
  fast_items: "Many items much faster than the candidate's own pace",
  preknowledge_speed: "Faster on the compromised items (nominal p)",
  speed_given_ability: "Faster than ability predicts (nominal p)",
};

export const pText = (p: number): string => (p < 1e-3 ? p.toExponential(1) : p.toFixed(4));

const sessionLink = (candidate: string, session: string | null): Node =>
  session ? el("a", { href: `#/session/${encodeURIComponent(session)}` }, candidate) : document.createTextNode(candidate);

/** One table row of a flag: candidate, partner, index, p, verdict, detail. */
export function flagRow(f: ForensicFlag, withCandidate: boolean): HTMLElement {
  const cells: Node[] = [];
  if (withCandidate) cells.push(el("td", {}, sessionLink(f.candidate_id, f.session_id)));
  cells.push(
    el("td", {}, f.partner_id ? sessionLink(f.partner_id, f.partner_session_id) : ""),
    el("td", { title: f.index }, INDEX_TEXT[f.index] ?? f.index),
    el("td", { class: "p" }, pText(f.p)),
    el("td", {}, f.invalidation ? el("span", { class: "badge violation" }, "Invalidation conditions met") : f.invalidation_level !== null && f.p <= f.invalidation_level ? "Within the budget; no second evidence" : "Review"),
    el("td", {}, f.detail, ...(f.corroboration ? [el("br"), el("span", { class: "muted" }, `Second evidence: ${f.corroboration}`)] : [])),
  );
  return el("tr", { "data-flag": f.id, "data-index": f.index, ...(f.invalidation ? { class: "invalidation" } : {}) }, ...cells);
}

export function flagHead(withCandidate: boolean): HTMLElement {
  const heads = [...(withCandidate ? ["Candidate"] : []), "Partner", "Index", "p", "Standing", "What it shows"];
  return el("tr", {}, ...heads.map((h) => el("th", { scope: "col" }, h)));
}
