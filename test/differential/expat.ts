/**
 * One long-lived lua5.4 process running libexpat the way Prosody does
 * (expat.lua): the reference the differential tests compare privguard with.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./expat.lua', import.meta.url));

export class Expat {
  #proc: ChildProcessWithoutNullStreams;
  #buf = '';
  #waiting: { lines: number; resolve: (lines: string[]) => void }[] = [];

  /** Another reader speaking the same protocol (fxml.escript: ejabberd's fast_xml) may be run instead. */
  constructor(command = 'lua5.4', args: string[] = [SCRIPT]) {
    this.#proc = spawn(command, args, { stdio: 'pipe' });
    this.#proc.stdout.setEncoding('latin1');
    this.#proc.stdout.on('data', (d: string) => {
      this.#buf += d;
      this.#drain();
    });
  }

  #drain(): void {
    for (;;) {
      const w = this.#waiting[0];
      if (!w) return;
      const lines: string[] = [];
      let pos = 0;
      for (let i = 0; i < w.lines; i++) {
        const nl = this.#buf.indexOf('\n', pos);
        if (nl === -1) return;
        lines.push(this.#buf.slice(pos, nl));
        pos = nl + 1;
      }
      this.#buf = this.#buf.slice(pos);
      this.#waiting.shift();
      w.resolve(lines);
    }
  }

  #ask(request: Buffer, lines: number): Promise<string[]> {
    return new Promise((resolve) => {
      this.#waiting.push({ lines, resolve });
      this.#proc.stdin.write(request);
    });
  }

  /** libexpat's name tables over the BMP: [first character, later character], '1' = accepted. */
  async names(): Promise<[string, string]> {
    const [start, char] = await this.#ask(Buffer.from('names\n'), 2);
    return [start!, char!];
  }

  /** Whether libexpat accepts these bytes as the content of a component stream; else its error. */
  async accepts(stanzaBytes: Buffer): Promise<true | string> {
    const [line] = await this.#ask(Buffer.concat([Buffer.from(`doc ${stanzaBytes.length}\n`), stanzaBytes]), 1);
    return line === '1' ? true : line!.slice(2);
  }

  /**
   * How libexpat reads the bytes after a component stream header: each
   * top-level element in the canonical form of expat.lua's tree(), or its error.
   * `prosody`: as Prosody's util.xmppstream reads them (the stanza objects its
   * modules act on); the error "none" when Prosody is not installed.
   */
  async tree(stanzaBytes: Buffer, reader: 'expat' | 'prosody' = 'expat'): Promise<string[] | { error: string }> {
    const command = reader === 'prosody' ? 'ptree' : 'tree';
    const [line] = await this.#ask(Buffer.concat([Buffer.from(`${command} ${stanzaBytes.length}\n`), stanzaBytes]), 1);
    const text = Buffer.from(line!, 'latin1').toString('utf8');
    if (text.startsWith('! ')) return { error: text.slice(2) };
    return text === '=' ? [] : text.slice(2).split(';');
  }

  close(): void {
    this.#proc.stdin.end();
  }
}
