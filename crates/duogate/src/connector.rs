//! The connector commands: `users`, `phones`, `admins`, `bypass-codes` and `action`.
//!
//! Writes go through `duo_client::actions::plan`, the same validation the Swimlane-shaped
//! `action` command and the HTTP service use, so a bad input is refused with the field's name
//! before anything is sent. Lists use the client's paging stream.

use std::io::Write as _;
use std::process::ExitCode;

use futures_util::StreamExt as _;
use serde_json::{Map, Value, json};

use duo_client::DuoClient;
use duo_client::actions::{self, ActionResult};

use crate::cli::{
    ActionArgs, AdminsCommand, BypassCodesCommand, CommonArgs, PagingArgs, PhonesCommand,
    UserFields, UsersCommand,
};
use crate::failure::{EXIT_DUO, usage};
use crate::output::{ListWriter, OutputFormat, progress, set_total, write_object};
use crate::resources::{ADMINS, BYPASS_CODES, PHONES, Resource, USERS};

/// `after_help` of `duogate action`: the catalogue.
pub const ACTIONS_HELP: &str = "\
Actions and their inputs (* required; keys may also be written with spaces, e.g. \"user id\"):
  associate_phone_with_user    user_id*, phone_id*
  modify_administrator         admin_id*, name, phone, password (deprecated: never sent),
                               password_change_required, status
  retrieve_administrators      limit, offset
  retrieve_bypass_codes        limit, offset
  retrieve_phones              limit, offset
  retrieve_phones_by_user_id   user_id*
  retrieve_user_by_user_id     user_id*
  retrieve_users               limit, offset
  update_user                  user_id*, username, realname, status, notes, email, firstname,
                               lastname, alias1..alias4, aliases

Example:
  duogate action associate_phone_with_user --input '{\"user_id\":\"DU…\",\"phone_id\":\"DP…\"}'

Prints {\"status_code\": 200, \"reason\": \"OK\", \"json_body\": <Duo's response>}; on a Duo error
json_body is Duo's FAIL envelope and the exit code is 1.";

/// `duogate users …`
pub async fn users(command: UsersCommand) -> anyhow::Result<ExitCode> {
    match command {
        UsersCommand::List { paging, common } => {
            list(&common, &paging, "/admin/v1/users", &USERS).await
        }
        UsersCommand::Get { user_id, common } => {
            planned(
                &common,
                "retrieve_user_by_user_id",
                json!({"user_id": user_id}),
                &USERS,
            )
            .await
        }
        UsersCommand::Update {
            user_id,
            fields,
            common,
        } => {
            let mut input = user_fields(fields);
            if input.is_empty() {
                return usage(
                    "nothing to update: give at least one of --username, --realname, \
                              --status, --notes, --email, --firstname, --lastname, --alias1..4, --aliases",
                );
            }
            input.insert("user_id".into(), json!(user_id));
            planned(&common, "update_user", Value::Object(input), &USERS).await
        }
    }
}

fn user_fields(fields: UserFields) -> Map<String, Value> {
    let UserFields {
        username,
        realname,
        status,
        notes,
        email,
        firstname,
        lastname,
        alias1,
        alias2,
        alias3,
        alias4,
        aliases,
    } = fields;
    [
        ("username", username),
        ("realname", realname),
        ("status", status),
        ("notes", notes),
        ("email", email),
        ("firstname", firstname),
        ("lastname", lastname),
        ("alias1", alias1),
        ("alias2", alias2),
        ("alias3", alias3),
        ("alias4", alias4),
        ("aliases", aliases),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k.to_string(), json!(v))))
    .collect()
}

