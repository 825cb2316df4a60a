// Search and filters at volume: the console's predicate against the shared fixture (the server's
// aggregator/core/filters.py gives the same verdicts, tests/test_search.py), and a filtered walk
// served by the server, kept live by log entries (node --test tests/js/*.test.mjs).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

import {
  Model, NO_FILTERS, buckets, filterKey, passes, searchCountText, searchMoreText, serverFilters,
} from "../../web/static/console/state.js";
import { question } from "./fixtures/question.mjs";

const FIXTURE = JSON.parse(readFileSync(new URL("./fixtures/filters.json", import.meta.url), "utf8"));

const range = (from, to) => Array.from({ length: to - from }, (_, i) => from + i);
const EMPTY = { ids: [], scores: [], more: false };

// 50,000 new questions of which the console holds the first 100; x:7 and x:60 mention the park.
function bigEvent(queue = []) {
  const model = new Model();
  const ids = range(1, 101);
  const text = (n) => ([7, 60].includes(n) ? `The park ${n}?` : `Question ${n}?`);
  model.applySnapshot({
    last_id: "5-0", queue: queue.map((n) => `x:${n}`), screen: null,
    counts: { incoming: 50000, queue: queue.length, screen: 0, answered: 0, held: 0, rejected: 0, grouped: 0 },
    lists: {
      incoming: { ids: ids.map((n) => `x:${n}`), scores: ids, more: true },
      queue: { ids: queue.slice(0, 100).map((n) => `x:${n}`), scores: [], more: queue.length > 100 },
      answered: EMPTY, held: EMPTY, rejected: EMPTY, grouped: EMPTY,
    },
    questions: [...ids.map((n) => question(n, { text: text(n) })),
      ...queue.slice(0, 100).map((n) => question(n, { state: "approved", text: text(n) }))],
  });
  return model;
}

const PARK = { ...NO_FILTERS, text: "park" };
const KEY = filterKey(serverFilters(PARK, "incoming"));

function searchReply(found, edge, scanned, more) {
  return {
    list: "incoming", count: 50000, edge: [edge, `x:${edge}`], scanned,
    page: { ids: found.map((n) => `x:${n}`), scores: found, more },
    questions: found.map((n) => question(n, { text: `Near the park ${n}` })),
  };
}

describe("the predicate, as the server has it", () => {
  it("gives the shared fixture's verdicts", () => {
    const agenda = { items: FIXTURE.agenda.map((id) => ({ id })) };
    for (const { filters, passes: expected } of FIXTURE.cases) {
      const got = FIXTURE.questions.filter((q) => passes(q, { ...NO_FILTERS, ...filters, agenda })).map((q) => q.id);
      assert.deepEqual(got, expected, JSON.stringify(filters));
    }
  });

  it("sends the server only the filters that are on, and questions only for Incoming", () => {
    assert.equal(serverFilters(NO_FILTERS, "incoming"), null);
    assert.equal(serverFilters({ ...NO_FILTERS, order: "questions" }, "held"), null);
    assert.deepEqual(serverFilters({ ...NO_FILTERS, order: "questions", platform: "fb" }, "incoming"),
      { platform: "fb", questions: true });
    assert.deepEqual(serverFilters({ ...PARK, agenda: { items: [] } }, "rejected"), { text: "park" });
  });
});

