// The console's picking of several cards (storm controls): node --test tests/js/*.test.mjs
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

import { Selection, cluster, likeOf, summary, targetsFor } from "../../web/static/console/selection.js";
import { Model } from "../../web/static/console/state.js";

const CONFIG = JSON.parse(readFileSync(new URL("./fixtures/config.json", import.meta.url), "utf8"));
const TABLE = CONFIG.actions;
const STATES = CONFIG.states;

let serial = 0;
function question(fields = {}) {
  serial += 1;
  return {
    id: `x:${serial}`, platform: "x", text: `Question ${serial}?`, state: "new", version: 1,
    triage: {}, flags: [], undo_depth: 0, ...fields,
  };
}

function modelOf(qs) {
  const model = new Model();
  model.applySnapshot({ questions: qs, queue: qs.filter((q) => q.state === "approved").map((q) => q.id), screen: "", last_id: "1-0" });
  return model;
}

describe("the table says which actions act on several questions", () => {
  it("reject and reject all like this, nothing else", () => {
    const many = Object.entries(TABLE).filter(([, spec]) => spec.many).map(([name]) => name);
    assert.deepEqual(many.sort(), ["reject", "reject_like"]);
    assert.equal(TABLE.mute.key, "M");
    assert.equal(TABLE.reject_like.key, "R");
  });
});

describe("Selection", () => {
  it("toggles, counts, clears and keeps arrival order", () => {
    const [a, b, c] = [question(), question(), question()];
    const model = modelOf([a, b, c]);
    const picks = new Selection();
    assert.equal(picks.toggle(c.id), true);
    assert.equal(picks.toggle(a.id), true);
    assert.equal(picks.toggle(b.id), true);
    assert.equal(picks.toggle(b.id), false);
    assert.equal(picks.toggle(""), false);
    assert.equal(picks.size, 2);
    assert.deepEqual(picks.ordered(model), [a.id, c.id]);
    assert.deepEqual(picks.clear().sort(), [a.id, c.id].sort());
    assert.equal(picks.size, 0);
    assert.equal(picks.has(a.id), false);
  });

  it("drops picks of questions the console no longer holds", () => {
    const a = question();
    const picks = new Selection();
    picks.toggle(a.id);
    picks.toggle("x:gone");
    assert.deepEqual(picks.prune(modelOf([a])), ["x:gone"]);
    assert.deepEqual([...picks.ids], [a.id]);
  });
});

describe("targetsFor", () => {
  it("sends each question with the version seen, and leaves out what the table refuses", () => {
    const a = question({ version: 3 });
    const b = question({ state: "on_screen" });
    const c = question({ state: "approved", version: 2 });
    const model = modelOf([a, b, c]);
    const { targets, left } = targetsFor(TABLE, STATES, "reject", [a.id, b.id, c.id, "x:gone"], model);
    assert.deepEqual(targets, [{ qid: a.id, version: 3 }, { qid: c.id, version: 2 }]);
    assert.deepEqual(left, [{ qid: b.id, error: "it is on screen" },
      { qid: "x:gone", error: "no longer on this console" }]);
  });
});

describe("cluster", () => {
  it("is the question a card repeats and every open repeat triage suggested for it", () => {
    const head = question();
    const r1 = question({ triage: { suggest: { qid: head.id, score: 0.9 } } });
    const r2 = question({ state: "approved", triage: { suggest: { qid: head.id, score: 0.8 } } });
    const gone = question({ state: "rejected", triage: { suggest: { qid: head.id, score: 0.8 } } });
    const other = question({ triage: { suggest: { qid: "x:elsewhere", score: 0.8 } } });
    const model = modelOf([head, r1, r2, gone, other]);
    assert.deepEqual(cluster(TABLE, r1, model), { like: head.id, ids: [head.id, r1.id, r2.id] });
    assert.deepEqual(cluster(TABLE, head, model), { like: head.id, ids: [head.id, r1.id, r2.id] });
    // A suggestion of a question this console does not hold: the card is its own cluster.
    assert.equal(likeOf(other, model), other.id);
    assert.deepEqual(cluster(TABLE, other, model).ids, [other.id]);
  });

  it("leaves out the head once it is on screen, and keeps its repeats", () => {
    const head = question({ state: "on_screen" });
    const r1 = question({ triage: { suggest: { qid: head.id, score: 0.9 } } });
    assert.deepEqual(cluster(TABLE, r1, modelOf([head, r1])), { like: head.id, ids: [r1.id] });
  });
});

describe("summary", () => {
  it("says how many changed and why the rest were skipped", () => {
    assert.equal(summary("rejected", 1, []), "Rejected 1 question.");
    assert.equal(summary("rejected", 3, [{ qid: "x:1", error: "kim approved this question first" }]),
      "Rejected 3 questions; skipped 1 question (kim approved this question first).");
    const many = [1, 2, 3, 4].map((n) => ({ qid: `x:${n}`, error: `why ${n}` }));
    assert.equal(summary("rejected as a repeat", 2, many),
      "Rejected as a repeat 2 questions; skipped 4 questions (why 1; why 2; why 3; …).");
  });
});
