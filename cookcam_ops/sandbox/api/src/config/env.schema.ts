import Joi from 'joi';

const SENTRY_DSN = /^https:\/\/[^@\s/]+@[^/\s]+\/\d+$/;

// Every variable the API needs at start. Unknown keys are allowed (PATH, PM2's own, ...).
export const envSchema = Joi.object({
  NODE_ENV: Joi.string().valid('development', 'test', 'production').required(),
  PORT: Joi.number().integer().min(1).max(65535).default(3000),
  SUPABASE_URL: Joi.string().uri({ scheme: ['http', 'https'] }).required(),
  SUPABASE_ANON_KEY: Joi.string().required(),
  SUPABASE_SERVICE_ROLE_KEY: Joi.string().required(),
  OPENAI_API_KEY: Joi.string().required(),
  JWT_SECRET: Joi.string().min(32).required(),
  JWT_REFRESH_SECRET: Joi.string().min(32).required(),
  STRIPE_SECRET_KEY: Joi.string()
    .pattern(/^sk_(test|live)_/, 'a Stripe secret key (sk_test_... or sk_live_...)')
    .required(),
  STRIPE_WEBHOOK_SECRET: Joi.string()
    .pattern(/^whsec_/, 'a Stripe webhook secret (whsec_...)')
    .required(),
  SENTRY_DSN: Joi.string().pattern(SENTRY_DSN, 'a Sentry DSN (https://KEY@HOST/PROJECT_ID)').required(),
  // @cookcam-marker schema-required-keys
  SENTRY_ENVIRONMENT: Joi.string().optional(),
  SENTRY_TRACES_SAMPLE_RATE: Joi.number().min(0).max(1).optional(),
  LOG_LEVEL: Joi.string().optional(),
}).unknown(true);

export interface Env {
  NODE_ENV: 'development' | 'test' | 'production';
  PORT: number;
  SUPABASE_URL: string;
  SUPABASE_ANON_KEY: string;
  SUPABASE_SERVICE_ROLE_KEY: string;
  OPENAI_API_KEY: string;
  JWT_SECRET: string;
  JWT_REFRESH_SECRET: string;
  STRIPE_SECRET_KEY: string;
  STRIPE_WEBHOOK_SECRET: string;
  SENTRY_DSN: string;
  SENTRY_ENVIRONMENT?: string;
  SENTRY_TRACES_SAMPLE_RATE?: number;
  LOG_LEVEL?: string;
}
