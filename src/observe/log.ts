/**
 * Structured logs (pino) to stderr. The rest of privguard depends only on the
 * small Logger interface, so tests can record log lines without a stream.
 */
import { pino } from 'pino';

export interface Logger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Logs at `level` (default: $PRIVGUARD_LOG_LEVEL or info) to stderr, or appended to `file`. */
export function createLogger(opts: { level?: string; file?: string } = {}): Logger {
  const level = opts.level ?? process.env.PRIVGUARD_LOG_LEVEL ?? 'info';
  const dest = opts.file ? pino.destination({ dest: opts.file, append: true, sync: true }) : pino.destination({ fd: 2, sync: false });
  return pino({ name: 'privguard', level }, dest);
}

export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
