/**
 * The `privguard test` command's body: finds the policy of each tests file,
 * loads both (an invalid file of either kind is an error with line:column),
 * runs every case and prints one line per case and the totals. Returns the
 * exit code: 0 all passed, 1 a case failed or a file is invalid.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { loadPolicyFile, type LoadedPolicy } from '../config/load.js';
import { locatePolicy } from '../config/locate.js';
import { PolicyError, PrivguardError } from '../errors.js';
import { loadCasesFile } from './cases.js';
import { checkComponents, formatResult, runCase } from './run.js';

export interface TestIo {
  out(s: string): void;
  err(s: string): void;
}

/**
 * The policy a tests file is for: the one given with -c; else NAME.yaml beside NAME.tests.yaml;
 * else $PRIVGUARD_CONFIG; else the default policy file (config/locate.ts).
 */
export function policyFor(testsFile: string, given: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (given) return given;
  const m = /^(.*)\.tests\.ya?ml$/.exec(basename(testsFile));
  if (m) {
    for (const ext of ['yaml', 'yml']) {
      const sibling = join(dirname(testsFile), `${m[1]}.${ext}`);
      if (existsSync(sibling)) return sibling;
    }
  }
  return locatePolicy(undefined, env).file;
}

function printError(e: unknown, io: TestIo): void {
  if (e instanceof PolicyError) {
    io.err(`privguard test: ${e.file} is invalid (${e.issues.length} error${e.issues.length === 1 ? '' : 's'}):`);
    for (const i of e.issues) io.err(`  ${e.file}: ${i.path || '(root)'} (${i.line}:${i.column}): ${i.message}`);
    return;
  }
  if (e instanceof PrivguardError) {
    io.err(`privguard test: ${e.code}: ${e.message}`);
    return;
  }
  throw e;
}

export function runTestFiles(files: readonly string[], config: string | undefined, io: TestIo, env: NodeJS.ProcessEnv = process.env): number {
  let passed = 0;
  let failed = 0;
  let invalid = 0;
  const policies = new Map<string, LoadedPolicy>();
  for (const file of files) {
    const policyFile = policyFor(file, config, env);
    try {
      let policy = policies.get(policyFile);
      if (!policy) policies.set(policyFile, (policy = loadPolicyFile(policyFile, env)));
      const cases = loadCasesFile(file);
      checkComponents(policy, file, cases);
      io.out(`${file} (policy ${policyFile}, revision ${policy.revision.slice(0, 12)})`);
      for (const c of cases) {
        const r = runCase(policy, c);
        if (r.ok) passed++;
        else failed++;
        for (const line of formatResult(r, file)) io.out(line);
      }
    } catch (e) {
      printError(e, io);
      invalid++;
    }
  }
  io.out(`${passed} passed, ${failed} failed${invalid > 0 ? `, ${invalid} file${invalid === 1 ? '' : 's'} invalid` : ''}`);
  return failed > 0 || invalid > 0 ? 1 : 0;
}
