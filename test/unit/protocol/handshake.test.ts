import { describe, expect, it } from 'vitest';
import { handshakeDigest, serverStreamHeader, streamError } from '../../../src/protocol/stanzas.js';
import { digestMatches } from '../../../src/proxy/listener.js';

describe('XEP-0114 handshake', () => {
  it('is the lowercase hex SHA-1 of stream id + secret', () => {
    expect(handshakeDigest('3BF96D32', 's3cr3t')).toBe('ba33290100f616a33656a931798d6c9011cfa840');
  });

  it('matches case-insensitively, ignoring surrounding white space', () => {
    const d = handshakeDigest('id', 'secret');
    expect(digestMatches(d, d)).toBe(true);
    expect(digestMatches(d.toUpperCase(), d)).toBe(true);
    expect(digestMatches(` ${d}\n`, d)).toBe(true);
  });

  it('refuses another digest, a prefix, or nothing', () => {
    const d = handshakeDigest('id', 'secret');
    expect(digestMatches(handshakeDigest('id', 'other'), d)).toBe(false);
    expect(digestMatches(d.slice(0, 39), d)).toBe(false);
    expect(digestMatches('', d)).toBe(false);
  });

  it('escapes what it writes into headers and errors', () => {
    expect(serverStreamHeader('a"b', 'i')).toContain('from="a&quot;b"');
    expect(streamError('not-authorized', '<x>')).toBe(
      '<stream:error><not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-streams"/><text xmlns="urn:ietf:params:xml:ns:xmpp-streams">&lt;x&gt;</text></stream:error>',
    );
  });
});
