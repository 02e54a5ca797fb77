#!/usr/bin/env -S node --max-semi-space-size=2
/**
 * The command line: parses flags, calls one library function, maps the result
 * to an exit code. Exit codes: 0 success; 1 invalid policy or a failure at run
 * time (e.g. the listen port is taken), or an unhealthy `health`; 2 bad usage.
 * Every -c defaults to $PRIVGUARD_CONFIG, then /etc/privguard/policy.yaml
 * (config/locate.ts), and the file used is always named.
 *
 * The first line caps V8's young generation at 2 MB per semi-space. By
 * default it grows to 16 MB under a stanza flood: ~30 MB more RSS, bought
 * with ~5-10% less CPU per privileged stanza (npm run bench). V8 reads the
 * flag only at start, so every launcher passes it: this line, the Dockerfile
 * and the systemd unit (test/unit/deploy.test.ts).
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { describePolicy } from './config/describe.js';
import { loadPolicyFile, type LoadedPolicy } from './config/load.js';
import { CONFIG_OPTION_HELP, DEFAULT_POLICY_FILE, describeLocation, locatePolicy, type PolicyLocation } from './config/locate.js';
import { healthTarget, probe } from './health.js';
import { packageVersion } from './version.js';
import { PolicyError, PrivguardError } from './errors.js';
import { explainStanzas, formatExplanation } from './explain.js';
import { importEjabberd } from './importer/ejabberd.js';
import { importProsody } from './importer/prosody.js';
import { runTestFiles } from './policytest/command.js';
import { createLogger } from './observe/log.js';
import { startSidecar, type Sidecar } from './index.js';

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
/** After SIGTERM, how long a graceful shutdown may take before we force it. */
const SHUTDOWN_DEADLINE_MS = 10_000;

interface Io {
  out(s: string): void;
  err(s: string): void;
}

const stdio: Io = {
  out: (s) => process.stdout.write(`${s}\n`),
  err: (s) => process.stderr.write(`${s}\n`),
};

/** The policy file a command uses, named on stderr unless -c gave it (`run` logs it instead; `health` stays quiet). */
function policyFile(flag: string | undefined, io: Io, announce = true): PolicyLocation {
  const where = locatePolicy(flag);
  if (announce && where.from !== '-c') io.err(`privguard: ${describeLocation(where)}`);
  return where;
}

function reportWarnings(loaded: LoadedPolicy, io: Io): void {
  for (const w of loaded.warnings) io.err(`privguard: warning: ${loaded.file}: ${w.path || '(root)'} (${w.line}:${w.column}): ${w.message}`);
}

function reportError(e: unknown, io: Io): number {
  if (e instanceof PolicyError) {
    io.err(`privguard: the policy is invalid (${e.issues.length} error${e.issues.length === 1 ? '' : 's'}):`);
    for (const i of e.issues) io.err(`  ${e.file}: ${i.path || '(root)'} (${i.line}:${i.column}): ${i.message}`);
    return EXIT.failure;
  }
  if (e instanceof PrivguardError) {
    io.err(`privguard: ${e.code}: ${e.message}`);
    return EXIT.failure;
  }
  throw e;
}

