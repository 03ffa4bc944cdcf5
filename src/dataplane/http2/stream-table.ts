// A connection's open streams by id: open addressing in one array that is cleared in place.
//
// Not a Map: a V8 Map that streams are added to and deleted from all the time rebuilds its hash
// table every few dozen streams, and each table it leaves keeps its entries and a link to the next
// one. Once one of those tables has been promoted to the old generation, every later table and
// every stream (with its exchange, headers and request id) is reachable from it in each young-
// generation collection until the next full one: in a sidecar under `wrk -c64` 2–4 MB promoted
// per scavenge, 15–30 ms pauses and a mark-compact a second (bench/README.md, "The two-hop tail").
// Here a deleted slot holds nothing, and the array is replaced only when it grows.

/** What the table holds: anything with a stream id (a positive 31-bit integer). */
export interface HasStreamId {
  readonly id: number;
}

const MIN_CAPACITY = 16;

export class StreamTable<T extends HasStreamId> {
  #slots: Array<T | undefined>;
  #mask: number;
  /** 32 − log2(capacity): a home is the top bits of the id's Fibonacci hash. */
  #shift: number;
  #size = 0;

  constructor() {
    this.#slots = new Array<T | undefined>(MIN_CAPACITY).fill(undefined);
    this.#mask = MIN_CAPACITY - 1;
    this.#shift = 32 - Math.log2(MIN_CAPACITY);
  }

  get size(): number {
    return this.#size;
  }

  /**
   * Ids of one side are all odd or all even: the low bit says nothing. The rest is scattered
   * (Fibonacci hashing): ids are consecutive, and homed on consecutive slots the open streams made
   * one long run, which every delete's backward shift walked to its end.
   */
  #home(id: number): number {
    return Math.imul(id >>> 1, 0x9e3779b1) >>> this.#shift;
  }

  get(id: number): T | undefined {
    const slots = this.#slots;
    const mask = this.#mask;
    for (let i = this.#home(id); ; i = (i + 1) & mask) {
      const st = slots[i];
      if (st === undefined || st.id === id) return st;
    }
  }

  /** Adds `st`, replacing a stream with the same id. */
  set(st: T): void {
    if ((this.#size + 1) * 2 > this.#slots.length) this.#grow();
    const slots = this.#slots;
    const mask = this.#mask;
    let i = this.#home(st.id);
    for (;;) {
      const cur = slots[i];
      if (cur === undefined) break;
      if (cur.id === st.id) {
        slots[i] = st;
        return;
      }
      i = (i + 1) & mask;
    }
    slots[i] = st;
    this.#size++;
  }

  /** Removes the stream with `id`; whether there was one. */
  delete(id: number): boolean {
    const slots = this.#slots;
    const mask = this.#mask;
    let i = this.#home(id);
    for (;;) {
      const cur = slots[i];
      if (cur === undefined) return false;
      if (cur.id === id) break;
      i = (i + 1) & mask;
    }
    // Backward-shift deletion: later entries of the probe run move up, so lookups never need
    // tombstones and an emptied slot holds no reference.
    let hole = i;
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const st = slots[j];
      if (st === undefined) break;
      const home = this.#home(st.id);
      // st may fill the hole unless its home lies cyclically in (hole, j].
      const stays = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!stays) {
        slots[hole] = st;
        hole = j;
      }
    }
    slots[hole] = undefined;
    this.#size--;
    return true;
  }

  /** The streams now open, as an array of their own: callers may close streams while they go through it. */
  values(): T[] {
    const out: T[] = [];
    const slots = this.#slots;
    for (let i = 0; i < slots.length; i++) {
      const st = slots[i];
      if (st !== undefined) out.push(st);
    }
    return out;
  }

  #grow(): void {
    const old = this.#slots;
    this.#slots = new Array<T | undefined>(old.length * 2).fill(undefined);
    this.#mask = this.#slots.length - 1;
    this.#shift--;
    this.#size = 0;
    for (let i = 0; i < old.length; i++) {
      const st = old[i];
      if (st !== undefined) this.set(st);
    }
    // The old array is garbage now; emptied, it holds no stream should it have been promoted.
    old.fill(undefined);
  }
}
