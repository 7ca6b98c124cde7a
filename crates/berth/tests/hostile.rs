//! Hostile functions on a real server: infinite loops, memory bombs, deep recursion, huge
//! return values, attempts to reach the host (file system, network, the host's own objects) and
//! another deployment's data through crafted ids. Each is stopped or refused with a message that
//! says what happened, and the deployment (and its neighbour) keep serving. How fast the
//! neighbour stays while this goes on is measured by `cargo bench -p berth --bench hostile`.

#![allow(clippy::unwrap_used)]

mod common;

use common::TestServer;
use serde_json::{Value, json};

const HOSTILE: &str = r#"
import { query, mutation, action } from "./_generated/server";
import { v } from "convex/values";

export const loop = query({ args: {}, handler: async () => { for (;;) {} } });
export const loopAction = action({ args: {}, handler: async () => { for (;;) {} } });
export const bomb = mutation({ args: {}, handler: async () => {
  const hoard: string[] = [];
  for (;;) hoard.push("x".repeat(1 << 20) + hoard.length);
} });
export const recurse = query({ args: {}, handler: async () => {
  const down = (n: number): number => down(n + 1) + 1;
  return down(0);
} });
export const huge = query({ args: {}, handler: async () => "y".repeat(20 * 1024 * 1024) });
export const reach = query({ args: {}, handler: async () => {
  const g = globalThis as any;
  return {
    require: typeof g.require, fetch: typeof g.fetch, std: typeof g.std, os: typeof g.os,
    host: typeof g.__berthHost, deno: typeof g.Deno, bun: typeof g.Bun,
    processKeys: Object.keys(g.process ?? {}), 
  };
} });
export const steal = mutation({ args: { id: v.string() }, handler: async (ctx, { id }) => {
  const asId = ctx.db.normalizeId("secrets", id);
  const read = await ctx.db.get(id as any);
  let patched = "no error";
  try { await ctx.db.patch(id as any, { owned: true }); } catch (e: any) { patched = e.message; }
  return { asId, read, patched };
} });
export const ok = query({ args: {}, handler: async () => "still serving" });
"#;

const NEIGHBOUR: &str = r#"
import { query, mutation } from "./_generated/server";
export const hide = mutation({ args: {}, handler: async (ctx) => ctx.db.insert("secrets", { pin: "1234" }) });
export const count = query({ args: {}, handler: async (ctx) => (await ctx.db.query("secrets").collect()).length });
export const pins = query({ args: {}, handler: async (ctx) => (await ctx.db.query("secrets").collect()).map((s) => [s.pin, s.owned ?? null]) });
"#;

fn deploy(s: &TestServer, reference: &str, files: &[(&str, &str)]) -> String {
    let dir = s.dir.path().join(reference.replace('/', "-"));
    std::fs::create_dir_all(dir.join("convex")).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join("convex").join(name), text).unwrap();
    }
    let name = s
        .cli()
        .run(&["deployment", "create", reference, "--type", "dev", "--json"])
        .ok()
        .json()["name"]
        .as_str()
        .unwrap()
        .to_string();
    s.cli()
        .cwd(&dir)
        .run(&["deploy", "--deployment", &name])
        .ok();
    name
}

fn call(s: &TestServer, name: &str, path: &str, args: Value) -> Value {
    let body = json!({"path": path, "args": args}).to_string();
    let (status, text) = common::http(
        &s.url,
        "POST",
        &format!("/d/{name}/api/function"),
        &[("Authorization", Some(format!("Convex {}", s.admin_token())))],
        Some(&body),
    );
    assert_eq!(status, 200, "{path}: {text}");
    serde_json::from_str(&text).unwrap()
}

fn error_of(v: &Value) -> String {
    assert_eq!(v["status"], "error", "expected a refusal, got {v}");
    v["errorMessage"].as_str().unwrap_or_default().to_string()
}

#[test]
fn hostile_functions_are_stopped_and_everyone_keeps_serving() {
    let s = TestServer::start(&[]);
    let bad = deploy(&s, "dev/admin/hostile", &[("evil.ts", HOSTILE)]);
    let good = deploy(&s, "dev/admin/neighbour", &[("vault.ts", NEIGHBOUR)]);
    let secret = call(&s, &good, "vault:hide", json!({}))["value"]
        .as_str()
        .unwrap()
        .to_string();

    let e = error_of(&call(&s, &bad, "evil:loop", json!({})));
    assert!(e.contains("timed out") && e.contains("1s"), "{e}");
    let e = error_of(&call(&s, &bad, "evil:loopAction", json!({})));
    assert!(e.contains("timed out") && e.contains("10s"), "{e}");
    let e = error_of(&call(&s, &bad, "evil:bomb", json!({})));
    assert!(
        e.contains("ran out of memory") && e.contains("64 MiB"),
        "{e}"
    );
    let e = error_of(&call(&s, &bad, "evil:recurse", json!({})));
    assert!(e.to_lowercase().contains("stack"), "{e}");
    let e = error_of(&call(&s, &bad, "evil:huge", json!({})));
    assert!(e.contains("at most 16 MiB"), "{e}");

    // Nothing of the host is in reach.
    let reach = call(&s, &bad, "evil:reach", json!({}));
    assert_eq!(
        reach["value"],
        json!({"require": "undefined", "fetch": "undefined", "std": "undefined", "os": "undefined",
            "host": "undefined", "deno": "undefined", "bun": "undefined", "processKeys": ["env"]}),
        "{reach}"
    );
    // Imports of the host's modules are refused at push, naming the file and line.
    for (file, text) in [
        (
            "fs.ts",
            "import { readFileSync } from \"fs\";\nexport const x = readFileSync;\n",
        ),
        (
            "qjs.ts",
            "import * as os from \"os\";\nexport const x = os;\n",
        ),
        (
            "dyn.ts",
            "export const x = async (m: string) => import(m);\n",
        ),
        (
            "net.ts",
            "import net from \"node:net\";\nexport const x = net;\n",
        ),
    ] {
        let dir = s.dir.path().join(format!("push-{file}"));
        std::fs::create_dir_all(dir.join("convex")).unwrap();
        std::fs::write(dir.join("convex").join(file), text).unwrap();
        let out = s.cli().cwd(&dir).run(&["deploy", "--deployment", &bad]);
        assert_ne!(out.code, 0, "{file} was accepted");
        assert!(
            out.stderr.contains(&format!("convex/{file}:")) && out.stderr.contains("not allowed"),
            "{file}: {}",
            out.stderr
        );
    }

    // Another deployment's document, by its id: invisible, and untouchable.
    let stolen = call(&s, &bad, "evil:steal", json!({"id": secret}));
    assert_eq!(stolen["value"]["asId"], Value::Null, "{stolen}");
    assert_eq!(stolen["value"]["read"], Value::Null, "{stolen}");
    assert!(
        stolen["value"]["patched"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{stolen}"
    );
    assert_eq!(
        call(&s, &good, "vault:pins", json!({}))["value"],
        json!([["1234", null]])
    );

    // After all of it, both deployments serve.
    assert_eq!(
        call(&s, &bad, "evil:ok", json!({}))["value"],
        "still serving"
    );
    assert_eq!(call(&s, &good, "vault:count", json!({}))["value"], 1.0);
}
