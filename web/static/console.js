// Console: a snapshot, then every log entry after it. Post text is always set as textContent.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("floor-config").textContent);
  const E = config.events;
  const logList = document.getElementById("log");
  const status = document.getElementById("status");
  let lastId = null;

  function show(entry) {
    const q = (entry.qs && entry.qs[0]) || {};
    const li = document.createElement("li");
    li.dataset.id = entry.id;
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = `${entry.type} · ${q.platform || ""} · ${q.author_name || entry.actor}`;
    const text = document.createElement("span");
    text.className = "text";
    text.dir = "auto";
    text.textContent = q.text || entry.qid;
    li.append(meta, text);
    logList.prepend(li);
  }

  // Stream ids are "milliseconds-sequence"; later ids compare greater part by part.
  function isAfter(a, b) {
    const [am, as] = a.split("-").map(Number);
    const [bm, bs] = b.split("-").map(Number);
    return am > bm || (am === bm && as > bs);
  }

  function apply(entry) {
    if (lastId !== null && !isAfter(entry.id, lastId)) return;
    show(entry);
    lastId = entry.id;
  }

  const socket = io(config.namespace, { transports: ["websocket", "polling"] });
  socket.on("connect", () => {
    status.textContent = "live";
    if (lastId !== null) {
      socket.emit(E.catch_up, { after: lastId }, (reply) => {
        if (reply.reload) { location.reload(); return; }
        reply.entries.forEach(apply);
      });
    }
  });
  socket.on("disconnect", () => { status.textContent = "reconnecting…"; });
  socket.on("connect_error", (err) => { status.textContent = "cannot connect: " + err.message; });
  socket.on(E.snapshot, (snap) => {
    if (lastId !== null) return;
    logList.replaceChildren();
    snap.questions.slice(-200).forEach((q) => show({ id: snap.last_id, type: q.state, qs: [q], actor: "" }));
    lastId = snap.last_id;
  });
  socket.on(E.entry, apply);
})();
