import express from 'express';
import type { SupabaseClient } from '@supabase/supabase-js';

import { requireAuth } from './middleware/auth';
import type { HttpDrain } from './middleware/drain';
import { errorHandler, notFound } from './middleware/errorHandler';
import { requestId } from './middleware/requestId';
import { healthHandler } from './routes/health';
import { recipesRouter } from './routes/recipes';
import { slowHandler } from './routes/slow';

export interface AppDeps {
  supabase: SupabaseClient;
  drain: HttpDrain;
  commit: string;
}

/** The Express app: routes, auth and the error envelope. */
export function createApp({ supabase, drain, commit }: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(drain.middleware);
  app.use(requestId);
  app.use(express.json({ limit: '100kb' }));

  app.get('/health', healthHandler(commit));
  app.get('/api/v1/slow', slowHandler);
  app.use('/api/v1/recipes', requireAuth(supabase), recipesRouter());

  app.use(notFound);
  app.use(errorHandler);
  return app;
}
