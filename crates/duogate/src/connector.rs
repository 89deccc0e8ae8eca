//! The connector commands: `users`, `phones`, `groups`, `admins`, `bypass-codes`,
//! `request-approval` and `action` (`logs` is in `crate::logs`).
//!
//! Writes go through `duo_client::actions::plan`, the same validation the Swimlane-shaped
//! `action` command and the HTTP service use, so a bad input is refused with the field's name
//! before anything is sent. Lists use the client's paging stream.
//!
//! `users get`, `delete`, `add-alias` and `remove-alias` take an id (`DU…`) or a username or
//! alias: an id-shaped key is read as an id first, then as a name if no user has that id
//! (`GET /admin/v1/users?username=`, which also matches aliases). `bypass-codes generate`
//! prints the codes on stdout only (never in a log line or an error), once: Duo keeps only
//! their metadata.

use std::io::Write as _;
use std::process::ExitCode;

use futures_util::StreamExt as _;
use serde_json::{Map, Value, json};

use duo_client::DuoClient;
use duo_client::actions::{self, ActionResult};

use crate::cli::{
    ActionArgs, AdminsCommand, BypassCodesCommand, CommonArgs, GroupsCommand, PagingArgs,
    PhoneArgs, PhonesCommand, ProfileFields, RequestApprovalArgs, UsersCommand,
};
use crate::failure::{EXIT_DUO, usage};
use crate::output::{ListWriter, OutputFormat, progress, set_total, write_object};
use crate::resources::{
    ACTIVATION_LINKS, ADMINS, APPROVALS, BYPASS_CODES, GROUP_MEMBERS, GROUPS, PHONES, Resource,
    SMS_ACTIVATIONS, USERS,
};

/// `after_help` of `duogate action`: the catalogue, rendered from `duo_client::actions`.
pub fn actions_help() -> String {
    format!(
        "{}\n`duogate action NAME --help` shows one action's inputs and their types.\n\nExample:\n  \
         duogate action associate_phone_with_user --input '{{\"user_id\":\"DU…\",\"phone_id\":\"DP…\"}}'\n\n\
         Prints {{\"status_code\": 200, \"reason\": \"OK\", \"json_body\": <Duo's response>}}; on a Duo error\n\
         json_body is Duo's FAIL envelope and the exit code is 1.",
        actions::catalogue_help()
    )
}