describe("a search walked on the server", () => {
  it("shows the matches it holds, then those the server found, with how far it searched", () => {
    const model = bigEvent();
    let view = buckets(model, PARK);
    assert.deepEqual(view.out.incoming, ["x:7", "x:60"]);  // held already: shown at once
    assert.equal(view.more.incoming, true);
    assert.equal(view.scanned.incoming, null);
    assert.deepEqual(model.search("incoming", KEY).edge, [100, "x:100"]);  // it goes on from there
    assert.deepEqual(model.searchAfter("incoming", KEY), [100, "x:100"]);
    assert.ok(model.applyPage(searchReply([20000], 25000, 25000, true), model.generation, KEY));
    view = buckets(model, PARK);
    assert.deepEqual(view.out.incoming, ["x:7", "x:60", "x:20000"]);
    assert.equal(view.scanned.incoming, 25000);
    assert.deepEqual(model.searchAfter("incoming", KEY), [25000, "x:25000"]);
    // Without the search, Incoming is again what the console holds in order: its first 100.
    assert.equal(buckets(model, NO_FILTERS).out.incoming.length, 100);
    assert.equal(buckets(model, NO_FILTERS).out.incoming.includes("x:20000"), false);
  });

  it("keeps matches live: an edit before the search edge shows, one past it waits its turn", () => {
    const model = bigEvent();
    model.applyPage(searchReply([20000], 25000, 25000, true), model.generation, KEY);
    model.applyEntry({ id: "6-0", type: "edit", qid: "x:24000",
      qs: [question(24000, { text: "Now about the park", version: 2 })] });
    model.applyEntry({ id: "7-0", type: "edit", qid: "x:30000",
      qs: [question(30000, { text: "Also the park", version: 2 })] });
    model.applyEntry({ id: "8-0", type: "edit", qid: "x:20000",
      qs: [question(20000, { text: "Nothing to see", version: 2 })] });
    // An edit names no arrival number: the console asks the server where the two new ones go.
    assert.deepEqual(buckets(model, PARK).out.incoming, ["x:7", "x:60"]);
    assert.deepEqual(model.unplaced(), ["x:24000", "x:30000"]);
    model.applyEntry({ id: "8-1", type: "edit", qid: "x:31000",
      qs: [question(31000, { text: "Park, placed by the last page", version: 2 })] });
    model.place({ "x:24000": 24000, "x:30000": 30000 }, ["x:24000", "x:30000", "x:31000"]);
    assert.deepEqual(model.unplaced(), []);  // x:31000 had none: not asked for again
    assert.deepEqual(buckets(model, PARK).out.incoming, ["x:7", "x:60", "x:24000"]);
    model.applyPage(searchReply([30000, 31000], 50000, 50000, false), model.generation, KEY);
    model.applyEntry({ id: "9-0", type: "received", qid: "x:50001", arrival: "50001",
      qs: [question(50001, { text: "A park bench?" })], was: {} });
    const view = buckets(model, PARK);
    assert.deepEqual(view.out.incoming, ["x:7", "x:60", "x:24000", "x:30000", "x:31000", "x:50001"]);
    assert.equal(view.more.incoming, false);  // searched to the end: every match is live
  });

  it("drops a reply to an older search, and starts again after a snapshot", () => {
    const model = bigEvent();
    const bins = filterKey(serverFilters({ ...NO_FILTERS, text: "bins" }, "incoming"));
    model.search("incoming", KEY);
    model.applyPage(searchReply([20000], 25000, 25000, true), model.generation, bins);
    assert.deepEqual(model.search("incoming", KEY).edge, [100, "x:100"]);
    assert.equal(buckets(model, PARK).out.incoming.includes("x:20000"), false);
    const generation = model.generation;
    model.applySnapshot({ last_id: "9-0", queue: [], screen: null, counts: { incoming: 0 },
      lists: { incoming: EMPTY, answered: EMPTY, held: EMPTY, rejected: EMPTY, grouped: EMPTY },
      questions: [] });
    assert.equal(model.applyPage(searchReply([1], 2, 2, true), generation, KEY), false);
    assert.equal(model.search("incoming", KEY).more, false);
  });

  it("goes on from pages loaded without the filter when they went further", () => {
    const model = bigEvent();
    model.search("incoming", KEY);
    model.applyPage(searchReply([], 150, 150, true), model.generation, KEY);
    model.applyPage({ list: "incoming", count: 50000, questions: range(101, 301).map((n) => question(n)),
      page: { ids: range(101, 301).map((n) => `x:${n}`), scores: range(101, 301), more: true } });
    assert.deepEqual(model.searchAfter("incoming", KEY), [300, "x:300"]);
    assert.equal(model.search("incoming", KEY).scanned, null);
  });

  it("walks the queue by position and shows its matches in board order", () => {
    const model = bigEvent(range(200, 500));
    const key = filterKey(serverFilters(PARK, "queue"));
    assert.equal(model.searchAfter("queue", key), 100);  // the held front of the queue
    const reply = { list: "queue", count: 300, edge: 250, scanned: 250,
      page: { ids: ["x:340", "x:420"], scores: [], more: true },
      questions: [question(340, { state: "approved", text: "park" }), question(420, { state: "approved", text: "park" })] };
    model.applyPage(reply, model.generation, key);
    assert.equal(model.searchAfter("queue", key), 250);
    const view = buckets(model, PARK);
    assert.deepEqual(view.out.queue, ["x:340", "x:420"]);
    assert.equal(view.scanned.queue, 250);
  });

  it("says how far it searched", () => {
    assert.equal(searchCountText(3, 50000, true, 12000), "(3 found, searched 12,000 of 50,000)");
    assert.equal(searchCountText(3, 50000, true, null), "(3 found, searching…)");
    assert.equal(searchCountText(3, 50000, false, 50000), "(3 of 50000)");
    assert.equal(searchMoreText(12000, 50000), "Search further (38,000 not searched yet)");
  });
});
