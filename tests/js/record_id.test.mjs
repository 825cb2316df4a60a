// The selected card's public id: asked of the server once per selection, kept once known.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { NOT_CHAINED, RecordIds } from "../../web/static/console/record_id.js";

function asking() {
  const asked = [];
  const ids = new RecordIds((qid, done) => asked.push({ qid, done }));
  return { ids, asked };
}

describe("RecordIds", () => {
  it("asks once for the selected card and shows the answer", () => {
    const { ids, asked } = asking();
    const node = { textContent: "" };
    ids.show("x:1", node);
    ids.show("x:1", node);  // a redraw of the same selection asks nothing more
    assert.equal(asked.length, 1);
    assert.equal(node.textContent, "…");
    asked[0].done({ ok: true, id: "x-6ba569e483d815f5649b" });
    assert.equal(node.textContent, "x-6ba569e483d815f5649b");
  });

  it("keeps a known id and asks again for one not chained yet", () => {
    const { ids, asked } = asking();
    const node = { textContent: "" };
    ids.show("x:1", node);
    asked[0].done({ ok: true, id: "x-6ba569e483d815f5649b" });
    ids.show("x:2", node);
    asked[1].done({ ok: true, id: null });
    assert.equal(node.textContent, NOT_CHAINED);
    ids.show("x:1", node);
    assert.equal(node.textContent, "x-6ba569e483d815f5649b");
    ids.show("x:2", node);
    assert.equal(asked.length, 3);
  });

  it("drops an answer for a card no longer selected", () => {
    const { ids, asked } = asking();
    const node = { textContent: "" };
    ids.show("x:1", node);
    ids.show("x:2", node);
    asked[1].done({ ok: true, id: "x-00000000000000000002" });
    asked[0].done({ ok: true, id: "x-00000000000000000001" });
    assert.equal(node.textContent, "x-00000000000000000002");
    ids.show("x:1", node);  // known now, from the late answer
    assert.equal(node.textContent, "x-00000000000000000001");
    assert.equal(asked.length, 2);
  });
});
