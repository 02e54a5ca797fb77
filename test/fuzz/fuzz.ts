/**
 * `npm run fuzz [-- --inputs N] [--seed S]`: the full run (default 1,000,000
 * inputs). Prints throughput, stream errors met and any failure with the seed
 * that replays it; exits 1 on a failure.
 */
import { runFuzz } from './fuzz-core.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : Number(process.argv[i + 1]);
};
const inputs = arg('inputs', 1_000_000);
const seed = arg('seed', Date.now() % 1_000_000);
const t0 = performance.now();
const heap0 = process.memoryUsage().heapUsed;
const report = runFuzz(inputs, seed);
const secs = (performance.now() - t0) / 1000;
const heapMb = (process.memoryUsage().heapUsed - heap0) / 1e6;
process.stdout.write(
  `fuzz: ${report.inputs} inputs (seed ${seed}) in ${secs.toFixed(1)} s (${Math.round(report.inputs / secs)}/s), ${report.stanzas} stanzas judged, heap +${heapMb.toFixed(1)} MB\n` +
    `stream errors: ${JSON.stringify(report.streamErrors)}\n`,
);
for (const f of report.failures) process.stdout.write(`FAILURE (seed ${f.seed}): ${f.error}\n  input: ${JSON.stringify(f.input)}\n`);
process.exit(report.failures.length === 0 ? 0 : 1);
