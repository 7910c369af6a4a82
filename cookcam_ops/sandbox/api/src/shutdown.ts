import type { Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
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
    // Stop accepting. Node >= 19 also drops idle keep-alive sockets here; the call below makes
    // that explicit. Requests still running finish, and their responses carry Connection: close.
    server.close();
    drain.start();
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
        process.exit(0);
      },
      (err: unknown) => {
        console.log(`❌ Graceful shutdown failed: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
      },
    );
  };
}
