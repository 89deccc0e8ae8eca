//! The emulator's data: users with their scripted answers, phones, administrators, bypass
//! codes, enrollments and auth transactions, plus deterministic seeding and the state file.
//!
//! Everything sits behind one mutex that is never held across an `.await`. Users are kept in
//! creation order (that is the paging order) and indexed by id, by username and by alias, so
//! lookups stay O(1) and a page costs O(limit) even with 100k users. Users keep their phones as
//! ids; a reverse index (`phone_users`) lists a phone's users without scanning.
//!
//! # The state file
//!
//! [`StateFile`] is both what `GET /_emulator/state` answers and what
//! [`crate::EmulatorConfig::state_file`] loads:
//!
//! ```json
//! {"users": [<user objects as GET /admin/v1/users/{id} answers, phones included>],
//!  "phones": [<every phone, without "users">],
//!  "admins": [<administrator objects>],
//!  "bypass_codes": [<bypass code objects, "user" included>],
//!  "scripts": {"alice": {"answer": "deny", "passcodes": ["123456"]}}}
//! ```
//!
//! Every key may be omitted. `scripts` lists only users whose script differs from the default
//! (answer `approve`, no passcodes). A user's phones are taken from its `phones` list (a phone
//! listed there but not under `phones` is added too); a bypass code's owner is its
//! `user.user_id`.

use std::collections::{BTreeMap, HashMap, VecDeque};

use rand::SeedableRng as _;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use duo_proto::models::{Admin, BypassCode, Group, Phone, User};

use crate::config::{SeedSpec, duo_id};

/// How a user answers a push or a call, and what preauth says about them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// Approves pushes and calls.
    #[default]
    Approve,
    /// Denies them.
    Deny,
    /// Never answers: decided deny/timeout after the push timeout.
    Timeout,
    /// Reports fraud.
    Fraud,
    /// Preauth allows without a second factor; auth allows with status `bypass`.
    Bypass,
    /// Preauth asks for enrollment.
    NotEnrolled,
    /// Preauth denies: locked out.
    LockedOut,
}

impl Answer {
    /// Every answer's control-API spelling.
    pub const NAMES: &'static str =
        "approve, deny, timeout, fraud, bypass, not_enrolled, locked_out";

    /// Parses the control API's spelling.
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(text.to_string())).ok()
    }
}

/// Which code a user types into Duo Mobile for a Verified Duo Push.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifiedPush {
    /// The code shown at the login: an approval allows.
    #[default]
    Correct,
    /// Another code: an approval ends in deny.
    Wrong,
}

impl VerifiedPush {
    /// Every value's control-API spelling.
    pub const NAMES: &'static str = "correct, wrong";

    /// Parses the control API's spelling.
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(text.to_string())).ok()
    }

    fn is_correct(&self) -> bool {
        *self == Self::Correct
    }
}

/// How one user answers, as the state file lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// How pushes and calls are answered.
    #[serde(default)]
    pub answer: Answer,
    /// Passcodes the user accepts.
    #[serde(default)]
    pub passcodes: Vec<String>,
    /// The code typed for a Verified Duo Push.
    #[serde(default, skip_serializing_if = "VerifiedPush::is_correct")]
    pub verified_push: VerifiedPush,
}

impl Script {
    fn is_default(&self) -> bool {
        self.answer == Answer::Approve
            && self.passcodes.is_empty()
            && self.verified_push == VerifiedPush::Correct
    }
}

/// A user and its script.
#[derive(Debug, Clone)]
pub struct UserRecord {
    /// The user; its `phones`, `groups` etc. are `None` here and filled in on output.
    pub user: User,
    /// Phones, by id, in association order.
    pub phone_ids: Vec<String>,
    /// Scripted answer.
    pub answer: Answer,
    /// Passcodes this user accepts.
    pub passcodes: Vec<String>,
    /// The code typed for a Verified Duo Push.
    pub verified_push: VerifiedPush,
}

impl UserRecord {
    /// A user answering `approve`, with no phones and no passcodes.
    pub fn new(user: User) -> Self {
        Self {
            user,
            phone_ids: Vec::new(),
            answer: Answer::Approve,
            passcodes: Vec::new(),
            verified_push: VerifiedPush::Correct,
        }
    }
}

/// A bypass code and its owner.
#[derive(Debug, Clone)]
pub struct BypassRecord {
    /// The metadata (its `user` is filled in on output).
    pub code: BypassCode,
    /// The owner.
    pub user_id: String,
}

/// The state file, and `GET /_emulator/state` (see the module documentation).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateFile {
    /// Users, with their phones.
    #[serde(default)]
    pub users: Vec<User>,
    /// Every phone.
    #[serde(default)]
    pub phones: Vec<Phone>,
    /// Administrators.
    #[serde(default)]
    pub admins: Vec<Admin>,
    /// Bypass codes, with their users.
    #[serde(default)]
    pub bypass_codes: Vec<BypassCode>,
    /// Non-default scripts by username.
    #[serde(default)]
    pub scripts: BTreeMap<String, Script>,
}

