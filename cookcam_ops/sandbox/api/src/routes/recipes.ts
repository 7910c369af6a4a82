import { randomUUID } from 'node:crypto';
import { Router, type Request, type Response } from 'express';

/** An error shaped like the ones Supabase/PostgREST hand back from Postgres. */
function databaseError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

interface Recipe {
  id: string;
  title: string;
  userId: string;
  createdAt: string;
}

/** Recipes kept in memory; titles are unique like a UNIQUE constraint would make them. */
export function recipesRouter(): Router {
  const byTitle = new Map<string, Recipe>();
  const router = Router();

  router.post('/', (req: Request, res: Response) => {
    const body: unknown = req.body;
    const title = typeof body === 'object' && body !== null ? (body as { title?: unknown }).title : undefined;
    if (typeof title !== 'string' || title.trim() === '') {
      throw databaseError('23502', 'null value in column "title" violates not-null constraint');
    }
    const key = title.trim();
    if (byTitle.has(key)) {
      throw databaseError('23505', 'duplicate key value violates unique constraint "recipes_title_key"');
    }
    const recipe: Recipe = {
      id: randomUUID(),
      title: key,
      userId: String(res.locals.userId),
      createdAt: new Date().toISOString(),
    };
    byTitle.set(key, recipe);
    res.status(201).json(recipe);
  });

  return router;
}
