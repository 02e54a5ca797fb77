import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observe/log.js';
import { connectUpstream } from '../../src/proxy/upstream.js';
import { FakeServer } from '../support/fake-server.js';

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

describe('the stream to the server', () => {
  it('holds up to 64 KiB for the server before the component is paused (pauses a quarter as often as at node’s 16 KiB)', async () => {
    server = await FakeServer.start();
    const link = await connectUpstream({
      host: '127.0.0.1',
      port: server.port,
      component: 'a.example.org',
      secret: 's3cr3t',
      limits: { maxStanzaBytes: 65536, maxDepth: 32 },
      log: silentLogger,
      retryDelaysMs: [],
    });
    expect(link.stream.socket.writableHighWaterMark).toBe(64 * 1024);
    link.stream.destroy();
  });
});
