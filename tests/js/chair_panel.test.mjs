// The console's chair panel, its pure parts: node --test tests/js/*.test.mjs
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

import {
  agendaOf, clockText, mergeNote, noteOf, noteOrder, overLimit, secondsOnScreen, suggestItem,
} from "../../web/static/console/chair_panel.js";
import { Model, NO_FILTERS, itemOf, passes, preview } from "../../web/static/console/state.js";

const CONFIG = JSON.parse(readFileSync(new URL("./fixtures/config.json", import.meta.url), "utf8"));

describe("notes", () => {
  const open = { id: "18a1", text: "For the Chief Executive", by: "sam", at: "2026-05-14T10:00:00.000Z", seen_at: "", seen_by: "" };
  const seen = { ...open, seen_at: "2026-05-14T10:01:00.000Z", seen_by: "chair (top table)" };

  it("once seen, a note stays seen whichever copy arrives last", () => {
    const notes = new Map();
    assert.equal(mergeNote(notes, seen), true);
    assert.equal(mergeNote(notes, open), false);
    assert.equal(notes.get("18a1").seen_by, "chair (top table)");
  });

  it("an open note becomes seen, and the same copy twice changes nothing", () => {
    const notes = new Map();
    assert.equal(mergeNote(notes, open), true);
    assert.equal(mergeNote(notes, open), false);
    assert.equal(mergeNote(notes, seen), true);
  });

  it("reads the note a note or note_seen entry carries, and nothing else", () => {
    assert.deepEqual(noteOf({ type: "note_seen", note: JSON.stringify(seen) }), seen);
    assert.equal(noteOf({ type: "approve", note: JSON.stringify(seen) }), null);
    assert.equal(noteOf({ type: "note", note: "{not json" }), null);
  });

  it("lists the newest first", () => {
    const notes = new Map();
    for (const id of ["18a1", "18a3", "18a2"]) mergeNote(notes, { ...open, id });
    assert.deepEqual(noteOrder(notes).map((n) => n.id), ["18a3", "18a2", "18a1"]);
  });
});

describe("time on screen", () => {
  it("counts from on_screen_since, and nothing without it", () => {
    const q = { on_screen_since: "2026-05-14T10:00:00.000Z" };
    assert.equal(secondsOnScreen(q, Date.parse("2026-05-14T10:01:05.900Z")), 65);
    assert.equal(secondsOnScreen({ on_screen_since: "" }, 0), null);
    assert.equal(secondsOnScreen(null, 0), null);
    assert.equal(clockText(65), "1:05");
    assert.equal(clockText(3600), "60:00");
  });

  it("turns amber at the soft limit, never without one", () => {
    assert.equal(overLimit(119, 120), false);
    assert.equal(overLimit(120, 120), true);
    assert.equal(overLimit(5000, 0), false);
    assert.equal(overLimit(null, 120), false);
  });

  it("the page config carries the chair's settings", () => {
    assert.equal(CONFIG.chair.soft_limit_seconds, 0);
    assert.equal(CONFIG.chair.note_max, 200);
  });
});

describe("agenda items", () => {
  const agenda = { items: [{ id: "finance", title: "Finance", keywords: ["budget", "cost"] },
    { id: "ambulances", title: "Ambulances", keywords: ["ambulance"] }], current: "" };

  it("suggests the item whose keywords a question mentions most, as the server does", () => {
    assert.equal(suggestItem("What does the BUDGET say about the cost of ambulances?", agenda.items), "finance");
    assert.equal(suggestItem("Ambulance waits?", agenda.items), "ambulances");
    assert.equal(suggestItem("Budgeting is not a keyword", agenda.items), "");
  });

  it("a question tagged to a removed item counts as having none, and filters so", () => {
    const tagged = { item: "finance", state: "approved", platform: "x", flags: [], text: "a", original: "a", author_name: "", author_handle: "", id: "x:1" };
    const orphan = { ...tagged, id: "x:2", item: "sport" };
    assert.equal(itemOf(tagged, agenda), "finance");
    assert.equal(itemOf(orphan, agenda), "");
    const on = { ...NO_FILTERS, item: "finance", agenda };
    const none = { ...NO_FILTERS, item: "-", agenda };
    assert.deepEqual([passes(tagged, on), passes(orphan, on)], [true, false]);
    assert.deepEqual([passes(tagged, none), passes(orphan, none)], [false, true]);
  });

  it("reads the agenda an agenda entry carries", () => {
    assert.deepEqual(agendaOf({ type: "agenda", agenda: JSON.stringify(agenda) }), agenda);
    assert.equal(agendaOf({ type: "tag" }), null);
  });
});

describe("the board preview on an agenda item", () => {
  it("lists only the item's questions, as the board does, and changes with the item", () => {
    const q = (id, item) => ({ id, item, version: 1, state: "approved" });
    const model = new Model();
    model.applySnapshot({ last_id: "1-0", questions: [q("a", "finance"), q("b", ""), q("c", "finance")], queue: ["a", "b", "c"], screen: null });
    const agenda = { items: [{ id: "finance", title: "Finance" }], current: "finance" };
    const on = preview(model, 3, agenda);
    assert.deepEqual(on.next.map((x) => x.id), ["a", "c"]);
    const all = preview(model, 3, { ...agenda, current: "" });
    assert.deepEqual(all.next.map((x) => x.id), ["a", "b", "c"]);
    assert.notEqual(on.signature, all.signature);
    // An item that no longer exists is no item.
    assert.deepEqual(preview(model, 3, { items: [], current: "finance" }).next.length, 3);
  });
});