/// `duogate users …`
pub async fn users(command: UsersCommand) -> anyhow::Result<ExitCode> {
    match command {
        UsersCommand::List {
            username,
            email,
            paging,
            common,
        } => {
            let mut filter = Map::new();
            if let Some(username) = username {
                filter.insert("username".into(), json!(username));
            }
            if let Some(email) = email {
                filter.insert("email".into(), json!(email));
            }
            list(&common, &paging, "/admin/v1/users", filter, &USERS).await
        }
        UsersCommand::Get { user, common } => {
            let client = common.connection.client()?;
            let found = find_user(&client, &user).await?;
            let format = OutputFormat::resolve(common.output);
            write_object(
                std::io::stdout().lock(),
                format,
                &USERS,
                &common.fields,
                &found,
            )?;
            Ok(ExitCode::SUCCESS)
        }
        UsersCommand::Create {
            username,
            fields,
            common,
        } => {
            let mut input = profile_fields(fields);
            input.insert("username".into(), json!(username));
            planned(&common, "create_user", Value::Object(input), &USERS).await
        }
        UsersCommand::Delete { user, common } => {
            let client = common.connection.client()?;
            let found = find_user(&client, &user).await?;
            let user_id = found["user_id"].as_str().unwrap_or_default().to_string();
            let call = actions::plan("delete_user", &json!({"user_id": user_id}))?;
            client.call(call.method, &call.path, &call.params).await?;
            let username = found["username"].as_str().unwrap_or_default();
            done(
                common.output,
                json!({"deleted": true, "user_id": user_id, "username": username}),
                &format!("user {username} ({user_id}) is deleted"),
            )
        }
        UsersCommand::Enroll {
            username,
            email,
            valid_secs,
            common,
        } => {
            let mut input = json!({"username": username, "email": email});
            if let Some(secs) = valid_secs {
                input["valid_secs"] = json!(secs);
            }
            let call = actions::plan("enroll_user", &input)?;
            let client = common.connection.client()?;
            client.call(call.method, &call.path, &call.params).await?;
            done(
                common.output,
                json!({"enrolled": true, "username": username, "email": email}),
                &format!("user {username} is created; Duo e-mails an enrollment link to {email}"),
            )
        }
        UsersCommand::AddAlias {
            user,
            alias,
            common,
        } => {
            if alias.is_empty() {
                return usage("the alias must not be empty");
            }
            let client = common.connection.client()?;
            let found = find_user(&client, &user).await?;
            let user_id = found["user_id"].as_str().unwrap_or_default();
            let updated = client.admin().add_alias(user_id, &alias).await?;
            let format = OutputFormat::resolve(common.output);
            write_object(
                std::io::stdout().lock(),
                format,
                &USERS,
                &common.fields,
                &serde_json::to_value(updated)?,
            )?;
            Ok(ExitCode::SUCCESS)
        }
        UsersCommand::RemoveAlias {
            user,
            alias,
            common,
        } => {
            let client = common.connection.client()?;
            let found = find_user(&client, &user).await?;
            let user_id = found["user_id"].as_str().unwrap_or_default();
            let holds = found["aliases"]
                .as_object()
                .is_some_and(|aliases| aliases.values().any(|a| a == alias.as_str()));
            if !holds {
                return usage(format!("user {user_id} has no alias {alias:?}"));
            }
            let updated = client.admin().remove_alias(user_id, &alias).await?;
            let format = OutputFormat::resolve(common.output);
            write_object(
                std::io::stdout().lock(),
                format,
                &USERS,
                &common.fields,
                &serde_json::to_value(updated)?,
            )?;
            Ok(ExitCode::SUCCESS)
        }
        UsersCommand::Update {
            user_id,
            fields,
            common,
        } => {
            let mut input = profile_fields(fields.profile);
            if let Some(username) = fields.username {
                input.insert("username".into(), json!(username));
            }
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

/// A user by id (`DU…`), or else by username or alias: Duo's raw object. An id-shaped key
/// that no user has is tried as a name; no match at all is Duo's 40401.
async fn find_user(client: &DuoClient, key: &str) -> anyhow::Result<Value> {
    if key.is_empty() {
        return usage("the user must not be empty");
    }
    if duo_client::admin::is_user_id(key) {
        let path = format!("/admin/v1/users/{}", duo_proto::canon::path_segment(key));
        match client.call("GET", &path, &Map::new()).await {
            Ok(answer) => return Ok(answer.response),
            Err(e) if e.duo_code() == Some(40401) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut params = Map::new();
    params.insert("username".into(), json!(key));
    let answer = client.call("GET", "/admin/v1/users", &params).await?;
    match answer.response.as_array().and_then(|users| users.first()) {
        Some(user) => Ok(user.clone()),
        None => Err(duo_client::ClientError::Duo {
            status: 404,
            reason: "Not Found".into(),
            fail: duo_proto::DuoFail::with_detail(
                duo_proto::envelope::FailCode::NotFound,
                format!("no user has the id, username or alias {key:?}"),
            ),
        }
        .into()),
    }
}

/// Prints the outcome of a write that returns nothing: JSON, or one line for people.
fn done(format: Option<OutputFormat>, object: Value, line: &str) -> anyhow::Result<ExitCode> {
    if OutputFormat::resolve(format) == OutputFormat::Json {
        println!("{object}");
    } else {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

fn profile_fields(fields: ProfileFields) -> Map<String, Value> {
    let ProfileFields {
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
            list(&common, &paging, &path, Map::new(), &PHONES).await
        }
        PhonesCommand::List {
            user_id: None,
            paging,
            common,
        } => list(&common, &paging, "/admin/v1/phones", Map::new(), &PHONES).await,
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
        PhonesCommand::Dissociate {
            user_id,
            phone_id,
            common,
        } => {
            let input = json!({"user_id": user_id, "phone_id": phone_id});
            let call = actions::plan("dissociate_phone_from_user", &input)?;
            let client = common.connection.client()?;
            client.call(call.method, &call.path, &call.params).await?;
            done(
                common.output,
                json!({"dissociated": true, "user_id": user_id, "phone_id": phone_id}),
                &format!("phone {phone_id} is no longer associated with user {user_id}"),
            )
        }
        PhonesCommand::Create { fields, common } => {
            planned(
                &common,
                "create_phone",
                Value::Object(phone_fields(fields)),
                &PHONES,
            )
            .await
        }
        PhonesCommand::Modify {
            phone_id,
            fields,
            common,
        } => {
            let mut input = phone_fields(fields);
            if input.is_empty() {
                return usage(
                    "nothing to modify: give at least one of --number, --extension, --name, \
                     --type, --platform, --predelay, --postdelay",
                );
            }
            input.insert("phone_id".into(), json!(phone_id));
            planned(&common, "modify_phone", Value::Object(input), &PHONES).await
        }
        PhonesCommand::Delete { phone_id, common } => {
            delete_by_id(&common, "delete_phone", "phone_id", &phone_id, "phone").await
        }
        PhonesCommand::ActivationUrl {
            phone_id,
            valid_secs,
            install,
            common,
        } => {
            let mut input = json!({"phone_id": phone_id, "install": install});
            if let Some(secs) = valid_secs {
                input["valid_secs"] = json!(secs);
            }
            planned(&common, "create_activation_url", input, &ACTIVATION_LINKS).await
        }
        PhonesCommand::SendSmsActivation {
            phone_id,
            valid_secs,
            install,
            installation_msg,
            activation_msg,
            common,
        } => {
            let input = json!({
                "phone_id": phone_id,
                "install": install,
                "valid_secs": valid_secs,
                "installation_msg": installation_msg,
                "activation_msg": activation_msg,
            });
            planned(&common, "send_sms_activation", input, &SMS_ACTIVATIONS).await
        }
    }
}

fn phone_fields(fields: PhoneArgs) -> Map<String, Value> {
    let PhoneArgs {
        number,
        extension,
        name,
        kind,
        platform,
        predelay,
        postdelay,
    } = fields;
    [
        ("number", number.map(Value::from)),
        ("extension", extension.map(Value::from)),
        ("name", name.map(Value::from)),
        ("type", kind.map(Value::from)),
        ("platform", platform.map(Value::from)),
        ("predelay", predelay.map(Value::from)),
        ("postdelay", postdelay.map(Value::from)),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
    .collect()
}

/// `duogate groups …`
pub async fn groups(command: GroupsCommand) -> anyhow::Result<ExitCode> {
    let fields = |name: Option<String>, desc: Option<String>, status: Option<String>| {
        [("name", name), ("desc", desc), ("status", status)]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), json!(v))))
            .collect::<Map<String, Value>>()
    };
    match command {
        GroupsCommand::List { paging, common } => {
            list(&common, &paging, "/admin/v1/groups", Map::new(), &GROUPS).await
        }
        GroupsCommand::Create {
            name,
            desc,
            status,
            common,
        } => {
            let input = fields(Some(name), desc, status);
            planned(&common, "create_group", Value::Object(input), &GROUPS).await
        }
        GroupsCommand::Modify {
            group_id,
            name,
            desc,
            status,
            common,
        } => {
            let mut input = fields(name, desc, status);
            if input.is_empty() {
                return usage("nothing to modify: give at least one of --name, --desc, --status");
            }
            input.insert("group_id".into(), json!(group_id));
            planned(&common, "modify_group", Value::Object(input), &GROUPS).await
        }
        GroupsCommand::Delete { group_id, common } => {
            delete_by_id(&common, "delete_group", "group_id", &group_id, "group").await
        }
        GroupsCommand::Members {
            group_id,
            paging,
            common,
        } => {
            let path = format!(
                "/admin/v2/groups/{}/users",
                duo_proto::canon::path_segment(&group_id)
            );
            list(&common, &paging, &path, Map::new(), &GROUP_MEMBERS).await
        }
        GroupsCommand::AddUser {
            user_id,
            group_id,
            common,
        } => {
            let input = json!({"user_id": user_id, "group_id": group_id});
            let call = actions::plan("add_user_to_group", &input)?;
            let client = common.connection.client()?;
            client.call(call.method, &call.path, &call.params).await?;
            done(
                common.output,
                json!({"added": true, "user_id": user_id, "group_id": group_id}),
                &format!("user {user_id} is in group {group_id}"),
            )
        }
        GroupsCommand::RemoveUser {
            user_id,
            group_id,
            common,
        } => {
            let input = json!({"user_id": user_id, "group_id": group_id});
            let call = actions::plan("remove_user_from_group", &input)?;
            let client = common.connection.client()?;
            client.call(call.method, &call.path, &call.params).await?;
            done(
                common.output,
                json!({"removed": true, "user_id": user_id, "group_id": group_id}),
                &format!("user {user_id} is no longer in group {group_id}"),
            )
        }
    }
}

/// `duogate admins …`
pub async fn admins(command: AdminsCommand) -> anyhow::Result<ExitCode> {
    match command {
        AdminsCommand::List { paging, common } => {
            list(&common, &paging, "/admin/v1/admins", Map::new(), &ADMINS).await
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
        BypassCodesCommand::List {
            user_id,
            paging,
            common,
        } => {
            let path = match user_id {
                Some(user_id) => format!(
                    "/admin/v1/users/{}/bypass_codes",
                    duo_proto::canon::path_segment(&user_id)
                ),
                None => "/admin/v1/bypass_codes".to_string(),
            };
            list(&common, &paging, &path, Map::new(), &BYPASS_CODES).await
        }
        BypassCodesCommand::Generate {
            user_id,
            count,
            codes,
            valid_secs,
            reuse_count,
            preserve_existing,
            common,
        } => {
            let mut input = json!({"user_id": user_id});
            for (key, value) in [
                ("count", count.map(Value::from)),
                ("codes", codes.map(Value::from)),
                ("valid_secs", valid_secs.map(Value::from)),
                ("reuse_count", reuse_count.map(Value::from)),
                (
                    "preserve_existing",
                    preserve_existing.then_some(json!(true)),
                ),
            ] {
                if let Some(value) = value {
                    input[key] = value;
                }
            }
            let call = actions::plan("generate_bypass_codes", &input)?;
            let client = common.connection.client()?;
            // The codes are in this answer only: they go to stdout and nowhere else.
            let answer = client.call(call.method, &call.path, &call.params).await?;
            let codes: Vec<String> = serde_json::from_value(answer.response).map_err(|e| {
                duo_client::ClientError::Malformed {
                    status: 200,
                    message: format!("bypass codes: {e}"),
                }
            })?;
            write_codes(common.output, &user_id, &codes)?;
            eprintln!(
                "{} bypass codes for {user_id}; they are shown this once",
                codes.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        BypassCodesCommand::Delete {
            bypass_code_id,
            common,
        } => {
            delete_by_id(
                &common,
                "delete_bypass_code",
                "bypass_code_id",
                &bypass_code_id,
                "bypass code",
            )
            .await
        }
    }
}

/// Generated codes: JSON `{"user_id", "codes"}`, CSV `user_id,code` rows, or one code a line.
fn write_codes(
    format: Option<OutputFormat>,
    user_id: &str,
    codes: &[String],
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match OutputFormat::resolve(format) {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &json!({"user_id": user_id, "codes": codes}))?;
            writeln!(out)?;
        }
        OutputFormat::Csv => {
            writeln!(out, "user_id,code")?;
            for code in codes {
                writeln!(out, "{user_id},{code}")?;
            }
        }
        OutputFormat::Table => {
            for code in codes {
                writeln!(out, "{code}")?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// Plans an action, sends it, and prints Duo's `response` as one object.
/// Runs a delete action whose only input is the object's id, then says what was deleted:
/// `{"deleted": true, ID_FIELD: ID}` as JSON, or "WHAT ID is deleted".
async fn delete_by_id(
    common: &CommonArgs,
    action: &str,
    id_field: &str,
    id: &str,
    what: &str,
) -> anyhow::Result<ExitCode> {
    let call = actions::plan(action, &json!({ id_field: id }))?;
    let client = common.connection.client()?;
    client.call(call.method, &call.path, &call.params).await?;
    done(
        common.output,
        json!({"deleted": true, id_field: id}),
        &format!("{what} {id} is deleted"),
    )
}

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
    write_object(
        std::io::stdout().lock(),
        format,
        resource,
        &common.fields,
        &answer.response,
    )?;
    Ok(ExitCode::SUCCESS)
}

/// One page (`--limit/--offset`) or everything (`--all`), streamed to stdout.
async fn list(
    common: &CommonArgs,
    paging: &PagingArgs,
    path: &str,
    filter: Map<String, Value>,
    resource: &'static Resource,
) -> anyhow::Result<ExitCode> {
    let client = common.connection.client()?;
    let format = OutputFormat::resolve(common.output);
    let stdout = std::io::stdout();
    let mut writer = ListWriter::new(stdout.lock(), format, resource, &common.fields);
    if paging.all {
        stream_all(
            &client,
            common.quiet,
            path,
            filter,
            paging.page_size,
            &mut writer,
        )
        .await?;
    } else {
        let mut params = filter;
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
    filter: Map<String, Value>,
    page_size: Option<u32>,
    writer: &mut ListWriter<W>,
) -> anyhow::Result<()> {
    let bar = progress(quiet, resource_noun(path));
    let mut pages = std::pin::pin!(client.pages(path, filter, page_size));
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
        Some("bypass_codes") => "bypass codes",
        Some("groups") => "groups",
        _ => "objects",
    }
}

/// `duogate request-approval USER`: an asynchronous push, polled until decided. Prints
/// `{"txid", "result", "status", "status_msg"}`; exit 0 when allowed, 1 when not.
pub async fn request_approval(args: RequestApprovalArgs) -> anyhow::Result<ExitCode> {
    use duo_client::auth::{AuthRequest, Subject};
    if args.user.is_empty() {
        return usage("the user must not be empty");
    }
    if args.wait == 0 {
        return usage("--wait must be at least 1 second");
    }
    let subject = if duo_client::admin::is_user_id(&args.user) {
        Subject::UserId(args.user.clone())
    } else {
        Subject::Username(args.user.clone())
    };
    let request = AuthRequest {
        device: Some(args.device.clone()),
        pushinfo: args.pushinfo.clone(),
        kind: args.kind.clone(),
        ..AuthRequest::push(subject)
    };
    let client = args.connection.client()?;
    let (txid, decision) = client
        .auth()
        .request_approval(&request, std::time::Duration::from_secs(args.wait))
        .await?;
    let answer = json!({
        "txid": txid,
        "result": decision.result,
        "status": decision.status,
        "status_msg": decision.status_msg,
    });
    let format = OutputFormat::resolve(args.output);
    write_object(std::io::stdout().lock(), format, &APPROVALS, &[], &answer)?;
    if decision.result == "allow" {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "error: not approved: {} ({})",
            decision.status, decision.status_msg
        );
        Ok(ExitCode::from(EXIT_DUO))
    }
}

/// `duogate action NAME --input …`
pub async fn action(args: ActionArgs) -> anyhow::Result<ExitCode> {
    if args.help {
        match &args.name {
            Some(name) => match actions::find(name) {
                Some(action) => print!("{}", actions::action_help(action)),
                None => {
                    // The same message as running it: unknown action, and the names.
                    actions::plan(name, &Value::Null)?;
                }
            },
            None => {
                let mut command = <crate::cli::Cli as clap::CommandFactory>::command();
                if let Some(action) = command.find_subcommand_mut("action") {
                    action.print_long_help()?;
                }
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(name) = args.name.as_deref() else {
        return usage("name an action: `duogate action --help` lists them");
    };
    let input = crate::cli::read_input(&args.input)?;
    let call = actions::plan(name, &input)?;
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
            Value::Object(map) => {
                let mut detail = format!(
                    "{} {}",
                    map.get("code").map(Value::to_string).unwrap_or_default(),
                    map.get("message")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                );
                if let Some(extra) = map.get("message_detail").and_then(Value::as_str) {
                    detail.push_str(&format!(" ({extra})"));
                }
                detail
            }
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
                actions_help().contains(action.name),
                "{} missing from help",
                action.name
            );
        }
    }
}
