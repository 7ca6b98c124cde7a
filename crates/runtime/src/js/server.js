// convex/server, built into berth: function builders, ctx.db, queries and function references.
// It reaches the host only through `Convex.syscall` and `Convex.asyncSyscall` (PROTOCOL §5).

import { ConvexError, asObjectValidator, convexToJson, jsonToConvex, v } from "convex/values";

function syscall(op, args) {
  return JSON.parse(Convex.syscall(op, JSON.stringify(args)));
}

async function asyncSyscall(op, args) {
  return JSON.parse(await Convex.asyncSyscall(op, JSON.stringify(args)));
}

const FUNCTION_NAME = Symbol.for("functionName");

/** The name of a function reference (`api.messages.list` -> `messages:list`), or the string itself. */
export function getFunctionName(ref) {
  if (typeof ref === "string") return ref;
  const name = ref && ref[FUNCTION_NAME];
  if (typeof name !== "string") throw new Error("expected a function reference like api.messages.list");
  return name;
}

export function makeFunctionReference(name) {
  return { [FUNCTION_NAME]: name };
}

function createApi(path) {
  return new Proxy({}, {
    get(_, prop) {
      if (prop === FUNCTION_NAME) {
        if (path.length < 2) throw new Error(`api.${path.join(".")} is not a function reference`);
        return `${path.slice(0, -1).join("/")}:${path[path.length - 1]}`;
      }
      if (typeof prop === "string") return createApi([...path, prop]);
      return undefined;
    },
  });
}

export const anyApi = createApi([]);

// ---- filter and index expressions -------------------------------------------------------

class Expr {
  constructor(json) { this.json = json; }
  serialize() { return this.json; }
}

function lit(x) {
  return x instanceof Expr ? x.json : { $literal: convexToJson(x) };
}

const filterBuilder = {
  field: (path) => new Expr({ $field: path }),
  eq: (l, r) => new Expr({ $eq: [lit(l), lit(r)] }),
  neq: (l, r) => new Expr({ $neq: [lit(l), lit(r)] }),
  lt: (l, r) => new Expr({ $lt: [lit(l), lit(r)] }),
  lte: (l, r) => new Expr({ $lte: [lit(l), lit(r)] }),
  gt: (l, r) => new Expr({ $gt: [lit(l), lit(r)] }),
  gte: (l, r) => new Expr({ $gte: [lit(l), lit(r)] }),
  add: (l, r) => new Expr({ $add: [lit(l), lit(r)] }),
  sub: (l, r) => new Expr({ $sub: [lit(l), lit(r)] }),
  mul: (l, r) => new Expr({ $mul: [lit(l), lit(r)] }),
  div: (l, r) => new Expr({ $div: [lit(l), lit(r)] }),
  mod: (l, r) => new Expr({ $mod: [lit(l), lit(r)] }),
  neg: (x) => new Expr({ $neg: lit(x) }),
  and: (...xs) => new Expr({ $and: xs.map(lit) }),
  or: (...xs) => new Expr({ $or: xs.map(lit) }),
  not: (x) => new Expr({ $not: lit(x) }),
};

class IndexRange {
  constructor() { this.range = []; }
  eq(fieldPath, value) { this.range.push({ type: "Eq", fieldPath, value: convexToJson(value) }); return this; }
  gt(fieldPath, value) { this.range.push({ type: "Gt", fieldPath, value: convexToJson(value) }); return this; }
  gte(fieldPath, value) { this.range.push({ type: "Gte", fieldPath, value: convexToJson(value) }); return this; }
  lt(fieldPath, value) { this.range.push({ type: "Lt", fieldPath, value: convexToJson(value) }); return this; }
  lte(fieldPath, value) { this.range.push({ type: "Lte", fieldPath, value: convexToJson(value) }); return this; }
}