export function buildProgram(io: Io = stdio): Command {
  const program = new Command('privguard')
    .description('Policy sidecar for XMPP components: enforces XEP-0356 and XEP-0355 from a YAML policy.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .showHelpAfterError()
    .version(packageVersion(), '-V, --version', 'print the version and exit');

  program
    .command('check')
    .description('validate a policy file and print what it grants (exit 0 valid, 1 invalid)')
    .option('-c, --config <file>', CONFIG_OPTION_HELP)
    .action((opts: { config?: string }) => {
      try {
        const loaded = loadPolicyFile(policyFile(opts.config, io).file);
        reportWarnings(loaded, io);
        io.out(describePolicy(loaded));
        process.exitCode = EXIT.ok;
      } catch (e) {
        process.exitCode = reportError(e, io);
      }
    });

  program
    .command('explain')
    .description('show what privguard would do with the stanzas in a file, and which rule decides')
    .option('-c, --config <file>', CONFIG_OPTION_HELP)
    .requiredOption('--component <jid>', 'the component the stanzas belong to')
    .option('--to-server', 'the stanzas go from the component to the server')
    .option('--to-component', 'the stanzas go from the server to the component')
    .option('--advertised <file>', "the server's privilege/delegation advertisement(s); default: it grants what the policy grants")
    .option('--pending <file>', 'delegated IQ(s) privguard forwarded earlier, to explain the component\'s replies to them')
    .argument('<stanzas>', 'file with one or more stanzas (XML)')
    .action((file: string, opts: { config?: string; component: string; toServer?: boolean; toComponent?: boolean; advertised?: string; pending?: string }) => {
      if (!!opts.toServer === !!opts.toComponent) {
        io.err('privguard explain: give exactly one of --to-server or --to-component');
        process.exitCode = EXIT.usage;
        return;
      }
      try {
        const results = explainStanzas({
          policyFile: policyFile(opts.config, io).file,
          component: opts.component,
          direction: opts.toServer ? 'to-server' : 'to-component',
          stanzaFile: file,
          ...(opts.advertised ? { advertisedFile: opts.advertised } : {}),
          ...(opts.pending ? { pendingFile: opts.pending } : {}),
        });
        io.out(results.map(formatExplanation).join('\n\n'));
        process.exitCode = EXIT.ok;
      } catch (e) {
        process.exitCode = reportError(e, io);
      }
    });

  program
    .command('test')
    .description('run policy tests: each case a stanza, the server grant and the expected decision (exit 0 all pass, 1 a failure or an invalid file)')
    .option('-c, --config <file>', `policy file (YAML); default: NAME.yaml beside NAME.tests.yaml, then $PRIVGUARD_CONFIG, then ${DEFAULT_POLICY_FILE}`)
    .argument('<tests...>', 'tests files (YAML lists of cases)')
    .action((files: string[], opts: { config?: string }) => {
      process.exitCode = runTestFiles(files, opts.config, io);
    });

  program
    .command('import')
    .description("print a privguard policy equivalent to a server's privilege and delegation configuration")
    .argument('<server>', 'prosody (prosody.cfg.lua) or ejabberd (ejabberd.yml)')
    .argument('<file>', 'the server configuration file')
    .action((server: string, file: string) => {
      if (server !== 'prosody' && server !== 'ejabberd') {
        io.err(`privguard import: the server is prosody or ejabberd, not ${JSON.stringify(server)}`);
        process.exitCode = EXIT.usage;
        return;
      }
      try {
        io.out((server === 'prosody' ? importProsody(file) : importEjabberd(file)).trimEnd());
        process.exitCode = EXIT.ok;
      } catch (e) {
        io.err(`privguard import: cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
        process.exitCode = EXIT.failure;
      }
    });

  program
    .command('run')
    .description('run the sidecar: accept components, connect them upstream, enforce the policy')
    .option('-c, --config <file>', CONFIG_OPTION_HELP)
    .addOption(new Option('--log-level <level>', 'log level (default: $PRIVGUARD_LOG_LEVEL, then info)').choices(LOG_LEVELS))
    .action(async (opts: { config?: string; logLevel?: string }) => {
      const log = createLogger(opts.logLevel ? { level: opts.logLevel } : {});
      const where = policyFile(opts.config, io, false);
      log.info({ file: where.file, from: where.from }, `privguard ${packageVersion()}, ${describeLocation(where)}`);
      // Signals are handled from the first moment: a SIGHUP's default action is to
      // end the process, and a reload may come while privguard is still starting.
      let sidecar: Sidecar | undefined;
      let stopping: string | undefined;
      const stop = (signal: string) => {
        stopping ??= signal;
        if (!sidecar) return; // handled once started
        const running = sidecar;
        log.info({ signal }, `received ${signal}, shutting down`);
        const force = setTimeout(() => {
          log.error({}, `shutdown did not finish within ${SHUTDOWN_DEADLINE_MS} ms; exiting anyway`);
          process.exit(EXIT.failure);
        }, SHUTDOWN_DEADLINE_MS);
        force.unref();
        void running.close().then(() => {
          log.info({}, 'privguard stopped');
          process.exitCode = EXIT.ok;
          // Let pino flush, then leave even if a peer keeps a socket half-open.
          setTimeout(() => process.exit(EXIT.ok), 50).unref();
        });
      };
      // SIGHUP: reload the policy (the old one stays if the new one is invalid) and reopen the audit file.
      process.on('SIGHUP', () => {
        if (!sidecar) {
          log.info({ signal: 'SIGHUP' }, 'SIGHUP while starting: the policy being loaded is the current file');
          return;
        }
        const running = sidecar;
        running.reload();
        void running.reopenAudit().then(() => log.info({ signal: 'SIGHUP' }, 'audit file reopened'));
      });
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
      try {
        sidecar = await startSidecar({ policy: loadPolicyFile(where.file), log, watchFile: true });
      } catch (e) {
        process.exitCode = reportError(e, io);
        process.removeAllListeners('SIGHUP');
        process.removeAllListeners('SIGTERM');
        process.removeAllListeners('SIGINT');
        return;
      }
      if (stopping) stop(stopping);
    });

  program
    .command('health')
    .description("probe the running privguard of this policy: its /healthz when metrics are on, else its listen port (exit 0 healthy, 1 not)")
    .option('-c, --config <file>', CONFIG_OPTION_HELP)
    .option('--timeout <ms>', 'how long to wait for an answer', '3000')
    .action(async (opts: { config?: string; timeout: string }) => {
      const timeout = Number(opts.timeout);
      if (!Number.isInteger(timeout) || timeout <= 0) {
        io.err(`privguard health: --timeout is a positive number of milliseconds, not ${JSON.stringify(opts.timeout)}`);
        process.exitCode = EXIT.usage;
        return;
      }
      const where = policyFile(opts.config, io, false);
      let text: string;
      try {
        text = readFileSync(where.file, 'utf8');
      } catch (e) {
        io.err(`privguard health: cannot read ${describeLocation(where)}: ${e instanceof Error ? e.message : String(e)}`);
        process.exitCode = EXIT.failure;
        return;
      }
      const target = healthTarget(text);
      if ('error' in target) {
        io.err(`privguard health: ${where.file}: ${target.error}`);
        process.exitCode = EXIT.failure;
        return;
      }
      const r = await probe(target, timeout);
      if (r.ok) io.out(`privguard health: healthy: ${r.detail}`);
      else io.err(`privguard health: unhealthy: ${r.detail}`);
      process.exitCode = r.ok ? EXIT.ok : EXIT.failure;
    });

  return program;
}

export async function main(argv: string[], io: Io = stdio): Promise<number> {
  try {
    await buildProgram(io).parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version are not errors.
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    throw e;
  }
}

function isEntryPoint(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/**
 * A reader that stops early (`privguard test … | head`) closes the pipe: that
 * ends our output, it is not a crash. Any other write error still is one.
 */
function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok);
  });
}

if (isEntryPoint()) {
  quietOnClosedPipe(process.stdout);
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
}
