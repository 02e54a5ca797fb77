/**
 * A Kubernetes ConfigMap update, reproduced the way the kubelet's atomic
 * writer does it: the data lives in a timestamped directory, `..data` is a
 * symlink to it, each key (`policy.yaml`) is a symlink to `..data/<key>`. An
 * update writes a new timestamped directory, points `..data_tmp` at it,
 * renames `..data_tmp` over `..data` and removes the old directory. The name
 * `policy.yaml` itself is never written. privguard must reload once per update.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { watchPolicyFile, type PolicyWatch } from '../../src/config/watch.js';
import { freePorts } from '../support/ports.js';
import { waitFor } from '../support/wait.js';
import { startCli, type RunningCli } from './cli-process.js';

/** A ConfigMap volume with one key, policy.yaml. */
class ConfigMapVolume {
  readonly dir = mkdtempSync(join(tmpdir(), 'pg-configmap-'));
  readonly file = join(this.dir, 'policy.yaml');
  private current: string | undefined;
  private n = 0;

  constructor(text: string) {
    this.current = this.writeVersion(text);
    symlinkSync(this.current, join(this.dir, '..data'));
    symlinkSync(join('..data', 'policy.yaml'), this.file);
  }

  /** The kubelet's update: new timestamped dir, ..data_tmp → it, rename over ..data, old dir removed. */
  update(text: string): void {
    const next = this.writeVersion(text);
    symlinkSync(next, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    rmSync(join(this.dir, this.current!), { recursive: true });
    this.current = next;
  }

  private writeVersion(text: string): string {
    this.n += 1;
    const name = `..2026_12_03_04_2${this.n}_00.00000000${this.n}`;
    mkdirSync(join(this.dir, name));
    writeFileSync(join(this.dir, name, 'policy.yaml'), text, { mode: 0o600 });
    return name;
  }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('config/watch.ts on a ConfigMap volume', () => {
  let watch: PolicyWatch | undefined;
  afterEach(() => watch?.close());

  it('reports each kubelet update exactly once, with the new content in place', async () => {
    const vol = new ConfigMapVolume('mode: enforce\n');
    const seen: string[] = [];
    watch = watchPolicyFile(vol.file, () => seen.push(sha256(readFileSync(vol.file, 'utf8'))), { debounceMs: 100 });
    const versions = ['mode: report\n', 'mode: enforce\n# v3\n', 'mode: report\n# v4\n'];
    for (const [i, text] of versions.entries()) {
      vol.update(text);
      await waitFor(`change ${i + 1}`, () => (seen.length > i ? true : undefined), 10_000);
    }
    // each update reported once, in order: a second report of one update would shift this list
    expect(seen).toEqual(versions.map(sha256));
  });

  it('ignores events that leave the content as it was (unrelated files, an update with the same text)', async () => {
    const vol = new ConfigMapVolume('mode: enforce\n');
    const seen: string[] = [];
    const bursts: boolean[] = [];
    watch = watchPolicyFile(vol.file, () => seen.push(readFileSync(vol.file, 'utf8')), { debounceMs: 50, settled: (c) => bursts.push(c) });
    const burst = (n: number) => waitFor(`burst ${n}`, () => (bursts.length >= n ? true : undefined), 10_000);
    writeFileSync(join(vol.dir, 'unrelated.txt'), 'x');
    await burst(1);
    vol.update('mode: enforce\n'); // same content, new directory
    await burst(2);
    vol.update('mode: report\n');
    await waitFor('the real change', () => (seen.length > 0 ? true : undefined), 10_000);
    expect(bursts.slice(0, 2)).toEqual([false, false]);
    expect(seen).toEqual(['mode: report\n']);
  });
});

describe('privguard run on a ConfigMap volume (the real executable)', () => {
  let running: RunningCli | undefined;
  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  it('reloads once per kubelet update, and the new revision is in force', async () => {
    const [listen, upstream, metrics] = await freePorts(3);
    const policy = (mode: string) =>
      `listen: { port: ${listen} }\nupstream: { port: ${upstream} }\nmetrics: { port: ${metrics} }\nmode: ${mode}\ncomponents:\n  c.example.org:\n    secret: { env: C_SECRET }\n    upstream_secret: { env: C_UPSTREAM }\n`;
    const vol = new ConfigMapVolume(policy('enforce'));
    running = startCli(['run', '-c', vol.file], { C_SECRET: 'a', C_UPSTREAM: 'b' });
    await running.waitErr('listening line', /privguard listening on/);
    const reloads = async () => {
      const text = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
      return Number(/privguard_policy_reloads_total\{result="ok"\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    const reloadRevisions = () =>
      running!.err
        .split('\n')
        .filter((l) => l.includes('"msg":"policy reloaded"'))
        .map((l) => (JSON.parse(l) as { revision: string }).revision);

    const versions = [policy('report'), policy('enforce') + '# v3\n'];
    for (const [i, text] of versions.entries()) {
      vol.update(text);
      await waitFor(`reload ${i + 1}`, async () => ((await reloads()) > i ? true : undefined), 15_000).catch((e: Error) => {
        throw new Error(`${e.message}; privguard's log:\n${running!.err}`);
      });
      await waitFor(`reload ${i + 1} logged`, () => (reloadRevisions().length > i ? true : undefined), 15_000);
    }
    expect(await reloads()).toBe(2);
    expect(reloadRevisions()).toEqual(versions.map(sha256));
    expect(running.err).not.toContain('policy reload failed');
  });
});
