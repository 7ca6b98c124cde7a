//! The command line's grammar (clap). Every flag of `serve` also reads a `BERTH_*` variable.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "berth",
    version,
    about = "Many isolated backend deployments per project, self-hosted.",
    long_about = "Berth runs many isolated backend deployments per project: a dev deployment per developer, \
one per coding agent or CI run, previews per branch, staging and production.\n\n\
`berth serve` runs the server; every other subcommand is the client. Human messages go to stderr, \
results to stdout; --json prints results as JSON. Exit codes: 0 success, 1 failure, 2 usage error.",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// The berth server's URL (else BERTH_URL from the environment or .env.local, else the login's).
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,
    /// Print results as JSON (the management API's shapes) on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Answer yes to every confirmation.
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
    /// The team to work on (default: the linked project's team, else `default`).
    #[arg(long, global = true, value_name = "TEAM")]
    pub team: Option<String>,
    /// The project to work on (default: the linked project, else `default`).
    #[arg(long, global = true, value_name = "PROJECT")]
    pub project: Option<String>,
    /// The deployment to target: a name, team:project:ref, project:ref, ref, dev or prod
    /// (default: CONVEX_DEPLOYMENT from the environment or .env.local).
    #[arg(long, global = true, value_name = "SELECTOR")]
    pub deployment: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the berth server (control plane, deployments, dashboard).
    Serve(ServeArgs),
    /// Save credentials for a berth server in $BERTH_HOME/config.json.
    Login(LoginArgs),
    /// Forget the saved credentials.
    Logout,
    /// Show who the saved credentials belong to.
    Whoami,
    /// Create and list teams.
    #[command(subcommand)]
    Team(TeamCommand),
    /// Add, list and remove members of a team.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Create, list and delete projects.
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Create, select, list, show, update and delete deployments.
    #[command(subcommand)]
    Deployment(DeploymentCommand),
    /// Link this folder to a project and select your default dev deployment (creating it).
    Init(InitArgs),
    /// Preview deploy keys (`preview:<team>:<project>|<secret>`) of the current project.
    #[command(subcommand, name = "deploy-key")]
    DeployKey(DeployKeyCommand),
    /// Push convex/ to a deployment: --deployment, else the deploy key's, else the project's
    /// default production deployment (asking first).
    Deploy(DeployArgs),
    /// Run a function on the target deployment and print its result.
    #[command(
        after_help = "Examples:\n  berth run messages:list\n  berth run messages:send '{\"author\":\"ada\",\"body\":\"hi\"}'\n  berth run messages:list --watch          # print again on every change (a query)\n  berth run seed:default --push           # push convex/ first"
    )]
    Run(RunArgs),
    /// List the target deployment's tables, or show a table's documents (newest first).
    Data(DataArgs),
    /// The target deployment's environment variables; project defaults per type.
    #[command(subcommand)]
    Env(EnvCommand),
    /// Show the target deployment's log, and follow it as lines happen.
    Logs(LogsArgs),
    /// Push convex/ to your selected dev deployment, then again on every saved change.
    Dev(DevArgs),
}

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// List the variables (names and values).
    List,
    /// Print one variable's value.
    Get { name: String },
    /// Set a variable: `NAME value`, `NAME=value`, `NAME --from-file F`, or the value on stdin.
    Set {
        /// NAME, or NAME=value.
        name: String,
        value: Option<String>,
        /// Read the value from this file.
        #[arg(long, value_name = "FILE")]
        from_file: Option<PathBuf>,
    },
    /// Remove a variable.
    Remove { name: String },
    /// The project's default variables per deployment type, copied into new deployments.
    #[command(subcommand)]
    Default(DefaultEnvCommand),
}

#[derive(Debug, Subcommand)]
pub enum DefaultEnvCommand {
    /// List the defaults (all types, or --type).
    List {
        #[arg(long = "type", value_name = "TYPE")]
        deployment_type: Option<String>,
    },
    /// Set a default for one type: `NAME value` or `NAME=value`.
    Set {
        name: String,
        value: Option<String>,
        #[arg(long = "type", value_name = "TYPE")]
        deployment_type: String,
    },
    /// Remove a default of one type.
    Remove {
        name: String,
        #[arg(long = "type", value_name = "TYPE")]
        deployment_type: String,
    },
}

