/**
 * Decision events leave the engine here: the I/O side publishes, logging and
 * metrics subscribe (the diagnostics-channel idiom of undici). Each sidecar
 * has its own bus, so two sidecars in one process never see each other's
 * decisions; every event is also published on the `node:diagnostics_channel`
 * channel `privguard:decision` for outside tools, when something listens there
 * (publishing costs nothing otherwise).
 */
import { channel } from 'node:diagnostics_channel';
import type { DecisionEvent } from '../engine/decision.js';
import type { AuditRecord, AuditSink } from './audit.js';
import type { Metrics } from './metrics.js';

export const DECISION_CHANNEL = 'privguard:decision';
const named = channel(DECISION_CHANNEL);

export interface DecisionBus {
  publish(event: DecisionEvent): void;
  subscribe(each: (event: DecisionEvent) => void): () => void;
}

export function createDecisionBus(): DecisionBus {
  // A plain array: this runs for every judged stanza, and the in-process subscribers are fixed.
  let subscribers: ((event: DecisionEvent) => void)[] = [];
  return {
    publish(event) {
      for (let i = 0; i < subscribers.length; i++) subscribers[i]!(event);
      if (named.hasSubscribers) named.publish(event);
    },
    subscribe(each) {
      subscribers = [...subscribers, each];
      return () => {
        subscribers = subscribers.filter((s) => s !== each);
      };
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

/** Every decision is audited and counted in privguard_decisions_total (one subscriber for both). */
export function observeDecisions(bus: DecisionBus, audit: AuditSink, metrics: Metrics): () => void {
  return bus.subscribe((e) => {
    metrics.decision(e.mode, e.action, e.verdict, e.reason);
    audit.write(auditRecordOf(e));
  });
}
