/**
 * A Kubernetes ConfigMap update, reproduced the way the kubelet's atomic
 * writer does it: the data lives in a timestamped directory, `..data` is a
 * symlink to it, each key (`policy.yaml`) is a symlink to `..data/<key>`. An
 * update writes a new timestamped directory, points `..data_tmp` at it,
 * renames `..data_tmp` over `..data` and removes the old directory. The name
 * `policy.yaml` itself is never written. privguard must reload once per update.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigMapVolume } from '../support/configmap.js';
import { freePorts } from '../support/ports.js';
import { waitFor } from '../support/wait.js';
import { startCli, type RunningCli } from './cli-process.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

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
