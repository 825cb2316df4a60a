// The console's pure state module: node --test tests/js/*.test.mjs
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

import {
  Model, actsOnScreen, applies, applyQueueEdit, buckets, choose, countText, dropIndex, editCountText,
  isAfter, keyMap, offered, passes, preview, refusal, reselect, stepIndex, tooLongForBoard,
} from "../../web/static/console/state.js";
import { question as numbered } from "./fixtures/question.mjs";

// The page config as the server sends it (contract.md): the action table, the states' words.
const CONFIG = JSON.parse(readFileSync(new URL("./fixtures/config.json", import.meta.url), "utf8"));
// Queue edits made by aggregator/core/queue_edit.py (tests/test_queue_edit.py checks the same file).
const QUEUE_EDITS = JSON.parse(readFileSync(new URL("./fixtures/queue_edits.json", import.meta.url), "utf8"));
const TABLE = CONFIG.actions;
const STATES = Object.keys(CONFIG.states);

let serial = 0;
function question(fields = {}) {
  serial += 1;
  return numbered(serial, fields);
}

function modelOf(qs, { queue = [], screen = "", lastId = "5-0" } = {}) {
  const model = new Model();
  model.applySnapshot({ questions: qs, queue, screen, last_id: lastId });
  return model;
}

const VIEW = { queue: [], groupTarget: null };

describe("the action table fixture", () => {
  it("has the contract's shape", () => {
    const fields = ["asks", "done", "from", "hint", "key", "label", "limits", "many", "order",
      "params", "primary", "prompt", "to", "undoable", "when"];
    const paramFields = ["field", "kind", "name", "of", "options"];
    for (const [name, spec] of Object.entries(TABLE)) {
      assert.deepEqual(Object.keys(spec).sort(), fields, name);
      assert.deepEqual(spec.from, [...spec.from].sort(), `${name}: from is sorted`);
      for (const state of spec.from) assert.ok(STATES.includes(state), `${name}: ${state}`);
      assert.ok(spec.to === null || STATES.includes(spec.to), name);
      for (const param of spec.params) assert.deepEqual(Object.keys(param).sort(), paramFields, name);
      const named = spec.params.map((p) => p.name);
      for (const [param, max] of Object.entries(spec.limits)) {
        assert.ok(named.includes(param) && Number.isInteger(max) && max > 0, `${name}: limit of ${param}`);
      }
    }
  });
});

describe("the model", () => {
  it("applies entries after its id only, and the newest version of a question", () => {
    const q = question();
    const model = modelOf([q], { lastId: "10-1" });
    assert.equal(model.applyEntry({ id: "10-1", type: "approve", qid: q.id,
      qs: [{ ...q, version: 2, state: "approved" }], queue: [q.id] }), false);
    assert.equal(model.get(q.id).state, "new");
    assert.equal(model.applyEntry({ id: "10-2", type: "approve", qid: q.id,
      qs: [{ ...q, version: 2, state: "approved" }], queue: [q.id] }), true);
    assert.equal(model.get(q.id).state, "approved");
    assert.deepEqual(model.queue, [q.id]);
    // An older version arriving later (another entry naming it) changes nothing.
    model.touched.clear();
    model.applyEntry({ id: "11-0", type: "star", qid: q.id, qs: [{ ...q, version: 1 }] });
    assert.equal(model.get(q.id).state, "approved");
    assert.equal(model.touched.size, 0);
    assert.equal(model.lastId, "11-0");
  });

  it("compares stream ids part by part, not as text", () => {
    assert.ok(isAfter("10-0", "9-5"));
    assert.ok(isAfter("9-10", "9-9"));
    assert.ok(!isAfter("9-9", "9-9"));
  });

  it("follows the screen and new arrivals, and touches a grouped card's parent", () => {
    const parent = question({ state: "approved" });
    const model = modelOf([parent], { queue: [parent.id] });
    const dup = question();
    model.applyEntry({ id: "6-0", type: "received", qid: dup.id, qs: [dup] });
    assert.deepEqual(buckets(model).out.incoming, [dup.id]);
    model.touched.clear();
    model.applyEntry({ id: "6-1", type: "group", qid: dup.id,
      qs: [{ ...dup, version: 2, state: "grouped", parent: parent.id },
           { ...parent, version: 2, asked_by: 2 }] });
    assert.ok(model.touched.has(parent.id) && model.touched.has(dup.id));
    model.applyEntry({ id: "6-2", type: "screen", qid: parent.id,
      qs: [{ ...parent, version: 3, state: "on_screen" }], queue: [], screen: parent.id });
    assert.equal(model.onScreen().id, parent.id);
    model.applyEntry({ id: "6-3", type: "clear", qid: parent.id,
      qs: [{ ...parent, version: 4, state: "approved" }], queue: [parent.id], screen: "" });
    assert.equal(model.onScreen(), null);
  });
});

