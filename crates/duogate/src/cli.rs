//! The command tree. Every command's `--help` is written for someone who has a Duo account and
//! this binary, and nothing else.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::connection::ConnectionArgs;
use crate::output::OutputFormat;
use crate::{admin_commands, connector, emulate, logs, serve};

const AFTER_HELP: &str = "\
Connection: --api-host/--ikey/--skey, or DUO_API_HOST, DUO_IKEY, DUO_SKEY (or DUO_SKEY_FILE),
or a profile in the config file (~/.config/duogate/config.toml):

    [profiles.default]
    api_host = \"api-xxxxxxxx.duosecurity.com\"
    ikey = \"DIXXXXXXXXXXXXXXXXXX\"
    skey_file = \"/etc/duogate/admin.skey\"

Try it offline:  duogate emulate --print-keys --seed users=50   (then point DUO_API_HOST at its url)

Exit codes: 0 success, 1 Duo refused (its code and message are printed), 2 usage error,
3 transport error (unreachable, TLS, timeout).";

/// duogate: Duo Security from the command line, over HTTP, and offline.
#[derive(Debug, Parser)]
#[command(name = "duogate", version, about, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// More logging on stderr (-v info, -vv debug; `serve` logs info already: -v debug, -vv
    /// trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Duo users: list, get (by id or name), create, update, delete, enroll, aliases.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Phones: list, create, modify, delete, associate with and dissociate from users,
    /// activation links, activation SMS.
    #[command(subcommand)]
    Phones(PhonesCommand),
    /// Groups: list, create, modify, delete, members, add-user, remove-user.
    #[command(subcommand)]
    Groups(GroupsCommand),
    /// Administrators: list, modify.
    #[command(subcommand)]
    Admins(AdminsCommand),
    /// Bypass codes: generate (shown once), list (metadata only), delete.
    #[command(subcommand, name = "bypass-codes")]
    BypassCodes(BypassCodesCommand),
    /// Ask a user to approve with Duo Push and wait for the answer (Auth API keys).
    #[command(name = "request-approval")]
    RequestApproval(RequestApprovalArgs),
    /// Duo's logs (auth, admin, telephony, activity) as JSON lines; --follow, --checkpoint.
    Logs(logs::LogsArgs),
    /// Run a Swimlane-shaped connector action and print {"status_code","reason","json_body"}.
    #[command(after_help = connector::actions_help(), disable_help_flag = true)]
    Action(ActionArgs),
    /// Run the offline Duo emulator (Admin + Auth API, real signature checks).
    Emulate(emulate::EmulateArgs),
    /// Run the configuration service (--dev: like `vault server -dev`, with a Duo emulator).
    Serve(serve::ServeArgs),
    /// Tokens of a running service: create (shown once), revoke.
    #[command(subcommand)]
    Token(admin_commands::TokenCommand),
    /// Tenants of a running service: create, list, delete.
    #[command(subcommand)]
    Tenant(admin_commands::TenantCommand),
    /// Basic-auth accounts of a running service (for ONTAP clients): create, delete.
    #[command(subcommand)]
    Account(admin_commands::AccountCommand),
    /// Ask a running service whether it is healthy (exit 0), for probes and HEALTHCHECK.
    Health(admin_commands::ServiceArgs),
    /// Seal-key maintenance on the service's database.
    #[command(subcommand)]
    Seal(admin_commands::SealCommand),
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Options shared by every connector command.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// Output format. Default: table on a terminal, JSON otherwise.
    #[arg(long, short = 'o', value_enum)]
    pub output: Option<OutputFormat>,

    /// No progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Only these fields, in every format (tables and CSV in this order; dotted paths reach
    /// inside: user.username).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "FIELD,…",
        value_parser = clap::builder::NonEmptyStringValueParser::new()
    )]
    pub fields: Vec<String>,
}

/// Paging options of a list command.
#[derive(Debug, Clone, Args)]
pub struct PagingArgs {
    /// Page size (Duo's default: 100; at most 300 for users, 500 for the others).
    #[arg(long, conflicts_with = "all")]
    pub limit: Option<u32>,
    /// Index of the first object.
    #[arg(long, conflicts_with = "all")]
    pub offset: Option<u64>,
    /// Page through everything, streaming, with a progress bar on stderr.
    #[arg(long)]
    pub all: bool,
    /// Page size used by --all (default: the endpoint's maximum).
    #[arg(long, requires = "all", value_name = "N")]
    pub page_size: Option<u32>,
}

