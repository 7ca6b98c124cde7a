// Set up once per context, before any module: the `Convex` global (the only way to the host),
// console capture, determinism for queries and mutations, and the bookkeeping the host uses to
// call functions and read their results. `__berthHost` is removed once captured.
(() => {
  const host = globalThis.__berthHost;
  delete globalThis.__berthHost;

  const pending = new Map();
  // Documents of open queries read ahead in batches: `1.0/queryStreamNext` (one document per
  // call, as Convex's library and berth's both ask) is answered from here, and the host is asked
  // for a page at a time, growing from 8 to 128 while the query keeps reading.
  const batches = new Map();
  function nextDocument(args) {
    const { queryId } = JSON.parse(args);
    let b = batches.get(queryId);
    if (!b) {
      b = { values: [], at: 0, done: false, size: 8 };
      batches.set(queryId, b);
    }
    if (b.at >= b.values.length && !b.done) {
      const r = JSON.parse(host.syscall("berth/queryStreamBatch", JSON.stringify({ queryId, max: b.size })));
      b.values = r.values;
      b.at = 0;
      b.done = r.done;
      b.size = Math.min(b.size * 2, 128);
    }
    if (b.at < b.values.length) return JSON.stringify({ value: b.values[b.at++], done: false });
    return JSON.stringify({ value: null, done: true });
  }
  globalThis.Convex = Object.freeze({
    syscall: (op, args) => {
      if (op === "1.0/queryCleanup") batches.delete(JSON.parse(args).queryId);
      const answer = host.syscall(op, args);
      // A new query may reuse the id of one that was never cleaned up: forget that one's batch.
      if (op === "1.0/queryStream") batches.delete(JSON.parse(answer).queryId);
      return answer;
    },
    asyncSyscall: (op, args) => {
      if (op === "1.0/queryStreamNext") {
        try {
          return Promise.resolve(nextDocument(args));
        } catch (e) {
          return Promise.reject(e);
        }
      }
      if (op.startsWith("1.0/actions/") || op === "1.0/runUdf") {
        return new Promise((resolve, reject) => {
          pending.set(host.defer(op, args), { resolve, reject });
        });
      }
      try {
        return Promise.resolve(host.syscall(op, args));
      } catch (e) {
        return Promise.reject(e);
      }
    },
  });

  // ---- timers (actions only) -------------------------------------------------------------
  // A timer is a deferred host operation the host settles when it is due; an interval starts
  // the next one each time. Handles stay the same across an interval's runs.
  const timers = new Map();
  let nextTimer = 1;
  function arm(handle, t) {
    const id = host.timer(t.delay);
    if (id < 0) {
      timers.delete(handle);
      throw new Error("setTimeout and setInterval are available in actions only: queries and mutations run in one transaction (use ctx.scheduler.runAfter, or an action)");
    }
    t.hostId = id;
    pending.set(id, {
      resolve: () => {
        if (timers.get(handle) !== t) return;
        if (t.repeat) arm(handle, t);
        else timers.delete(handle);
        t.fn(...t.args);
      },
      reject: () => {},
    });
  }
  function startTimer(fn, ms, args, repeat) {
    if (typeof fn !== "function") throw new TypeError(`${repeat ? "setInterval" : "setTimeout"} needs a function, not ${typeof fn}`);
    const delay = Math.max(0, Number(ms) || 0);
    const handle = nextTimer++;
    const t = { fn, args, delay: repeat ? Math.max(delay, 1) : delay, repeat, hostId: 0 };
    timers.set(handle, t);
    arm(handle, t);
    return handle;
  }
  function stopTimer(handle) {
    const t = timers.get(handle);
    if (!t) return;
    timers.delete(handle);
    pending.delete(t.hostId);
    host.clearTimer(t.hostId);
  }
  globalThis.setTimeout = (fn, ms, ...args) => startTimer(fn, ms, args, false);
  globalThis.setInterval = (fn, ms, ...args) => startTimer(fn, ms, args, true);
  globalThis.clearTimeout = (handle) => stopTimer(handle);
  globalThis.clearInterval = (handle) => stopTimer(handle);

  function rebuild(info) {
    if (info.data !== undefined) {
      const e = new Error(info.message);
      e.name = "ConvexError";
      e.data = JSON.parse(info.data);
      e[Symbol.for("ConvexError")] = true;
      return e;
    }
    return new Error(info.message);
  }

  // ---- console -----------------------------------------------------------------------
  function show(x, depth, top) {
    if (typeof x === "string") return top ? x : `'${x}'`;
    if (typeof x === "bigint") return `${x}n`;
    if (typeof x === "undefined" || x === null || typeof x === "number" || typeof x === "boolean") return String(x);
    if (typeof x === "function") return `[Function${x.name ? `: ${x.name}` : " (anonymous)"}]`;
    if (typeof x === "symbol") return x.toString();
    if (x instanceof Error) return x.stack ? `${x.name}: ${x.message}\n${x.stack}` : `${x.name}: ${x.message}`;
    if (x instanceof RealDate) return Number.isNaN(x.getTime()) ? "Invalid Date" : x.toISOString();
    if (x instanceof Map) return `Map(${x.size}) {${x.size ? " " + [...x].map(([k, v]) => `${show(k, depth + 1, false)} => ${show(v, depth + 1, false)}`).join(", ") + " " : ""}}`;
    if (x instanceof Set) return `Set(${x.size}) {${x.size ? " " + [...x].map((v) => show(v, depth + 1, false)).join(", ") + " " : ""}}`;
    if (ArrayBuffer.isView(x)) return `${x.constructor.name}(${x.length}) [ ${Array.from(x).join(", ")} ]`;
    if (x instanceof ArrayBuffer) return `ArrayBuffer { byteLength: ${x.byteLength} }`;
    if (depth > 3) return Array.isArray(x) ? "[Array]" : "[Object]";
    if (Array.isArray(x)) return `[ ${x.map((e) => show(e, depth + 1, false)).join(", ")} ]`.replace("[  ]", "[]");
    const entries = Object.keys(x).map((k) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : `'${k}'`}: ${show(x[k], depth + 1, false)}`);
    return entries.length ? `{ ${entries.join(", ")} }` : "{}";
  }
  function logger(level) {
    return (...args) => host.log(level, args.map((a) => show(a, 0, false)).join(" "));
  }
  globalThis.console = {
    log: logger("LOG"), info: logger("INFO"), warn: logger("WARN"), error: logger("ERROR"),
    debug: logger("DEBUG"), trace: logger("LOG"),
  };

  // ---- determinism ----------------------------------------------------------------------
  const RealDate = Date;
  const realRandom = Math.random;
  let fixedNow = null;
  let state = 1;
  function seeded() {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  // `Date` is a proxy of the real constructor, whose own `now` is replaced too: no way around it
  // (`Object.getPrototypeOf(Date)`, `Date.prototype.constructor`, subclasses) reaches a clock
  // that moves during a query or mutation.
  const realNow = RealDate.now;
  Object.defineProperty(RealDate, "now", {
    value: function now() { return fixedNow ?? realNow.call(RealDate); },
    writable: false, configurable: false,
  });
  const BerthDate = new Proxy(RealDate, {
    construct(target, args, newTarget) {
      return Reflect.construct(target, args.length === 0 && fixedNow !== null ? [fixedNow] : args, newTarget);
    },
    apply() {
      return new RealDate(fixedNow ?? realNow.call(RealDate)).toString();
    },
  });
  Object.defineProperty(RealDate.prototype, "constructor", { value: BerthDate, writable: false, configurable: false });
  globalThis.Date = BerthDate;
  globalThis.process = { env: Object.freeze({}) };
  Math.random = () => (fixedNow !== null ? seeded() : realRandom());

  // ---- calls ----------------------------------------------------------------------------
  const functions = new Map();
  const results = new Map();
  let nextCall = 1;

  globalThis.__berth = {
    // Registers a module's exported functions; returns their descriptions as JSON.
    register(modulePath, ns) {
      const found = [];
      for (const name of Object.keys(ns)) {
        const f = ns[name];
        if (typeof f !== "function") continue;
        const kind = f.isQuery ? "query" : f.isMutation ? "mutation" : f.isAction ? "action" : null;
        if (!kind) continue;
        const visibility = f.isPublic ? "public" : "internal";
        functions.set(`${modulePath}:${name}`, f);
        found.push({ path: `${modulePath}:${name}`, kind, visibility, args: f.exportArgs ? f.exportArgs() : '{"type":"any"}',
          returns: f.exportReturns ? f.exportReturns() : "null" });
      }
      return JSON.stringify(found);
    },
    // Starts a call; returns its id. Its outcome appears in `outcome(id)` once settled.
    start(path, kind, argsJson, nowMs, seed, requestId, envJson) {
      if (envJson !== null && envJson !== undefined) {
        globalThis.process = { env: Object.freeze(JSON.parse(envJson)) };
      }
      const f = functions.get(path);
      if (!f) throw new Error(`function ${path} is not registered`);
      fixedNow = kind === "action" ? null : nowMs;
      state = seed | 0;
      const id = nextCall++;
      let promise;
      try {
        promise = kind === "query" ? f.invokeQuery(argsJson)
          : kind === "mutation" ? f.invokeMutation(argsJson)
          : f.invokeAction(requestId, argsJson);
      } catch (e) {
        promise = Promise.reject(e);
      }
      Promise.resolve(promise).then(
        (value) => results.set(id, { ok: true, value }),
        (error) => results.set(id, { ok: false, error }),
      );
      return id;
    },
    // The settled outcome of a call as JSON, or null while it runs.
    outcome(id) {
      const r = results.get(id);
      if (!r) return null;
      results.delete(id);
      if (r.ok) return JSON.stringify({ ok: true, value: r.value });
      const e = r.error;
      const isError = e instanceof Error || (e && typeof e === "object" && typeof e.message === "string");
      const info = isError
        ? { ok: false, name: e.name || "Error", message: String(e.message), stack: e.stack || "" }
        : { ok: false, name: "", message: show(e, 0, false), stack: "" };
      if (e && (e[Symbol.for("ConvexError")] || e.name === "ConvexError") && "data" in e) {
        // Convex's own library has already encoded the data (and says so with this marker).
        if (e.ConvexErrorSymbol === Symbol.for("ConvexError") && typeof e.data === "string") {
          info.data = e.data;
          return JSON.stringify(info);
        }
        try {
          info.data = JSON.stringify(convexToJsonForErrors(e.data));
        } catch (err) {
          info.data = JSON.stringify(String(e.data));
        }
      }
      return JSON.stringify(info);
    },
    // Forgets the timers an earlier call left behind (the host starts each call without any).
    forget() {
      for (const t of timers.values()) pending.delete(t.hostId);
      timers.clear();
    },
    // Settles a deferred host operation (an action's runQuery, runMutation or runAction).
    settle(id, ok, payload) {
      const p = pending.get(id);
      if (!p) return;
      pending.delete(id);
      if (ok) p.resolve(payload);
      else p.reject(rebuild(JSON.parse(payload)));
    },
  };
  // What berth itself relies on may not be replaced by user code, so one call cannot break the
  // next ones (or make Math.random or Date lie) on a reused isolate.
  for (const name of ["JSON", "Math", "Reflect"]) Object.freeze(globalThis[name]);
  Object.freeze(BerthDate);
  if (globalThis.crypto) Object.freeze(globalThis.crypto);
  for (const name of ["JSON", "Math", "Reflect", "Date", "Promise", "Convex", "console", "Object", "Array", "Error", "crypto"]) {
    if (!(name in globalThis)) continue;
    Object.defineProperty(globalThis, name, { value: globalThis[name], writable: false, configurable: false });
  }
  let convexToJsonForErrors = (x) => x;
  globalThis.__berth.setEncoder = (f) => { convexToJsonForErrors = f; };
})();
