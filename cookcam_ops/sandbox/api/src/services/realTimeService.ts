import type { Server as HttpServer } from 'node:http';
import { Server } from 'socket.io';
import type { SupabaseClient } from '@supabase/supabase-js';

import { verifyAccessToken } from './supabase';

/** Socket.IO on the HTTP server; every connection must carry a valid Supabase access token. */
export function attachRealtime(httpServer: HttpServer, supabase: SupabaseClient): Server {
  const io = new Server(httpServer, { serveClient: false });

  io.use(async (socket, next) => {
    const token: unknown = socket.handshake.auth?.token;
    const who = `socket ${socket.id} from ${socket.handshake.address}`;
    if (typeof token !== 'string' || token === '') {
      console.log(`WebSocket auth failed: missing token (${who})`);
      next(new Error('Authentication failed: missing token'));
      return;
    }
    const check = await verifyAccessToken(supabase, token);
    if (check.userId === undefined) {
      console.log(`WebSocket auth failed: invalid token (${who}: ${check.reason ?? 'unknown'})`);
      next(new Error('Authentication failed: invalid token'));
      return;
    }
    socket.data.userId = check.userId;
    next();
  });

  io.on('connection', (socket) => {
    socket.emit('connected', { userId: socket.data.userId as string, socketId: socket.id });
  });

  return io;
}