/// An enrollment started by `/auth/v2/enroll`.
#[derive(Debug, Clone, Serialize)]
pub struct Enrollment {
    /// `duo://…`
    pub activation_code: String,
    /// Unix seconds.
    pub expiration: i64,
    /// Whether the control API activated it.
    pub activated: bool,
}

/// An enrollment e-mail Duo would have sent (`POST /admin/v1/users/enroll`), as the emulator
/// records it instead (`GET /_emulator/emails`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnrollmentEmail {
    /// The user created for it.
    pub user_id: String,
    /// Its username.
    pub username: String,
    /// Where it went.
    pub email: String,
    /// When, Unix seconds.
    pub sent: i64,
    /// When its link expires, Unix seconds (`None`: never, for `valid_secs=0`).
    pub expiration: Option<i64>,
}

/// An activation SMS Duo would have sent (`POST /admin/v1/phones/{phone_id}/send_sms_activation`),
/// as the emulator records it instead (`GET /_emulator/sms`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActivationSms {
    /// The phone it went to.
    pub phone_id: String,
    /// Its number (E.164).
    pub number: String,
    /// The messages, in the order they were sent: the installation message first when
    /// `install=1`, then the activation message (links filled in).
    pub messages: Vec<String>,
    /// When, Unix seconds.
    pub sent: i64,
    /// When its activation link expires, Unix seconds.
    pub expiration: i64,
}

/// The message Duo shows while a push waits for an answer.
pub const MSG_PUSHED: &str = "Pushed a login request to your device...";

/// A Verified Duo Push offered by preauth (`client_supports_verified_push=1`), waiting for the
/// `auth` that carries its `txid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPushOffer {
    /// The user it was offered to.
    pub user_id: String,
    /// The code the user must type into Duo Mobile.
    pub code: String,
    /// Unix seconds after which `auth` refuses the txid.
    pub expiration: i64,
}

/// How many unused Verified Push offers are kept (the oldest are forgotten first).
pub const OFFER_CAPACITY: usize = 10_000;

/// One waiting stage of a transaction, from `from` until the next stage or the decision:
/// `pushed`, or `calling` then `answered` for a phone call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    /// When the stage begins.
    pub from: tokio::time::Instant,
    /// `status` while in it.
    pub status: String,
    /// `status_msg` while in it.
    pub status_msg: String,
}

/// An auth transaction: what was asked, and how and when it is decided.
#[derive(Debug, Clone)]
pub struct Transaction {
    /// Transaction id.
    pub txid: String,
    /// The user.
    pub username: String,
    /// Factor asked for (`prompt` for a menu choice).
    pub factor: String,
    /// The menu choice a `prompt` resolved to (`push1`, `phone2`, …, or `passcode` for a
    /// typed passcode, which is never recorded).
    pub choice: Option<String>,
    /// Device asked for (for a menu choice, the device it named).
    pub device: Option<String>,
    /// Duo Mobile label (`type`).
    pub kind: Option<String>,
    /// Push info as sent.
    pub pushinfo: Option<String>,
    /// Client IP as sent.
    pub ipaddr: Option<String>,
    /// Client hostname as sent.
    pub hostname: Option<String>,
    /// The client's fail mode as sent (`open`/`closed`, duo_unix).
    pub failmode: Option<String>,
    /// Display username as sent.
    pub display_username: Option<String>,
    /// Whether the call was async.
    pub asynchronous: bool,
    /// Unix seconds.
    pub created: i64,
    /// Final result: `allow` or `deny`.
    pub result: String,
    /// Final status: `allow`, `deny`, `fraud`, `timeout`, …
    pub status: String,
    /// Final message.
    pub status_msg: String,
    /// When the decision is reached.
    pub decided_at: tokio::time::Instant,
    /// The waiting stages before `decided_at`, in order (empty: `pushed`).
    pub phases: Vec<Phase>,
    /// Verified Duo Push: the code the user must type.
    pub verification_code: Option<String>,
    /// The stage `auth_status` last answered (see [`Transaction::stage_at`]).
    pub reported: Option<usize>,
}

/// A transaction's `result`, `status` and `status_msg` at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// `waiting`, `allow` or `deny`.
    pub result: String,
    /// `pushed`, `calling` or `answered` while waiting, then the final status.
    pub status: String,
    /// Message for the user.
    pub status_msg: String,
    /// Verified Duo Push, while waiting: the code to type into Duo Mobile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_code: Option<String>,
}

impl Transaction {
    /// Whether the decision has been reached at `now`.
    pub fn is_decided(&self, now: tokio::time::Instant) -> bool {
        now >= self.decided_at
    }

    /// Which stage the transaction is in at `now`: the index of its current waiting phase, or
    /// `phases.len()` (at least 1) once decided. A poller that saw a lower stage has news.
    pub fn stage_at(&self, now: tokio::time::Instant) -> usize {
        if self.is_decided(now) {
            return self.phases.len().max(1);
        }
        self.phases
            .iter()
            .rposition(|phase| phase.from <= now)
            .unwrap_or(0)
    }

