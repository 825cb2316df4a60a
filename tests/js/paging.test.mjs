// The console's model at volume: a paged snapshot, pages, and log entries about questions it does
// not hold (node --test tests/js/*.test.mjs).
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Model, buckets } from "../../web/static/console/state.js";
import { question } from "./fixtures/question.mjs";

const ORDER = { text: "", platform: "", state: "", flag: "", order: "oldest", item: "" };
const range = (from, to) => Array.from({ length: to - from }, (_, i) => from + i);

// An event of `total` new questions x:1..x:total of which the console was sent the first `held`.
function pagedModel(total, held) {
  const model = new Model();
  const ids = range(1, held + 1);
  const empty = { ids: [], scores: [], more: false };
  model.applySnapshot({
    last_id: "5-0", queue: [], screen: null,
    counts: { incoming: total, queue: 0, screen: 0, answered: 0, held: 0, rejected: 0, grouped: 0 },
    lists: {
      incoming: { ids: ids.map((n) => `x:${n}`), scores: ids, more: held < total },
      queue: empty, answered: empty, held: empty, rejected: empty, grouped: empty,
    },
    questions: ids.map((n) => question(n)),
  });
  return model;
}

describe("a paged snapshot", () => {
  it("shows what it holds and counts what the server holds", () => {
    const model = pagedModel(50000, 100);
    const { out, totals, more } = buckets(model, ORDER);
    assert.equal(out.incoming.length, 100);
    assert.equal(out.incoming[0], "x:1");
    assert.equal(totals.incoming, 50000);
    assert.equal(more.incoming, true);
  });

  it("extends what it holds with each page, in order, and drops a page asked before a snapshot", () => {
    const model = pagedModel(250, 100);
    const generation = model.generation;
    const page = (from, to, more) => ({ list: "incoming", count: 250,
      page: { ids: range(from, to).map((n) => `x:${n}`), scores: range(from, to), more },
      questions: range(from, to).map((n) => question(n)) });
    assert.equal(model.applyPage(page(101, 201, true), generation), true);
    assert.deepEqual(model.edge.incoming, [200, "x:200"]);
    assert.equal(buckets(model, ORDER).out.incoming.length, 200);
    assert.equal(model.applyPage(page(201, 251, false), generation), true);
    const { out, more } = buckets(model, ORDER);
    assert.deepEqual(out.incoming, range(1, 251).map((n) => `x:${n}`));
    assert.equal(more.incoming, false);
    model.applySnapshot({ questions: [], queue: [], screen: "", last_id: "9-0" });
    assert.equal(model.applyPage(page(1, 3, true), generation), false);  // from before it
    assert.equal(model.questions.size, 0);
  });
});

describe("entries about questions the console does not hold", () => {
  it("move the counts by the state each question left", () => {
    const model = pagedModel(500, 100);
    model.applyEntry({ id: "6-0", type: "approve", qid: "x:400", was: { "x:400": "new" },
      qs: [question(400, { state: "approved", version: 2 })], queue: ["x:400"] });
    let { out, totals } = buckets(model, ORDER);
    assert.equal(totals.incoming, 499);
    assert.equal(totals.queue, 1);
    assert.deepEqual(out.queue, ["x:400"]);  // the entry brought its card
    model.applyEntry({ id: "6-1", type: "reject", qid: "x:450", was: { "x:450": "new" },
      qs: [question(450, { state: "rejected", version: 2, updated_at: "2026-05-14T10:00:00.000Z" })] });
    ({ out, totals } = buckets(model, ORDER));
    assert.equal(totals.incoming, 498);
    assert.equal(totals.rejected, 1);
    // A change that moves nothing (a star) leaves the counts alone.
    model.applyEntry({ id: "6-2", type: "star", qid: "x:300",
      qs: [question(300, { starred: true, version: 2 })] });
    assert.equal(buckets(model, ORDER).totals.incoming, 498);
  });

  it("show a card back in Incoming only where the console holds its place", () => {
    const model = pagedModel(500, 100);
    const back = (n, id) => model.applyEntry({ id, type: "undo", qid: `x:${n}`,
      was: { [`x:${n}`]: "rejected" }, seq: { [`x:${n}`]: n },
      qs: [question(n, { version: 3 })] });
    back(50, "7-0");   // inside what is held: it shows, in its arrival place
    back(450, "7-1");  // far past it: counted, not shown (a page will bring it)
    const { out, totals } = buckets(model, ORDER);
    assert.equal(out.incoming.indexOf("x:50"), 49);
    assert.equal(out.incoming.includes("x:450"), false);
    assert.equal(totals.incoming, 502);
  });

  it("count a new arrival, and show it once the whole list is held", () => {
    const partial = pagedModel(500, 100);
    partial.applyEntry({ id: "8-0", type: "received", qid: "x:501", arrival: "501",
      qs: [question(501)] });
    assert.equal(buckets(partial, ORDER).totals.incoming, 501);
    assert.equal(buckets(partial, ORDER).out.incoming.includes("x:501"), false);
    const whole = pagedModel(100, 100);
    whole.applyEntry({ id: "8-0", type: "received", qid: "x:101", arrival: "101",
      qs: [question(101)] });
    assert.equal(buckets(whole, ORDER).out.incoming.at(-1), "x:101");
  });

  it("never take an older copy from a page over a newer one from the log", () => {
    const model = pagedModel(500, 100);
    model.applyEntry({ id: "9-0", type: "approve", qid: "x:150", was: { "x:150": "new" },
      qs: [question(150, { state: "approved", version: 2 })], queue: ["x:150"] });
    model.applyPage({ list: "incoming", count: 500,
      page: { ids: ["x:150"], scores: [150], more: true }, questions: [question(150)] });
    assert.equal(model.get("x:150").state, "approved");
    assert.equal(buckets(model, ORDER).out.incoming.includes("x:150"), false);
  });
});

describe("Incoming newest first", () => {
  it("holds nothing until its own first page, then the newest down, new arrivals on top", () => {
    const model = pagedModel(500, 100);
    const newest = { ...ORDER, order: "newest" };
    let view = buckets(model, newest);
    assert.deepEqual(view.out.incoming, []);
    assert.equal(view.more.incoming, true);  // the view asks for the page
    const ids = range(401, 501).reverse();
    model.applyPage({ list: "incoming_newest", count: 500,
      page: { ids: ids.map((n) => `x:${n}`), scores: ids, more: true },
      questions: ids.map((n) => question(n)) });
    view = buckets(model, newest);
    assert.equal(view.out.incoming[0], "x:500");
    assert.equal(view.out.incoming.length, 100);
    model.applyEntry({ id: "9-0", type: "received", qid: "x:501", arrival: "501",
      qs: [question(501)] });
    assert.equal(buckets(model, newest).out.incoming[0], "x:501");
    assert.equal(buckets(model, ORDER).out.incoming.length, 100);  // oldest first: as before
  });
});
