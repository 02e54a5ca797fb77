/**
 * Watches the policy file for changes that `run` reloads. The directory is
 * watched, not the file: editors and config managers replace a file by
 * rename, and a Kubernetes ConfigMap volume never touches the file's own name.
 * The kubelet writes a new timestamped directory (`..2026_12_03_04_20_00.1`),
 * points a `..data_tmp` symlink at it, renames that over `..data` and removes
 * the old directory; `policy.yaml` is a symlink to `..data/policy.yaml`
 * throughout. One update is thus a burst of events under other names.
 *
 * So every event in the directory counts, bursts are debounced, and the
 * change is reported only when the content read through the symlinks
 * differs from the last content reported: one reload per real change, none
 * for unrelated files or for the kubelet's clean-up.
 */
import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';

export interface PolicyWatch {
  close(): void;
}

/** sha256 of the file's content, as the loader computes the revision; undefined while it cannot be read. */
function fingerprint(file: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(file, 'utf8')).digest('hex');
  } catch {
    return undefined;
  }
}

/**
 * Calls `onChange` once after each burst of directory events that leaves the
 * file with a content other than the one last reported (or than `initial`,
 * the revision already in force).
 */
export function watchPolicyFile(
  file: string,
  onChange: () => void,
  opts: {
    initial?: string;
    debounceMs?: number;
    /** The watch failed and ended (e.g. the directory was unmounted); SIGHUP still reloads. */
    failed?: (e: Error) => void;
    /** Test seam: after each burst, whether it was a change. */
    settled?: (changed: boolean) => void;
  } = {},
): PolicyWatch {
  const path = resolve(file);
  let last = opts.initial ?? fingerprint(path);
  let timer: NodeJS.Timeout | undefined;
  const settle = () => {
    const now = fingerprint(path);
    // Unreadable: a swap in progress or a removed file; the next event will tell.
    const changed = now !== undefined && now !== last;
    if (changed) {
      last = now;
      onChange();
    }
    opts.settled?.(changed);
  };
  const watcher: FSWatcher = watch(dirname(path), () => {
    clearTimeout(timer);
    timer = setTimeout(settle, opts.debounceMs ?? 200);
    timer.unref();
  });
  // A directory that disappears (an unmounted volume) ends the watch, it does not end privguard.
  watcher.on('error', (e) => {
    watcher.close();
    opts.failed?.(e);
  });
  watcher.unref();
  return {
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}
