/**
 * A whole test stack: real Prosody, privguard in-process in front of it, and
 * helpers to connect real peers (@xmpp/component, @xmpp/client) or a raw socket
 * speaking XEP-0114 by hand (for hostile input the libraries cannot send).
 */
import type { Socket } from 'node:net';
import type { Element } from '@xmpp/xml';
import { component as xmppComponent, xml, type XmppEntity } from '@xmpp/component';
import { client as xmppClient } from '@xmpp/client';
import { loadPolicyText, type LoadedPolicy } from '../../../src/config/load.js';
import { startSidecar, type Sidecar } from '../../../src/index.js';
import { createMemoryAuditSink, type AuditRecord } from '../../../src/observe/audit.js';
import { DOMAIN, startProsody, USERS, type ProsodyOptions } from './prosody.js';
import { startEjabberd, type EjabberdInstance, type EjabberdOptions } from './ejabberd.js';
import { freePort } from '../../support/ports.js';
import { COMPONENT_SECRET, recordingLogger } from '../../support/component.js';

// The in-process pieces live in test/support; re-exported for the real-server tests.
export { COMPONENT_SECRET, RawComponent, recordingLogger, waitStanza, type LogLine } from '../../support/component.js';

/** A policy YAML in front of `upstreamPort`; components get COMPONENT_SECRET towards privguard. */
export function policyYaml(listenPort: number, upstreamPort: number, extra = ''): string {
  return `listen: { host: 127.0.0.1, port: ${listenPort} }
upstream: { host: 127.0.0.1, port: ${upstreamPort} }
limits: { max_stanza_bytes: 16384 }
components:
  pubsub.example.test:
    secret: ${COMPONENT_SECRET}
    upstream_secret: s3cr3t
  plain.example.test:
    secret: ${COMPONENT_SECRET}
    upstream_secret: s3cr3t
${extra}`;
}

/** What the stack needs of a server: where users log in, where privguard connects, how to stop it. */
export interface ServerInstance {
  c2sPort: number;
  componentPort: number;
  stop(): Promise<void>;
}

/**
 * A throwaway ejabberd as a stack's server (for startStack's `server`): the
 * harness's components, privguard connecting to `component`'s listener.
 * `started` receives the instance (its version, log, other ports).
 */
export function ejabberdServer(
  opts: EjabberdOptions = {},
  component = 'pubsub.example.test',
  started?: (ej: EjabberdInstance) => void,
): () => Promise<ServerInstance> {
  return async () => {
    const ej = await startEjabberd(['pubsub.example.test', 'plain.example.test'], opts);
    started?.(ej);
    return { c2sPort: ej.c2sPort, componentPort: ej.componentPorts[component]!, stop: () => ej.stop() };
  };
}

export interface Stack {
  /** The XMPP server (Prosody unless the test chose another); replaced when a test restarts it. */
  prosody: ServerInstance;
  sidecar: Sidecar;
  policy: LoadedPolicy;
  port: number;
  log: ReturnType<typeof recordingLogger>;
  audit: AuditRecord[];
  entities: XmppEntity[];
  sockets: Socket[];
  stop(): Promise<void>;
}

export async function startStack(
  opts: { prosody?: ProsodyOptions; server?: () => Promise<ServerInstance>; policy?: (listen: number, upstream: number) => string } = {},
): Promise<Stack> {
  const prosody: ServerInstance = opts.server ? await opts.server() : await startProsody(opts.prosody);
  try {
    const port = await freePort();
    const text = (opts.policy ?? policyYaml)(port, prosody.componentPort);
    const policy = loadPolicyText(text, 'test-policy.yaml');
    const log = recordingLogger();
    const auditSink = createMemoryAuditSink();
    const sidecar = await startSidecar({ policy, log, audit: auditSink, upstream: { retryDelaysMs: [50, 100] } });
    const stack: Stack = {
      prosody,
      sidecar,
      policy,
      port,
      log,
      audit: auditSink.records,
      entities: [],
      sockets: [],
      async stop() {
        for (const s of stack.sockets) s.destroy();
        await Promise.allSettled(
          stack.entities.map(async (e) => {
            e.reconnect.stop();
            await e.stop();
          }),
        );
        await sidecar.close();
        await stack.prosody.stop();
      },
    };
    return stack;
  } catch (e) {
    await prosody.stop();
    throw e;
  }
}

export interface Peer {
  entity: XmppEntity;
  stanzas: Element[];
  /** Stream error conditions the peer received. */
  errors: string[];
}

/** A real @xmpp/component, through privguard (or straight to `port`); not started. */
export function makeComponent(stack: Stack, name = 'pubsub.example.test', password = COMPONENT_SECRET, port = stack.port): Peer {
  const entity = xmppComponent({ service: `xmpp://127.0.0.1:${port}`, domain: name, password });
  const peer: Peer = { entity, stanzas: [], errors: [] };
  entity.on('stanza', (el) => void peer.stanzas.push(el));
  entity.on('error', (e) => void peer.errors.push(e.condition ?? e.message));
  stack.entities.push(entity);
  return peer;
}

/** A real @xmpp/component connected through privguard (or straight to `port`). */
export async function connectComponent(stack: Stack, name = 'pubsub.example.test', password = COMPONENT_SECRET, port = stack.port): Promise<Peer> {
  const peer = makeComponent(stack, name, password, port);
  await peer.entity.start();
  return peer;
}

/** A real @xmpp/client user logged in to Prosody directly. */
export async function connectUser(stack: Stack, user: keyof typeof USERS, resource = 'test'): Promise<Peer> {
  const entity = xmppClient({
    service: `xmpp://127.0.0.1:${stack.prosody.c2sPort}`,
    domain: DOMAIN,
    username: user,
    password: USERS[user],
    resource,
  });
  const peer: Peer = { entity, stanzas: [], errors: [] };
  entity.on('stanza', (el) => void peer.stanzas.push(el));
  entity.on('error', (e) => void peer.errors.push(e.condition ?? e.message));
  stack.entities.push(entity);
  await entity.start();
  return peer;
}

/** Wait until `stanzas` holds one matching `pred`. */
/**
 * Makes `peer` serve delegated IQs as a real component does (an iqCallee for
 * `<delegation/>`): it answers with `payload` inside the wrapped result, with
 * the exact from/to swap unless `omitFrom`; `answer(inner)` false leaves an IQ
 * unanswered.
 */
export function serveDelegation(
  peer: Peer,
  opts: { version?: 1 | 2; payload: () => Element; answer?: (inner: Element) => boolean; omitFrom?: boolean; innerId?: (inner: Element) => string },
): void {
  const ns = `urn:xmpp:delegation:${opts.version ?? 2}`;
  peer.entity.iqCallee.set(ns, 'delegation', ({ element }) => {
    const inner = element.getChild('forwarded', 'urn:xmpp:forward:0')?.getChild('iq');
    if (!inner || (opts.answer && !opts.answer(inner))) return new Promise(() => {});
    const attrs: Record<string, string> = { xmlns: 'jabber:client', type: 'result', id: opts.innerId ? opts.innerId(inner) : String(inner.attrs.id), to: String(inner.attrs.from) };
    if (inner.attrs.to !== undefined && !opts.omitFrom) attrs.from = String(inner.attrs.to);
    return xml('delegation', { xmlns: ns }, xml('forwarded', { xmlns: 'urn:xmpp:forward:0' }, xml('iq', attrs, opts.payload())));
  });
}
