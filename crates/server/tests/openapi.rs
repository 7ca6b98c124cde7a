//! `docs/openapi.json` is the document the server serves at `/v1/openapi.json`, generated from
//! the handlers. This test fails when they differ; run with `BERTH_BLESS=1` to rewrite the file.

#[test]
fn openapi_document_in_the_repository_is_current() {
    let doc = berth_server::routes::openapi();
    let generated = match doc.to_pretty_json() {
        Ok(s) => format!("{s}\n"),
        Err(e) => panic!("render the OpenAPI document: {e}"),
    };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    if std::env::var_os("BERTH_BLESS").is_some() {
        if let Err(e) = std::fs::write(&path, &generated) {
            panic!("write {}: {e}", path.display());
        }
        return;
    }
    let saved = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        saved == generated,
        "docs/openapi.json is out of date with the handlers; run `BERTH_BLESS=1 cargo test -p berth-server --test openapi` and commit the file"
    );
}

#[test]
fn every_route_declares_its_errors_and_auth() {
    let doc = berth_server::routes::openapi();
    for (path, item) in &doc.paths.paths {
        let ops = [&item.get, &item.post, &item.patch, &item.delete];
        for op in ops.into_iter().flatten() {
            assert!(
                !op.responses.responses.is_empty(),
                "{path} documents no responses"
            );
            if path.starts_with("/v1/") {
                assert!(
                    op.security.is_some(),
                    "{path} does not declare its credential"
                );
                assert!(
                    op.responses.responses.contains_key("401"),
                    "{path} does not document 401"
                );
            }
        }
    }
}
