// The action table as the console reads it (config.actions, from aggregator/core/actions.py): which
// actions the console can run, the action bar's buttons in their order, the keys' help, the
// param a dialog fills, the words for what was done. Nothing here names an action: a row the
// server adds gets its button, its key, its help and its dialog from what the row says.
import { keyMap } from "./state.js";

// Moves of the console's own, around the table's actions. Each drives the action that asks
// that way (up and down: the one asking for a place in the queue; the target: the one asking
// for a target) and sits in the bar where that action does.
export const OWN = {
  up: { label: "Move up", key: "Alt+ArrowUp", asks: "place" },
  down: { label: "Move down", key: "Alt+ArrowDown", asks: "place" },
  target: { label: "Group target", key: "m", asks: "target" },
};

// The first action of the table that asks for its params this way (null: none does).
export function asking(table, asks) {
  return Object.keys(table).find((name) => table[name].asks === asks) || null;
}

// The param of `spec` of this kind ({ name, kind, options, of, field }; its limit, if it has
// one, is `spec.limits[name]`).
export function paramOf(spec, kind) {
  return spec.params.find((p) => p.kind === kind);
}

// Whether the console can run `name`: it has an asker for the way the row asks (`askers`, the
// kinds commands.js knows). An action asking some other way is not offered until it learns it.
export function drivable(table, name, askers) {
  const spec = table[name];
  return !!spec && Object.hasOwn(askers, spec.asks);
}

// The action bar: one button per key of the table (actions sharing a key share a button) whose
// actions the console can run, and the console's own moves; in the table's order.
export function barGroups(table, canRun) {
  const own = [];
  for (const [name, move] of Object.entries(OWN)) {
    const drives = asking(table, move.asks);
    if (drives) own.push({ names: [name], key: move.key, order: table[drives].order });
  }
  const groups = [];
  for (const [key, names] of keyMap(table)) {
    const usable = names.filter(canRun);
    if (usable.length) groups.push({ names: usable, key, order: Math.min(...usable.map((n) => table[n].order)) });
  }
  // A move of the console's own goes before the action of the same place (the target, then
  // the group); the sort is stable.
  return [...own, ...groups].sort((a, b) => a.order - b.order);
}

// The keys' help: one row per key, the labels of the actions it runs and their hints.
export function helpRows(table, canRun) {
  return barGroups(table, canRun).filter((g) => !Object.hasOwn(OWN, g.names[0])).map(({ names, key }) => {
    const hints = names.map((n) => table[n].hint).filter(Boolean);
    return { key, text: names.map((n) => table[n].label).join(" / ") + (hints.length ? ` (${hints.join("; ")})` : "") };
  });
}

// What a log entry type did, in the server's words: an action's, or another entry's.
export function doneWords(config, type) {
  const spec = config.actions[type];
  return (spec && spec.done) || (config.entry_words || {})[type] || type;
}
