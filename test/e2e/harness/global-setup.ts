// Never skip the real-server tests silently: without the servers the run fails and says what to install.
import { EJABBERD_INSTALL_HINT, ejabberdMissing, ejabberdVersionMissing } from './ejabberd.js';
import { INSTALL_HINT, prosodyMissing, prosodyVersionMissing } from './prosody.js';
import { ejabberdVersions, prosodyVersions } from './servers.js';

export default function setup(): void {
  // Prosody 0.12 and ejabberd 23.01 also serve the demo and the in-process suites.
  const missing = prosodyMissing();
  if (missing) throw new Error(`privguard's end-to-end tests need a real Prosody: ${missing}. ${INSTALL_HINT}`);
  const noEjabberd = ejabberdMissing();
  if (noEjabberd) throw new Error(`privguard's compatibility tests need a real ejabberd: ${noEjabberd}. ${EJABBERD_INSTALL_HINT}`);
  // The matrix (PRIVGUARD_SERVERS, default all four): every selected server must run here.
  for (const v of prosodyVersions()) {
    const why = prosodyVersionMissing(v);
    if (why) throw new Error(`privguard's server matrix includes prosody-${v}, which cannot run here: ${why}`);
  }
  for (const v of ejabberdVersions()) {
    const why = ejabberdVersionMissing(v);
    if (why) throw new Error(`privguard's server matrix includes ejabberd-${v}, which cannot run here: ${why}`);
  }
}