class Query {
  constructor(tableName) {
    this.tableName = tableName;
    this.q = { source: { type: "FullTableScan", tableName, order: "asc" }, operators: [] };
    this.used = false;
  }
  withIndex(indexName, rangeFn) {
    const range = new IndexRange();
    if (rangeFn) rangeFn(range);
    this.q.source = { type: "IndexRange", indexName: `${this.tableName}.${indexName}`, range: range.range, order: this.q.source.order };
    return this;
  }
  fullTableScan() { return this; }
  order(order) {
    if (order !== "asc" && order !== "desc") throw new Error(`order must be "asc" or "desc", not ${JSON.stringify(order)}`);
    this.q.source.order = order;
    return this;
  }
  filter(predicate) {
    const e = predicate(filterBuilder);
    this.q.operators.push({ filter: lit(e) });
    return this;
  }
  limit(n) { this.q.operators.push({ limit: n }); return this; }
  async *[Symbol.asyncIterator]() {
    if (this.used) throw new Error("a query can be consumed only once; build a new one with ctx.db.query(...)");
    this.used = true;
    const { queryId } = syscall("1.0/queryStream", { query: this.q, version: "berth" });
    try {
      for (;;) {
        const { value, done } = await asyncSyscall("1.0/queryStreamNext", { queryId });
        if (done) return;
        yield jsonToConvex(value);
      }
    } finally {
      syscall("1.0/queryCleanup", { queryId });
    }
  }
  // At most `n` documents (every one with Infinity), a page per call into the host, without
  // a promise per document; the host reads no more from storage than asked.
  read(n) {
    if (this.used) throw new Error("a query can be consumed only once; build a new one with ctx.db.query(...)");
    this.used = true;
    const { queryId } = syscall("1.0/queryStream", { query: this.q, version: "berth" });
    try {
      const out = [];
      while (out.length < n) {
        const r = syscall("berth/queryStreamBatch", { queryId, max: Math.min(n - out.length, 256), exact: n !== Infinity });
        for (const v of r.values) out.push(jsonToConvex(v));
        if (r.done) break;
      }
      return out;
    } finally {
      syscall("1.0/queryCleanup", { queryId });
    }
  }
  async collect() {
    return this.read(Infinity);
  }
  async take(n) {
    if (!Number.isInteger(n) || n < 0) throw new Error(`take(n) needs a whole number, not ${n}`);
    if (n === 0) return [];
    return this.read(n);
  }
  async first() {
    const [d] = await this.take(1);
    return d ?? null;
  }
  async unique() {
    const found = await this.take(2);
    if (found.length > 1) throw new Error(`unique() query returned more than one document from table '${this.tableName}'`);
    return found[0] ?? null;
  }
  async paginate(opts) {
    if (!opts || typeof opts.numItems !== "number") throw new Error("paginate needs { numItems, cursor }");
    const r = await asyncSyscall("1.0/queryPage", { query: this.q, cursor: opts.cursor ?? null, endCursor: opts.endCursor ?? null, pageSize: opts.numItems });
    return { page: r.page.map(jsonToConvex), isDone: r.isDone, continueCursor: r.continueCursor };
  }
}

function withUndefined(value) {
  const out = {};
  for (const k of Object.keys(value)) {
    out[k] = value[k] === undefined ? { $undefined: null } : convexToJson(value[k]);
  }
  return out;
}

const reader = {
  async get(id) {
    if (typeof id !== "string") throw new Error(`db.get needs a document id (a string), not ${typeof id}`);
    return jsonToConvex(await asyncSyscall("1.0/get", { id }));
  },
  query(tableName) {
    if (typeof tableName !== "string") throw new Error("db.query needs a table name");
    return new Query(tableName);
  },
  normalizeId(tableName, id) {
    return syscall("1.0/db/normalizeId", { table: tableName, idString: id }).id;
  },
};

const writer = {
  ...reader,
  async insert(tableName, value) {
    const r = await asyncSyscall("1.0/insert", { table: tableName, value: convexToJson(value) });
    return r._id;
  },
  async patch(id, value) {
    await asyncSyscall("1.0/shallowMerge", { id, value: withUndefined(value) });
  },
  async replace(id, value) {
    await asyncSyscall("1.0/replace", { id, value: convexToJson(value) });
  },
  async delete(id) {
    await asyncSyscall("1.0/remove", { id });
  },
};

