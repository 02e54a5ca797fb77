// Never skip the real-server tests silently: without Prosody the run fails and says what to install.
import { INSTALL_HINT, prosodyMissing } from './prosody.js';

export default function setup(): void {
  const missing = prosodyMissing();
  if (missing) throw new Error(`privguard's end-to-end tests need a real Prosody: ${missing}. ${INSTALL_HINT}`);
}
