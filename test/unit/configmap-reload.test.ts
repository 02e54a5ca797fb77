/**
 * A Kubernetes ConfigMap update, reproduced the way the kubelet's atomic
 * writer does it: the data lives in a timestamped directory, `..data` is a
 * symlink to it, each key (`policy.yaml`) is a symlink to `..data/<key>`. An
 * update writes a new timestamped directory, points `..data_tmp` at it,
 * renames `..data_tmp` over `..data` and removes the old directory. The name
 * `policy.yaml` itself is never written. privguard must reload once per update.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { watchPolicyFile, type PolicyWatch } from '../../src/config/watch.js';
import { ConfigMapVolume } from '../support/configmap.js';
import { waitFor } from '../support/wait.js';

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
