import type { ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';

/**
 * Tracks in-flight HTTP requests so a graceful shutdown can wait for them, and makes every
 * response served once draining has begun carry `Connection: close`, so keep-alive clients
 * open a new connection (to another worker) instead of reusing one that is about to go.
 */
export class HttpDrain {
  private readonly inFlight = new Set<ServerResponse>();
  private draining = false;
  private waiters: Array<() => void> = [];

  readonly middleware = (_req: Request, res: Response, next: NextFunction): void => {
    this.inFlight.add(res);
    res.on('close', () => {
      this.inFlight.delete(res);
      this.wakeIfIdle();
    });
    if (this.draining) {
      res.setHeader('Connection', 'close');
    }
    next();
  };

  /** Begin draining: responses not yet started will close their connection when sent. */
  start(): void {
    this.draining = true;
    for (const res of this.inFlight) {
      if (!res.headersSent) {
        res.setHeader('Connection', 'close');
      }
    }
  }

  /** Resolve once no request is in flight. */
  idle(): Promise<void> {
    if (this.inFlight.size === 0) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wakeIfIdle(): void {
    if (this.inFlight.size > 0) {
      return;
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) {
      wake();
    }
  }
}
