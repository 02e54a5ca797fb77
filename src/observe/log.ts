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

export function createLogger(level: string = process.env.PRIVGUARD_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name: 'privguard', level }, pino.destination({ fd: 2, sync: false }));
}

export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
