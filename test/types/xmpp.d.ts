// Minimal typings for the parts of @xmpp/component and @xmpp/client the tests drive.
declare module '@xmpp/component' {
  import type { Element } from '@xmpp/xml';
  export interface XmppEntity {
    status: string;
    start(): Promise<unknown>;
    stop(): Promise<unknown>;
    send(el: Element): Promise<void>;
    on(event: 'stanza', cb: (el: Element) => void): this;
    on(event: 'error', cb: (err: Error & { condition?: string }) => void): this;
    on(event: string, cb: (...args: unknown[]) => void): this;
    once(event: string, cb: (...args: unknown[]) => void): this;
    off(event: string, cb: (...args: never[]) => void): this;
    iqCaller: { request(el: Element, timeout?: number): Promise<Element> };
    iqCallee: {
      get(ns: string, name: string, handler: (ctx: { stanza: Element; element: Element }) => unknown): void;
      set(ns: string, name: string, handler: (ctx: { stanza: Element; element: Element }) => unknown): void;
    };
    reconnect: { stop(): void; delay: number };
  }
  export function component(opts: { service: string; domain: string; password: string }): XmppEntity;
  export function xml(name: string, attrs?: Record<string, string | undefined> | null, ...children: (Element | string)[]): Element;
}

declare module '@xmpp/client' {
  import type { Element } from '@xmpp/xml';
  import type { XmppEntity } from '@xmpp/component';
  export function client(opts: {
    service: string;
    domain: string;
    username: string;
    password: string;
    resource?: string;
  }): XmppEntity;
  export function xml(name: string, attrs?: Record<string, string | undefined> | null, ...children: (Element | string)[]): Element;
}
