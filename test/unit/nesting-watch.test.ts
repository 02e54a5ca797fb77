import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { delegationNeverActivatedText, NestingWatch } from '../../src/proxy/nesting-watch.js';

describe('NestingWatch (ejabberd #4336: delegation never activated)', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('reports a domain once when its nesting queries were answered and no advertisement followed', () => {
    const seen: string[] = [];
    const w = new NestingWatch((d) => seen.push(d), 1000);
    w.asked('q1', 'example.test');
    w.asked('q2', 'example.test');
    w.answered('q1');
    w.answered('q2');
    vi.advanceTimersByTime(999);
    expect(seen).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(seen).toEqual(['example.test']);
    w.asked('q3', 'example.test');
    w.answered('q3');
    vi.advanceTimersByTime(5000);
    expect(seen).toEqual(['example.test']);
  });

  it('stays quiet when the advertisement comes, when nothing was answered, or for answers to other IQs', () => {
    const seen: string[] = [];
    const w = new NestingWatch((d) => seen.push(d), 1000);
    w.asked('q1', 'a.test');
    w.answered('q1');
    w.advertised('a.test');
    w.asked('q2', 'b.test'); // never answered (e.g. privguard refused it)
    w.answered('other-iq');
    vi.advanceTimersByTime(5000);
    expect(seen).toEqual([]);
  });

  it('forgets its clock on close', () => {
    const seen: string[] = [];
    const w = new NestingWatch((d) => seen.push(d), 1000);
    w.asked('q1', 'a.test');
    w.answered('q1');
    w.close();
    vi.advanceTimersByTime(5000);
    expect(seen).toEqual([]);
  });

  it('names the bug, the fixed version and the domain', () => {
    const text = delegationNeverActivatedText('example.test', 5000);
    expect(text).toContain('#4336');
    expect(text).toContain('25.03');
    expect(text).toContain('example.test');
  });
});
