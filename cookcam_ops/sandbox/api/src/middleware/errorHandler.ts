import type { NextFunction, Request, Response } from 'express';

/** An error the API raises on purpose, with the status and code clients see. */
export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

interface Mapped {
  statusCode: number;
  error: string;
  message: string;
}

// Postgres (and PostgREST) error codes as Supabase returns them.
const DATABASE_ERRORS: Record<string, Mapped> = {
  '23505': { statusCode: 409, error: 'DUPLICATE_ENTRY', message: 'Resource already exists' },
  '23503': {
    statusCode: 400,
    error: 'FOREIGN_KEY_VIOLATION',
    message: 'Referenced resource does not exist',
  },
  '23502': { statusCode: 400, error: 'MISSING_REQUIRED_FIELD', message: 'Required field is missing' },
  PGRST116: { statusCode: 404, error: 'NOT_FOUND', message: 'Resource not found' },
};

const INTERNAL: Mapped = { statusCode: 500, error: 'INTERNAL_ERROR', message: 'Internal server error' };

function classify(err: unknown): Mapped {
  if (err instanceof AppError) {
    return { statusCode: err.statusCode, error: err.code, message: err.message };
  }
  if (typeof err === 'object' && err !== null) {
    const { code, status, type } = err as { code?: unknown; status?: unknown; type?: unknown };
    if (typeof code === 'string' && code in DATABASE_ERRORS) {
      return DATABASE_ERRORS[code];
    }
    // body-parser's errors carry a 4xx status and a type such as entity.parse.failed
    if (typeof status === 'number' && status >= 400 && status < 500) {
      const message = type === 'entity.parse.failed' ? 'Request body is not valid JSON' : 'Bad request';
      return { statusCode: status, error: 'BAD_REQUEST', message };
    }
  }
  return INTERNAL;
}

/** The one JSON error envelope every error response uses. */
export function sendError(res: Response, mapped: Mapped): void {
  res.status(mapped.statusCode).json({
    error: mapped.error,
    message: mapped.message,
    statusCode: mapped.statusCode,
    requestId: res.locals.requestId as string | undefined,
    timestamp: new Date().toISOString(),
  });
}

export function notFound(_req: Request, res: Response): void {
  sendError(res, { statusCode: 404, error: 'NOT_FOUND', message: 'Route not found' });
}

export function errorHandler(err: unknown, req: Request, res: Response, next: NextFunction): void {
  if (res.headersSent) {
    next(err);
    return;
  }
  const mapped = classify(err);
  if (mapped.statusCode >= 500) {
    const what = err instanceof Error ? err.message : String(err);
    console.error(`[${String(res.locals.requestId)}] ${req.method} ${req.path} failed: ${what}`);
  }
  sendError(res, mapped);
}