#[derive(Debug, Clone, Args)]
pub struct LogsArgs {
    /// Keep printing new lines as they happen.
    #[arg(long, short)]
    pub follow: bool,
    /// How many past lines to show first.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub history: usize,
}

#[derive(Debug, Clone, Args)]
pub struct DevArgs {
    /// Push once and exit (for scripts).
    #[arg(long)]
    pub once: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DeployArgs {
    /// Say what would be claimed, pushed and run; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Deploy to the preview of this name, deleting it first if it exists (fresh data).
    #[arg(long, value_name = "NAME", conflicts_with = "preview_name")]
    pub preview_create: Option<String>,
    /// Deploy to the preview of this name, reusing it with its data, or creating it.
    #[arg(long, value_name = "NAME")]
    pub preview_name: Option<String>,
    /// After the push, run this function with {} when the preview was newly created (seeding).
    #[arg(long, value_name = "FUNCTION")]
    pub preview_run: Option<String>,
    /// Expiration of a newly created preview [default: the plan's preview lifetime].
    #[arg(long, value_name = "WHEN")]
    pub expiration: Option<String>,
    /// A newly created preview starts with a copy of this deployment's documents (a selector;
    /// with a preview deploy key, another preview of the project).
    #[arg(long, value_name = "SELECTOR")]
    pub copy_data_from: Option<String>,
    /// With --copy-data-from: copy its environment variables too.
    #[arg(long, requires = "copy_data_from")]
    pub copy_env: bool,
    /// Why this deploy happened [default: Deployed from <CI platform> • <short sha>].
    #[arg(long)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The function: `messages:list`, `dir/file:export`.
    pub function: String,
    /// Its arguments as a JSON object [default: {}].
    pub args: Option<String>,
    /// Push convex/ to the target first.
    #[arg(long)]
    pub push: bool,
    /// Keep watching the query: print its result again whenever a commit changes it (Ctrl-C
    /// stops). With --json, one JSON value a line.
    #[arg(long)]
    pub watch: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// The table to show; without it, the tables are listed.
    pub table: Option<String>,
    /// How many documents to show.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
}

#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// `team:project` or `project` [default: --team/--project, else default:default].
    pub project: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DeploymentCommand {
    /// Create a deployment in the current project. On a terminal without --type it asks.
    #[command(
        after_help = "Example:\n  berth deployment create dev/james/feature-payment-integration --type=dev --region us --expiration \"in 7 days\" --select"
    )]
    Create(CreateDeploymentArgs),
    /// Select a deployment for this folder (writes .env.local).
    Select {
        /// name, team:project:ref, project:ref, ref, dev (production cannot be selected)
        selector: String,
    },
    /// List the current project's deployments.
    List {
        /// Only this type: dev, preview or prod.
        #[arg(long = "type", value_name = "TYPE")]
        deployment_type: Option<String>,
        /// Only references starting with this.
        #[arg(long)]
        search: Option<String>,
    },
    /// Show one deployment [default: the targeted deployment].
    Show { selector: Option<String> },
    /// Change a deployment's expiration, reference or settings.
    Update(UpdateDeploymentArgs),
    /// Delete a deployment and everything it owns.
    Delete {
        selector: String,
        /// Succeed when the deployment does not exist.
        #[arg(long)]
        if_exists: bool,
    },
    /// Replace a deployment's documents with a copy of another's (its code stays).
    #[command(
        after_help = "Example:\n  berth deployment reset dev/james/bugfix --from prod --copy-env"
    )]
    Reset {
        /// The deployment to reset: name, team:project:ref, project:ref, ref or dev.
        selector: String,
        /// The deployment to copy from (you must be allowed to edit both).
        #[arg(long, value_name = "SELECTOR")]
        from: String,
        /// Copy its environment variables too.
        #[arg(long)]
        copy_env: bool,
    },
    /// Run a seed function on a deployment again (e.g. a preview or an agent's dev deployment).
    #[command(
        after_help = "Example:\n  berth deployment seed preview/feat-x --run seed:default '{\"users\": 10}'"
    )]
    Seed {
        /// name, team:project:ref, project:ref, ref, dev or prod
        selector: String,
        /// The function to run: `seed:default`, `dir/file:export`.
        #[arg(long, value_name = "FUNCTION")]
        run: String,
        /// Its arguments as a JSON object [default: {}].
        args: Option<String>,
    },
    /// Deployment keys (`<type>:<name>|<secret>`) that open the target deployment alone.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a key for the target deployment; printed once, or saved with --save-env.
    Create {
        /// A name for the key, unique on the deployment (e.g. the agent or CI job using it).
        name: String,
        /// When the key stops working: "in 7 days", 12h, an RFC 3339 time [default: never].
        #[arg(long, value_name = "WHEN")]
        expiration: Option<String>,
        /// Write CONVEX_DEPLOY_KEY (and BERTH_URL) into this file instead of printing the key
        /// [default file: .env.local]; berth commands in that folder then need no login.
        #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = ".env.local")]
        save_env: Option<PathBuf>,
    },
    /// List the target deployment's keys (names, creators, last use; never secrets).
    List,
    /// Revoke a key of the target deployment; it stops working at once.
    Delete { name: String },
}