    /// When the stage next changes after `now` (the next phase, or the decision).
    pub fn next_change_after(&self, now: tokio::time::Instant) -> tokio::time::Instant {
        self.phases
            .iter()
            .map(|phase| phase.from)
            .find(|from| *from > now && *from < self.decided_at)
            .unwrap_or(self.decided_at)
    }

    /// The decision as `auth_status` reports it at `now`: the current waiting phase until
    /// decided.
    pub fn decision_at(&self, now: tokio::time::Instant) -> Decision {
        if self.is_decided(now) {
            return self.final_decision();
        }
        let (status, status_msg) = match self.phases.get(self.stage_at(now)) {
            Some(phase) => (phase.status.clone(), phase.status_msg.clone()),
            None => ("pushed".to_string(), MSG_PUSHED.to_string()),
        };
        Decision {
            result: "waiting".into(),
            status,
            status_msg,
            verification_code: self.verification_code.clone(),
        }
    }

    /// The decision once reached.
    pub fn final_decision(&self) -> Decision {
        Decision {
            result: self.result.clone(),
            status: self.status.clone(),
            status_msg: self.status_msg.clone(),
            verification_code: None,
        }
    }

    /// Decides a waiting transaction at `now` (the control API answering for the user).
    pub fn decide_now(
        &mut self,
        now: tokio::time::Instant,
        (result, status, status_msg): (&str, &str, &str),
    ) {
        self.result = result.to_string();
        self.status = status.to_string();
        self.status_msg = status_msg.to_string();
        self.decided_at = now;
    }

    /// The control API's view of the transaction at `now`.
    pub fn view_at(&self, now: tokio::time::Instant) -> serde_json::Value {
        let decision = self.decision_at(now);
        serde_json::json!({
            "txid": self.txid,
            "username": self.username,
            "factor": self.factor,
            "choice": self.choice,
            "device": self.device,
            "type": self.kind,
            "pushinfo": self.pushinfo,
            "ipaddr": self.ipaddr,
            "hostname": self.hostname,
            "failmode": self.failmode,
            "verification_code": self.verification_code,
            "display_username": self.display_username,
            "async": self.asynchronous,
            "created": self.created,
            "result": decision.result,
            "status": decision.status,
            "status_msg": decision.status_msg,
        })
    }
}

/// How many auth transactions are kept (the oldest are forgotten first).
pub const TRANSACTION_CAPACITY: usize = 100_000;

/// All the data.
#[derive(Debug, Clone, Default)]
pub struct Data {
    users: Vec<UserRecord>,
    user_index: HashMap<String, usize>,
    username_index: HashMap<String, usize>,
    alias_index: HashMap<String, usize>,
    phones: Vec<Phone>,
    phone_index: HashMap<String, usize>,
    phone_users: HashMap<String, Vec<String>>,
    /// Administrators, in creation order.
    pub admins: Vec<Admin>,
    /// Bypass codes, in creation order.
    pub bypass_codes: Vec<BypassRecord>,
    /// user_id → enrollment.
    pub enrollments: HashMap<String, Enrollment>,
    /// Enrollment e-mails "sent" by `POST /admin/v1/users/enroll`, oldest first.
    pub enrollment_emails: Vec<EnrollmentEmail>,
    /// Activation SMS "sent" by `POST /admin/v1/phones/{phone_id}/send_sms_activation`, oldest
    /// first.
    pub activation_sms: Vec<ActivationSms>,
    /// The authentication, administrator, telephony and activity logs.
    pub logs: crate::logs::LogBook,
    /// Groups, in creation (paging) order.
    pub groups: Vec<Group>,
    /// bypass_code_id → the code, for codes generated through the Admin API (never shown
    /// again; used by the Auth API's passcode check).
    bypass_secrets: HashMap<String, String>,
    /// group_id → its members' user ids, in the order they were added.
    pub group_members: HashMap<String, Vec<String>>,
    transactions: HashMap<String, Transaction>,
    transaction_order: VecDeque<String>,
    offers: HashMap<String, VerifiedPushOffer>,
    offer_order: VecDeque<String>,
}

const FIRST_NAMES: [&str; 16] = [
    "Alice", "Bruno", "Chen", "Dana", "Emeka", "Fatima", "Gustav", "Hana", "Ivan", "Jorge", "Kiri",
    "Lena", "Mateo", "Nadia", "Omar", "Priya",
];
const LAST_NAMES: [&str; 16] = [
    "Smith",
    "Garcia",
    "Nguyen",
    "Okafor",
    "Muller",
    "Rossi",
    "Tanaka",
    "Kowalski",
    "Silva",
    "Haddad",
    "Johansson",
    "Patel",
    "Moreau",
    "Novak",
    "Costa",
    "Reyes",
];
const ROLES: [&str; 5] = [
    "Administrator",
    "Owner",
    "Help Desk",
    "User Manager",
    "Read-only",
];
/// A fixed base for seeded timestamps, so seeding is deterministic.
const SEED_EPOCH: i64 = 1_735_689_600; // 2025-01-01T00:00:00Z

