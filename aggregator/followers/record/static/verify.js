// Checks a published Floor record in the reader's own browser: the ledger's hash chain, the
// Ed25519 signature of its head (WebCrypto), every file against the signed manifest SHA256SUMS,
// and that the questions record.json publishes are those the chain holds. The same checks as
// `floor record verify` (aggregator/followers/record/verify.py); nothing is sent anywhere.
// A classic script, not a module: modules do not load from a folder opened as file://.
"use strict";

(() => {
  const NAMES = { ledger: "ledger.jsonl", head: "head.txt", sig: "head.sig",
                  key: "public-key.pem", manifest: "SHA256SUMS", record: "record.json" };
  const UNLISTED = new Set([NAMES.manifest, NAMES.head, NAMES.sig]);
  const HEAD_TITLE = "Floor ledger head";
  const GENESIS = "0".repeat(64);
  const CLEAR_FIELDS = ["platform", "state", "reject_reason", "parent", "asked_by",
                        "received_at", "answer_note", "in_writing"];
  const PUBLIC_ID = /^[a-z]+-[0-9a-f]{20}$/;
  // Which posts are listed, and the kind of the others: aggregator/followers/record/kinds.py.
  const NOT_ACTED = new Set(["received", "triaged", "retract", "purge", "note", "note_seen",
                             "agenda"]);
  function kindOf(question, acted) {
    const found = question.triage || {};
    if (acted || !Object.keys(found).length) return "question";
    if (found.abuse) return "abusive";
    if (found.suggest) return "duplicate";
    if ((question.flags || []).includes("question")) return "question";
    return String(found.reason || "").startsWith("about the stream") ? "stream" : "chatter";
  }
  // A text only the event's hashtags changed is published with its committed text beside it
  // (aggregator/followers/record/build.py _mask): the shown text must be that text without the
  // hashtags the record names and whitespace, as verify.py's only_hashtags_left_out reads it.
  const HASHTAG = /(?<![\p{L}\p{N}_])#([\p{L}\p{N}_]+)/gu;
  // Python's casefold, near enough (a difference could only fail a good record, never pass one).
  const fold = (word) => word.normalize("NFKC").toUpperCase().toLowerCase().replace(/ς/g, "σ");
  const tidy = (words) => words.replace(/\s+/g, " ").replace(/ ([,.;:!?\u061f\u060c])/g, "$1")
    .trim();
  const onlyHashtagsLeftOut = (committed, shown, tags) =>
    tidy(committed.replace(HASHTAG, (tag, word) => tags.has(fold(word)) ? "" : tag)) ===
      tidy(shown);
  const LINE = /^([0-9a-f]{64}) {2}([^\n\r]+)$/;
  const SUFFIX = /,"hash":"([0-9a-f]{64})","id":"([0-9]+)-([0-9]+)","n":([0-9]+)\}$/;
  const SHOWN = 6; // differences named per check; the rest are counted
  const encoder = new TextEncoder();
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const lenient = new TextDecoder("utf-8"); // a line's end, which may start inside a character

  const hex = (buffer) => Array.from(new Uint8Array(buffer),
    (b) => b.toString(16).padStart(2, "0")).join("");
  const sha256 = async (bytes) => hex(await crypto.subtle.digest("SHA-256", bytes));
  const unhex = (text) => new Uint8Array((text.match(/../g) || []).map((h) => parseInt(h, 16)));
  const concat = (a, b) => { const out = new Uint8Array(a.length + b.length);
    out.set(a); out.set(b, a.length); return out; };
  const text = (bytes) => decoder.decode(bytes);
  const same = (a, b) => JSON.stringify(a === undefined ? null : a) ===
    JSON.stringify(b === undefined ? null : b);

  // Where the files come from: beside this page on the web, or a folder the reader chose.
  function fromWeb() {
    const read = async (name) => {
      const url = new URL(name.split("/").map(encodeURIComponent).join("/"), location.href);
      try {
        const reply = await fetch(url, { cache: "no-store" });
        return reply.ok ? new Uint8Array(await reply.arrayBuffer()) : null;
      } catch (error) {
        return null;
      }
    };
    read.names = null; // a web server does not list its folder: added files cannot be seen
    return read;
  }

  // The record's own folder among those chosen (a reader may choose the folder above it): the
  // one holding SHA256SUMS and named as this page's folder is, else the shallowest.
  function recordRoot(paths) {
    const roots = paths.filter((path) => path.split("/").pop() === NAMES.manifest)
      .map((path) => path.split("/").slice(0, -1));
    const here = decodeURIComponent(location.pathname).split("/").slice(-2, -1)[0];
    roots.sort((a, b) => (a[a.length - 1] === here ? 0 : 1) - (b[b.length - 1] === here ? 0 : 1) ||
      a.length - b.length);
    return roots.length ? roots[0] : [];
  }

  function fromFolder(files) {
    const paths = [...files].map((file) => file.webkitRelativePath || file.name);
    const root = recordRoot(paths);
    const byName = new Map();
    [...files].forEach((file, i) => {
      const parts = paths[i].split("/");
      if (root.every((name, j) => parts[j] === name)) {
        byName.set(parts.slice(root.length).join("/"), file);
      }
    });
    const read = async (name) => byName.has(name)
      ? new Uint8Array(await byName.get(name).arrayBuffer()) : null;
    read.names = [...byName.keys()];
    return read;
  }

  function result(name, title, short) {
    return { name, title, short, ok: true, said: [], differs: [] };
  }

  function differ(check, words) {
    check.ok = false;
    check.differs.push(words);
  }

  async function checkChain(read, noted) {
    const check = result("chain", "The ledger (the hash chain of every change)",
                         "the ledger");
    check.last = new Map();
    check.acted = new Set();
    const data = await read(NAMES.ledger);
    if (data === null) {
      differ(check, `${NAMES.ledger} is missing or cannot be read.`);
      return check;
    }
    let previous = GENESIS, count = 0, order = [0, -1], start = 0, noted_seen = !noted;
    while (start < data.length) {
      const number = count + 1;
      const end = data.indexOf(10, start);
      let where = `${NAMES.ledger}, entry ${number}`;
      if (end === -1) {
        differ(check, `${where}: its line does not end (the file was cut or changed).`);
        break;
      }
      const line = data.subarray(start, end);
      let suffix = null, entry = null;
      try {
        suffix = SUFFIX.exec(lenient.decode(line.subarray(Math.max(0, line.length - 200))));
        if (suffix && text(line.subarray(0, 9)) === '{"entry":') {
          entry = JSON.parse(text(line.subarray(9, line.length - suffix[0].length)));
        }
      } catch (error) {
        entry = null;
      }
      if (!suffix || !entry || typeof entry !== "object") {
        differ(check, `${where}: not a ledger link as Floor writes it (changed).`);
        break;
      }
      const [, digest, ms, seq, n] = suffix;
      const id = `${ms}-${seq}`;
      where = `${NAMES.ledger}, entry ${number} (log id ${id})`;
      if (Number(n) !== number) {
        differ(check, `${where}: says it is entry ${n}: an entry before it was removed or moved.`);
        break;
      }
      if (entry.id !== id) {
        differ(check, `${where}: its content does not carry its own id (changed).`);
        break;
      }
      const body = line.subarray(9, line.length - suffix[0].length);
      if (await sha256(concat(encoder.encode(previous + "\n"), body)) !== digest) {
        differ(check, `${where}: its hash does not match its content and the entry before it ` +
                      "(changed, removed or reordered here).");
        break;
      }
      const now = [Number(ms), Number(seq)];
      if (now[0] < order[0] || (now[0] === order[0] && now[1] <= order[1])) {
        differ(check, `${where}: out of order.`);
        break;
      }
      if (noted && number === noted.count) {
        if (digest !== noted.hash) {
          differ(check, `The head you noted, ${noted.count}:${noted.hash}, is not in this ` +
                        `record: its entry ${number} has the hash ${digest}.`);
        }
        noted_seen = true;
      }
      for (const question of Array.isArray(entry.qs) ? entry.qs : []) {
        if (question && typeof question.id === "string") {
          check.last.set(question.id, question);
          if (!NOT_ACTED.has(entry.type)) check.acted.add(question.id);
        }
      }
      previous = digest;
      count = number;
      order = now;
      start = end + 1;
    }
    check.count = count;
    check.hash = previous;
    if (!noted_seen) {
      differ(check, `The head you noted, ${noted.count}:${noted.hash}, is not in this record: ` +
                    `it has only ${count} entries.`);
    }
    if (check.ok) {
      check.said.push(`${count} entries, each linked to the one before it by its SHA-256; ` +
                      `the chain ends at ${count}:${previous}.`);
      if (noted) check.said.push(`It extends the head you noted, ${noted.count}:${noted.hash}.`);
    }
    return check;
  }

  function parseHead(bytes) {
    const lines = text(bytes).split("\n");
    if (lines[0] !== HEAD_TITLE) return null;
    const values = {};
    for (const line of lines.slice(1)) {
      const at = line.indexOf(": ");
      if (at > 0) values[line.slice(0, at)] = line.slice(at + 2);
    }
    return ["event", "links", "hash", "manifest"].every((name) => name in values) ? values : null;
  }

  async function checkSignature(read, chain) {
    const check = result("signature", "The signature of the head", "the signature");
    const [headBytes, pem, signature] = await Promise.all(
      [read(NAMES.head), read(NAMES.key), read(NAMES.sig)]);
    let head = null;
    try {
      head = headBytes === null ? null : parseHead(headBytes);
    } catch (error) {
      head = null;
    }
    if (head === null) {
      differ(check, `${NAMES.head} is missing or is not a Floor ledger head.`);
      return check;
    }
    check.head = head;
    if (chain.ok && (head.links !== String(chain.count) || head.hash !== chain.hash)) {
      differ(check, `${NAMES.head} says the chain ends at ${head.links}:${head.hash}; ` +
                    `${NAMES.ledger} ends at ${chain.count}:${chain.hash}.`);
    }
    if (pem === null || signature === null) {
      differ(check, `The head is not signed: ${pem === null ? NAMES.key : NAMES.sig} is missing.`);
      return check;
    }
    let key = null;
    try {
      const body = text(pem).replace(/-----(BEGIN|END) PUBLIC KEY-----/g, "").replace(/\s+/g, "");
      const der = Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
      key = await crypto.subtle.importKey("spki", der, { name: "Ed25519" }, true, ["verify"]);
    } catch (error) {
      if (error && error.name === "NotSupportedError") {
        differ(check, "This browser cannot check Ed25519 signatures (current Chrome, Edge, " +
                      "Firefox and Safari can); use `floor record verify` or OpenSSL instead.");
      } else {
        differ(check, `${NAMES.key} is not an Ed25519 public key (changed).`);
      }
      return check;
    }
    check.fingerprint = await sha256(await crypto.subtle.exportKey("raw", key));
    const valid = await crypto.subtle.verify({ name: "Ed25519" }, key, signature, headBytes);
    if (!valid) {
      differ(check, `${NAMES.sig} is not a valid signature of ${NAMES.head} by the key in ` +
                    `${NAMES.key} (fingerprint ${check.fingerprint}): one of the three was changed.`);
    } else {
      check.said.push(`${NAMES.head} is signed by the Ed25519 key with fingerprint ` +
                      `${check.fingerprint}. Compare it with the one the organisation publishes.`);
    }
    return check;
  }

  async function checkFiles(read, head) {
    const check = result("files", "Every file of the record", "the files");
    const data = await read(NAMES.manifest);
    if (data === null) {
      differ(check, `${NAMES.manifest}, the list of every file and its SHA-256, is missing.`);
      return check;
    }
    if (head && await sha256(data) !== head.manifest) {
      differ(check, `${NAMES.manifest} was changed: its SHA-256 is not the one ${NAMES.head} ` +
                    "signs, so no file can be checked against it.");
      return check;
    }
    const listed = new Map();
    let lines;
    try {
      lines = text(data).split("\n");
    } catch (error) {
      lines = ["not UTF-8"];
    }
    if (lines.pop() !== "") lines.push("no newline at the end");
    for (const line of lines) {
      const found = LINE.exec(line);
      const parts = found ? found[2].split("/") : [];
      if (!found || listed.has(found[2]) || UNLISTED.has(found[2]) ||
          parts.some((p) => p === "" || p === "." || p === "..")) {
        differ(check, `${NAMES.manifest} has a line that is not "<SHA-256>  <file>".`);
        return check;
      }
      listed.set(found[2], found[1]);
    }
    const names = [...listed.keys()];
    const digests = await Promise.all(names.map(async (name) => {
      const bytes = await read(name);
      return bytes === null ? null : sha256(bytes);
    }));
    names.forEach((name, i) => {
      if (digests[i] === null) differ(check, `${name}: missing (${NAMES.manifest} lists it).`);
      else if (digests[i] !== listed.get(name)) {
        differ(check, `${name}: changed (its SHA-256 is not the one ${NAMES.manifest} lists).`);
      }
    });
    if (read.names) {
      for (const name of read.names) {
        if (!listed.has(name) && !UNLISTED.has(name)) {
          differ(check, `${name}: not part of the record (${NAMES.manifest} does not list it).`);
        }
      }
    }
    check.count = names.length;
    if (check.ok) {
      check.said.push(`All ${names.length} files ${NAMES.manifest} lists are as it lists them, ` +
                      `and ${NAMES.manifest} is the list the signed head names.`);
      if (!read.names) {
        check.said.push("(Opened from the web, this page cannot see files added beside them; " +
                        "choose the folder on your computer to check that too.)");
      }
    }
    return check;
  }

  async function checkQuestions(read, chain) {
    const check = result("questions", "The questions, as the ledger holds them",
                         "the questions");
    let questions;
    let tags;
    try {
      const record = JSON.parse(text(await read(NAMES.record)));
      questions = record.questions;
      if (!Array.isArray(questions)) throw new Error("no questions");
      tags = new Set((record.stripped_hashtags || []).map((tag) => fold(String(tag))));
    } catch (error) {
      differ(check, `${NAMES.record} is missing or cannot be read (changed).`);
      return check;
    }
    if (!chain.ok) {
      check.skipped = true;
      check.said.push("Not compared: the ledger does not check out, so there is nothing sure " +
                      "to compare them with.");
      return check;
    }
    const published = new Map();
    for (const question of questions) {
      if (!question || typeof question.id !== "string" || !PUBLIC_ID.test(question.id)) {
        differ(check, `${NAMES.record}: a question is not named by a public id.`);
        continue;
      }
      published.set(question.id, question);
    }
    const missing = [...chain.last.keys()].filter((id) => !published.has(id));
    if (missing.length) {
      differ(check, `${NAMES.record}: ${missing.length} question(s) of the ledger are not ` +
                    `published, the first ${missing[0]}.`);
    }
    for (const [id, question] of published) {
      const chained = chain.last.get(id);
      if (!chained) {
        differ(check, `${NAMES.record}: question ${id} is not in the ledger.`);
        continue;
      }
      for (const name of CLEAR_FIELDS) {
        if (!same(question[name], chained[name])) {
          differ(check, `${NAMES.record}: question ${id}: its ${name} is ` +
                        `${JSON.stringify(question[name])}, the ledger says ` +
                        `${JSON.stringify(chained[name])}.`);
        }
      }
      if ("kind" in question) {
        const kind = kindOf(chained, chain.acted.has(id));
        if (question.kind !== kind) {
          differ(check, `${NAMES.record}: question ${id}: it is ` +
                        `${question.kind === "question" ? "listed as a question" :
                          `counted as ${question.kind}`}, the ledger makes it ` +
                        `${kind === "question" ? "a question to list" : kind}.`);
        }
      }
      let committed = question.committed || {};
      if (typeof committed !== "object" || Array.isArray(committed)) {
        differ(check, `${NAMES.record}: question ${id}: its committed texts are not a mapping.`);
        committed = {};
      }
      for (const [name, value] of Object.entries(committed)) {
        if (typeof value !== "string" || typeof question[name] !== "string" ||
            !onlyHashtagsLeftOut(value, question[name], tags)) {
          differ(check, `${NAMES.record}: question ${id}: the shown ${name} is not the ` +
                        `committed ${name} with only the event's hashtags left out.`);
        }
      }
      for (const [name, salt] of Object.entries(question.proofs || {})) {
        const value = Object.hasOwn(committed, name) ? committed[name] : question[name];
        const commit = chained[name] && chained[name].commit;
        if (typeof value !== "string" || typeof salt !== "string" ||
            await sha256(concat(unhex(salt), encoder.encode(value))) !== commit) {
          differ(check, `${NAMES.record}: question ${id}: the published ${name} is not the ` +
                        "one the ledger committed to.");
        }
      }
    }
    if (check.ok) {
      check.said.push(`All ${published.size} posts in ${NAMES.record} are there, each with ` +
                      "what happened to it as the ledger holds it, listed as a question or " +
                      "counted by kind as the ledger makes it; each published text or name is " +
                      "the one the ledger committed to (a text shown without the event's " +
                      "hashtags is that text with only them left out).");
    }
    return check;
  }

  const words = (names) => names.length < 2 ? names.join("")
    : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;

  function show(checks, announced) {
    const verdict = document.getElementById("verdict");
    const list = document.getElementById("checks");
    const bad = checks.filter((c) => !c.ok || c.skipped);
    const signature = checks.find((c) => c.name === "signature");
    list.replaceChildren();
    for (const check of checks) {
      const item = document.createElement("li");
      item.dataset.check = check.name;
      item.dataset.state = check.skipped ? "skipped" : check.ok ? "ok" : "bad";
      const title = document.createElement("strong");
      const mark = check.skipped ? "– Not checked" : check.ok ? "✓ Checks out" : "✗ Differs";
      title.textContent = `${mark}: ${check.title}. `;
      item.append(title);
      const words = [...check.said];
      const shown = check.differs.slice(0, SHOWN);
      if (check.differs.length > SHOWN) shown.push(`and ${check.differs.length - SHOWN} more.`);
      item.append(document.createTextNode(words.join(" ")));
      if (shown.length) {
        const differs = document.createElement("ul");
        for (const line of shown) {
          const li = document.createElement("li");
          li.textContent = line;
          differs.append(li);
        }
        item.append(differs);
      }
      list.append(item);
    }
    const keyNote = signature && signature.fingerprint && announced &&
      signature.fingerprint !== announced
      ? ` The key in this folder (${signature.fingerprint}) is not the one this page names.` : "";
    if (keyNote) bad.push(signature);
    const differing = [...new Set(bad.filter((c) => !c.skipped))];
    verdict.dataset.state = bad.length ? "bad" : "ok";
    verdict.textContent = bad.length
      ? `This record does NOT check out: ${words(differing.map((c) => c.short))} ` +
        `differ${differing.length === 1 ? "s" : ""} from what was signed (see below).${keyNote}`
      : "This record checks out: nothing in it differs from what was signed. Compare the key's " +
        "fingerprint with the one the organisation publishes.";
    const shownKey = document.getElementById("key-found");
    if (signature && signature.fingerprint) shownKey.textContent = signature.fingerprint;
  }

  async function run(read) {
    const verdict = document.getElementById("verdict");
    verdict.dataset.state = "running";
    verdict.textContent = "Checking…";
    if (!window.crypto || !crypto.subtle) {
      verdict.dataset.state = "bad";
      verdict.textContent = "This page can check the record only when opened from your " +
        "computer or over https (the browser offers its cryptography to secure pages only).";
      return;
    }
    const field = document.getElementById("noted");
    let noted = null;
    const given = field ? field.value.trim() : "";
    if (given) {
      const parts = /^([0-9]+):([0-9a-fA-F]{64})$/.exec(given);
      if (!parts) {
        verdict.dataset.state = "bad";
        verdict.textContent = "A noted head is COUNT:HASH (64 hexadecimal digits).";
        return;
      }
      noted = { count: Number(parts[1]), hash: parts[2].toLowerCase() };
    }
    const chain = await checkChain(read, noted);
    const signature = await checkSignature(read, chain);
    const files = await checkFiles(read, signature.head);
    const questions = await checkQuestions(read, chain);
    const announced = document.documentElement.dataset.fingerprint || "";
    show([chain, signature, files, questions], announced);
  }

  let source = null;
  function start() {
    const picker = document.getElementById("folder");
    const again = document.getElementById("check");
    const local = location.protocol === "file:";
    document.getElementById("how").hidden = false;
    document.getElementById(local ? "how-local" : "how-web").hidden = false;
    picker.addEventListener("change", () => {
      if (picker.files.length) {
        source = fromFolder(picker.files);
        run(source);
      }
    });
    again.addEventListener("click", () => {
      if (source) run(source);
      else if (!local) run(source = fromWeb());
      else picker.click();
    });
    if (!local) run(source = fromWeb());
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
