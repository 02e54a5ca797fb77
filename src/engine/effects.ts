/**
 * What a Link asks its driver to do. One object with methods, handed over
 * once: the judged path calls a method per effect, and allocates no arrays or
 * closures for it. proxy/session.ts drives sockets with it; `explain` and
 * tests record what it is asked.
 */
import type { Element } from '@xmpp/xml';
import type { StreamErrorCondition } from '../protocol/ns.js';
import type { Verdict } from '../policy/verdict.js';
import type { DecisionEvent } from './decision.js';

export interface LinkEffects {
  /** XML for the component; `kind` (the stanza's name) when it is a relayed stanza, for the stanza count. */
  toComponent(xml: string, kind: string | undefined): void;
  /** XML for the server; `kind` as for toComponent. */
  toServer(xml: string, kind: string | undefined): void;
  /** The link is over: close both streams, the component's with `condition` if there is one. */
  closeStreams(condition: StreamErrorCondition | undefined, text: string | undefined): void;
  decision(event: DecisionEvent): void;
  log(level: 'info' | 'warn' | 'error', fields: Record<string, unknown>, message: string): void;
  /** Seconds one judged stanza took to decide; only called when the link was created with `timed`. */
  decisionTime?(seconds: number): void;
  /** Every verdict, with the stanza it was taken on (explain); absent in the proxy. */
  verdict?(verdict: Verdict, el: Element): void;
}