/// A push-capable smartphone with Duo Mobile activated (iOS or Android).
pub fn push_phone(rng: &mut impl rand::Rng, number: String, ios: bool) -> Phone {
    Phone {
        phone_id: duo_id(rng, "DP"),
        number,
        kind: "Mobile".into(),
        platform: if ios { "Apple iOS" } else { "Google Android" }.into(),
        model: if ios {
            "Apple iPhone 15"
        } else {
            "Google Pixel 8"
        }
        .into(),
        activated: true,
        capabilities: ["auto", "push", "sms", "phone", "mobile_otp"]
            .map(String::from)
            .to_vec(),
        last_seen: Some("2026-11-01T10:00:00".into()),
        predelay: Some("0".into()),
        postdelay: Some("0".into()),
        encrypted: "Encrypted".into(),
        fingerprint: "Configured".into(),
        screenlock: "Locked".into(),
        tampered: "Not tampered".into(),
        ..Phone::default()
    }
}

/// The four numbered alias fields, by name.
const NUMBERED_ALIASES: [&str; 4] = ["alias1", "alias2", "alias3", "alias4"];

/// Makes `aliases` the one source of truth: numbered aliases missing from it are added, then
/// `alias1`..`alias4` are set from it.
pub fn normalise_aliases(user: &mut User) {
    let numbered = [
        user.alias1.take(),
        user.alias2.take(),
        user.alias3.take(),
        user.alias4.take(),
    ];
    for (name, value) in NUMBERED_ALIASES.iter().zip(numbered) {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            user.aliases.entry((*name).to_string()).or_insert(value);
        }
    }
    user.aliases.retain(|_, value| !value.is_empty());
    user.alias1 = user.aliases.get("alias1").cloned();
    user.alias2 = user.aliases.get("alias2").cloned();
    user.alias3 = user.aliases.get("alias3").cloned();
    user.alias4 = user.aliases.get("alias4").cloned();
}

/// A user without its linked lists (as stored, and as embedded in phones and bypass codes).
fn unlinked(user: &User) -> User {
    User {
        groups: None,
        phones: None,
        tokens: None,
        u2ftokens: None,
        webauthncredentials: None,
        ..user.clone()
    }
}

impl Data {
    /// Generates `spec` deterministically: the same spec gives the same ids and fields.
    ///
    /// Phones and bypass codes are given to users round-robin; without users no bypass codes
    /// are generated (Duo's always belong to a user).
    pub fn seeded(spec: SeedSpec) -> Self {
        let mut rng = StdRng::seed_from_u64(0xD0_0D_5E_ED);
        let mut data = Data::default();
        data.users.reserve(spec.users);
        for i in 0..spec.users {
            let first = FIRST_NAMES[i % FIRST_NAMES.len()];
            let last = LAST_NAMES[(i / FIRST_NAMES.len()) % LAST_NAMES.len()];
            let username = format!(
                "{}{}{:04}",
                first[..1].to_ascii_lowercase(),
                last.to_ascii_lowercase(),
                i + 1
            );
            let user = User {
                user_id: duo_id(&mut rng, "DU"),
                email: format!("{username}@example.com"),
                username,
                realname: format!("{first} {last}"),
                firstname: first.to_string(),
                lastname: last.to_string(),
                status: "active".into(),
                is_enrolled: spec.phones > i,
                created: SEED_EPOCH + i as i64 * 3600,
                last_login: (i % 3 != 0).then_some(SEED_EPOCH + 86_400 * 30 + i as i64),
                ..User::default()
            };
            data.insert_user(UserRecord::new(user));
        }
        for i in 0..spec.phones {
            let mut phone = push_phone(&mut rng, format!("+1555{:07}", i + 1), i % 2 == 0);
            phone.name = format!("Phone {}", i + 1);
            let phone_id = phone.phone_id.clone();
            data.insert_phone(phone);
            if spec.users > 0 {
                let user_id = data.users[i % spec.users].user.user_id.clone();
                data.associate(&user_id, &phone_id);
            }
        }
        for i in 0..spec.admins {
            let first = FIRST_NAMES[(i + 5) % FIRST_NAMES.len()];
            let last = LAST_NAMES[(i + 3) % LAST_NAMES.len()];
            data.admins.push(Admin {
                admin_id: duo_id(&mut rng, "DE"),
                name: format!("{first} {last}"),
                email: format!(
                    "{}.{}{}@example.com",
                    first.to_lowercase(),
                    last.to_lowercase(),
                    i + 1
                ),
                phone: format!("+1555{:07}", 9_000_000 + i),
                role: ROLES[i % ROLES.len()].into(),
                status: "Active".into(),
                created: SEED_EPOCH + i as i64 * 60,
                last_login: Some(SEED_EPOCH + 86_400 * 60 + i as i64),
                ..Admin::default()
            });
        }
        let admin_email = data
            .admins
            .first()
            .map(|a| a.email.clone())
            .unwrap_or_else(|| "admin@example.com".into());
        if spec.users > 0 {
            for i in 0..spec.bypass_codes {
                let user_id = data.users[i % spec.users].user.user_id.clone();
                data.bypass_codes.push(BypassRecord {
                    code: BypassCode {
                        bypass_code_id: duo_id(&mut rng, "DB"),
                        admin_email: admin_email.clone(),
                        created: SEED_EPOCH + i as i64 * 600,
                        expiration: (i % 2 == 0).then_some(SEED_EPOCH + 86_400 * 400),
                        reuse_count: (i % 3 == 0).then_some(1),
                        user: None,
                    },
                    user_id,
                });
            }
        }
        data
    }

