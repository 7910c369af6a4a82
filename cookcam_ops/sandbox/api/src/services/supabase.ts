import { createClient, type SupabaseClient } from '@supabase/supabase-js';

import type { Env } from '../config/env.schema';

/** A server-side client used only to validate access tokens with auth.getUser(). */
export function createAuthClient(env: Env): SupabaseClient {
  return createClient(env.SUPABASE_URL, env.SUPABASE_ANON_KEY, {
    auth: { persistSession: false, autoRefreshToken: false },
  });
}

export interface TokenCheck {
  userId?: string;
  reason?: string;
}

/** Check an access token with Supabase; the reason is safe to log (it never holds the token). */
export async function verifyAccessToken(supabase: SupabaseClient, token: string): Promise<TokenCheck> {
  // @cookcam-marker auth-check
  try {
    const { data, error } = await supabase.auth.getUser(token);
    if (error) {
      return { reason: `${error.name} status=${String(error.status ?? 'none')}` };
    }
    if (!data.user) {
      return { reason: 'no user' };
    }
    return { userId: data.user.id };
  } catch (err) {
    return { reason: err instanceof Error ? err.name : 'unknown error' };
  }
}
