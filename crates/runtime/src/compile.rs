//! From uploaded source to the JavaScript berth runs: TypeScript types stripped (oxc), imports
//! checked against what a deployment may import. Errors name the file, line and column.

use oxc::{
    allocator::Allocator,
    codegen::Codegen,
    parser::Parser,
    semantic::SemanticBuilder,
    span::SourceType,
    transformer::{TransformOptions, Transformer},
};
use std::path::Path;

/// The modules built into berth that user code may import.
pub const BUILTIN_IMPORTS: [&str; 2] = ["convex/server", "convex/values"];

/// A module ready to load.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledModule {
    /// Path inside `convex/`, as uploaded (`messages.ts`, `lib/util.js`).
    pub path: String,
    /// The name berth loads it under: the path with a `.js` ending (`messages.js`).
    pub name: String,
    pub source: String,
    pub js: String,
    /// Lowercase hex SHA-256 of the source.
    pub hash: String,
}

/// A push problem, pointing at a place in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "convex/{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(source: &str, offset: u32) -> (u32, u32) {
    let upto = &source[..(offset as usize).min(source.len())];
    let line = upto.matches('\n').count() as u32 + 1;
    let col = upto.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
    (line, col)
}

/// The load name of a module path: extension replaced by `.js`.
pub fn module_name(path: &str) -> String {
    for ext in [".d.ts", ".ts", ".mts", ".mjs", ".cjs", ".js"] {
        if let Some(stem) = path.strip_suffix(ext) {
            return format!("{stem}.js");
        }
    }
    format!("{path}.js")
}