/// `duogate phones …`
pub async fn phones(command: PhonesCommand) -> anyhow::Result<ExitCode> {
    match command {
        PhonesCommand::List {
            user_id: Some(user_id),
            paging,
            common,
        } => {
            let path = format!(
                "/admin/v1/users/{}/phones",
                duo_proto::canon::path_segment(&user_id)
            );
            list(&common, &paging, &path, &PHONES).await
        }
        PhonesCommand::List {
            user_id: None,
            paging,
            common,
        } => list(&common, &paging, "/admin/v1/phones", &PHONES).await,
        PhonesCommand::Associate {
            user_id,
            phone_id,
            common,
        } => {
            let input = json!({"user_id": user_id, "phone_id": phone_id});
            let call = actions::plan("associate_phone_with_user", &input)?;
            let client = common.connection.client()?;
            client.call(call.method, &call.path, &call.params).await?;
            let format = OutputFormat::resolve(common.output);
            if format == OutputFormat::Json {
                println!(
                    "{}",
                    json!({"associated": true, "user_id": user_id, "phone_id": phone_id})
                );
            } else {
                println!("phone {phone_id} is associated with user {user_id}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `duogate admins …`
pub async fn admins(command: AdminsCommand) -> anyhow::Result<ExitCode> {
    match command {
        AdminsCommand::List { paging, common } => {
            list(&common, &paging, "/admin/v1/admins", &ADMINS).await
        }
        AdminsCommand::Modify {
            admin_id,
            name,
            phone,
            password,
            password_change_required,
            status,
            common,
        } => {
            let mut input = Map::new();
            for (key, value) in [
                ("name", name.map(Value::from)),
                ("phone", phone.map(Value::from)),
                ("password", password.map(Value::from)),
                (
                    "password_change_required",
                    password_change_required.map(Value::from),
                ),
                ("status", status.map(Value::from)),
            ] {
                if let Some(value) = value {
                    input.insert(key.into(), value);
                }
            }
            if input.is_empty() {
                return usage(
                    "nothing to modify: give at least one of --name, --phone, \
                              --password-change-required, --status",
                );
            }
            input.insert("admin_id".into(), json!(admin_id));
            planned(
                &common,
                "modify_administrator",
                Value::Object(input),
                &ADMINS,
            )
            .await
        }
    }
}

/// `duogate bypass-codes …`
pub async fn bypass_codes(command: BypassCodesCommand) -> anyhow::Result<ExitCode> {
    match command {
        BypassCodesCommand::List { paging, common } => {
            list(&common, &paging, "/admin/v1/bypass_codes", &BYPASS_CODES).await
        }
    }
}

/// Plans an action, sends it, and prints Duo's `response` as one object.
async fn planned(
    common: &CommonArgs,
    action: &str,
    input: Value,
    resource: &'static Resource,
) -> anyhow::Result<ExitCode> {
    let call = actions::plan(action, &input)?;
    for warning in &call.warnings {
        eprintln!("warning: {warning}");
    }
    let client = common.connection.client()?;
    let answer = client.call(call.method, &call.path, &call.params).await?;
    let format = OutputFormat::resolve(common.output);
    write_object(std::io::stdout().lock(), format, resource, &answer.response)?;
    Ok(ExitCode::SUCCESS)
}

/// One page (`--limit/--offset`) or everything (`--all`), streamed to stdout.
async fn list(
    common: &CommonArgs,
    paging: &PagingArgs,
    path: &str,
    resource: &'static Resource,
) -> anyhow::Result<ExitCode> {
    let client = common.connection.client()?;
    let format = OutputFormat::resolve(common.output);
    let stdout = std::io::stdout();
    let mut writer = ListWriter::new(stdout.lock(), format, resource);
    if paging.all {
        stream_all(&client, common.quiet, path, paging.page_size, &mut writer).await?;
    } else {
        let mut params = Map::new();
        if let Some(limit) = paging.limit {
            params.insert("limit".into(), json!(limit.to_string()));
        }
        if let Some(offset) = paging.offset {
            params.insert("offset".into(), json!(offset.to_string()));
        }
        let answer = client.call("GET", path, &params).await?;
        let items = answer.response.as_array().cloned().unwrap_or_default();
        for item in &items {
            writer.write(item)?;
        }
        if let Some(metadata) = &answer.metadata
            && let Some(next) = metadata.next_offset
        {
            let total = metadata
                .total_objects
                .map(|t| format!(" of {t}"))
                .unwrap_or_default();
            eprintln!(
                "showing {}{total} {}; more with --offset {next}, or all with --all",
                items.len(),
                resource.plural
            );
        }
    }
    writer.finish()?;
    Ok(ExitCode::SUCCESS)
}

async fn stream_all<W: std::io::Write>(
    client: &DuoClient,
    quiet: bool,
    path: &str,
    page_size: Option<u32>,
    writer: &mut ListWriter<W>,
) -> anyhow::Result<()> {
    let bar = progress(quiet, resource_noun(path));
    let mut pages = std::pin::pin!(client.pages(path, Map::new(), page_size));
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                bar.abandon();
                return Err(e.into());
            }
        };
        if let Some(total) = page.metadata.total_objects {
            set_total(&bar, total);
        }
        for item in &page.items {
            writer.write(item)?;
        }
        bar.inc(page.items.len() as u64);
    }
    bar.finish_and_clear();
    Ok(())
}

fn resource_noun(path: &str) -> &'static str {
    match path.rsplit('/').next() {
        Some("users") => "users",
        Some("phones") => "phones",
        Some("admins") => "administrators",
        _ => "objects",
    }
}

/// `duogate action NAME --input …`
pub async fn action(args: ActionArgs) -> anyhow::Result<ExitCode> {
    let input = crate::cli::read_input(&args.input)?;
    let call = actions::plan(&args.name, &input)?;
    for warning in &call.warnings {
        eprintln!("warning: {warning}");
    }
    let client = args.connection.client()?;
    let raw = client
        .call_raw(call.method, &call.path, &call.params)
        .await?;
    let result = ActionResult::from_response(raw.status, &raw.reason, &raw.body);
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, &result)?;
    writeln!(stdout)?;
    stdout.flush()?;
    if result.is_success() {
        Ok(ExitCode::SUCCESS)
    } else {
        let detail = match &result.json_body {
            Value::Object(map) => format!(
                "{} {}",
                map.get("code").map(Value::to_string).unwrap_or_default(),
                map.get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            ),
            _ => "an answer that is not a Duo envelope".to_string(),
        };
        eprintln!(
            "error: Duo answered {} {}: {}",
            result.status_code,
            result.reason,
            detail.trim()
        );
        Ok(ExitCode::from(EXIT_DUO))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_help_lists_every_action_of_the_catalogue() {
        for action in actions::ACTIONS {
            assert!(
                ACTIONS_HELP.contains(action.name),
                "{} missing from help",
                action.name
            );
        }
    }
}
