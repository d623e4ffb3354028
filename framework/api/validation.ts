/**
 * Request validation at the edge: typebox schemas (which also give the TypeScript types) compiled
 * with ajv. A body that does not match is a 400 naming the offending field; handlers after
 * `validateBody(schema)` can trust `req.body` to be `Static<typeof schema>`.
 */
import type { RequestHandler } from 'express';
import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import type { Static, TSchema } from '@sinclair/typebox';
import { ValidationError } from '../errors/validation-error';

const ajv = new Ajv({ allErrors: false, strict: false, coerceTypes: false, useDefaults: false });
const compiled = new WeakMap<TSchema, ValidateFunction>();
/** For bodies whose 400 names every problem at once (`checkAll`). */
const ajvAll = new Ajv({ allErrors: true, strict: false, coerceTypes: false, useDefaults: false });
const compiledAll = new WeakMap<TSchema, ValidateFunction>();

function compile(schema: TSchema): ValidateFunction {
  let fn = compiled.get(schema);
  if (!fn) {
    fn = ajv.compile(schema);
    compiled.set(schema, fn);
  }
  return fn;
}

/** `labels.color`, `schedulers[2]`, or the missing/extra property itself. */
export function fieldOf(error: ErrorObject): string {
  let field = error.instancePath
    .split('/')
    .filter(Boolean)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), '');
  const params = error.params as { missingProperty?: string; additionalProperty?: string; propertyName?: string };
  const extra = params.missingProperty ?? params.additionalProperty;
  if (extra !== undefined) field = field ? `${field}.${extra}` : extra;
  return field || '(body)';
}

function messageOf(error: ErrorObject, field: string): string {
  switch (error.keyword) {
    case 'required':
      return `${field} is required`;
    case 'additionalProperties':
      return `${field} is not a known field`;
    case 'type':
      return `${field} must be ${(error.params as { type: string }).type === 'integer' ? 'an integer' : `of type ${(error.params as { type: string }).type}`}`;
    default:
      return `${field} ${error.message ?? 'is invalid'}`;
  }
}

/** Validates `value` against `schema`; throws a ValidationError naming the first bad field. */
export function check<S extends TSchema>(schema: S, value: unknown, what = 'body'): Static<S> {
  const fn = compile(schema);
  if (fn(value)) return value as Static<S>;
  const error = fn.errors![0];
  const field = fieldOf(error);
  if (field === '(body)' && error.keyword === 'type') {
    throw ValidationError.field(what, `The request ${what} must be a JSON ${(error.params as { type: string }).type}`);
  }
  throw ValidationError.field(field, messageOf(error, field), { keyword: error.keyword });
}

/** Middleware: 400 unless the parsed JSON body matches `schema`. A missing body is validated as `{}`. */
export function validateBody<S extends TSchema>(schema: S): RequestHandler {
  compile(schema); // compile at route registration, not on the first request
  return (req, _res, next) => {
    req.body = check(schema, req.body === undefined ? {} : req.body);
    next();
  };
}

/**
 * Like `check`, but the ValidationError names every problem at once: its message joins them, and
 * `details.problems` lists each `{ field, message }` (`details.field` is the first one's field).
 */
export function checkAll<S extends TSchema>(schema: S, value: unknown, what = 'body'): Static<S> {
  let fn = compiledAll.get(schema);
  if (!fn) {
    fn = ajvAll.compile(schema);
    compiledAll.set(schema, fn);
  }
  if (fn(value)) return value as Static<S>;
  const problems = fn.errors!.map((error) => {
    const field = fieldOf(error);
    if (field === '(body)' && error.keyword === 'type') {
      return { field: what, message: `The request ${what} must be a JSON ${(error.params as { type: string }).type}` };
    }
    return { field, message: messageOf(error, field) };
  });
  throw new ValidationError(problems.map((p) => p.message).join('; '), { field: problems[0].field, problems });
}

/** Middleware: like `validateBody`, naming every problem of the body at once (`checkAll`). */
export function validateBodyAll<S extends TSchema>(schema: S): RequestHandler {
  return (req, _res, next) => {
    req.body = checkAll(schema, req.body === undefined ? {} : req.body);
    next();
  };
}

/** Middleware: 400 unless the query string matches `schema` (values are strings). */
export function validateQuery<S extends TSchema>(schema: S): RequestHandler {
  compile(schema);
  return (req, _res, next) => {
    check(schema, req.query, 'query');
    next();
  };
}
