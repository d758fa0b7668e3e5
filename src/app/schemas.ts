/**
 * JSON schemas of the polls API. Strings refuse NUL (PostgreSQL rejects 0x00 in text)
 * and lone surrogates (they cannot be encoded as UTF-8); ids are decimal strings of at
 * most 15 digits in the URL (so always below 2^53 and within bigint), integers in bodies.
 */

// Linear-time patterns only: a body may be up to BODY_LIMIT long.
export const TEXT_PATTERN = '^[^\\u0000\\uD800-\\uDFFF]*$';
export const ID_PATTERN = '^[1-9][0-9]{0,14}$';
export const MAX_ID = 999_999_999_999_999;

const text = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength, pattern: TEXT_PATTERN }) as const;

export const idParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', pattern: ID_PATTERN } },
} as const;

export const createPollBody = {
  type: 'object',
  required: ['question', 'choices'],
  additionalProperties: false,
  properties: {
    question: text(200),
    choices: { type: 'array', minItems: 2, maxItems: 10, items: text(100) },
  },
} as const;

export const voteBody = {
  type: 'object',
  required: ['choiceId', 'voter'],
  additionalProperties: false,
  properties: {
    choiceId: { type: 'integer', minimum: 1, maximum: MAX_ID },
    voter: text(100),
  },
} as const;

// Response schemas: fast serialisation, and nothing leaves that is not listed here.
const choice = {
  type: 'object',
  required: ['id', 'text', 'votes'],
  properties: { id: { type: 'integer' }, text: { type: 'string' }, votes: { type: 'integer' } },
} as const;

export const poll = {
  type: 'object',
  required: ['id', 'question', 'createdAt', 'choices'],
  properties: {
    id: { type: 'integer' },
    question: { type: 'string' },
    createdAt: { type: 'string' },
    choices: { type: 'array', items: choice },
  },
} as const;

export const pollList = { type: 'array', items: poll } as const;

export const voteResult = {
  type: 'object',
  required: ['choiceId', 'votes'],
  properties: { choiceId: { type: 'integer' }, votes: { type: 'integer' } },
} as const;

export const tenantInfo = {
  type: 'object',
  required: ['tenant'],
  properties: { tenant: { type: 'string' } },
} as const;