    /// Adds the objects of a state file, replacing objects with the same id. Nothing is
    /// changed when the file is inconsistent; the error says what is wrong.
    pub fn load(&mut self, state: StateFile) -> Result<(), String> {
        // Work on a copy so a failure part-way leaves the original untouched.
        let mut next = self.clone();
        next.load_into(state)?;
        *self = next;
        Ok(())
    }

    fn load_into(&mut self, state: StateFile) -> Result<(), String> {
        for (i, phone) in state.phones.into_iter().enumerate() {
            if phone.phone_id.is_empty() {
                return Err(format!("phones[{i}]: phone_id is empty"));
            }
            self.insert_phone(Phone {
                users: None,
                ..phone
            });
        }
        for (i, user) in state.users.into_iter().enumerate() {
            if user.user_id.is_empty() || user.username.is_empty() {
                return Err(format!(
                    "users[{i}]: user_id and username must not be empty"
                ));
            }
            if let Some(other) = self.username_index.get(&user.username).copied()
                && self.users[other].user.user_id != user.user_id
            {
                return Err(format!(
                    "users[{i}]: username {:?} is used by two users",
                    user.username
                ));
            }
            let phones = user.phones.clone().unwrap_or_default();
            let user_id = user.user_id.clone();
            let previous = self.user(&user_id).cloned();
            let mut record = UserRecord::new(user);
            if let Some(previous) = previous {
                record.answer = previous.answer;
                record.passcodes = previous.passcodes;
                record.verified_push = previous.verified_push;
                self.detach_phones(&user_id);
            }
            self.insert_user(record);
            for phone in phones {
                if phone.phone_id.is_empty() {
                    return Err(format!("users[{i}].phones: phone_id is empty"));
                }
                if self.phone(&phone.phone_id).is_none() {
                    self.insert_phone(Phone {
                        users: None,
                        ..phone.clone()
                    });
                }
                self.associate(&user_id, &phone.phone_id);
            }
        }
        for admin in state.admins {
            self.admins.retain(|a| a.admin_id != admin.admin_id);
            self.admins.push(admin);
        }
        for (i, code) in state.bypass_codes.into_iter().enumerate() {
            let Some(user_id) = code.user.as_ref().map(|u| u.user_id.clone()) else {
                return Err(format!("bypass_codes[{i}]: no \"user\""));
            };
            if self.user(&user_id).is_none() {
                return Err(format!("bypass_codes[{i}]: no user {user_id:?}"));
            }
            self.bypass_codes
                .retain(|c| c.code.bypass_code_id != code.bypass_code_id);
            self.bypass_codes.push(BypassRecord {
                code: BypassCode { user: None, ..code },
                user_id,
            });
        }
        for (username, script) in state.scripts {
            let Some(&index) = self.username_index.get(&username) else {
                return Err(format!("scripts: no user named {username:?}"));
            };
            self.users[index].answer = script.answer;
            self.users[index].passcodes = script.passcodes;
            self.users[index].verified_push = script.verified_push;
        }
        Ok(())
    }

    /// The state file form of everything.
    pub fn snapshot(&self) -> StateFile {
        StateFile {
            users: self.users.iter().map(|r| self.full_user(r)).collect(),
            phones: self.phones.iter().map(Self::bare_phone).collect(),
            admins: self.admins.clone(),
            bypass_codes: self
                .bypass_codes
                .iter()
                .map(|c| self.full_bypass_code(c))
                .collect(),
            scripts: self
                .users
                .iter()
                .map(|r| {
                    (
                        r.user.username.clone(),
                        Script {
                            answer: r.answer,
                            passcodes: r.passcodes.clone(),
                            verified_push: r.verified_push,
                        },
                    )
                })
                .filter(|(_, script)| !script.is_default())
                .collect(),
        }
    }

    /// Users in creation (paging) order.
    pub fn users(&self) -> &[UserRecord] {
        &self.users
    }

    fn index_names(&mut self, index: usize) {
        let user = &self.users[index].user;
        self.username_index.insert(user.username.clone(), index);
        for alias in user.aliases.values() {
            self.alias_index.insert(alias.clone(), index);
        }
    }

    fn unindex_names(&mut self, index: usize) {
        let user = &self.users[index].user;
        if self.username_index.get(&user.username) == Some(&index) {
            self.username_index.remove(&user.username);
        }
        for alias in user.aliases.values() {
            if self.alias_index.get(alias) == Some(&index) {
                self.alias_index.remove(alias);
            }
        }
    }

    fn reindex_users(&mut self) {
        self.user_index.clear();
        self.username_index.clear();
        self.alias_index.clear();
        for index in 0..self.users.len() {
            self.user_index
                .insert(self.users[index].user.user_id.clone(), index);
            self.index_names(index);
        }
    }

