//! Permissions a key may hold, named as the seeds name them (`EXECUTION_LOGS_READ`, ...).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One thing a key may be allowed to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Permission {
    ExecutionLogsRead,
    ExecutionLogsWrite,
    ExecutionLogsDelete,
    AuditLogsRead,
    AuditLogsWrite,
    OperatingLogsRead,
    OperatingLogsWrite,
    JobsRead,
    JobsExecute,
    KeysAdmin,
}

/// A permission name pipelog does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown permission `{given}`, expected one of {}",
    Permission::all_names()
)]
pub struct UnknownPermission {
    pub given: String,
}

impl Permission {
    /// Every permission, in the order they are listed to users.
    pub const ALL: [Permission; 10] = [
        Permission::ExecutionLogsRead,
        Permission::ExecutionLogsWrite,
        Permission::ExecutionLogsDelete,
        Permission::AuditLogsRead,
        Permission::AuditLogsWrite,
        Permission::OperatingLogsRead,
        Permission::OperatingLogsWrite,
        Permission::JobsRead,
        Permission::JobsExecute,
        Permission::KeysAdmin,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Permission::ExecutionLogsRead => "EXECUTION_LOGS_READ",
            Permission::ExecutionLogsWrite => "EXECUTION_LOGS_WRITE",
            Permission::ExecutionLogsDelete => "EXECUTION_LOGS_DELETE",
            Permission::AuditLogsRead => "AUDIT_LOGS_READ",
            Permission::AuditLogsWrite => "AUDIT_LOGS_WRITE",
            Permission::OperatingLogsRead => "OPERATING_LOGS_READ",
            Permission::OperatingLogsWrite => "OPERATING_LOGS_WRITE",
            Permission::JobsRead => "JOBS_READ",
            Permission::JobsExecute => "JOBS_EXECUTE",
            Permission::KeysAdmin => "KEYS_ADMIN",
        }
    }

    /// Parses a permission name; case and surrounding blanks do not matter.
    pub fn parse(text: &str) -> Result<Self, UnknownPermission> {
        let wanted = text.trim();
        Permission::ALL
            .into_iter()
            .find(|permission| permission.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownPermission {
                given: text.to_owned(),
            })
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }

    fn all_names() -> String {
        Permission::ALL.map(Permission::name).join(", ")
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of permissions, stored as a bit mask.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PermissionSet(u32);

impl PermissionSet {
    pub fn empty() -> Self {
        PermissionSet(0)
    }

    pub fn all() -> Self {
        Permission::ALL.into_iter().collect()
    }

    /// The set stored as `bits`; bits that name no permission are dropped.
    pub fn from_bits(bits: u32) -> Self {
        PermissionSet(bits & PermissionSet::all().0)
    }

    pub fn bits(self) -> u32 {
        self.0
    }

    pub fn contains(self, permission: Permission) -> bool {
        self.0 & permission.bit() != 0
    }

    pub fn is_subset_of(self, other: PermissionSet) -> bool {
        self.0 & !other.0 == 0
    }

    /// The permissions in `self` that `other` lacks.
    pub fn minus(self, other: PermissionSet) -> PermissionSet {
        PermissionSet(self.0 & !other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .into_iter()
            .filter(move |permission| self.contains(*permission))
    }

    /// Parses a comma-separated list such as `EXECUTION_LOGS_READ,JOBS_READ`.
    pub fn parse_list(text: &str) -> Result<Self, UnknownPermission> {
        text.split(',')
            .filter(|part| !part.trim().is_empty())
            .map(Permission::parse)
            .collect()
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        PermissionSet(iter.into_iter().fold(0, |bits, p| bits | p.bit()))
    }
}

impl fmt::Display for PermissionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Permission::name).collect();
        f.write_str(&names.join(","))
    }
}

impl Serialize for PermissionSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter().map(Permission::name))
    }
}

impl<'de> Deserialize<'de> for Permission {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Permission::parse(&name).map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for PermissionSet {
    /// From a list of names; an unknown name fails at its own index.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Vec::<Permission>::deserialize(deserializer)?
            .into_iter()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for permission in Permission::ALL {
            assert_eq!(Permission::parse(permission.name()), Ok(permission));
        }
        assert_eq!(Permission::parse(" jobs_read "), Ok(Permission::JobsRead));
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let error = Permission::parse("LOGS_READ").unwrap_err().to_string();
        assert!(error.contains("`LOGS_READ`"), "{error}");
        assert!(
            error.contains("EXECUTION_LOGS_READ, EXECUTION_LOGS_WRITE"),
            "{error}"
        );
    }

    #[test]
    fn sets() {
        let read = PermissionSet::parse_list("EXECUTION_LOGS_READ,JOBS_READ").unwrap();
        assert!(read.contains(Permission::JobsRead));
        assert!(!read.contains(Permission::KeysAdmin));
        assert!(read.is_subset_of(PermissionSet::all()));
        assert!(!PermissionSet::all().is_subset_of(read));
        assert_eq!(read.to_string(), "EXECUTION_LOGS_READ,JOBS_READ");
        assert_eq!(PermissionSet::from_bits(read.bits() | 1 << 31), read);
        assert_eq!(
            PermissionSet::all().minus(read).iter().count(),
            Permission::ALL.len() - 2
        );
    }
}