#[derive(Debug, Subcommand)]
pub enum DeployKeyCommand {
    /// Create a preview deploy key for the current project (project or team admins).
    Create {
        name: String,
        /// Required: berth's project-level keys are preview keys.
        #[arg(long)]
        preview: bool,
        /// When the key stops working: "in 30 days", 2w, an RFC 3339 time [default: never].
        #[arg(long, value_name = "WHEN")]
        expiration: Option<String>,
    },
    /// List the current project's preview deploy keys.
    List,
    /// Revoke a preview deploy key; it stops working at once.
    Delete { name: String },
}

#[derive(Debug, Clone, Args)]
pub struct CreateDeploymentArgs {
    /// The reference [default: dev/<you>, preview/<git branch>, production].
    pub reference: Option<String>,
    /// dev, preview or prod.
    #[arg(long = "type", value_name = "TYPE")]
    pub deployment_type: Option<String>,
    /// One of the server's regions [default: the server's first].
    #[arg(long)]
    pub region: Option<String>,
    /// none, "in 7 days", 12h, 2w, an RFC 3339 time or Unix seconds [previews: the plan's default].
    #[arg(long, value_name = "WHEN")]
    pub expiration: Option<String>,
    /// Select it for this folder (.env.local) once created.
    #[arg(long)]
    pub select: bool,
    /// Make it your default dev deployment (or the project's default prod).
    #[arg(long)]
    pub default: bool,
    /// Start with a copy of another deployment's documents: name, team:project:ref,
    /// project:ref, ref, dev or prod (you must be allowed to edit it).
    #[arg(long, value_name = "SELECTOR")]
    pub copy_data_from: Option<String>,
    /// With --copy-data-from: copy its environment variables too.
    #[arg(long, requires = "copy_data_from")]
    pub copy_env: bool,
    /// When the project already has a deployment with this reference (and type), use it as it
    /// is instead of failing: scripts that set up a worktree or a CI job can run again.
    #[arg(long)]
    pub if_not_exists: bool,
}

