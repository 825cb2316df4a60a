// The selected card's public id, as the record shows it and every `floor` command takes it
// (aggregator/core/public_ids.py): asked of the server for one card when it is selected
// (snapshots carry none), and kept once known: a chained question's id never changes.
export const NOT_CHAINED = "not yet chained";

export function recordIdText(answer) {
  if (answer === undefined) return "…";
  if (answer === null) return "unavailable";  // no answer: asked again when selected again
  return answer.id || NOT_CHAINED;
}

export class RecordIds {
  // `ask(qid, done)`: done({id}) from the server (id null until chained), or done(null).
  constructor(ask) {
    this.ask = ask;
    this.known = new Map();  // qid -> public id
    this.shown = null;       // the question whose id the node shows (or is asked for)
  }

  // Show question `qid`'s id in `node` (its textContent), asking the server once per selection.
  show(qid, node) {
    if (this.known.has(qid)) { this.shown = qid; node.textContent = this.known.get(qid); return; }
    if (this.shown === qid) return;
    this.shown = qid;
    node.textContent = recordIdText(undefined);
    this.ask(qid, (answer) => {
      if (answer && answer.id) this.known.set(qid, answer.id);
      if (this.shown !== qid) return;  // another card was selected meanwhile
      node.textContent = recordIdText(answer);
    });
  }
}
