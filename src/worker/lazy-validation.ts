/**
 * Route schemas compiled when a request first needs them, not at boot. Fastify's default
 * validator compiler (@fastify/ajv-compiler) builds an Ajv instance, compiles the JSON
 * Schema meta-schema and every route's body/params/querystring/headers schema during
 * `ready()`: about a third of a woken worker's start (`npm run bench:wake`), for routes
 * most wakes never call. Here each route's validator is the same Ajv validator, built on
 * its first call (@fastify/ajv-compiler loaded then), with the same server options.
 * Response serializers likewise (fast-json-stringify, which loads Ajv too): each is built
 * on its route's first response with that status (a wake's first request builds one).
 *
 * Because the compiler counts as custom, Fastify hands header schemas over as written: the
 * property names and `required` entries are lower-cased here, as Fastify does itself.
 * `check-app` (the release check before up, create and deploy) builds the worker with
 * `eager: true`, so a schema Ajv cannot compile is still refused at the command.
 */
import { createRequire } from 'node:module';

const nodeRequire = createRequire(import.meta.url);

type Validate = ((data: unknown) => unknown) & { errors?: unknown };
interface RouteSchema {
  schema: unknown;
  httpPart?: string;
  [k: string]: unknown;
}
type Compile = (route: RouteSchema) => Validate;
type BuildValidator = (externalSchemas: unknown, options: unknown) => Compile;

function lowerCaseHeaders(schema: unknown): unknown {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return schema;
  const s = { ...(schema as Record<string, unknown>) };
  if (s.properties && typeof s.properties === 'object') {
    s.properties = Object.fromEntries(Object.entries(s.properties as Record<string, unknown>).map(([k, v]) => [k.toLowerCase(), v]));
  }
  if (Array.isArray(s.required)) s.required = s.required.map((h) => (typeof h === 'string' ? h.toLowerCase() : h));
  return s;
}

/** Fastify's `schemaController.compilersFactory.buildValidator`, compiling on first use. */
export function lazyValidators(): BuildValidator {
  let selector: BuildValidator | undefined;
  return (externalSchemas, options) => {
    let compile: Compile | undefined;
    const compiler = (): Compile => {
      selector ??= (nodeRequire('@fastify/ajv-compiler') as () => BuildValidator)();
      return (compile ??= selector(externalSchemas, options));
    };
    return (route) => {
      const r = route.httpPart === 'headers' ? { ...route, schema: lowerCaseHeaders(route.schema) } : route;
      let fn: Validate | undefined;
      const validate: Validate = (data) => {
        fn ??= compiler()(r);
        const ok = fn(data);
        validate.errors = fn.errors;
        return ok;
      };
      return validate;
    };
  };
}

type Serialize = (data: unknown) => string;
type BuildSerializer = (externalSchemas: unknown, options: unknown) => (route: Record<string, unknown>) => Serialize;

/**
 * Fastify's own serializer compiler. Inside the worker bundle `require` is esbuild's, which
 * evaluates the bundled package on this first call; unbundled (tests), Node's.
 */
function serializerSelector(): BuildSerializer {
  const compiler = typeof require === 'function' ? require('@fastify/fast-json-stringify-compiler') : nodeRequire('@fastify/fast-json-stringify-compiler');
  return (compiler as () => BuildSerializer)();
}

/** Fastify's `schemaController.compilersFactory.buildSerializer`, compiling on first use. */
export function lazySerializers(): BuildSerializer {
  let selector: BuildSerializer | undefined;
  return (externalSchemas, options) => {
    let compile: ReturnType<BuildSerializer> | undefined;
    return (route) => {
      let fn: Serialize | undefined;
      return (data) => {
        if (!fn) {
          selector ??= serializerSelector();
          compile ??= selector(externalSchemas, options);
          fn = compile(route);
        }
        return fn(data);
      };
    };
  };
}
