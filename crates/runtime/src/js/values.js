// convex/values, built into berth: values, their JSON encoding, validators and ConvexError.
// Everything here is plain JavaScript; it reaches the host only through `Convex.syscall`.

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_INDEX = (() => { const m = {}; for (let i = 0; i < 64; i++) m[B64[i]] = i; return m; })();

export function base64Encode(bytes) {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
  }
  if (i < bytes.length) {
    const rest = bytes.length - i;
    const n = (bytes[i] << 16) | (rest === 2 ? bytes[i + 1] << 8 : 0);
    out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] + (rest === 2 ? B64[(n >> 6) & 63] : "=") + "=";
  }
  return out;
}

export function base64Decode(text) {
  const clean = text.replace(/=+$/, "");
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let buffer = 0, bits = 0, j = 0;
  for (const c of clean) {
    const v = B64_INDEX[c];
    if (v === undefined) throw new Error(`invalid base64 character '${c}'`);
    buffer = (buffer << 6) | v;
    bits += 6;
    if (bits >= 8) { bits -= 8; out[j++] = (buffer >> bits) & 255; }
  }
  return out.subarray(0, j);
}

function isSpecialFloat(n) {
  return Number.isNaN(n) || !Number.isFinite(n) || Object.is(n, -0);
}

/** Encodes a value as convex_encoded_json. */
export function convexToJson(value) {
  if (value === undefined) throw new Error("undefined is not a valid Convex value; use null");
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") {
    if (!isSpecialFloat(value)) return value;
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, value, true);
    return { $float: base64Encode(new Uint8Array(view.buffer)) };
  }
  if (typeof value === "bigint") {
    if (value < -(2n ** 63n) || value >= 2n ** 63n) throw new Error(`BigInt ${value} does not fit into a 64-bit signed integer`);
    const view = new DataView(new ArrayBuffer(8));
    view.setBigInt64(0, value, true);
    return { $integer: base64Encode(new Uint8Array(view.buffer)) };
  }
  if (value instanceof ArrayBuffer) return { $bytes: base64Encode(new Uint8Array(value)) };
  if (ArrayBuffer.isView(value)) throw new Error("typed arrays are not Convex values; pass their .buffer (an ArrayBuffer)");
  if (Array.isArray(value)) return value.map((v) => convexToJson(v));
  if (typeof value === "object") {
    const proto = Object.getPrototypeOf(value);
    if (proto !== null && proto !== Object.prototype) {
      throw new Error(`${value.constructor?.name ?? "this object"} is not a plain object and cannot be a Convex value`);
    }
    const out = {};
    for (const key of Object.keys(value).sort()) {
      const v = value[key];
      if (v === undefined) continue;
      if (key.startsWith("$")) throw new Error(`field name '${key}' may not start with '$'`);
      out[key] = convexToJson(v);
    }
    return out;
  }
  throw new Error(`${typeof value} is not a valid Convex value`);
}

/** Decodes convex_encoded_json. */
export function jsonToConvex(json) {
  if (json === null || typeof json === "boolean" || typeof json === "number" || typeof json === "string") return json;
  if (Array.isArray(json)) return json.map((v) => jsonToConvex(v));
  const keys = Object.keys(json);
  if (keys.length === 1) {
    const k = keys[0];
    if (k === "$bytes") return base64Decode(json.$bytes).slice().buffer;
    if (k === "$integer") return new DataView(base64Decode(json.$integer).slice().buffer).getBigInt64(0, true);
    if (k === "$float") return new DataView(base64Decode(json.$float).slice().buffer).getFloat64(0, true);
  }
  const out = {};
  for (const k of keys) out[k] = jsonToConvex(json[k]);
  return out;
}

const CONVEX_ERROR = Symbol.for("ConvexError");

/** An error whose `data` always reaches the client, whatever the deployment's settings. */
export class ConvexError extends Error {
  constructor(data) {
    super(typeof data === "string" ? data : JSON.stringify(convexToJson(data)));
    this.name = "ConvexError";
    this.data = data;
    this[CONVEX_ERROR] = true;
  }
}

class Validator {
  constructor(json, isOptional = "required") {
    this.json = json;
    this.isOptional = isOptional;
    this.isConvexValidator = true;
  }
  get kind() { return this.json.type; }
}

function objectJson(fields) {
  const value = {};
  for (const [k, val] of Object.entries(fields)) {
    if (!val || !val.isConvexValidator) throw new Error(`v.object: field '${k}' is not a validator`);
    value[k] = { fieldType: val.json, optional: val.isOptional === "optional" };
  }
  return { type: "object", value };
}

export const v = {
  id: (tableName) => new Validator({ type: "id", tableName }),
  null: () => new Validator({ type: "null" }),
  number: () => new Validator({ type: "number" }),
  float64: () => new Validator({ type: "number" }),
  bigint: () => new Validator({ type: "bigint" }),
  int64: () => new Validator({ type: "bigint" }),
  boolean: () => new Validator({ type: "boolean" }),
  string: () => new Validator({ type: "string" }),
  bytes: () => new Validator({ type: "bytes" }),
  any: () => new Validator({ type: "any" }),
  literal: (value) => new Validator({ type: "literal", value: convexToJson(value) }),
  array: (element) => new Validator({ type: "array", value: element.json }),
  object: (fields) => new Validator(objectJson(fields)),
  record: (keys, values) =>
    new Validator({ type: "record", keys: keys.json, values: { fieldType: values.json, optional: false } }),
  union: (...members) => new Validator({ type: "union", value: members.map((m) => m.json) }),
  optional: (inner) => new Validator(inner.json, "optional"),
};

export function asObjectValidator(x) {
  return x && x.isConvexValidator ? x : v.object(x);
}