describe("columns and counts", () => {
  it("puts each question in its list, held ones in their own", () => {
    const qs = {
      fresh: question(), queued: question({ state: "approved" }),
      shown: question({ state: "on_screen" }), done: question({ state: "answered" }),
      held: question({ state: "held" }), out: question({ state: "rejected" }),
      dup: question({ state: "grouped" }),
    };
    const model = modelOf(Object.values(qs), { queue: [qs.queued.id], screen: qs.shown.id });
    const { out, totals } = buckets(model);
    assert.deepEqual(out, {
      incoming: [qs.fresh.id], queue: [qs.queued.id], screen: [qs.shown.id],
      answered: [qs.done.id], held: [qs.held.id], rejected: [qs.out.id], grouped: [qs.dup.id],
    });
    assert.deepEqual(Object.values(totals), [1, 1, 1, 1, 1, 1, 1]);
  });

  it("filters by text, platform, state, star and flag, and counts what is left", () => {
    const buses = question({ text: "More buses?", flags: ["question"] });
    const parks = question({ text: "Parks?", platform: "fb", starred: true });
    const model = modelOf([buses, parks]);
    const only = (filters) => buckets(model, { text: "", platform: "", state: "", flag: "",
      order: "oldest", ...filters }).out.incoming;
    assert.deepEqual(only({ text: "buses" }), [buses.id]);
    assert.deepEqual(only({ text: "ada" }), [buses.id, parks.id]);  // the author is searched
    assert.deepEqual(only({ platform: "fb" }), [parks.id]);
    assert.deepEqual(only({ state: "starred" }), [parks.id]);
    assert.deepEqual(only({ state: "approved" }), []);
    assert.deepEqual(only({ flag: "-" }), [parks.id]);
    assert.deepEqual(only({ flag: "question" }), [buses.id]);
    assert.deepEqual(only({ order: "newest" }), [parks.id, buses.id]);
    const { totals } = buckets(model, { ...CONFIG, text: "buses", platform: "", state: "",
      flag: "", order: "oldest" });
    assert.equal(countText(1, totals.incoming), "(1 of 2)");
    assert.equal(countText(2, 2), "(2)");
    assert.ok(passes(buses, { text: "", platform: "", state: "", flag: "" }));
  });

  it("shows set-aside lists most recent first", () => {
    const older = question({ state: "held", updated_at: "2026-05-14T10:00:00.000Z" });
    const newer = question({ state: "held", updated_at: "2026-05-14T10:05:00.000Z" });
    assert.deepEqual(buckets(modelOf([older, newer])).out.held, [newer.id, older.id]);
  });

  it("keeps the selection, or takes the card that took its place", () => {
    assert.deepEqual(reselect(["a", "b", "c"], "b", 1), { qid: "b", index: 1 });
    assert.deepEqual(reselect(["a", "c"], "b", 1), { qid: "c", index: 1 });
    assert.deepEqual(reselect(["a"], "b", 1), { qid: "a", index: 0 });
    assert.deepEqual(reselect([], "b", 1), { qid: null, index: 0 });
    assert.deepEqual(reselect(["a"], null, 0), { qid: "a", index: 0 });
  });

  it("previews the screen and the next of the queue, with a signature of their versions", () => {
    const a = question({ state: "on_screen" });
    const b = question({ state: "approved" });
    const c = question({ state: "approved" });
    const shown = preview(modelOf([a, b, c], { queue: [b.id, c.id], screen: a.id }), 1);
    assert.equal(shown.current.id, a.id);
    assert.deepEqual(shown.next.map((q) => q.id), [b.id]);
    assert.equal(shown.signature, `${a.id}:1|${b.id}:1`);
  });
});

