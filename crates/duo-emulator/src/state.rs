//! The emulator's data: users with their scripted answers, phones, administrators, bypass
//! codes, enrollments and auth transactions, plus deterministic seeding and the state file.
//!
//! Everything sits behind one mutex that is never held across an `.await`. Users keep their
//! phones as ids; a reverse index (`phone_users`) makes phone listings O(page) even with 100k
//! users.

use std::collections::{BTreeMap, HashMap};

use rand::SeedableRng as _;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use duo_proto::models::{Admin, BypassCode, Phone, User};

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
    /// Preauth allows without a second factor.
    Bypass,
    /// Preauth asks for enrollment.
    NotEnrolled,
    /// Preauth denies: locked out.
    LockedOut,
}

impl Answer {
    /// Parses the control API's spelling.
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(text.to_string())).ok()
    }
}

/// A user and its script.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRecord {
    /// The user (its `phones` etc. are filled in on output).
    #[serde(flatten)]
    pub user: User,
    /// Phones, by id.
    #[serde(default)]
    pub phone_ids: Vec<String>,
    /// Scripted answer.
    #[serde(default)]
    pub answer: Answer,
    /// Passcodes this user accepts.
    #[serde(default)]
    pub passcodes: Vec<String>,
}

/// A bypass code and its owner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BypassRecord {
    /// The metadata (its `user` is filled in on output).
    #[serde(flatten)]
    pub code: BypassCode,
    /// The owner.
    pub user_id: String,
}

/// The state file, and `GET /_emulator/state`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateFile {
    /// Users with their scripts.
    #[serde(default)]
    pub users: Vec<UserRecord>,
    /// Phones.
    #[serde(default)]
    pub phones: Vec<Phone>,
    /// Administrators.
    #[serde(default)]
    pub admins: Vec<Admin>,
    /// Bypass codes.
    #[serde(default)]
    pub bypass_codes: Vec<BypassRecord>,
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

/// An auth transaction.
#[derive(Debug, Clone, Serialize)]
pub struct Transaction {
    /// Transaction id.
    pub txid: String,
    /// The user.
    pub username: String,
    /// Factor asked for.
    pub factor: String,
    /// Device asked for.
    pub device: Option<String>,
    /// Duo Mobile label (`type`).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Push info as sent.
    pub pushinfo: Option<String>,
    /// Client IP as sent.
    pub ipaddr: Option<String>,
    /// Display username as sent.
    pub display_username: Option<String>,
    /// Whether the call was async.
    pub r#async: bool,
    /// Unix seconds.
    pub created: i64,
    /// Final result: `allow` or `deny`.
    pub result: String,
    /// Final status: `allow`, `deny`, `fraud`, `timeout`, …
    pub status: String,
    /// Final message.
    pub status_msg: String,
    /// When the decision is reached (not serialised).
    #[serde(skip)]
    pub decided_at: tokio::time::Instant,
}

/// All the data.
#[derive(Debug, Default)]
pub struct Data {
    /// Users in creation order.
    pub users: Vec<UserRecord>,
    /// user_id → index in `users`.
    pub user_index: HashMap<String, usize>,
    /// Phones in creation order.
    pub phones: Vec<Phone>,
    /// phone_id → index in `phones`.
    pub phone_index: HashMap<String, usize>,
    /// phone_id → user ids.
    pub phone_users: HashMap<String, Vec<String>>,
    /// Administrators.
    pub admins: Vec<Admin>,
    /// Bypass codes.
    pub bypass_codes: Vec<BypassRecord>,
    /// user_id → enrollment.
    pub enrollments: HashMap<String, Enrollment>,
    /// txid → transaction.
    pub transactions: BTreeMap<String, Transaction>,
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
        encrypted: "Encrypted".into(),
        fingerprint: "Configured".into(),
        screenlock: "Locked".into(),
        tampered: "Not tampered".into(),
        ..Phone::default()
    }
}

