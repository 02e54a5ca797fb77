// Never skip the real-server tests silently: without the servers the run fails and says what to install.
import { EJABBERD_INSTALL_HINT, ejabberdMissing } from './ejabberd.js';
import { INSTALL_HINT, prosodyMissing } from './prosody.js';

export default function setup(): void {
  const missing = prosodyMissing();
  if (missing) throw new Error(`privguard's end-to-end tests need a real Prosody: ${missing}. ${INSTALL_HINT}`);
  const noEjabberd = ejabberdMissing();
  if (noEjabberd) throw new Error(`privguard's compatibility tests need a real ejabberd: ${noEjabberd}. ${EJABBERD_INSTALL_HINT}`);
}