    /// Adds a user, or replaces the user with the same id (its phones are kept as given in
    /// `record`). Linked lists inside `record.user` are dropped; aliases are normalised.
    pub fn insert_user(&mut self, mut record: UserRecord) {
        record.user = unlinked(&record.user);
        normalise_aliases(&mut record.user);
        match self.user_index.get(&record.user.user_id).copied() {
            Some(index) => {
                self.unindex_names(index);
                self.users[index] = record;
                self.index_names(index);
            }
            None => {
                let index = self.users.len();
                self.user_index.insert(record.user.user_id.clone(), index);
                self.users.push(record);
                self.index_names(index);
            }
        }
    }

    /// Replaces the profile of an existing user (same `user_id`), keeping its phones and
    /// script. Returns `false` when there is no such user.
    pub fn set_user(&mut self, user: User) -> bool {
        let Some(index) = self.user_index.get(&user.user_id).copied() else {
            return false;
        };
        let record = UserRecord {
            user,
            ..self.users[index].clone()
        };
        self.insert_user(record);
        true
    }

    /// Sets a user's script.
    pub fn set_script(&mut self, user_id: &str, answer: Answer, passcodes: Vec<String>) {
        if let Some(&index) = self.user_index.get(user_id) {
            self.users[index].answer = answer;
            self.users[index].passcodes = passcodes;
        }
    }

    /// Removes a user, its phone associations and its bypass codes and enrollment.
    pub fn remove_user(&mut self, user_id: &str) -> bool {
        let Some(index) = self.user_index.get(user_id).copied() else {
            return false;
        };
        self.detach_phones(user_id);
        self.users.remove(index);
        self.bypass_codes.retain(|c| c.user_id != user_id);
        self.enrollments.remove(user_id);
        for members in self.group_members.values_mut() {
            members.retain(|m| m != user_id);
        }
        self.reindex_users();
        true
    }

    /// Adds or replaces a phone (by id).
    pub fn insert_phone(&mut self, phone: Phone) {
        match self.phone_index.get(&phone.phone_id) {
            Some(&i) => self.phones[i] = phone,
            None => {
                self.phone_index
                    .insert(phone.phone_id.clone(), self.phones.len());
                self.phones.push(phone);
            }
        }
    }

    /// Removes a phone and its associations with users. Returns whether it existed.
    pub fn remove_phone(&mut self, phone_id: &str) -> bool {
        let Some(index) = self.phone_index.get(phone_id).copied() else {
            return false;
        };
        for user_id in self.phone_users.remove(phone_id).unwrap_or_default() {
            if let Some(&i) = self.user_index.get(&user_id) {
                self.users[i].phone_ids.retain(|p| p != phone_id);
            }
        }
        self.phones.remove(index);
        self.phone_index = self
            .phones
            .iter()
            .enumerate()
            .map(|(i, p)| (p.phone_id.clone(), i))
            .collect();
        true
    }

    /// Phones in creation (paging) order.
    pub fn phones(&self) -> &[Phone] {
        &self.phones
    }

    /// Associates a phone with a user (idempotent). Both must exist; returns whether they do.
    pub fn associate(&mut self, user_id: &str, phone_id: &str) -> bool {
        let Some(&i) = self.user_index.get(user_id) else {
            return false;
        };
        if !self.phone_index.contains_key(phone_id) {
            return false;
        }
        if !self.users[i].phone_ids.iter().any(|p| p == phone_id) {
            self.users[i].phone_ids.push(phone_id.to_string());
            self.phone_users
                .entry(phone_id.to_string())
                .or_default()
                .push(user_id.to_string());
        }
        true
    }

    /// How many users a phone is associated with.
    pub fn phone_user_count(&self, phone_id: &str) -> usize {
        self.phone_users.get(phone_id).map_or(0, Vec::len)
    }

    /// Removes a phone from a user (idempotent). Returns whether both exist.
    pub fn dissociate(&mut self, user_id: &str, phone_id: &str) -> bool {
        let Some(&i) = self.user_index.get(user_id) else {
            return false;
        };
        if !self.phone_index.contains_key(phone_id) {
            return false;
        }
        self.users[i].phone_ids.retain(|p| p != phone_id);
        if let Some(users) = self.phone_users.get_mut(phone_id) {
            users.retain(|u| u != user_id);
        }
        true
    }

    /// Removes every phone from a user (the phones themselves stay).
    pub fn detach_phones(&mut self, user_id: &str) {
        let Some(&i) = self.user_index.get(user_id) else {
            return;
        };
        for phone_id in std::mem::take(&mut self.users[i].phone_ids) {
            if let Some(users) = self.phone_users.get_mut(&phone_id) {
                users.retain(|u| u != user_id);
            }
        }
    }

    /// The user with this id.
    pub fn user(&self, user_id: &str) -> Option<&UserRecord> {
        self.user_index.get(user_id).map(|&i| &self.users[i])
    }

    /// The user with this username, or else with this alias.
    pub fn user_by_name(&self, name: &str) -> Option<&UserRecord> {
        self.username_index
            .get(name)
            .or_else(|| self.alias_index.get(name))
            .map(|&i| &self.users[i])
    }

