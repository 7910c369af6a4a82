import type { Request, Response } from 'express';

const MAX_MS = 5000;

/** GET /api/v1/slow?ms=N: answers after N ms (at most 5000), to test draining on shutdown. */
export async function slowHandler(req: Request, res: Response): Promise<void> {
  const asked = Number(req.query.ms ?? 1000);
  const ms = Number.isFinite(asked) ? Math.min(Math.max(Math.floor(asked), 0), MAX_MS) : 1000;
  console.log(`slow request: answering in ${ms} ms`);
  await new Promise((resolve) => setTimeout(resolve, ms));
  res.json({ sleptMs: ms });
}
