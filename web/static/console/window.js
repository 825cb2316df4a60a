// Long lists drawn lazily: only the cards near the viewport are in the DOM, the rest of a list is
// padding of the same height (every card but the selected one is one fixed-height line). Pure
// arithmetic, tested with node --test (tests/js/window.test.mjs).

export const OVERSCAN = 10;   // cards drawn beyond each edge of the viewport, for smooth scrolling
export const PAGE_MARGIN = 40;  // ask for the next page this many cards before the held ones end

// The cards [start, end) of a list of `count` rows `row` px tall to draw, when the viewport
// starts `top` px below the list's first row (negative: above it) and is `height` px tall.
export function windowOf(count, row, top, height, overscan = OVERSCAN) {
  if (!(count > 0)) return { start: 0, end: 0 };
  if (!(row > 0) || !(height > 0)) return { start: 0, end: Math.min(count, 2 * overscan) };
  const first = Math.floor(top / row) - overscan;
  const last = Math.ceil((top + height) / row) + overscan;
  const start = Math.max(0, Math.min(count, first));
  const end = Math.max(start, Math.min(count, last));
  return { start, end };
}

// Padding above and below the drawn cards, so the list keeps its full height.
export function spacers(count, row, start, end) {
  return { before: start * row, after: Math.max(0, count - end) * row };
}

// Whether to ask for the next page: the server has more, and the drawn window (or the card a
// moderator walks to) is near the end of what the console holds.
export function wantsPage(end, held, more, margin = PAGE_MARGIN) {
  return !!more && end + margin >= held;
}

// The scroll position that shows row `index` of a list whose first row is `listTop` px into its
// scroller (viewport `height` px at `scrollTop`), with room for `below` px of the expanded card;
// null when it is in view already.
export function scrollTo(index, row, listTop, scrollTop, height, below = 0) {
  const top = listTop + index * row;
  if (top < scrollTop) return Math.max(0, top - row);
  if (top + row + below > scrollTop + height) return top + row + below - height;
  return null;
}