    /// Whether `name` is a username or alias of a user other than `except`.
    pub fn name_taken(&self, name: &str, except: Option<&str>) -> bool {
        [self.username_index.get(name), self.alias_index.get(name)]
            .into_iter()
            .flatten()
            .any(|&i| Some(self.users[i].user.user_id.as_str()) != except)
    }

    /// The phone with this id.
    pub fn phone(&self, phone_id: &str) -> Option<&Phone> {
        self.phone_index.get(phone_id).map(|&i| &self.phones[i])
    }

    /// The phones of a user, in association order.
    pub fn phones_of<'a>(&'a self, record: &'a UserRecord) -> impl Iterator<Item = &'a Phone> {
        record.phone_ids.iter().filter_map(|id| self.phone(id))
    }

    /// A user as embedded in other objects: no phones, groups or tokens.
    pub fn embedded_user(record: &UserRecord) -> User {
        unlinked(&record.user)
    }

    /// Remembers the code of a generated bypass code.
    pub fn keep_bypass_secret(&mut self, bypass_code_id: &str, code: &str) {
        self.bypass_secrets
            .insert(bypass_code_id.to_string(), code.to_string());
    }

    /// Uses one of a user's bypass codes at `now` (Unix seconds): `true` when `code` is one of
    /// theirs, unexpired, with uses left. A use counts against `reuse_count` (`None`:
    /// unlimited); a used-up code is deleted.
    pub fn use_bypass_code(&mut self, user_id: &str, code: &str, now: i64) -> bool {
        let secrets = &self.bypass_secrets;
        let Some(index) = self.bypass_codes.iter().position(|record| {
            record.user_id == user_id
                && secrets.get(&record.code.bypass_code_id).map(String::as_str) == Some(code)
                && record.code.expiration.is_none_or(|at| at > now)
        }) else {
            return false;
        };
        let record = &mut self.bypass_codes[index];
        if let Some(uses) = record.code.reuse_count.as_mut() {
            *uses -= 1;
            if *uses <= 0 {
                let id = record.code.bypass_code_id.clone();
                self.bypass_codes.remove(index);
                self.bypass_secrets.remove(&id);
            }
        }
        true
    }

    /// The groups a user belongs to, in group order.
    pub fn groups_of(&self, user_id: &str) -> Vec<Group> {
        self.groups
            .iter()
            .filter(|g| {
                self.group_members
                    .get(&g.group_id)
                    .is_some_and(|members| members.iter().any(|m| m == user_id))
            })
            .cloned()
            .collect()
    }

    /// A user as the users endpoints return it.
    pub fn full_user(&self, record: &UserRecord) -> User {
        let phones = self.phones_of(record).map(Self::bare_phone).collect();
        User {
            groups: Some(self.groups_of(&record.user.user_id)),
            phones: Some(phones),
            tokens: Some(Vec::new()),
            u2ftokens: Some(Vec::new()),
            webauthncredentials: Some(Vec::new()),
            ..record.user.clone()
        }
    }