#[derive(Debug, Clone, Args)]
pub struct UpdateDeploymentArgs {
    pub selector: String,
    /// New expiration; "none" clears it.
    #[arg(long, value_name = "WHEN")]
    pub expiration: Option<String>,
    /// New reference.
    #[arg(long)]
    pub reference: Option<String>,
    /// name=value, repeatable: sendLogsToClient, sendErrorDetailsToClient,
    /// dashboardEditConfirmation (true|false|default), editableBy (members|admins|default).
    #[arg(long = "setting", value_name = "NAME=VALUE")]
    pub settings: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Where the embedded database and the admin token live [default: ~/.berth/data].
    #[arg(long, env = "BERTH_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port and prints it.
    #[arg(
        long,
        env = "BERTH_LISTEN",
        default_value = "127.0.0.1:3210",
        value_name = "ADDR"
    )]
    pub listen: String,
    /// The URL clients reach this server at [default: http://<listen address>].
    #[arg(long, env = "BERTH_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Keep everything in PostgreSQL instead of the embedded SQLite.
    #[arg(
        long,
        env = "BERTH_DATABASE_URL",
        value_name = "postgres://…",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Regions deployments may be placed in, comma-separated; the first is the default.
    #[arg(
        long,
        env = "BERTH_REGIONS",
        default_value = "us",
        value_delimiter = ',',
        value_name = "R,R"
    )]
    pub regions: Vec<String>,
    /// Plan of new teams: free, starter, professional, business or enterprise.
    #[arg(
        long,
        env = "BERTH_DEFAULT_PLAN",
        default_value = "business",
        value_name = "PLAN"
    )]
    pub default_plan: String,
    /// How often expired deployments are deleted.
    #[arg(
        long,
        env = "BERTH_REAP_INTERVAL",
        default_value = "10s",
        value_name = "DURATION"
    )]
    pub reap_interval: String,
    /// Shortest expiration a deployment may be given.
    #[arg(
        long,
        env = "BERTH_MIN_EXPIRATION",
        default_value = "30m",
        value_name = "DURATION"
    )]
    pub min_expiration: String,
    /// Longest expiration a deployment may be given.
    #[arg(
        long,
        env = "BERTH_MAX_EXPIRATION",
        default_value = "1y",
        value_name = "DURATION"
    )]
    pub max_expiration: String,
    /// Log lines kept per deployment (the newest ones; older lines are dropped).
    #[arg(
        long,
        env = "BERTH_LOG_RETENTION",
        default_value_t = 10_000,
        value_name = "LINES"
    )]
    pub log_retention: usize,
}

#[derive(Debug, Clone, Args)]
pub struct LoginArgs {
    /// An access token (else read from a prompt, or from stdin when it is not a terminal).
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Create a team; you become its admin.
    Create {
        /// The team's slug: 3 to 64 of a-z, 0-9 and '-'.
        slug: String,
        /// Display name [default: the slug].
        #[arg(long)]
        name: Option<String>,
        /// Plan (server admins only) [default: the server's default plan].
        #[arg(long)]
        plan: Option<String>,
    },
    /// List your teams.
    List,
    /// Change a team's plan or deployment limit (server admins) or its lifecycle rules (team
    /// admins).
    #[command(
        after_help = "Example:\n  berth team update --max-preview-age 7d --evict-previews true --max-dev-per-member 3"
    )]
    Update {
        /// The team [default: --team, else the linked project's team, else `default`].
        slug: Option<String>,
        /// free, starter, professional, business or enterprise.
        #[arg(long)]
        plan: Option<String>,
        /// A number that overrides the plan's limit, or `default` for the plan's.
        #[arg(long, value_name = "N|default")]
        deployment_limit: Option<String>,
        /// Previews end at most this long after creation (7d, 36h), or `none`. Live previews
        /// that would outlive it are brought down to it.
        #[arg(long, value_name = "DURATION|none")]
        max_preview_age: Option<String>,
        /// At the deployment limit, a new preview deletes the least recently deployed preview
        /// (recorded in the audit log) instead of failing.
        #[arg(long, value_name = "true|false")]
        evict_previews: Option<bool>,
        /// How many live dev deployments each member may hold, or `none`.
        #[arg(long, value_name = "N|none")]
        max_dev_per_member: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add a member to the team (or change their role); a new person's token is printed once.
    Add {
        username: String,
        /// The member's role in the team [default: member for someone new; an existing member keeps theirs].
        #[arg(long, value_parser = ["admin", "member"])]
        role: Option<String>,
        /// Also make them admin of this project (repeatable).
        #[arg(long = "project-admin", value_name = "PROJECT")]
        project_admin: Vec<String>,
    },
    /// List the team's members.
    List,
    /// Remove a member from the team.
    Remove { username: String },
}

#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a project in the team.
    Create {
        /// The project's slug: 3 to 64 of a-z, 0-9 and '-'.
        slug: String,
        /// Display name [default: the slug].
        #[arg(long)]
        name: Option<String>,
    },
    /// List the team's projects.
    List,
    /// Delete a project and everything in it (asks first; --yes to skip).
    Delete { slug: String },
}