const auth = { getUserIdentity: async () => null };

function runner(kind) {
  return async (ref, args) =>
    jsonToConvex(await asyncSyscall(`1.0/actions/${kind}`, { name: getFunctionName(ref), args: convexToJson(args ?? {}) }));
}

function contextFor(kind) {
  if (kind === "query") return { db: reader, auth };
  if (kind === "mutation") return { db: writer, auth, scheduler: unsupported("ctx.scheduler") };
  return { auth, runQuery: runner("query"), runMutation: runner("mutation"), runAction: runner("action") };
}

function unsupported(what) {
  return new Proxy({}, { get() { throw new Error(`${what} is not supported by berth yet`); } });
}

async function invoke(kind, handler, argsStr) {
  const argsArray = jsonToConvex(JSON.parse(argsStr));
  const args = Array.isArray(argsArray) ? (argsArray[0] ?? {}) : argsArray;
  const result = await handler(contextFor(kind), args);
  return JSON.stringify(convexToJson(result === undefined ? null : result));
}

function define(kind, visibility, definition) {
  const def = typeof definition === "function" ? { handler: definition } : definition;
  if (!def || typeof def.handler !== "function") {
    throw new Error(`${kind}() needs a handler function or { args, handler }`);
  }
  const fn = (ctx, args) => def.handler(ctx, args);
  const Kind = kind[0].toUpperCase() + kind.slice(1);
  fn[`is${Kind}`] = true;
  fn[visibility === "public" ? "isPublic" : "isInternal"] = true;
  if (kind === "action") fn.invokeAction = (requestId, argsStr) => invoke(kind, def.handler, argsStr);
  else fn[`invoke${Kind}`] = (argsStr) => invoke(kind, def.handler, argsStr);
  fn.exportArgs = () => JSON.stringify(def.args === undefined ? { type: "any" } : asObjectValidator(def.args).json);
  fn.exportReturns = () => JSON.stringify(def.returns === undefined ? null : def.returns.json);
  return fn;
}

export const queryGeneric = (d) => define("query", "public", d);
export const mutationGeneric = (d) => define("mutation", "public", d);
export const actionGeneric = (d) => define("action", "public", d);
export const internalQueryGeneric = (d) => define("query", "internal", d);
export const internalMutationGeneric = (d) => define("mutation", "internal", d);
export const internalActionGeneric = (d) => define("action", "internal", d);
export const query = queryGeneric;
export const mutation = mutationGeneric;
export const action = actionGeneric;
export const internalQuery = internalQueryGeneric;
export const internalMutation = internalMutationGeneric;
export const internalAction = internalActionGeneric;

export function httpActionGeneric(handler) {
  const fn = (ctx, req) => handler(ctx, req);
  fn.isHttp = true;
  return fn;
}

export const paginationOptsValidator = v.object({
  numItems: v.number(),
  cursor: v.union(v.string(), v.null()),
  endCursor: v.optional(v.union(v.string(), v.null())),
  id: v.optional(v.number()),
  maximumRowsRead: v.optional(v.number()),
  maximumBytesRead: v.optional(v.number()),
});

class TableDefinition {
  constructor(fields) { this.fields = fields; this.indexes = []; }
  index(name, fields) { this.indexes.push({ name, fields }); return this; }
  searchIndex() { return this; }
  vectorIndex() { return this; }
}

export function defineTable(fields) { return new TableDefinition(fields); }
export function defineSchema(tables, options) {
  return {
    tables, options, isBerthSchema: true,
    // The same JSON Convex's library exports, so berth reads both schemas one way.
    export() {
      return JSON.stringify({
        tables: Object.entries(tables).map(([tableName, t]) => ({
          tableName,
          indexes: (t.indexes || []).map((i) => ({ indexDescriptor: i.name, fields: i.fields })),
          documentType: asObjectValidator(t.fields).json,
        })),
        schemaValidation: options?.schemaValidation ?? true,
      });
    },
  };
}
export function httpRouter() {
  return { isRouter: true, route() { throw new Error("HTTP actions are not supported by berth yet"); } };
}
export { ConvexError, v };
