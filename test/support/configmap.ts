/**
 * A Kubernetes ConfigMap volume as the kubelet's atomic writer keeps it: the
 * data in a timestamped directory, `..data` a symlink to it, each key a
 * symlink to `..data/<key>`; an update writes a new directory, points
 * `..data_tmp` at it, renames it over `..data` and removes the old one.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A ConfigMap volume with one key, policy.yaml. */
export class ConfigMapVolume {
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