describe("actions come from the table", () => {
  it("offers each action from exactly the states its table entry lists", () => {
    for (const [name, spec] of Object.entries(TABLE)) {
      if (["undo", "star", "unstar"].includes(name)) continue;  // also depend on a field
      for (const state of STATES) {
        assert.equal(applies(TABLE, name, question({ state })), spec.from.includes(state),
          `${name} from ${state}`);
      }
    }
  });

  it("follows a changed table: no state list of its own", () => {
    const table = structuredClone(TABLE);
    table.approve.from = ["held"];
    table.mute = { from: ["new"], to: null, undoable: false, done: "muted", label: "Mute",
      key: "x", params: [] };
    assert.equal(applies(table, "approve", question({ state: "held" })), true);
    assert.equal(applies(table, "approve", question({ state: "new" })), false);
    assert.equal(offered(table, question(), VIEW).mute, true);
    assert.deepEqual(keyMap(table).get("x"), ["mute"]);
    delete table.hold;
    assert.equal(offered(table, question(), VIEW).hold, undefined);
  });

  it("offers undo only when the question has something to undo", () => {
    assert.equal(applies(TABLE, "undo", question({ undo_depth: 0 })), false);
    assert.equal(applies(TABLE, "undo", question({ undo_depth: 2 })), true);
    // star, unstar and reorder push nothing: a starred question still has nothing to undo.
    assert.equal(applies(TABLE, "undo", question({ starred: true, last_action: "star" })), false);
    assert.equal(refusal(TABLE, CONFIG.states, "undo", question()),
      "There is nothing to undo on this question.");
  });

  it("binds keys from the table; a shared key toggles to the action that applies", () => {
    const keys = keyMap(TABLE);
    assert.deepEqual(keys.get("z"), ["hold", "unhold"]);
    assert.deepEqual(keys.get("*"), ["star", "unstar"]);
    assert.deepEqual(keys.get("a"), ["approve"]);
    assert.ok(![...keys.values()].flat().includes("reorder"));  // no key of its own
    assert.equal(choose(TABLE, keys.get("z"), question({ state: "new" })), "hold");
    assert.equal(choose(TABLE, keys.get("z"), question({ state: "approved" })), "hold");
    assert.equal(choose(TABLE, keys.get("z"), question({ state: "held" })), "unhold");
    assert.equal(choose(TABLE, keys.get("*"), question({ starred: true })), "unstar");
    assert.equal(choose(TABLE, keys.get("*"), question()), "star");
    // Nothing applies: the first is named in the refusal.
    const answered = question({ state: "answered" });
    assert.equal(choose(TABLE, keys.get("z"), answered), "hold");
    assert.equal(refusal(TABLE, CONFIG.states, "hold", answered),
      "“Hold for later” does not apply to a question that is answered.");
    assert.equal(refusal(TABLE, CONFIG.states, "approve", question({ state: "held" })),
      "“Approve” does not apply to a question that is held for later.");
  });

  it("offers the console's own moves only where they make sense", () => {
    const [a, b] = [question({ state: "approved" }), question({ state: "approved" })];
    const view = { queue: [a.id, b.id], groupTarget: null };
    assert.deepEqual([offered(TABLE, a, view).up, offered(TABLE, a, view).down], [false, true]);
    assert.deepEqual([offered(TABLE, b, view).up, offered(TABLE, b, view).down], [true, false]);
    const fresh = question();
    assert.equal(offered(TABLE, fresh, view).up, false);
    assert.equal(offered(TABLE, fresh, view).group, false);  // no target marked
    assert.equal(offered(TABLE, fresh, { ...view, groupTarget: a.id }).group, true);
    assert.equal(offered(TABLE, a, { ...view, groupTarget: a.id }).group, false);  // itself
    assert.equal(offered(TABLE, question({ state: "held" }), view).unhold, true);
    assert.equal(offered(TABLE, question({ state: "held" }), view).hold, false);
  });

  it("sends actions that apply only on screen to the question on screen", () => {
    assert.equal(actsOnScreen(TABLE.answer), true);
    assert.equal(actsOnScreen(TABLE.unscreen), true);
    assert.equal(actsOnScreen(TABLE.edit), false);
  });

  it("computes reorder indexes for a step and for a drop", () => {
    assert.equal(stepIndex(["a", "b", "c"], "b", -1), 0);
    assert.equal(stepIndex(["a", "b", "c"], "c", 1), null);
    assert.equal(stepIndex(["a", "b"], "x", 1), null);
    assert.equal(dropIndex(["a", "b", "c"], "c", "a", false), 0);
    assert.equal(dropIndex(["a", "b", "c"], "c", "a", true), 1);
    assert.equal(dropIndex(["a", "b", "c"], "a", "c", true), 2);
    assert.equal(dropIndex(["a", "b", "c"], "a", "b", false), null);  // where it already is
    assert.equal(dropIndex(["a", "b", "c"], "a", null, false), 2);
  });
});

