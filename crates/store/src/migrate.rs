//! A small migration runner shared by the backends: numbered SQL scripts, applied in order,
//! each in its own transaction, recorded in `schema_migrations`.

/// One migration: its version and SQL text.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "deployments",
        sql: include_str!("../migrations/sqlite/0002_deployments.sql"),
    },
    Migration {
        version: 3,
        name: "deploy_keys",
        sql: include_str!("../migrations/sqlite/0003_deploy_keys.sql"),
    },
    Migration {
        version: 4,
        name: "code_version",
        sql: include_str!("../migrations/sqlite/0004_code_version.sql"),
    },
    Migration {
        version: 5,
        name: "default_env",
        sql: include_str!("../migrations/sqlite/0005_default_env.sql"),
    },
    Migration {
        version: 6,
        name: "team_lifecycle",
        sql: include_str!("../migrations/sqlite/0006_team_lifecycle.sql"),
    },
    Migration {
        version: 7,
        name: "data_generation",
        sql: include_str!("../migrations/sqlite/0007_data_generation.sql"),
    },
];

pub const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "deployment_data",
        sql: include_str!("../migrations/postgres/0002_deployment_data.sql"),
    },
    Migration {
        version: 3,
        name: "logs",
        sql: include_str!("../migrations/postgres/0003_logs.sql"),
    },
    Migration {
        version: 4,
        name: "team_lifecycle",
        sql: include_str!("../migrations/postgres/0004_team_lifecycle.sql"),
    },
    Migration {
        version: 5,
        name: "code_meta",
        sql: include_str!("../migrations/postgres/0005_code_meta.sql"),
    },
    Migration {
        version: 6,
        name: "indexes",
        sql: include_str!("../migrations/postgres/0006_indexes.sql"),
    },
    Migration {
        version: 7,
        name: "builds_and_commits",
        sql: include_str!("../migrations/postgres/0007_builds_and_commits.sql"),
    },
    Migration {
        version: 8,
        name: "request_answers",
        sql: include_str!("../migrations/postgres/0008_request_answers.sql"),
    },
];
