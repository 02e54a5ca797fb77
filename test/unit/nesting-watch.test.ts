import { describe, expect, it } from 'vitest';
import { delegationNeverActivatedText, NestingWatch } from '../../src/engine/nesting-watch.js';

describe('NestingWatch (ejabberd #4336: delegation never activated)', () => {
  it('reports a domain once when its nesting queries were answered and no advertisement followed', () => {
    const w = new NestingWatch(1000);
    w.asked('q1', 'example.test');
    w.asked('q2', 'example.test');
    w.answered('q1', 100);
    w.answered('q2', 150);
    expect(w.nextDeadline()).toBe(1100);
    expect(w.due(1099)).toEqual([]);
    expect(w.due(1100)).toEqual(['example.test']);
    expect(w.nextDeadline()).toBeUndefined();
    w.asked('q3', 'example.test');
    w.answered('q3', 2000);
    expect(w.due(9000)).toEqual([]);
  });

  it('stays quiet when the advertisement comes, when nothing was answered, or for answers to other IQs', () => {
    const w = new NestingWatch(1000);
    w.asked('q1', 'a.test');
    w.answered('q1', 0);
    w.advertised('a.test');
    w.asked('q2', 'b.test'); // never answered (e.g. privguard refused it)
    w.answered('other-iq', 0);
    expect(w.nextDeadline()).toBeUndefined();
    expect(w.due(5000)).toEqual([]);
  });

  it('names the bug, the fixed version and the domain', () => {
    const text = delegationNeverActivatedText('example.test', 5000);
    expect(text).toContain('#4336');
    expect(text).toContain('25.03');
    expect(text).toContain('example.test');
  });
});