describe("the board's legible length", () => {
  it("warns past the configured length, else past 280 characters", () => {
    assert.equal(tooLongForBoard(question({ text: "x".repeat(280) }), {}), null);
    assert.deepEqual(tooLongForBoard(question({ text: "x".repeat(281) }), {}),
      { length: 281, limit: 280 });
    assert.deepEqual(tooLongForBoard(question({ text: "x".repeat(101) }), { board_max_chars: 100 }),
      { length: 101, limit: 100 });
    // Characters, not UTF-16 units: 280 emoji fit.
    assert.equal(tooLongForBoard(question({ text: "🙂".repeat(280) }), {}), null);
  });
});

describe("queue edits (aggregator/core/queue_edit.py)", () => {
  for (const { name, before, after, edit } of QUEUE_EDITS) {
    it(`makes the queue the server made: ${name}`, () => {
      assert.deepEqual(applyQueueEdit(before, edit), after);
    });
  }

  it("says when an edit was made from another queue", () => {
    const { before, edit } = QUEUE_EDITS.find((c) => c.edit.drop.length && c.edit.put.length);
    assert.equal(applyQueueEdit(before.slice(1), edit), null);
  });

  it("keeps the queue from the edits in the entries, and asks for a snapshot when one does not fit", () => {
    const a = question({ state: "approved" }), b = question({ state: "approved" }), c = question();
    const model = modelOf([a, b, c], { queue: [a.id, b.id] });
    assert.equal(model.applyEntry({ id: "6-0", type: "approve", qid: c.id,
      qs: [{ ...c, version: 2, state: "approved" }], was: { [c.id]: "new" },
      queue_edit: { drop: [a.id], put: [[0, c.id], [2, a.id]], length: 3 } }), true);
    assert.deepEqual(model.queue, [c.id, b.id, a.id]);
    assert.equal(model.counts.queue, 3);
    assert.equal(model.outOfStep, false);
    model.applyEntry({ id: "7-0", type: "reorder", qid: a.id, qs: [],
      queue_edit: { drop: [a.id], put: [[0, a.id]], length: 4 } });
    assert.equal(model.outOfStep, true);
    model.applySnapshot({ questions: [a, b, c], queue: [a.id], screen: "", last_id: "8-0" });
    assert.equal(model.outOfStep, false);
  });
});

describe("the edit dialog's limit", () => {
  it("is the server's, as for a question from the form, with what is used and left", () => {
    const max = CONFIG.actions.edit.limits.text;
    assert.equal(max, 1000);
    assert.equal(editCountText(37, max), "At most 1,000 characters, as for a question from the form: 37 used, 963 left.");
    assert.equal(editCountText(1000, max), "At most 1,000 characters, as for a question from the form: 1,000 used, 0 left.");
  });

  it("and the other free texts of the actions have theirs", () => {
    assert.deepEqual(CONFIG.actions.reject.limits, { reason: 200 });
    assert.deepEqual(CONFIG.actions.answer_note.limits, { note: 1000 });
    assert.deepEqual(CONFIG.actions.direct.limits, { to: 60 });
    assert.deepEqual(CONFIG.actions.set_aside.limits, { reason: 120 });
  });
});
