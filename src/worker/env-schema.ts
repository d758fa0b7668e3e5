/**
 * The environment checked against a flat JSON schema, as env-schema did with Ajv
 * (coerceTypes, useDefaults, allErrors, removeAdditional) and with Ajv's messages, for
 * the keywords config.ts uses: required, type (string, integer, number, boolean), enum,
 * pattern, minLength, maxLength, minimum, maximum, exclusiveMinimum, default.
 * Why not env-schema: importing it builds an Ajv instance and compiles the JSON Schema
 * meta-schema, the largest single cost of a worker's start (about 40 ms of CPU of a
 * wake, measured with `npm run bench:wake`), for one flat object of strings.
 */
export interface EnvProperty {
  readonly type: 'string' | 'integer' | 'number' | 'boolean';
  readonly enum?: readonly unknown[];
  readonly pattern?: string;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly default?: unknown;
}

export interface EnvSchema {
  readonly required?: readonly string[];
  readonly properties: Readonly<Record<string, EnvProperty>>;
}

/** Ajv's coercion of a string (what an environment holds) to the property's type. */
function coerce(type: EnvProperty['type'], x: unknown): { ok: true; value: unknown } | { ok: false } {
  switch (type) {
    case 'string':
      if (typeof x === 'string') return { ok: true, value: x };
      return typeof x === 'number' || typeof x === 'boolean' ? { ok: true, value: String(x) } : { ok: false };
    case 'number':
    case 'integer': {
      let n: unknown = x;
      if (typeof x === 'boolean') n = Number(x);
      // eslint-disable-next-line eqeqeq -- Ajv's own test: a non-empty string equal to its number
      else if (typeof x === 'string' && x !== '' && (x as unknown as number) == +x) n = +x;
      if (typeof n !== 'number' || !Number.isFinite(n)) return { ok: false };
      return type === 'integer' && n % 1 !== 0 ? { ok: false } : { ok: true, value: n };
    }
    case 'boolean':
      if (typeof x === 'boolean') return { ok: true, value: x };
      if (x === 'false' || x === 0) return { ok: true, value: false };
      if (x === 'true' || x === 1) return { ok: true, value: true };
      return { ok: false };
  }
}

const patterns = new Map<string, RegExp>();

function problems(p: EnvProperty, v: unknown): string[] {
  const out: string[] = [];
  if (typeof v === 'string') {
    const chars = [...v].length;
    if (p.maxLength !== undefined && chars > p.maxLength) out.push(`must NOT have more than ${p.maxLength} characters`);
    if (p.minLength !== undefined && chars < p.minLength) out.push(`must NOT have fewer than ${p.minLength} characters`);
    if (p.pattern !== undefined) {
      let re = patterns.get(p.pattern);
      if (!re) patterns.set(p.pattern, (re = new RegExp(p.pattern, 'u')));
      if (!re.test(v)) out.push(`must match pattern "${p.pattern}"`);
    }
  }
  if (typeof v === 'number') {
    if (p.maximum !== undefined && !(v <= p.maximum)) out.push(`must be <= ${p.maximum}`);
    if (p.minimum !== undefined && !(v >= p.minimum)) out.push(`must be >= ${p.minimum}`);
    if (p.exclusiveMinimum !== undefined && !(v > p.exclusiveMinimum)) out.push(`must be > ${p.exclusiveMinimum}`);
  }
  if (p.enum && !p.enum.includes(v)) out.push('must be equal to one of the allowed values');
  return out;
}

/** The schema's properties from `env`, typed and defaulted; unknown keys left out. */
export function validateEnv(schema: EnvSchema, env: Record<string, unknown>): { value: Record<string, unknown>; errors: string[] } {
  const value: Record<string, unknown> = {};
  const errors: string[] = [];
  for (const key of schema.required ?? []) {
    if (env[key] === undefined) errors.push(`must have required property '${key}'`);
  }
  for (const [key, p] of Object.entries(schema.properties)) {
    let raw = env[key];
    if (raw === undefined) {
      if (p.default === undefined) continue;
      raw = p.default;
    }
    const c = coerce(p.type, raw);
    if (!c.ok) {
      errors.push(`${key} must be ${p.type}`);
      continue;
    }
    value[key] = c.value;
    for (const m of problems(p, c.value)) errors.push(`${key} ${m}`);
  }
  return { value, errors };
}
