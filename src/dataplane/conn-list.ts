// The open connections of a listener or codec: an array with swap-remove, each member knowing its
// own index, cleared in place.
//
// Not a Set: a V8 Set that connections are added to and deleted from all the time rebuilds its
// hash table every few dozen connections, and each table it leaves keeps its entries and a link
// to the next one. Once one of those tables has been promoted to the old generation, every later
// table and every connection (socket, parser, buffers) is reachable from it in each young-
// generation collection until the next full one (the same chain as ../http2/stream-table.ts). Under
// fresh connections (one request each) that was ~0.9 MB promoted per scavenge in a sidecar. Here a
// removed member's slot holds nothing, and the array is replaced only when it grows or shrinks,
// the old one emptied.

/** What the list holds: one of our own objects with a slot for its index (-1 while not listed). */
export interface Listed {
  listIndex: number;
}

/** A socket (or any object not ours) in a ConnList: the wrapper carries the index. */
export class ListedSocket<S> implements Listed {
  listIndex = -1;
  constructor(readonly socket: S) {}
}

const MIN_CAPACITY = 16;

export class ConnList<T extends Listed> {
  #items: Array<T | undefined> = new Array<T | undefined>(MIN_CAPACITY).fill(undefined);
  #size = 0;

  get size(): number {
    return this.#size;
  }

  add(x: T): void {
    if (x.listIndex >= 0) return;
    if (this.#size === this.#items.length) this.#resize(this.#items.length * 2);
    x.listIndex = this.#size;
    this.#items[this.#size++] = x;
  }

  /** Removes `x` (the last member takes its slot); whether it was listed here. */
  delete(x: T): boolean {
    const i = x.listIndex;
    const items = this.#items;
    if (i < 0 || i >= this.#size || items[i] !== x) return false;
    const last = --this.#size;
    if (i !== last) {
      const moved = items[last]!;
      items[i] = moved;
      moved.listIndex = i;
    }
    items[last] = undefined;
    x.listIndex = -1;
    const cap = items.length;
    if (cap > MIN_CAPACITY * 4 && this.#size * 4 < cap) this.#resize(cap / 2);
    return true;
  }

  /**
   * The members now listed, as an array of their own: callers may close (and so remove) members
   * while they go through it.
   */
  values(): T[] {
    return this.#items.slice(0, this.#size) as T[];
  }

  /**
   * Calls fn on each member, last first, without a copy: fn may remove the member it is given
   * (the one that takes its slot was visited already), not others.
   */
  forEachLastFirst(fn: (x: T) => void): void {
    for (let i = this.#size - 1; i >= 0; i--) {
      if (i >= this.#size) continue;
      fn(this.#items[i]!);
    }
  }

  #resize(capacity: number): void {
    const old = this.#items;
    const items = new Array<T | undefined>(capacity).fill(undefined);
    for (let i = 0; i < this.#size; i++) items[i] = old[i];
    this.#items = items;
    // The old array is garbage now; emptied, it holds no connection should it have been promoted.
    old.fill(undefined);
  }
}
