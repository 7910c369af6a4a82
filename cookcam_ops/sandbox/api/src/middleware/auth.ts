import type { NextFunction, Request, Response } from 'express';
import type { SupabaseClient } from '@supabase/supabase-js';

import { verifyAccessToken } from '../services/supabase';
import { AppError } from './errorHandler';

/** Require `Authorization: Bearer <Supabase access token>`; sets res.locals.userId. */
export function requireAuth(supabase: SupabaseClient) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) {
      throw new AppError(401, 'UNAUTHORIZED', 'Missing bearer token');
    }
    const check = await verifyAccessToken(supabase, match[1]);
    if (check.userId === undefined) {
      console.log(`HTTP auth failed: invalid token (${check.reason ?? 'unknown'})`);
      throw new AppError(401, 'UNAUTHORIZED', 'Invalid or expired token');
    }
    res.locals.userId = check.userId;
    next();
  };
}
