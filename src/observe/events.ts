/**
 * Decision events leave the engine here: the I/O side publishes, logging and
 * metrics subscribe (the diagnostics-channel idiom of undici). Each sidecar
 * has its own channel (a symbol), so two sidecars in one process never see
 * each other's decisions; every event is also published on the named channel
 * `privguard:decision` for outside tools, when something listens there.
 */
import { channel, type Channel } from 'node:diagnostics_channel';
import type { DecisionEvent } from '../engine/decision.js';
import type { AuditRecord, AuditSink } from './audit.js';
import type { Metrics } from './metrics.js';

export const DECISION_CHANNEL = 'privguard:decision';

export interface DecisionBus {
  publish(event: DecisionEvent): void;
  subscribe(each: (event: DecisionEvent) => void): () => void;
}

export function createDecisionBus(): DecisionBus {
  const own: Channel = channel(Symbol('privguard.decision'));
  const named: Channel = channel(DECISION_CHANNEL);
  return {
    publish(event) {
      own.publish(event);
      if (named.hasSubscribers) named.publish(event);
    },
    subscribe(each) {
      const listener = (message: unknown) => each(message as DecisionEvent);
      own.subscribe(listener);
      return () => void own.unsubscribe(listener);
    },
  };
}

/** The audit record of a decision: flat, absent values left out (DESIGN.md "Operations"). */
export function auditRecordOf(e: DecisionEvent): AuditRecord {
  // Built field by field (no spread temporaries: this runs for every audited stanza).
  const r: AuditRecord = { component: e.component, action: e.subject, verdict: e.verdict, reason: e.reason };
  if (e.domain !== undefined) r.domain = e.domain;
  if (e.user !== undefined) r.user = e.user;
  if (e.rule !== undefined) r.rule = e.rule;
  if (e.namespace !== undefined) r.namespace = e.namespace;
  if (e.field !== undefined) r.field = e.field;
  if (e.stanzaId !== undefined) r.stanza_id = e.stanzaId;
  return r;
}

/** Every decision is audited and counted in privguard_decisions_total. */
export function observeDecisions(bus: DecisionBus, audit: AuditSink, metrics: Metrics): () => void {
  const offAudit = bus.subscribe((e) => audit.write(auditRecordOf(e)));
  const offMetrics = bus.subscribe((e) => metrics.decision(e.mode, e.action, e.verdict, e.reason));
  return () => {
    offAudit();
    offMetrics();
  };
}
