// One side of a link call's flow control: how many message bytes are out
// that the other side's reader has not taken yet. The sender waits while a
// window's worth is out; the receiver's credit frames give it back.
import { linkWindowBytes } from "./link-frames.js";

export class SendWindow {
  #out = 0;
  #waiting: (() => void) | undefined;

  constructor(readonly bytes = linkWindowBytes) {}

  /** Resolves once another message may go (at once while less than a window is out); `closed()` resolves it too. */
  ready(): Promise<void> | undefined {
    if (this.#out < this.bytes) return undefined;
    return new Promise((resolve) => (this.#waiting = resolve));
  }

  sent(bytes: number): void {
    this.#out += bytes;
  }

  /** The other side's reader took `bytes`. */
  credit(bytes: number): void {
    this.#out = Math.max(0, this.#out - bytes);
    if (this.#out < this.bytes) this.closed();
  }

  /** Lets a waiting sender go: the call ended, and it will find out. */
  closed(): void {
    const w = this.#waiting;
    this.#waiting = undefined;
    w?.();
  }
}

/**
 * Messages that arrived for a reader, handed out in order as it asks;
 * `taken` runs for each one it takes (the receiver sends credit from it).
 */
export class Inbox {
  #messages: Buffer[] = [];
  #bytes = 0;
  #ended: Error | true | undefined;
  #wake: (() => void) | undefined;

  constructor(private readonly taken: (bytes: number) => void) {}

  get ended(): boolean {
    return this.#ended !== undefined;
  }

  /**
   * Takes a message, unless the sender had no right to send it: a window's
   * worth was already waiting (the sender ignored flow control). Then
   * returns false, and the caller treats the peer as broken.
   */
  push(m: Buffer): boolean {
    if (this.#bytes >= linkWindowBytes) return false;
    this.#messages.push(m);
    this.#bytes += m.length;
    this.#kick();
    return true;
  }

  /** No more messages; with an error, the reader gets it once the messages before it are read. */
  end(err?: Error): void {
    this.#ended ??= err ?? true;
    this.#kick();
  }

  /**
   * Every message, once the sender has ended (no credit: nothing more will
   * come); an error it ended with is thrown instead. For calls of one
   * message, where a reader that asks one at a time only costs turns.
   */
  async all(): Promise<Buffer[]> {
    while (this.#ended === undefined) await new Promise<void>((resolve) => (this.#wake = resolve));
    if (this.#ended !== true) throw this.#ended;
    const all = this.#messages;
    this.#messages = [];
    this.#bytes = 0;
    return all;
  }

  async *read(): AsyncGenerator<Buffer> {
    for (;;) {
      const m = this.#messages.shift();
      if (m) {
        this.#bytes -= m.length;
        this.taken(m.length);
        yield m;
        continue;
      }
      if (this.#ended === true) return;
      if (this.#ended) throw this.#ended;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #kick(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }
}
