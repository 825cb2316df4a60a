// Triage in the console's pure state: node --test tests/js/*.test.mjs
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

import { Model, applies, buckets, keyMap } from "../../web/static/console/state.js";

const CONFIG = JSON.parse(readFileSync(new URL("./fixtures/config.json", import.meta.url), "utf8"));

function question(id, triage) {
  return {
    id, platform: "x", text: id, original: id, author_name: "", author_handle: "", url: "",
    posted_at: "", received_at: "", flags: [], state: "new", version: 1, starred: false,
    parent: "", asked_by: 1, reject_reason: "", last_actor: "", last_action: "received",
    updated_at: "", undo_depth: 0, triage,
  };
}

describe("triage in Incoming", () => {
  it("shows only the posts that look like questions, in arrival order, when asked to", () => {
    const model = new Model();
    const flagged = (id, flags) => ({ ...question(id, {}), flags });
    model.applySnapshot({
      questions: [flagged("x:hello", []), flagged("x:why", ["question"]), flagged("x:new", ["question", "rtl"]),
        flagged("x:live", ["abuse"]), flagged("x:how", ["question"])],
      queue: [], screen: "", last_id: "1-0",
    });
    const filters = { text: "", platform: "", state: "", flag: "", order: "questions" };
    assert.deepEqual(buckets(model, filters).out.incoming, ["x:why", "x:new", "x:how"]);
    assert.deepEqual(buckets(model, { ...filters, flag: "rtl" }).out.incoming, ["x:new"]);
  });

  it("offers the dismiss action on n for a suggested repeat", () => {
    assert.deepEqual(keyMap(CONFIG.actions).get("n"), ["dismiss"]);
    assert.ok(applies(CONFIG.actions, "dismiss", question("x:a", { suggest: { qid: "x:b" } })));
  });
});
