//! Scratch databases, for the test suites: each test that runs on PostgreSQL gets a
//! database of its own on the server `PIPELOG_TEST_DATABASE_URL` names, dropped when the
//! test is done. Not for production use.

use crate::StoreError;

/// The variable naming a PostgreSQL server whose user may create databases.
pub const DATABASE_URL_VAR: &str = "PIPELOG_TEST_DATABASE_URL";

/// The prefix of every scratch database's name, so leftovers can be found and dropped.
pub const NAME_PREFIX: &str = "pipelog_test_";

/// A database made for one test.
#[derive(Debug)]
pub struct ScratchDatabase {
    admin_url: String,
    name: String,
    /// The URL of the database itself.
    pub url: String,
}

impl ScratchDatabase {
    /// On the server `PIPELOG_TEST_DATABASE_URL` names; `None` when it is not set.
    pub async fn from_env() -> Option<Result<Self, StoreError>> {
        let admin_url = std::env::var(DATABASE_URL_VAR).ok()?;
        Some(ScratchDatabase::create(&admin_url).await)
    }

    /// A new, empty database on the server of `admin_url`.
    pub async fn create(admin_url: &str) -> Result<Self, StoreError> {
        let name = format!("{NAME_PREFIX}{}", uuid::Uuid::new_v4().simple());
        admin(admin_url)
            .await?
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        Ok(ScratchDatabase {
            url: with_database(admin_url, &name),
            admin_url: admin_url.to_owned(),
            name,
        })
    }

    /// Drops the database, closing whatever connections are still open to it.
    pub async fn drop_database(self) -> Result<(), StoreError> {
        admin(&self.admin_url)
            .await?
            .batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
            .await?;
        Ok(())
    }
}

async fn admin(url: &str) -> Result<tokio_postgres::Client, StoreError> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|error| {
            StoreError::Backend(format!("cannot connect to {DATABASE_URL_VAR}: {error}"))
        })?;
    tokio::spawn(connection);
    Ok(client)
}

/// `url` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(base, query)| (base, Some(query)));
    let authority = base.find("://").map_or(0, |at| at + 3);
    let base = match base[authority..].find('/') {
        Some(slash) => &base[..authority + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_is_replaced_and_options_kept() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres", "x"),
            "postgres://u:p@h:5432/x"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
        assert_eq!(
            with_database("postgresql://h/db?sslmode=disable", "x"),
            "postgresql://h/x?sslmode=disable"
        );
    }
}
