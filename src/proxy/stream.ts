/**
 * One XMPP stream over one TCP socket, the same hardened code for both legs
 * (component ⇄ privguard and privguard ⇄ server). It owns:
 *  - decoding: strict UTF-8 (protocol/utf8.ts), so a multi-byte character
 *    split across reads survives and invalid UTF-8 is `not-well-formed`;
 *  - parsing: protocol/parser.ts with the policy's limits; a parse failure ends
 *    the stream with the matching stream error, never an exception;
 *  - writing: what is written in one tick is joined and leaves in one socket
 *    write (the stanzas produced by one read, typically); `write()` reports whether the socket's buffer
 *    is full so the other leg can pause its reads (backpressure);
 *  - closing: `close()` is graceful (optional stream error, end tag, FIN, then a
 *    destroy deadline), `destroy()` is immediate; both are idempotent.
 */
import type { Socket } from 'node:net';
import type { Element } from '@xmpp/xml';
import type { FramedStanza } from '../protocol/frame.js';
import { isJudgedNamespace } from '../policy/framed.js';
import { StreamParser, type ParseFailure, type ParserLimits, type StreamHeader } from '../protocol/parser.js';
import { StrictUtf8Decoder } from '../protocol/utf8.js';
import { STREAM_END, streamError } from '../protocol/stanzas.js';
import type { StreamErrorCondition } from '../protocol/ns.js';

export interface StreamHandlers {
  onHeader(header: StreamHeader): void;
  /** `raw`: the stanza as it arrived, when that reads as exactly this tree (protocol/parser.ts). */
  onStanza(stanza: Element, raw?: string): void;
  /** The peer closed its stream (`</stream:stream>`). */
  onEnd(): void;
  /** The input broke a rule of XML or of the limits; the stream is being closed. */
  onFailure(failure: ParseFailure): void;
  /** The socket is gone (after close(), destroy(), or the peer). Called once. */
  onClose(hadError: boolean): void;
  onWhitespace?(): void;
  /** A stanza on the fast path (protocol/frame.ts): true if handled as it is, false to have it parsed in full. */
  onFramed?(stanza: FramedStanza): boolean;
}

export type StreamState = 'open' | 'closing' | 'closed';

/** How long a peer gets to close its side after we closed ours. */
const CLOSE_GRACE_MS = 2000;

export class XmppStream {
  readonly socket: Socket;
  #decoder = new StrictUtf8Decoder();
  #parser: StreamParser;
  #handlers: StreamHandlers;
  #state: StreamState = 'open';
  /** Written this tick, not yet handed to the socket. */
  #out = '';
  #flushScheduled = false;
  #pauses = new Set<string>();
  #closeTimer: NodeJS.Timeout | undefined;

  constructor(socket: Socket, limits: ParserLimits, handlers: StreamHandlers) {
    this.socket = socket;
    this.#handlers = handlers;
    this.#parser = new StreamParser(
      {
        onHeader: (h) => this.#handlers.onHeader(h),
        onStanza: (el, raw) => this.#handlers.onStanza(el, raw),
        onEnd: () => this.#handlers.onEnd(),
        onWhitespace: () => this.#handlers.onWhitespace?.(),
        onFramed: (s) => this.#handlers.onFramed?.(s) ?? false,
        isJudged: isJudgedNamespace,
      },
      limits,
    );
    socket.setNoDelay(true);
    socket.on('data', (data: Buffer) => this.#onData(data));
    socket.on('error', () => {
      /* 'close' follows; the owner learns of it there */
    });
    socket.on('close', (hadError: boolean) => this.#onClose(hadError));
  }

  get state(): StreamState {
    return this.#state;
  }

  /** Replace the handlers (the upstream hands its stream over to a session). */
  setHandlers(handlers: StreamHandlers): void {
    this.#handlers = handlers;
  }

  #onData(data: Buffer): void {
    if (this.#state !== 'open') return;
    const text = this.#decoder.write(data);
    const failure =
      text === undefined ? this.#parser.fail('not-well-formed', 'invalid UTF-8') : this.#parser.write(text, this.#decoder.plain, this.#decoder.ascii ? data : undefined);
    if (failure) {
      this.#handlers.onFailure(failure);
      this.close(failure.condition, failure.text);
    }
  }

  #onClose(hadError: boolean): void {
    if (this.#closeTimer) clearTimeout(this.#closeTimer);
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#parser.stop();
    this.#handlers.onClose(hadError);
  }

  /**
   * Write raw XML. Returns false when the socket's buffer is full; 'drain' on
   * the socket follows, as for socket.write(). Small writes are joined until
   * the end of the tick; once a high-water mark's worth is waiting, or while
   * the socket is full, it goes to the socket at once, so the answer is the
   * socket's own.
   */
  write(xml: string): boolean {
    if (this.#state !== 'open' || this.socket.destroyed) return false;
    this.#out += xml;
    if (this.#out.length < this.socket.writableHighWaterMark && !this.socket.writableNeedDrain) {
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        process.nextTick(this.#flush);
      }
      return true;
    }
    return this.#writeOut();
  }

  #flush = (): void => {
    this.#flushScheduled = false;
    if (this.#state === 'open' && !this.socket.destroyed) this.#writeOut();
  };

  #writeOut(): boolean {
    const out = this.#out;
    this.#out = '';
    return out.length === 0 || this.socket.write(out);
  }

  /** Why reading is paused now (empty when it is not). */
  get pausedFor(): string[] {
    return [...this.#pauses];
  }

  /** Bytes written but not yet taken by the kernel. */
  get buffered(): number {
    return this.socket.writableLength;
  }

  /** Stop reading for `reason` until resume(reason); reasons stack. The rest of the current read is held too. */
  pause(reason: string): void {
    this.#pauses.add(reason);
    this.#parser.suspend();
    this.socket.pause();
  }

  resume(reason: string): void {
    this.#pauses.delete(reason);
    if (this.#pauses.size > 0 || this.#state !== 'open') return;
    const failure = this.#parser.resume();
    if (failure) {
      this.#handlers.onFailure(failure);
      this.close(failure.condition, failure.text);
      return;
    }
    // Handling what was held may have paused the stream again.
    if (this.#pauses.size === 0 && this.#state === 'open') this.socket.resume();
  }

  /**
   * Graceful close: optional stream error, our end tag, FIN; the socket is
   * destroyed if the peer has not closed within the grace period.
   */
  close(condition?: StreamErrorCondition, text?: string): void {
    if (this.#state !== 'open') return;
    this.#state = 'closing';
    this.#parser.stop();
    if (!this.socket.destroyed) {
      const out = this.#out;
      this.#out = '';
      this.socket.end(out + (condition ? streamError(condition, text) : '') + STREAM_END);
      // Keep reading so the peer's FIN is seen; input is ignored now.
      this.socket.resume();
    }
    this.#closeTimer = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
    this.#closeTimer.unref();
  }

  /** Immediate teardown. */
  destroy(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closing';
    this.#parser.stop();
    this.socket.destroy();
  }
}