/// `duogate users …`
// Parsed once per process: boxing the larger variant would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// List users (all, or those with a username/alias or e-mail).
    List {
        /// Only the user with this username or alias.
        #[arg(long, conflicts_with = "email")]
        username: Option<String>,
        /// Only users with this e-mail address.
        #[arg(long)]
        email: Option<String>,
        #[command(flatten)]
        paging: PagingArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Show one user, by id (DU…) or by username or alias.
    Get {
        /// The user's id (DU…), username or alias.
        user: String,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Create a user.
    Create {
        /// The new user's username.
        username: String,
        #[command(flatten)]
        fields: ProfileFields,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Delete a user, by id (DU…) or by username or alias.
    Delete {
        /// The user's id (DU…), username or alias.
        user: String,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Create a user and have Duo e-mail them an enrollment link.
    Enroll {
        /// The new user's username.
        username: String,
        /// Where the enrollment e-mail goes.
        #[arg(long)]
        email: String,
        /// Seconds the link stays valid (Duo's default: 30 days; 0: never expires).
        #[arg(long, value_name = "SECS")]
        valid_secs: Option<u64>,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Give a user one more alias (the first free of alias1..alias8).
    AddAlias {
        /// The user's id (DU…), username or alias.
        user: String,
        /// The alias.
        alias: String,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Remove one of a user's aliases.
    RemoveAlias {
        /// The user's id (DU…), username or alias.
        user: String,
        /// The alias.
        alias: String,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Change a user. Only the fields given are sent; an empty value clears an alias.
    Update {
        /// The user's id (DU…).
        user_id: String,
        #[command(flatten)]
        fields: UserFields,
        #[command(flatten)]
        common: CommonArgs,
    },
}

/// Fields `users update` can change.
#[derive(Debug, Clone, Args)]
pub struct UserFields {
    /// New username.
    #[arg(long)]
    pub username: Option<String>,
    #[command(flatten)]
    pub profile: ProfileFields,
}

/// Fields `users create` and `users update` set.
#[derive(Debug, Clone, Args)]
pub struct ProfileFields {
    /// Full name.
    #[arg(long)]
    pub realname: Option<String>,
    /// active, disabled or bypass.
    #[arg(long, value_parser = ["active", "disabled", "bypass"])]
    pub status: Option<String>,
    /// Notes.
    #[arg(long)]
    pub notes: Option<String>,
    /// E-mail address.
    #[arg(long)]
    pub email: Option<String>,
    /// Given name.
    #[arg(long)]
    pub firstname: Option<String>,
    /// Family name.
    #[arg(long)]
    pub lastname: Option<String>,
    /// First alias.
    #[arg(long, conflicts_with = "aliases")]
    pub alias1: Option<String>,
    /// Second alias.
    #[arg(long, conflicts_with = "aliases")]
    pub alias2: Option<String>,
    /// Third alias.
    #[arg(long, conflicts_with = "aliases")]
    pub alias3: Option<String>,
    /// Fourth alias.
    #[arg(long, conflicts_with = "aliases")]
    pub alias4: Option<String>,
    /// Up to eight aliases as URL-encoded pairs: "alias1=jsmith&alias2=joe@example.com".
    #[arg(long)]
    pub aliases: Option<String>,
}

/// `duogate phones …`
#[derive(Debug, Subcommand)]
pub enum PhonesCommand {
    /// List phones, or one user's phones with --user.
    List {
        /// Only this user's phones (DU…).
        #[arg(long = "user", value_name = "USER_ID")]
        user_id: Option<String>,
        #[command(flatten)]
        paging: PagingArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Associate a phone with a user.
    Associate {
        /// The user's id (DU…).
        user_id: String,
        /// The phone's id (DP…).
        phone_id: String,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Remove a phone from a user (the phone itself stays).
    Dissociate {
        /// The user's id (DU…).
        user_id: String,
        /// The phone's id (DP…).
        phone_id: String,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Create a phone.
    Create {
        #[command(flatten)]
        fields: PhoneArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Change a phone. Only the fields given are sent.
    Modify {
        /// The phone's id (DP…).
        phone_id: String,
        #[command(flatten)]
        fields: PhoneArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Delete a phone (it leaves every user it belonged to).
    Delete {
        /// The phone's id (DP…).
        phone_id: String,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Print a Duo Mobile activation link for a smartphone.
    ActivationUrl {
        /// The phone's id (DP…).
        phone_id: String,
        /// Seconds the link stays valid (Duo's default: one day).
        #[arg(long, value_name = "SECS")]
        valid_secs: Option<u64>,
        /// Also print a link to install Duo Mobile.
        #[arg(long)]
        install: bool,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Text a Duo Mobile activation link to a mobile phone; prints the messages sent.
    #[command(name = "send-sms-activation")]
    SendSmsActivation {
        /// The phone's id (DP…).
        phone_id: String,
        /// Seconds the link stays valid (Duo's default: one day).
        #[arg(long, value_name = "SECS")]
        valid_secs: Option<u64>,
        /// Also text a link to install Duo Mobile, before the activation link.
        #[arg(long)]
        install: bool,
        /// The installation text; must hold `<insturl>` (Duo's default otherwise).
        #[arg(long, value_name = "TEXT")]
        installation_msg: Option<String>,
        /// The activation text; must hold `<acturl>` (Duo's default otherwise).
        #[arg(long, value_name = "TEXT")]
        activation_msg: Option<String>,
        #[command(flatten)]
        common: CommonArgs,
    },
}

/// Fields `phones create` and `phones modify` set.
#[derive(Debug, Clone, Args)]
pub struct PhoneArgs {
    /// Number (E.164 advised; without +, US +1 is assumed).
    #[arg(long)]
    pub number: Option<String>,
    /// Extension.
    #[arg(long)]
    pub extension: Option<String>,
    /// Display name.
    #[arg(long)]
    pub name: Option<String>,
    /// mobile, landline or unknown.
    #[arg(long = "type", value_parser = ["mobile", "landline", "unknown"])]
    pub kind: Option<String>,
    /// Platform: apple ios, google android, generic smartphone, windows phone, unknown, …
    #[arg(long)]
    pub platform: Option<String>,
    /// Seconds to wait after the call is answered before dialing the extension.
    #[arg(long, value_name = "SECS")]
    pub predelay: Option<u32>,
    /// Seconds to wait after dialing the extension before the prompt.
    #[arg(long, value_name = "SECS")]
    pub postdelay: Option<u32>,
}

/// `duogate groups …`
#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// List groups.
    List {
        #[command(flatten)]
        paging: PagingArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Create a group.
    Create {
        /// The group's name (unique).
        name: String,
        /// Description.
        #[arg(long)]
        desc: Option<String>,
        /// active, bypass or disabled.
        #[arg(long, value_parser = ["active", "bypass", "disabled"])]
        status: Option<String>,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Change a group. Only the fields given are sent.
    Modify {
        /// The group's id (DG…).
        group_id: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// Description.
        #[arg(long)]
        desc: Option<String>,
        /// active, bypass or disabled.
        #[arg(long, value_parser = ["active", "bypass", "disabled"])]
        status: Option<String>,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Delete a group (its members stay).
    Delete {
        /// The group's id (DG…).
        group_id: String,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// List a group's members.
    Members {
        /// The group's id (DG…).
        group_id: String,
        #[command(flatten)]
        paging: PagingArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Add a user to a group.
    AddUser {
        /// The user's id (DU…).
        user_id: String,
        /// The group's id (DG…).
        group_id: String,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Remove a user from a group.
    RemoveUser {
        /// The user's id (DU…).
        user_id: String,
        /// The group's id (DG…).
        group_id: String,
        #[command(flatten)]
        common: CommonArgs,
    },
}

/// `duogate admins …`
#[derive(Debug, Subcommand)]
pub enum AdminsCommand {
    /// List administrators.
    List {
        #[command(flatten)]
        paging: PagingArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Change an administrator.
    Modify {
        /// The administrator's id (DE…).
        admin_id: String,
        /// Full name.
        #[arg(long)]
        name: Option<String>,
        /// Phone number (E.164 recommended; cannot be empty).
        #[arg(long)]
        phone: Option<String>,
        /// Deprecated by Duo: accepted, never sent (a warning is printed).
        #[arg(long)]
        password: Option<String>,
        /// Require a password change at next login.
        #[arg(long, value_name = "true|false")]
        password_change_required: Option<bool>,
        /// Active or Disabled (case-sensitive, as Duo wants it).
        #[arg(long, value_parser = ["Active", "Disabled"])]
        status: Option<String>,
        #[command(flatten)]
        common: CommonArgs,
    },
}

/// `duogate bypass-codes …`
#[derive(Debug, Subcommand)]
pub enum BypassCodesCommand {
    /// List bypass codes' metadata (all, or one user's); Duo never returns the codes.
    List {
        /// Only this user's codes (DU…).
        #[arg(long = "user", value_name = "USER_ID")]
        user_id: Option<String>,
        #[command(flatten)]
        paging: PagingArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Generate bypass codes for a user. The codes are printed once, on stdout only; by
    /// default they replace the user's other codes.
    Generate {
        /// The user's id (DU…).
        user_id: String,
        /// How many random codes (1 to 10; Duo's default 10).
        #[arg(long, conflicts_with = "codes")]
        count: Option<u32>,
        /// Codes of your choosing, comma-separated (at most 10).
        #[arg(long, value_name = "CODE,CODE")]
        codes: Option<String>,
        /// Seconds until the codes expire (default 0: never).
        #[arg(long, value_name = "SECS")]
        valid_secs: Option<u64>,
        /// Uses per code (default 1; 0: unlimited).
        #[arg(long, value_name = "N")]
        reuse_count: Option<u64>,
        /// Keep the user's existing codes.
        #[arg(long)]
        preserve_existing: bool,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Delete one bypass code.
    Delete {
        /// The bypass code's id (DB…).
        bypass_code_id: String,
        #[command(flatten)]
        common: CommonArgs,
    },
}

/// `duogate request-approval USER …`: the connection must be an Auth API integration.
#[derive(Debug, Args)]
pub struct RequestApprovalArgs {
    /// The user: a username or alias, or an id (DU…).
    pub user: String,
    /// The device (DP…), or auto.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// What the push shows, as URL-encoded pairs: "from=playbook&ticket=INC-42".
    #[arg(long)]
    pub pushinfo: Option<String>,
    /// The label Duo Mobile shows (Duo's `type`).
    #[arg(long = "type", value_name = "LABEL")]
    pub kind: Option<String>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 120, value_name = "SECS")]
    pub wait: u64,
    /// Output format. Default: table on a terminal, JSON otherwise.
    #[arg(long, short = 'o', value_enum)]
    pub output: Option<OutputFormat>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// `duogate action NAME --input …`
#[derive(Debug, Args)]
pub struct ActionArgs {
    /// The action's name (see below).
    pub name: Option<String>,
    /// Print help: with an action's name, that action's inputs.
    #[arg(long, short = 'h')]
    pub help: bool,
    /// Inputs as a JSON object: inline, @FILE, or - for stdin.
    #[arg(long, short = 'i', default_value = "{}", value_name = "JSON|@FILE|-")]
    pub input: String,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Users(command) => connector::users(command).await,
        Command::Phones(command) => connector::phones(command).await,
        Command::Admins(command) => connector::admins(command).await,
        Command::Groups(command) => connector::groups(command).await,
        Command::BypassCodes(command) => connector::bypass_codes(command).await,
        Command::Action(args) => connector::action(args).await,
        Command::Logs(args) => logs::logs(args).await,
        Command::RequestApproval(args) => connector::request_approval(args).await,
        Command::Emulate(args) => emulate::emulate(args).await,
        Command::Serve(args) => serve::serve(args).await,
        Command::Token(command) => admin_commands::token(command).await,
        Command::Tenant(command) => admin_commands::tenant(command).await,
        Command::Seal(command) => admin_commands::seal(command).await,
        Command::Health(service) => admin_commands::health(service).await,
        Command::Account(command) => admin_commands::account(command).await,
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "duogate", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Reads `--input`: inline JSON, `@FILE`, or `-` for stdin.
pub fn read_input(input: &str) -> anyhow::Result<serde_json::Value> {
    use anyhow::Context as _;
    let text = if input == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .context("reading --input from stdin")?;
        text
    } else if let Some(path) = input.strip_prefix('@') {
        let path = PathBuf::from(path);
        std::fs::read_to_string(&path).map_err(|e| {
            crate::failure::UsageError(format!("cannot read --input file {}: {e}", path.display()))
        })?
    } else {
        input.to_string()
    };
    serde_json::from_str(&text)
        .map_err(|e| crate::failure::UsageError(format!("--input is not valid JSON: {e}")).into())
}
