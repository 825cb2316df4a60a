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
  it("orders questions first by score, untriaged as undecided, ties by arrival", () => {
    const model = new Model();
    model.applySnapshot({
      questions: [question("x:hello", { score: 0.05 }), question("x:why", { score: 0.95 }),
        question("x:new", {}), question("x:how", { score: 0.95 }), question("x:live", { score: 0.1 })],
      queue: [], screen: "", last_id: "1-0",
    });
    const filters = { text: "", platform: "", state: "", flag: "", order: "questions" };
    assert.deepEqual(buckets(model, filters).out.incoming,
      ["x:why", "x:how", "x:new", "x:live", "x:hello"]);
  });

  it("offers the dismiss action on n for a suggested repeat", () => {
    assert.deepEqual(keyMap(CONFIG.actions).get("n"), ["dismiss"]);
    assert.ok(applies(CONFIG.actions, "dismiss", question("x:a", { suggest: { qid: "x:b" } })));
  });
});
