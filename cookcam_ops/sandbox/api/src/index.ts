import 'dotenv/config';

import http from 'node:http';

import { createApp } from './app';
import { validateEnv } from './config/env';
import { HttpDrain } from './middleware/drain';
import { VERSION } from './release';
import { attachRealtime } from './services/realTimeService';
import { createAuthClient } from './services/supabase';
import { gracefulShutdown } from './shutdown';
import { readCommit } from './version';

import type { Env } from './config/env.schema';

function start(env: Env): void {
  const commit = readCommit();
  const supabase = createAuthClient(env);
  const drain = new HttpDrain();
  const server = http.createServer(createApp({ supabase, drain, commit }));
  const io = attachRealtime(server, supabase);
  const shutdown = gracefulShutdown({ server, io, drain });

  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT')); // @cookcam-marker sigint-handler

  server.on('error', (err: Error) => {
    console.error(`❌ HTTP server error: ${err.message}`);
    process.exit(1);
  });

  server.listen(env.PORT, () => {
    console.log(`🚀 CookCam API ${VERSION} (commit ${commit}) listening on port ${env.PORT}`);
    // PM2 (wait_ready: true) counts the worker as online only after this message.
    process.send?.('ready');
    // @cookcam-marker late-crash
  });
}

const env = validateEnv();
if (env !== undefined) {
  start(env);
}
