import type { ValidationErrorItem } from 'joi';

import { envSchema, type Env } from './env.schema';

// Joi's own messages can quote the offending value (e.g. pattern failures), and values here are
// secrets: every problem is re-worded from its type and limits, never from the input.
function describe(item: ValidationErrorItem): string {
  const ctx = item.context ?? {};
  switch (item.type) {
    case 'any.required':
      return 'is required but not set';
    case 'string.empty':
      return 'is set but empty';
    case 'any.only':
      return `must be one of ${(ctx.valids as unknown[] | undefined)?.join(', ') ?? 'the allowed values'}`;
    case 'string.min':
      return `must be at least ${String(ctx.limit)} characters long`;
    case 'string.uri':
    case 'string.uriCustomScheme':
      return 'must be an http:// or https:// URL';
    case 'string.pattern.name':
      return `must be ${String(ctx.name)}`;
    case 'string.pattern.base':
      return 'does not have the required format';
    case 'number.base':
      return 'must be a number';
    case 'number.integer':
      return 'must be an integer';
    case 'number.min':
      return `must be at least ${String(ctx.limit)}`;
    case 'number.max':
      return `must be at most ${String(ctx.limit)}`;
    default:
      return `is invalid (${item.type})`;
  }
}

/** Validate process.env against the schema; print every problem and exit 1 on failure. */
export function validateEnv(source: NodeJS.ProcessEnv = process.env): Env | undefined {
  const { error, value } = envSchema.validate(source, { abortEarly: false, convert: true });
  if (error) {
    console.error('❌ Environment validation failed:');
    for (const item of error.details) {
      console.error(`  - ${item.path.join('.')} ${describe(item)}`);
    }
    console.error('Set the variables above in .env (see README.md) and start again.');
    // PM2 writes a worker's output to its log files through async streams, and process.exit()
    // drops what is not written yet: exit once everything above has been written.
    process.stderr.write('', () => process.exit(1));
    return undefined;
  }
  console.log('✅ Environment validation successful');
  return value as Env;
}
