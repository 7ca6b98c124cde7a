// Web platform basics that user code and Convex's own library expect and QuickJS does not have:
// TextEncoder/TextDecoder (UTF-8), btoa/atob, URL/URLSearchParams, crypto.getRandomValues and
// randomUUID, crypto.subtle (digests and HMAC so far), structuredClone, `self`. In actions,
// randomness comes from the operating system; in queries and mutations from Math.random, which
// berth seeds per call, so they stay deterministic.
(() => {
  const g = globalThis;
  if (g.self === undefined) g.self = g;

  // ---- UTF-8 ------------------------------------------------------------------------------
  class TextEncoder {
    get encoding() { return "utf-8"; }
    encode(input = "") {
      const s = String(input);
      const out = [];
      for (let i = 0; i < s.length; i++) {
        let c = s.charCodeAt(i);
        if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
          const d = s.charCodeAt(i + 1);
          if (d >= 0xdc00 && d <= 0xdfff) {
            c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
            i++;
          } else c = 0xfffd;
        } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
        if (c < 0x80) out.push(c);
        else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
        else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
        else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      }
      return new Uint8Array(out);
    }
  }
  class TextDecoder {
    constructor(label = "utf-8", options = {}) {
      if (!/^utf-?8$/i.test(String(label))) throw new RangeError(`TextDecoder supports only utf-8, not '${label}'`);
      this.fatal = !!options.fatal;
    }
    get encoding() { return "utf-8"; }
    decode(input) {
      if (input === undefined) return "";
      const b = input instanceof ArrayBuffer ? new Uint8Array(input)
        : new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
      let s = "";
      for (let i = 0; i < b.length;) {
        const x = b[i];
        let c = 0xfffd, n = 1;
        if (x < 0x80) c = x;
        else if (x >= 0xc2 && x < 0xe0 && i + 1 < b.length) { c = ((x & 31) << 6) | (b[i + 1] & 63); n = 2; }
        else if (x >= 0xe0 && x < 0xf0 && i + 2 < b.length) { c = ((x & 15) << 12) | ((b[i + 1] & 63) << 6) | (b[i + 2] & 63); n = 3; }
        else if (x >= 0xf0 && x < 0xf5 && i + 3 < b.length) {
          c = ((x & 7) << 18) | ((b[i + 1] & 63) << 12) | ((b[i + 2] & 63) << 6) | (b[i + 3] & 63); n = 4;
        } else if (this.fatal) throw new TypeError("the bytes are not valid UTF-8");
        s += String.fromCodePoint(c);
        i += n;
      }
      return s;
    }
  }
  if (g.TextEncoder === undefined) g.TextEncoder = TextEncoder;
  if (g.TextDecoder === undefined) g.TextDecoder = TextDecoder;

  // ---- base64 -----------------------------------------------------------------------------
  const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  if (g.btoa === undefined) {
    g.btoa = (input) => {
      const s = String(input);
      let out = "";
      for (let i = 0; i < s.length; i += 3) {
        const bytes = [s.charCodeAt(i), s.charCodeAt(i + 1), s.charCodeAt(i + 2)];
        if (bytes.some((c) => c > 255)) throw new Error("btoa: the string has characters outside Latin-1");
        const [a, b, c] = bytes;
        out += B64[a >> 2] + B64[((a & 3) << 4) | ((b || 0) >> 4)]
          + (i + 1 < s.length ? B64[((b & 15) << 2) | ((c || 0) >> 6)] : "=")
          + (i + 2 < s.length ? B64[c & 63] : "=");
      }
      return out;
    };
  }
  if (g.atob === undefined) {
    g.atob = (input) => {
      const s = String(input).replace(/[\t\n\f\r ]/g, "").replace(/=+$/, "");
      if (/[^A-Za-z0-9+/]/.test(s) || s.length % 4 === 1) throw new Error("atob: the string is not valid base64");
      let out = "", buf = 0, bits = 0;
      for (const ch of s) {
        buf = (buf << 6) | B64.indexOf(ch);
        bits += 6;
        if (bits >= 8) { bits -= 8; out += String.fromCharCode((buf >> bits) & 255); }
      }
      return out;
    };
  }

  // ---- crypto -----------------------------------------------------------------------------
  // The host's crypto (captured before the prelude removes the host object): OS randomness in
  // actions, digests and HMAC for crypto.subtle. Bytes cross as base64.
  const hostCrypto = g.__berthHost && g.__berthHost.crypto;
  const toB64 = (u8) => { let s = ""; for (let i = 0; i < u8.length; i++) s += String.fromCharCode(u8[i]); return btoa(s); };
  const fromB64 = (text) => { const s = atob(text); const out = new Uint8Array(s.length); for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i); return out; };
  const bytesOf = (data, what) => {
    if (data instanceof ArrayBuffer) return new Uint8Array(data);
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    throw new TypeError(`crypto.subtle: ${what} must be an ArrayBuffer or a typed array`);
  };
  const host = (op, args) => hostCrypto(op, JSON.stringify(args));
  if (g.crypto === undefined) {
    const getRandomValues = (array) => {
      if (!ArrayBuffer.isView(array)) throw new TypeError("getRandomValues takes a typed array");
      const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
      // In an action, from the operating system; in a query or mutation, from the seeded
      // Math.random, so that they stay deterministic.
      const secure = hostCrypto ? host("random", { n: bytes.length }) : "";
      if (secure) bytes.set(fromB64(secure));
      else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
      return array;
    };
    const hashName = (h) => {
      const name = typeof h === "string" ? h : h && h.name;
      if (typeof name !== "string") throw new TypeError("crypto.subtle: name the hash (\"SHA-256\", \"SHA-384\" or \"SHA-512\")");
      return name.toUpperCase();
    };
    const algName = (a) => (typeof a === "string" ? a : a && a.name || "").toUpperCase();
    const unsupported = (what, a) => new Error(`crypto.subtle.${what}: ${JSON.stringify(algName(a) || a)} is not supported by berth yet; HMAC with SHA-256, SHA-384 or SHA-512 is`);
    class CryptoKey {
      constructor(raw, hash, extractable, usages) {
        Object.defineProperty(this, "raw", { value: raw, enumerable: false });
        this.type = "secret";
        this.algorithm = { name: "HMAC", hash: { name: hash }, length: raw.length * 8 };
        this.extractable = !!extractable;
        this.usages = Array.from(usages || []);
      }
    }
    const b64url = { to: (u8) => toB64(u8).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""),
      from: (t) => fromB64(t.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((t.length + 3) % 4)) };
    const subtle = {
      async digest(algorithm, data) {
        return fromB64(host("digest", { hash: hashName(algorithm), data: toB64(bytesOf(data, "data")) })).buffer;
      },
      async importKey(format, keyData, algorithm, extractable, usages) {
        if (algName(algorithm) !== "HMAC") throw unsupported("importKey", algorithm);
        const hash = hashName(algorithm.hash);
        if (format === "raw") return new CryptoKey(bytesOf(keyData, "keyData").slice(), hash, extractable, usages);
        if (format === "jwk" && keyData && keyData.kty === "oct") return new CryptoKey(b64url.from(keyData.k), hash, extractable, usages);
        throw new Error(`crypto.subtle.importKey: the format ${JSON.stringify(format)} is not supported for HMAC; use "raw" or "jwk"`);
      },
      async exportKey(format, key) {
        if (!(key instanceof CryptoKey)) throw new TypeError("crypto.subtle.exportKey: not a key made by crypto.subtle");
        if (!key.extractable) throw new Error("crypto.subtle.exportKey: the key is not extractable");
        if (format === "raw") return key.raw.slice().buffer;
        if (format === "jwk") return { kty: "oct", k: b64url.to(key.raw), alg: `HS${key.algorithm.hash.name.slice(4)}`, ext: true, key_ops: key.usages };
        throw new Error(`crypto.subtle.exportKey: the format ${JSON.stringify(format)} is not supported for HMAC; use "raw" or "jwk"`);
      },
      async generateKey(algorithm, extractable, usages) {
        if (algName(algorithm) !== "HMAC") throw unsupported("generateKey", algorithm);
        const hash = hashName(algorithm.hash);
        const raw = getRandomValues(new Uint8Array(algorithm.length ? Math.ceil(algorithm.length / 8) : hash === "SHA-256" ? 64 : 128));
        return new CryptoKey(raw, hash, extractable, usages);
      },
      async sign(algorithm, key, data) {
        if (algName(algorithm) !== "HMAC" || !(key instanceof CryptoKey)) throw unsupported("sign", algorithm);
        return fromB64(host("hmac", { hash: key.algorithm.hash.name, key: toB64(key.raw), data: toB64(bytesOf(data, "data")) })).buffer;
      },
      async verify(algorithm, key, signature, data) {
        if (algName(algorithm) !== "HMAC" || !(key instanceof CryptoKey)) throw unsupported("verify", algorithm);
        return host("hmacVerify", { hash: key.algorithm.hash.name, key: toB64(key.raw), data: toB64(bytesOf(data, "data")), signature: toB64(bytesOf(signature, "signature")) }) === "true";
      },
    };
    g.CryptoKey = CryptoKey;
    g.crypto = {
      getRandomValues,
      subtle,
      randomUUID() {
        const b = getRandomValues(new Uint8Array(16));
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
        return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
      },
    };
  }

  // ---- structuredClone --------------------------------------------------------------------
  if (g.structuredClone === undefined) {
    g.structuredClone = (value) => {
      const seen = new Map();
      const clone = (v) => {
        if (typeof v !== "object" || v === null) {
          if (typeof v === "function" || typeof v === "symbol") throw new Error(`structuredClone: a ${typeof v} cannot be cloned`);
          return v;
        }
        if (seen.has(v)) return seen.get(v);
        let out;
        if (v instanceof Date) out = new Date(v.getTime());
        else if (v instanceof RegExp) out = new RegExp(v.source, v.flags);
        else if (v instanceof ArrayBuffer) out = v.slice(0);
        else if (ArrayBuffer.isView(v)) out = new v.constructor(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
        else if (v instanceof Map) { out = new Map(); seen.set(v, out); for (const [k, x] of v) out.set(clone(k), clone(x)); return out; }
        else if (v instanceof Set) { out = new Set(); seen.set(v, out); for (const x of v) out.add(clone(x)); return out; }
        else if (Array.isArray(v)) { out = []; seen.set(v, out); v.forEach((x, i) => { out[i] = clone(x); }); return out; }
        else { out = {}; seen.set(v, out); for (const k of Object.keys(v)) out[k] = clone(v[k]); return out; }
        seen.set(v, out);
        return out;
      };
      return clone(value);
    };
  }

  // ---- URL --------------------------------------------------------------------------------
  const enc = (s) => encodeURIComponent(s).replace(/%20/g, "+");
  const dec = (s) => decodeURIComponent(s.replace(/\+/g, " "));
  class URLSearchParams {
    constructor(init = "") {
      this._list = [];
      if (typeof init === "string") {
        for (const part of init.replace(/^\?/, "").split("&")) {
          if (!part) continue;
          const i = part.indexOf("=");
          this._list.push(i < 0 ? [dec(part), ""] : [dec(part.slice(0, i)), dec(part.slice(i + 1))]);
        }
      } else if (init && typeof init === "object") {
        const pairs = Symbol.iterator in init ? init : Object.entries(init);
        for (const [k, v] of pairs) this._list.push([String(k), String(v)]);
      }
    }
    append(k, v) { this._list.push([String(k), String(v)]); this._changed?.(); }
    delete(k) { this._list = this._list.filter(([x]) => x !== k); this._changed?.(); }
    get(k) { const e = this._list.find(([x]) => x === k); return e ? e[1] : null; }
    getAll(k) { return this._list.filter(([x]) => x === k).map(([, v]) => v); }
    has(k) { return this._list.some(([x]) => x === k); }
    set(k, v) {
      const i = this._list.findIndex(([x]) => x === k);
      if (i < 0) this._list.push([String(k), String(v)]);
      else { this._list[i][1] = String(v); this._list = this._list.filter(([x], j) => x !== k || j <= i); }
      this._changed?.();
    }
    sort() { this._list.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)); this._changed?.(); }
    forEach(f, self) { for (const [k, v] of this._list) f.call(self, v, k, this); }
    keys() { return this._list.map(([k]) => k)[Symbol.iterator](); }
    values() { return this._list.map(([, v]) => v)[Symbol.iterator](); }
    entries() { return this._list.map(([k, v]) => [k, v])[Symbol.iterator](); }
    [Symbol.iterator]() { return this.entries(); }
    get size() { return this._list.length; }
    toString() { return this._list.map(([k, v]) => `${enc(k)}=${enc(v)}`).join("&"); }
  }
  const PARTS = /^([a-zA-Z][a-zA-Z0-9+.-]*:)(?:\/\/(?:([^:@/?#]*)(?::([^@/?#]*))?@)?([^:/?#]*)(?::(\d*))?)?([^?#]*)(\?[^#]*)?(#.*)?$/;
  const DEFAULT_PORTS = { "http:": "80", "https:": "443", "ws:": "80", "wss:": "443" };
  function normalizePath(path) {
    const out = [];
    for (const seg of path.split("/").slice(1)) {
      if (seg === "..") out.pop();
      else if (seg !== ".") out.push(seg);
    }
    const last = path.split("/").pop();
    return "/" + out.join("/") + (last === "." || last === ".." ? "/" : "");
  }
  class URL {
    constructor(input, base) {
      let s = String(input).trim();
      if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(s)) {
        if (base === undefined) throw new TypeError(`Invalid URL: '${s}'`);
        const b = new URL(base);
        if (s.startsWith("//")) s = b.protocol + s;
        else if (s.startsWith("/")) s = b.origin + s;
        else if (s.startsWith("?")) s = b.origin + b.pathname + s;
        else if (s.startsWith("#")) s = b.origin + b.pathname + b.search + s;
        else s = b.origin + b.pathname.replace(/[^/]*$/, "") + s;
      }
      const m = PARTS.exec(s);
      if (!m) throw new TypeError(`Invalid URL: '${s}'`);
      this.protocol = m[1].toLowerCase();
      this.username = m[2] || "";
      this.password = m[3] || "";
      this.hostname = (m[4] || "").toLowerCase();
      this.port = m[5] && m[5] !== DEFAULT_PORTS[this.protocol] ? m[5] : "";
      const special = this.protocol in DEFAULT_PORTS || this.protocol === "file:";
      this.pathname = special ? normalizePath(m[6] || "/") || "/" : m[6] || "";
      this.hash = m[8] && m[8] !== "#" ? m[8] : "";
      this.searchParams = new URLSearchParams(m[7] || "");
      this._search = m[7] && m[7] !== "?" ? m[7] : "";
      this.searchParams._changed = () => {
        const q = this.searchParams.toString();
        this._search = q ? `?${q}` : "";
      };
      if (special && this.protocol !== "file:" && !this.hostname) throw new TypeError(`Invalid URL: '${s}'`);
    }
    get search() { return this._search; }
    set search(v) {
      const q = String(v).replace(/^\?/, "");
      this._search = q ? `?${q}` : "";
      this.searchParams = new URLSearchParams(q);
    }
    get host() { return this.port ? `${this.hostname}:${this.port}` : this.hostname; }
    get origin() { return this.protocol in DEFAULT_PORTS ? `${this.protocol}//${this.host}` : "null"; }
    get href() {
      const auth = this.username ? `${this.username}${this.password ? `:${this.password}` : ""}@` : "";
      const authority = this.hostname || this.protocol in DEFAULT_PORTS ? `//${auth}${this.host}` : "";
      return `${this.protocol}${authority}${this.pathname}${this.search}${this.hash}`;
    }
    toString() { return this.href; }
    toJSON() { return this.href; }
    static canParse(input, base) {
      try { new URL(input, base); return true; } catch { return false; }
    }
  }
  if (g.URL === undefined) g.URL = URL;
  if (g.URLSearchParams === undefined) g.URLSearchParams = URLSearchParams;
})();
