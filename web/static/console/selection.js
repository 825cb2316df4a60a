// Picking several cards for one action (the storm controls): which cards are picked, what an
// action on them sends, and the cluster "reject all like this" acts on. No DOM, no socket:
// node --test tests/js/selection.test.mjs. Which actions may act on several questions comes
// from the action table (`many`), like everything else an action may do.
import { applies } from "./state.js";

export class Selection {
  constructor() { this.ids = new Set(); }

  get size() { return this.ids.size; }

  has(qid) { return this.ids.has(qid); }

  // Pick or unpick a card; true when it is picked now.
  toggle(qid) {
    if (!qid) return false;
    if (this.ids.delete(qid)) return false;
    this.ids.add(qid);
    return true;
  }

  // Forget every pick; the ids that were picked (their cards need repainting).
  clear() {
    const was = [...this.ids];
    this.ids.clear();
    return was;
  }

  // Drop picks of questions the console no longer holds (purged, or a new snapshot).
  prune(model) {
    const gone = [...this.ids].filter((qid) => !model.get(qid));
    for (const qid of gone) this.ids.delete(qid);
    return gone;
  }

  // Picked ids in the order the questions arrived, so entries and messages read in order.
  ordered(model) { return arrivalOrder(model).filter((qid) => this.ids.has(qid)); }
}

// The ids of the questions the console holds, in the order they arrived.
function arrivalOrder(model) {
  const seqOf = (qid) => model.seq.get(qid) ?? Infinity;
  return [...model.questions.keys()].sort((a, b) => seqOf(a) - seqOf(b) || (a < b ? -1 : 1));
}

// What to send for `action` on the questions `qids`: each with the version this console saw.
// Questions the table says the action cannot apply to now are left out, with the reason, so
// the moderator hears of them before anything is sent (the server checks again, and skips
// any that someone changed meanwhile).
export function targetsFor(table, states, action, qids, model) {
  const targets = [];
  const left = [];
  for (const qid of qids) {
    const q = model.get(qid);
    if (!q) { left.push({ qid, error: "no longer on this console" }); continue; }
    if (applies(table, action, q)) targets.push({ qid, version: q.version });
    else left.push({ qid, error: `it is ${states[q.state] || q.state}` });
  }
  return { targets, left };
}

// The question a card's cluster is about: the open question triage suggested it repeats, or
// the card itself.
export function likeOf(q, model) {
  const suggested = q && q.triage && q.triage.suggest ? q.triage.suggest.qid : "";
  return suggested && model.get(suggested) ? suggested : q ? q.id : "";
}

// The cluster of a card, as this console holds it: the question it is like, and every question
// triage suggested as a repeat of that one, that "reject all like this" can still reject.
export function cluster(table, q, model) {
  const like = likeOf(q, model);
  const ids = arrivalOrder(model).filter((qid) => {
    const other = model.get(qid);
    if (!other) return false;
    const suggest = other.triage && other.triage.suggest ? other.triage.suggest.qid : "";
    return (qid === like || suggest === like) && applies(table, "reject_like", other);
  });
  return { like, ids };
}

// One line for the moderator after a step on several questions.
export function summary(done, changed, skipped) {
  const count = (n) => `${n} question${n === 1 ? "" : "s"}`;
  const head = `${done[0].toUpperCase()}${done.slice(1)} ${count(changed)}`;
  if (!skipped.length) return `${head}.`;
  const why = skipped.slice(0, 3).map((s) => s.error).join("; ");
  return `${head}; skipped ${count(skipped.length)} (${why}${skipped.length > 3 ? "; …" : ""}).`;
}
