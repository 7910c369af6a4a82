import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

/** Give every request a fresh uuid, sent back as X-Request-Id and used in error envelopes. */
export function requestId(_req: Request, res: Response, next: NextFunction): void {
  const id = randomUUID();
  res.locals.requestId = id;
  res.setHeader('X-Request-Id', id);
  next();
}
