import type { Request, Response } from 'express';

import { VERSION } from '../release';

const HEALTH_STATUS_CODE: number = 200; // @cookcam-marker health-status

/** GET /health: liveness with the release version and deployed commit. */
export function healthHandler(commit: string) {
  return (_req: Request, res: Response): void => {
    res.status(HEALTH_STATUS_CODE).json({
      status: HEALTH_STATUS_CODE === 200 ? 'ok' : 'unavailable',
      version: VERSION,
      commit,
      uptime_s: Math.floor(process.uptime()),
    });
  };
}