impl Data {
    /// Generates `spec` deterministically: the same spec gives the same ids and fields.
    pub fn seeded(spec: SeedSpec) -> Self {
        let mut rng = StdRng::seed_from_u64(0xD0_0D_5E_ED);
        let mut data = Data::default();
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
                is_enrolled: true,
                created: SEED_EPOCH + i as i64 * 3600,
                last_login: (i % 3 != 0).then_some(SEED_EPOCH + 86_400 * 30 + i as i64),
                ..User::default()
            };
            data.insert_user(UserRecord {
                user,
                phone_ids: Vec::new(),
                answer: Answer::Approve,
                passcodes: Vec::new(),
            });
        }
        for i in 0..spec.phones {
            let phone = push_phone(&mut rng, format!("+1555{:07}", i + 1), i % 2 == 0);
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
                    "{}.{}@example.com",
                    first.to_lowercase(),
                    last.to_lowercase()
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
        for i in 0..spec.bypass_codes {
            if spec.users == 0 {
                break;
            }
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
        data
    }

    /// Adds the objects of a state file (replacing objects with the same id).
    pub fn load(&mut self, state: StateFile) {
        for phone in state.phones {
            self.insert_phone(phone);
        }
        for record in state.users {
            let phone_ids = record.phone_ids.clone();
            let user_id = record.user.user_id.clone();
            self.insert_user(UserRecord {
                phone_ids: Vec::new(),
                ..record
            });
            for phone_id in phone_ids {
                if self.phone_index.contains_key(&phone_id) {
                    self.associate(&user_id, &phone_id);
                }
            }
        }
        for admin in state.admins {
            self.admins.retain(|a| a.admin_id != admin.admin_id);
            self.admins.push(admin);
        }
        for code in state.bypass_codes {
            self.bypass_codes
                .retain(|c| c.code.bypass_code_id != code.code.bypass_code_id);
            self.bypass_codes.push(code);
        }
    }

    /// The state file form of everything.
    pub fn snapshot(&self) -> StateFile {
        StateFile {
            users: self.users.clone(),
            phones: self.phones.clone(),
            admins: self.admins.clone(),
            bypass_codes: self.bypass_codes.clone(),
        }
    }

    /// Adds or replaces a user (by id).
    pub fn insert_user(&mut self, record: UserRecord) {
        match self.user_index.get(&record.user.user_id) {
            Some(&i) => self.users[i] = record,
            None => {
                self.user_index
                    .insert(record.user.user_id.clone(), self.users.len());
                self.users.push(record);
            }
        }
    }

    /// Removes a user and its associations.
    pub fn remove_user(&mut self, user_id: &str) -> bool {
        let Some(i) = self.user_index.remove(user_id) else {
            return false;
        };
        let record = self.users.remove(i);
        for phone_id in &record.phone_ids {
            if let Some(users) = self.phone_users.get_mut(phone_id) {
                users.retain(|u| u != user_id);
            }
        }
        self.bypass_codes.retain(|c| c.user_id != user_id);
        self.user_index = self
            .users
            .iter()
            .enumerate()
            .map(|(i, r)| (r.user.user_id.clone(), i))
            .collect();
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

    /// Associates a phone with a user (idempotent). Both must exist.
    pub fn associate(&mut self, user_id: &str, phone_id: &str) {
        let Some(&i) = self.user_index.get(user_id) else {
            return;
        };
        if !self.users[i].phone_ids.iter().any(|p| p == phone_id) {
            self.users[i].phone_ids.push(phone_id.to_string());
            self.phone_users
                .entry(phone_id.to_string())
                .or_default()
                .push(user_id.to_string());
        }
    }

    /// The user with this id.
    pub fn user(&self, user_id: &str) -> Option<&UserRecord> {
        self.user_index.get(user_id).map(|&i| &self.users[i])
    }

    /// The user with this username or alias.
    pub fn user_by_name(&self, name: &str) -> Option<&UserRecord> {
        self.users.iter().find(|r| {
            r.user.username == name
                || [
                    &r.user.alias1,
                    &r.user.alias2,
                    &r.user.alias3,
                    &r.user.alias4,
                ]
                .iter()
                .any(|a| a.as_deref() == Some(name))
                || r.user.aliases.values().any(|a| a == name)
        })
    }

    /// The phone with this id.
    pub fn phone(&self, phone_id: &str) -> Option<&Phone> {
        self.phone_index.get(phone_id).map(|&i| &self.phones[i])
    }

    /// A user as embedded in other objects: no phones, groups or tokens.
    pub fn embedded_user(record: &UserRecord) -> User {
        User {
            groups: None,
            phones: None,
            tokens: None,
            u2ftokens: None,
            webauthncredentials: None,
            ..record.user.clone()
        }
    }

    /// A user as the users endpoints return it.
    pub fn full_user(&self, record: &UserRecord) -> User {
        let phones = record
            .phone_ids
            .iter()
            .filter_map(|id| self.phone(id))
            .map(|p| Phone {
                users: None,
                ..p.clone()
            })
            .collect();
        User {
            groups: Some(Vec::new()),
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeding_is_deterministic_and_links_objects() {
        let spec = SeedSpec {
            users: 5,
            phones: 7,
            admins: 2,
            bypass_codes: 3,
        };
        let a = Data::seeded(spec);
        let b = Data::seeded(spec);
        let ids = |d: &Data| {
            d.users
                .iter()
                .map(|u| u.user.user_id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&a), ids(&b));
        assert_eq!(a.users.len(), 5);
        assert!(
            a.users
                .iter()
                .all(|u| u.user.user_id.starts_with("DU") && u.user.user_id.len() == 20)
        );
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
    fn state_round_trips_through_a_snapshot() {
        let data = Data::seeded(SeedSpec {
            users: 3,
            phones: 3,
            admins: 1,
            bypass_codes: 1,
        });
        let text = serde_json::to_string(&data.snapshot()).unwrap();
        let mut loaded = Data::default();
        loaded.load(serde_json::from_str(&text).unwrap());
        assert_eq!(loaded.users.len(), 3);
        assert_eq!(loaded.users[1].phone_ids, data.users[1].phone_ids);
        assert_eq!(loaded.admins, data.admins);
    }

    #[test]
    fn answers_parse_from_their_snake_case_names() {
        assert_eq!(Answer::parse("not_enrolled"), Some(Answer::NotEnrolled));
        assert_eq!(Answer::parse("maybe"), None);
    }
}