    /// A phone as the phones endpoints return it (with its users).
    pub fn full_phone(&self, phone: &Phone) -> Phone {
        let users = self
            .phone_users
            .get(&phone.phone_id)
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| self.user(id))
                    .map(Self::embedded_user)
                    .collect()
            })
            .unwrap_or_default();
        Phone {
            users: Some(users),
            ..phone.clone()
        }
    }

    /// A phone as it appears inside a user.
    pub fn bare_phone(phone: &Phone) -> Phone {
        Phone {
            users: None,
            ..phone.clone()
        }
    }

    /// A bypass code as the endpoint returns it (with its user, never the code).
    pub fn full_bypass_code(&self, record: &BypassRecord) -> BypassCode {
        BypassCode {
            user: self.user(&record.user_id).map(Self::embedded_user),
            ..record.code.clone()
        }
    }

    /// Records a transaction, forgetting the oldest beyond [`TRANSACTION_CAPACITY`].
    pub fn insert_transaction(&mut self, transaction: Transaction) {
        if self.transaction_order.len() >= TRANSACTION_CAPACITY
            && let Some(oldest) = self.transaction_order.pop_front()
        {
            self.transactions.remove(&oldest);
        }
        self.transaction_order.push_back(transaction.txid.clone());
        self.transactions
            .insert(transaction.txid.clone(), transaction);
    }

    /// The transaction with this id.
    pub fn transaction(&self, txid: &str) -> Option<&Transaction> {
        self.transactions.get(txid)
    }

    /// The transaction with this id, to change.
    pub fn transaction_mut(&mut self, txid: &str) -> Option<&mut Transaction> {
        self.transactions.get_mut(txid)
    }

    /// Transactions, oldest first, to change.
    pub fn transactions_mut(&mut self) -> impl Iterator<Item = &mut Transaction> {
        self.transactions.values_mut()
    }

    /// Records a Verified Push offer under its txid, forgetting the oldest beyond
    /// [`OFFER_CAPACITY`].
    pub fn insert_offer(&mut self, txid: String, offer: VerifiedPushOffer) {
        if self.offer_order.len() >= OFFER_CAPACITY
            && let Some(oldest) = self.offer_order.pop_front()
        {
            self.offers.remove(&oldest);
        }
        self.offer_order.push_back(txid.clone());
        self.offers.insert(txid, offer);
    }

    /// The Verified Push offer with this txid.
    pub fn offer(&self, txid: &str) -> Option<&VerifiedPushOffer> {
        self.offers.get(txid)
    }

    /// Uses up a Verified Push offer (each txid serves one `auth`).
    pub fn take_offer(&mut self, txid: &str) -> Option<VerifiedPushOffer> {
        self.offer_order.retain(|t| t != txid);
        self.offers.remove(txid)
    }

    /// Transactions, oldest first.
    pub fn transactions(&self) -> impl Iterator<Item = &Transaction> {
        self.transaction_order
            .iter()
            .filter_map(|txid| self.transactions.get(txid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(users: usize, phones: usize, admins: usize, bypass_codes: usize) -> SeedSpec {
        SeedSpec {
            users,
            phones,
            admins,
            bypass_codes,
        }
    }

    #[test]
    fn seeding_is_deterministic_and_links_objects() {
        let a = Data::seeded(spec(5, 7, 2, 3));
        let b = Data::seeded(spec(5, 7, 2, 3));
        assert_eq!(a.snapshot().users, b.snapshot().users);
        assert_eq!(a.admins, b.admins);
        assert_eq!(a.users.len(), 5);
        assert!(
            a.users
                .iter()
                .all(|u| u.user.user_id.starts_with("DU") && u.user.user_id.len() == 20)
        );
        assert_eq!(a.users[0].user.username, "asmith0001");
        assert_eq!(
            a.users[0].phone_ids.len(),
            2,
            "7 phones round-robin over 5 users"
        );
        assert_eq!(a.full_phone(&a.phones[0]).users.unwrap().len(), 1);
        assert_eq!(
            a.full_bypass_code(&a.bypass_codes[0]).user.unwrap().user_id,
            a.users[0].user.user_id
        );
    }

    #[test]
    fn a_hundred_thousand_users_seed_with_unique_names() {
        let data = Data::seeded(spec(100_000, 1_000, 0, 0));
        assert_eq!(data.users.len(), 100_000);
        assert_eq!(data.username_index.len(), 100_000, "usernames are unique");
        assert_eq!(data.user_index.len(), 100_000, "ids are unique");
        let last = &data.users[99_999].user;
        assert_eq!(
            data.user_by_name(&last.username).map(|r| &r.user.user_id),
            Some(&last.user_id)
        );
    }

    #[test]
    fn state_round_trips_through_a_snapshot() {
        let mut data = Data::seeded(spec(3, 4, 1, 1));
        let id = data.users[2].user.user_id.clone();
        data.set_script(&id, Answer::Fraud, vec!["123".into()]);
        let text = serde_json::to_string(&data.snapshot()).unwrap();
        let mut loaded = Data::default();
        loaded.load(serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(loaded.users.len(), 3);
        assert_eq!(loaded.users[0].phone_ids, data.users[0].phone_ids);
        assert_eq!(loaded.users[2].answer, Answer::Fraud);
        assert_eq!(loaded.admins, data.admins);
        assert_eq!(
            serde_json::to_value(loaded.snapshot()).unwrap(),
            serde_json::to_value(data.snapshot()).unwrap()
        );
    }

    #[test]
    fn inconsistent_state_files_are_refused_naming_the_problem() {
        let state: StateFile =
            serde_json::from_str(r#"{"scripts": {"ghost": {"answer": "deny"}}}"#).unwrap();
        let mut data = Data::seeded(spec(1, 0, 0, 0));
        assert!(data.load(state).unwrap_err().contains("ghost"));
        assert!(
            serde_json::from_str::<StateFile>(r#"{"user": []}"#).is_err(),
            "unknown keys are refused"
        );
    }

    #[test]
    fn names_and_aliases_are_indexed_and_follow_updates() {
        let mut data = Data::seeded(spec(2, 0, 0, 0));
        let mut user = data.users[0].user.clone();
        let old_name = user.username.clone();
        user.username = "renamed".into();
        user.alias2 = Some("jdoe".into());
        assert!(data.set_user(user));
        assert!(data.user_by_name(&old_name).is_none());
        assert_eq!(data.user_by_name("jdoe").unwrap().user.username, "renamed");
        assert_eq!(
            data.users[0].user.aliases.get("alias2").map(String::as_str),
            Some("jdoe")
        );
        let other = data.users[1].user.user_id.clone();
        assert!(data.name_taken("jdoe", Some(&other)));
        assert!(!data.name_taken("jdoe", Some(&data.users[0].user.user_id.clone())));
        let first = data.users[0].user.user_id.clone();
        assert!(data.remove_user(&first));
        assert!(data.user_by_name("renamed").is_none());
        assert_eq!(data.user(&other).unwrap().user.user_id, other);
    }

    #[test]
    fn answers_parse_from_their_snake_case_names() {
        assert_eq!(Answer::parse("not_enrolled"), Some(Answer::NotEnrolled));
        assert_eq!(Answer::parse("maybe"), None);
    }
}
