import type { Server as HttpServer } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import type { Server as IoServer } from 'socket.io';

import type { HttpDrain } from './middleware/drain';

export interface ShutdownDeps {
  server: HttpServer;
  io: IoServer;
  drain: HttpDrain;
  /** After this long the process logs and exits 1 (PM2's kill_timeout must be longer). */
  deadlineMs?: number;
  /** How long WebSocket clients get to finish their close handshake before being cut. */
  socketGraceMs?: number;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * Build the SIGTERM/SIGINT handler. The four log lines come in a fixed order even though a
 * WebSocket-upgraded socket keeps server.close()'s callback from firing until it ends: "HTTP
 * server closed" is logged once the listener is closed and the last in-flight HTTP request has
 * finished (tracked by HttpDrain), not on the server's close event; that event is awaited only
 * after Socket.IO has been told to close its clients.
 */
export function gracefulShutdown({
  server,
  io,
  drain,
  deadlineMs = 8000,
  socketGraceMs = 2000,
}: ShutdownDeps): (signal: NodeJS.Signals) => void {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  let started = false;

  async function run(): Promise<void> {
    let serverClosed = false;
    const closed = new Promise<void>((resolve) =>
      server.once('close', () => {
        serverClosed = true;
        resolve();
      }),
    );
    // Stop accepting, but keep open keep-alive sockets: http.Server.close() would drop idle ones
    // at once (Node >= 19), racing clients that send on them (resets). From now on every response
    // carries Connection: close, so each keep-alive client gets one more answer and hangs up.
    NetServer.prototype.close.call(server);
    drain.start();
    // The linger also lets connections the cluster primary already handed to this worker
    // arrive and be sent back to it, instead of dying with this process (a hung client).
    await delay(300);
    const until = Date.now() + 1000;
    while (sockets.size > 0 && Date.now() < until) {
      await delay(20);
    }
    server.closeIdleConnections();
    await drain.idle();
    console.log('HTTP server closed - no longer accepting connections');

    console.log('Closing WebSocket connections...');
    void io.close();
    await Promise.race([closed, delay(socketGraceMs)]);
    if (!serverClosed) {
      console.log(`Cutting ${sockets.size} connection(s) still open after ${socketGraceMs} ms`);
      for (const socket of sockets) {
        socket.destroy();
      }
    }
    await closed;
  }

  return (signal: NodeJS.Signals): void => {
    if (started) {
      console.log(`${signal} received again, graceful shutdown already in progress`);
      return;
    }
    started = true;
    console.log(`${signal} received, starting graceful shutdown...`);
    const deadline = setTimeout(() => {
      console.log(`❌ Graceful shutdown did not finish within ${deadlineMs} ms, forcing exit`);
      process.exit(1);
    }, deadlineMs);
    run().then(
      () => {
        clearTimeout(deadline);
        console.log('✅ Graceful shutdown complete');
        // PM2 writes logs through async streams; exit once the lines above are written.
        process.stdout.write('', () => process.exit(0));
      },
      (err: unknown) => {
        console.log(`❌ Graceful shutdown failed: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
      },
    );
  };
}
