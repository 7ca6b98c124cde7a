//! `berth data [table] [--limit N]`.

use crate::{
    args::{DataArgs, Global},
    client::Client,
    error::{CliError, CliResult},
    output::{Out, table},
    target,
};
use berth_api::{DataPage, TableSummary};

pub async fn run(g: &Global, args: DataArgs, out: &Out) -> CliResult {
    let client = Client::from_login(g)?;
    let d = target::target(&client, g, None, out).await?;
    match args.table {
        None => {
            let tables: Vec<TableSummary> = client.get(&format!("/d/{}/api/data", d.name)).await?;
            if tables.is_empty() {
                out.info("No tables yet");
            }
            out.result(&tables, |ts| {
                table(
                    &["table", "documents"],
                    ts.iter()
                        .map(|t| vec![t.name.clone(), t.documents.to_string()])
                        .collect(),
                )
            });
        }
        Some(t) => {
            if args.limit == 0 || args.limit > 1000 {
                return Err(CliError::usage("--limit must be between 1 and 1000"));
            }
            let tables: Vec<TableSummary> = client.get(&format!("/d/{}/api/data", d.name)).await?;
            if !tables.iter().any(|x| x.name == t) {
                let names: Vec<&str> = tables.iter().map(|x| x.name.as_str()).collect();
                return Err(CliError::failed(format!(
                    "{} has no table named '{t}'{}",
                    d.name,
                    if names.is_empty() {
                        "; it has no tables yet".to_string()
                    } else {
                        format!("; its tables are: {}", names.join(", "))
                    }
                )));
            }
            let page: DataPage = client
                .get(&format!(
                    "/d/{}/api/data/{}?limit={}",
                    d.name,
                    target::encode(&t),
                    args.limit
                ))
                .await?;
            out.result(&page.page, |docs| {
                docs.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}