/// Joins a relative import onto the importing module's directory; `None` when it climbs out of
/// `convex/`.
pub fn resolve_relative(base: &str, spec: &str) -> Option<String> {
    let mut parts: Vec<&str> = base.split('/').collect();
    parts.pop();
    for seg in spec.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// What an import of `spec` from module `base` (a load name) refers to: a built-in, a
/// `_generated` stand-in, or another module's load name. `None` when it is not allowed.
pub fn resolve_import(base: &str, spec: &str, known: &dyn Fn(&str) -> bool) -> Option<String> {
    if BUILTIN_IMPORTS.contains(&spec) {
        return Some(spec.to_string());
    }
    if !(spec.starts_with("./") || spec.starts_with("../")) {
        return None;
    }
    let joined = resolve_relative(base, spec)?;
    for generated in [
        "_generated/server",
        "_generated/api",
        "_generated/dataModel",
    ] {
        if joined == generated || joined.strip_suffix(".js") == Some(generated) {
            return Some(format!("{generated}.js"));
        }
    }
    let stem = joined
        .strip_suffix(".js")
        .or_else(|| joined.strip_suffix(".ts"))
        .or_else(|| joined.strip_suffix(".mjs"))
        .unwrap_or(&joined)
        .to_string();
    [format!("{stem}.js"), format!("{stem}/index.js")]
        .into_iter()
        .find(|c| known(c))
}

fn hash(source: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(source.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compiles one module. `known` says whether a load name is among the uploaded modules.
pub fn compile(
    path: &str,
    source: &str,
    known: &dyn Fn(&str) -> bool,
) -> Result<CompiledModule, CompileError> {
    let name = module_name(path);
    let err = |offset: u32, message: String| {
        let (line, column) = line_col(source, offset);
        CompileError {
            file: path.to_string(),
            line,
            column,
            message,
        }
    };
    let source_type = match Path::new(path).extension().and_then(|e| e.to_str()) {
        Some("ts" | "mts") => SourceType::ts(),
        _ => SourceType::mjs(),
    };
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, source, source_type).parse();
    if let Some(d) = parsed.diagnostics.first() {
        let offset = d.labels.first().map_or(0, |l| l.offset());
        return Err(err(offset, d.message.to_string()));
    }
    for (spec, uses) in parsed.module_record.requested_modules.iter() {
        let Some(first) = uses.iter().find(|u| !u.is_type) else {
            continue;
        };
        if resolve_import(&name, spec.as_str(), known).is_none() {
            let why = if spec.starts_with('.') {
                format!("import of '{spec}' does not resolve to a module in convex/")
            } else {
                format!(
                    "import of '{spec}' is not allowed: a deployment may import only relative modules, convex/server, convex/values and ./_generated/*"
                )
            };
            return Err(err(first.span.start, why));
        }
    }
    for d in parsed.module_record.dynamic_imports.iter() {
        // A literal specifier is checked like a static import; a computed one cannot be.
        let text = &source[d.module_request.start as usize..d.module_request.end as usize];
        let literal = text
            .trim()
            .trim_matches(|c| c == '"' || c == '\'' || c == '`');
        let is_literal = text.trim().len() == literal.len() + 2 && !literal.contains("${");
        if !is_literal || resolve_import(&name, literal, known).is_none() {
            return Err(err(
                d.span.start,
                format!(
                    "dynamic import({}) is not allowed: a deployment may import only relative modules, convex/server and convex/values, by static import",
                    text.trim()
                ),
            ));
        }
    }
    let mut program = parsed.program;
    let semantic = SemanticBuilder::new().with_enum_eval(true).build(&program);
    if let Some(d) = semantic.diagnostics.first() {
        let offset = d.labels.first().map_or(0, |l| l.offset());
        return Err(err(offset, d.message.to_string()));
    }
    let scoping = semantic.semantic.into_scoping();
    let transformed = Transformer::new(&allocator, Path::new(path), &TransformOptions::default())
        .build_with_scoping(scoping, &mut program);
    if let Some(d) = transformed.diagnostics.first() {
        let offset = d.labels.first().map_or(0, |l| l.offset());
        return Err(err(offset, d.message.to_string()));
    }
    let js = Codegen::new().build(&program).code;
    Ok(CompiledModule {
        path: path.to_string(),
        name,
        source: source.to_string(),
        js,
        hash: hash(source),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(n: &str) -> bool {
        matches!(n, "lib/util.js" | "messages.js" | "lib/index.js")
    }

    #[test]
    fn strips_types_and_keeps_code() {
        let m = compile(
            "messages.ts",
            "import { query } from './_generated/server';\nimport type { Doc } from './_generated/dataModel';\nenum Color { Red }\nexport const f = (x: number): string => `${x}` + Color.Red;\n",
            &known,
        )
        .unwrap();
        assert_eq!(m.name, "messages.js");
        assert!(!m.js.contains(": number"), "{}", m.js);
        assert!(m.js.contains("Color"));
        assert_eq!(m.hash.len(), 64);
    }

    #[test]
    fn reports_file_line_and_column() {
        let e = compile(
            "bad.ts",
            "export const x = 1;\nexport const y = ;\n",
            &known,
        )
        .unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("bad.ts", 2), "{e}");
        let e = compile("net.ts", "\nimport fs from 'fs';\n", &known).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("'fs' is not allowed"), "{e}");
        let e = compile(
            "d.ts",
            "export const f = async () => await import('fs');\n",
            &known,
        )
        .unwrap_err();
        assert!(
            e.message.contains("dynamic import('fs') is not allowed"),
            "{e}"
        );
        let e = compile("a.ts", "import { x } from './missing';\n", &known).unwrap_err();
        assert!(e.message.contains("does not resolve"), "{e}");
        assert!(e.to_string().starts_with("convex/a.ts:1:"), "{e}");
    }

    #[test]
    fn resolves_imports() {
        assert_eq!(
            resolve_import("lib/a.js", "./util", &known).as_deref(),
            Some("lib/util.js")
        );
        assert_eq!(
            resolve_import("lib/a.js", "../messages.js", &known).as_deref(),
            Some("messages.js")
        );
        assert_eq!(
            resolve_import("lib/a.js", "../_generated/api", &known).as_deref(),
            Some("_generated/api.js")
        );
        assert_eq!(
            resolve_import("a.js", "./lib", &known).as_deref(),
            Some("lib/index.js")
        );
        assert_eq!(resolve_import("a.js", "../../etc/passwd", &known), None);
        assert_eq!(
            resolve_import("a.js", "convex/server", &known).as_deref(),
            Some("convex/server")
        );
        assert_eq!(resolve_import("a.js", "node:fs", &known), None);
    }
}
