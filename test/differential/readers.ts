/**
 * The servers' own XML readers that the differential tests run: libexpat as
 * Prosody configures it (expat.lua, also Prosody's util.xmppstream where
 * Prosody is installed) and ejabberd's fast_xml (fxml.escript, where Debian's
 * erlang-p1-xml and escript are installed).
 */
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { Expat } from './expat.js';

/** Prosody's own stream reader (util/xmppstream.lua) is installed (CI installs it). */
export const PROSODY = existsSync('/usr/lib/prosody/util/xmppstream.lua');

/** fast_xml's code directory, when it and escript are installed. */
export const P1_XML = (() => {
  const lib = '/usr/lib/erlang/lib';
  const dir = existsSync(lib) ? readdirSync(lib).find((d) => d.startsWith('p1_xml-')) : undefined;
  return dir !== undefined && existsSync('/usr/bin/escript') ? `${lib}/${dir}/ebin` : undefined;
})();

export interface Readers {
  expat: Expat;
  /** Undefined where fast_xml is not installed. */
  fxml: Expat | undefined;
}

/** Starts the readers before the calling file's tests and stops them after; use the fields inside tests. */
export function useReaders(): Readers {
  const readers: { expat?: Expat; fxml?: Expat } = {};
  beforeAll(() => {
    readers.expat = new Expat();
    if (P1_XML) readers.fxml = new Expat('escript', [fileURLToPath(new URL('./fxml.escript', import.meta.url)), P1_XML]);
  });
  afterAll(() => {
    readers.expat?.close();
    readers.fxml?.close();
  });
  return {
    get expat(): Expat {
      if (!readers.expat) throw new Error('the readers start in beforeAll: use them inside a test');
      return readers.expat;
    },
    get fxml(): Expat | undefined {
      return readers.fxml;
    },
  };
}
