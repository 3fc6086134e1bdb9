//! Team accounts and web sessions.

use embargo_domain::{Login, WgName};
use jiff::Timestamp;
use sqlx::any::AnyRow;
use zeroize::Zeroizing;

use crate::Store;
use crate::db::{Sealer, get, get_bool, get_opt_ts, get_parsed, get_ts, get_u32, ms, opt_ms};
use crate::error::{Result, StoreError};
use crate::model::{FailedLogins, NewSession, NewUser, SYSTEM_ACTOR, Session, User};

macro_rules! user_select {
    () => {
        "SELECT login, role, wg, password_hash, must_change_password, totp_secret_sealed, pgp_cert, \
         email_sealed, created_at, failed_logins, locked_until FROM users "
    };
}

fn parse_login(s: &str) -> Result<Login> {
    Login::parse(s).map_err(|_| StoreError::corrupt("stored login does not parse"))
}

fn user_from_row(s: Sealer<'_>, r: &AnyRow) -> Result<User> {
    let login_text: String = get(r, "login")?;
    let totp_secret = get::<Option<Vec<u8>>>(r, "totp_secret_sealed")?
        .map(|blob| s.open("users", "totp_secret_sealed", &login_text, &blob))
        .transpose()?;
    Ok(User {
        role: get_parsed(r, "role")?,
        wg: get::<Option<String>>(r, "wg")?
            .map(|w| WgName::parse(&w))
            .transpose()
            .map_err(|_| StoreError::corrupt("stored WG name does not parse"))?,
        password_hash: get(r, "password_hash")?,
        must_change_password: get_bool(r, "must_change_password")?,
        totp_secret,
        pgp_cert: get(r, "pgp_cert")?,
        email: s.open_opt_col_text(r, "users", "email_sealed", &login_text)?,
        created_at: get_ts(r, "created_at")?,
        failed_logins: get_u32(r, "failed_logins")?,
        locked_until: get_opt_ts(r, "locked_until")?,
        login: parse_login(&login_text)?,
    })
}

fn not_found(login: &Login) -> StoreError {
    StoreError::NotFound(format!("user {login}"))
}

impl Store {
    /// Creates an account; [`StoreError::Conflict`] when the login exists.
    /// The login `system` is reserved for the gateway's own audit entries.
    pub async fn add_user(&self, user: NewUser) -> Result<()> {
        if user.login.as_str() == SYSTEM_ACTOR {
            return Err(StoreError::Invalid(
                "the login \"system\" is reserved".to_owned(),
            ));
        }
        let s = self.sealer();
        let login = user.login.as_str();
        let totp = user
            .totp_secret
            .as_ref()
            .map(|t| s.seal("users", "totp_secret_sealed", login, t))
            .transpose()?;
        let email = user
            .email
            .as_deref()
            .map(|e| s.seal("users", "email_sealed", login, e.as_bytes()))
            .transpose()?;
        let mut tx = self.begin().await?;
        let result = sqlx::query(
            "INSERT INTO users (login, role, wg, password_hash, must_change_password, totp_secret_sealed, pgp_cert, \
             email_sealed, created_at, failed_logins) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0)",
        )
        .bind(login)
        .bind(user.role.as_str())
        .bind(user.wg.as_ref().map(|w| w.as_str().to_owned()))
        .bind(&user.password_hash)
        .bind(user.must_change_password)
        .bind(totp)
        .bind(user.pgp_cert.as_deref())
        .bind(email)
        .bind(ms(user.created_at))
        .execute(&mut *tx.tx)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("user {} exists", user.login)),
            other => other,
        });
        result?;
        tx.commit().await?;
        tracing::info!(login = %user.login, role = %user.role, "user added");
        Ok(())
    }

    pub async fn get_user(&self, login: &Login) -> Result<Option<User>> {
        let row = sqlx::query(concat!(user_select!(), "WHERE login = $1"))
            .bind(login.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| user_from_row(self.sealer(), &r)).transpose()
    }

    /// Every account, by login.
    pub async fn list_users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query(concat!(user_select!(), "ORDER BY login"))
            .fetch_all(&self.pool)
            .await?;
        let s = self.sealer();
        rows.iter().map(|r| user_from_row(s, r)).collect()
    }

    /// Replaces the password hash (argon2 PHC string) and the
    /// must-change flag; clears failed logins and the lock.
    pub async fn set_password(
        &self,
        login: &Login,
        password_hash: &str,
        must_change: bool,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE users SET password_hash = $1, must_change_password = $2, failed_logins = 0, locked_until = NULL \
             WHERE login = $3",
        )
        .bind(password_hash)
        .bind(must_change)
        .bind(login.as_str())
        .execute(&mut *tx.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(not_found(login));
        }
        tx.commit().await
    }

    /// Sets or clears the TOTP secret (sealed at rest).
    pub async fn set_totp_secret(&self, login: &Login, secret: Option<&[u8]>) -> Result<()> {
        let sealed = secret
            .map(|t| {
                self.sealer()
                    .seal("users", "totp_secret_sealed", login.as_str(), t)
            })
            .transpose()?;
        let mut tx = self.begin().await?;
        let done = sqlx::query("UPDATE users SET totp_secret_sealed = $1 WHERE login = $2")
            .bind(sealed)
            .bind(login.as_str())
            .execute(&mut *tx.tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(not_found(login));
        }
        tx.commit().await
    }

    /// Sets or clears the account's OpenPGP certificate (public key).
    pub async fn set_pgp_cert(&self, login: &Login, cert: Option<&str>) -> Result<()> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("UPDATE users SET pgp_cert = $1 WHERE login = $2")
            .bind(cert)
            .bind(login.as_str())
            .execute(&mut *tx.tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(not_found(login));
        }
        tx.commit().await
    }

    /// Counts a failed login; once the count reaches `lock_after`, the
    /// account is locked until `lock_until`. Atomic.
    pub async fn record_failed_login(
        &self,
        login: &Login,
        lock_after: u32,
        lock_until: Timestamp,
    ) -> Result<FailedLogins> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "UPDATE users SET failed_logins = failed_logins + 1, \
             locked_until = CASE WHEN failed_logins + 1 >= $1 THEN $2 ELSE locked_until END \
             WHERE login = $3 RETURNING failed_logins, locked_until",
        )
        .bind(i64::from(lock_after))
        .bind(ms(lock_until))
        .bind(login.as_str())
        .fetch_optional(&mut *tx.tx)
        .await?
        .ok_or_else(|| not_found(login))?;
        let result = FailedLogins {
            count: get_u32(&row, "failed_logins")?,
            locked_until: get_opt_ts(&row, "locked_until")?,
        };
        tx.commit().await?;
        tracing::info!(%login, failed_logins = result.count, locked = result.locked_until.is_some(), "failed login");
        Ok(result)
    }

    /// After a successful login: no failures, no lock.
    pub async fn reset_failed_logins(&self, login: &Login) -> Result<()> {
        let mut tx = self.begin().await?;
        let done =
            sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE login = $1")
                .bind(login.as_str())
                .execute(&mut *tx.tx)
                .await?;
        if done.rows_affected() == 0 {
            return Err(not_found(login));
        }
        tx.commit().await
    }

    pub async fn create_session(&self, session: NewSession) -> Result<()> {
        let sealed = self.sealer().seal(
            "sessions",
            "csrf_sealed",
            &session.token_hash,
            &session.csrf_secret,
        )?;
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO sessions (id_hash, login, csrf_sealed, created_at, expires_at, last_seen) \
             VALUES ($1, $2, $3, $4, $5, $4)",
        )
        .bind(&session.token_hash)
        .bind(session.login.as_str())
        .bind(sealed)
        .bind(ms(session.created_at))
        .bind(ms(session.expires_at))
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }

    /// The session with this token hash (see [`crate::hash_token`]),
    /// expired or not: the caller compares `expires_at` with its clock.
    pub async fn get_session(&self, token_hash: &str) -> Result<Option<Session>> {
        let row = sqlx::query(
            "SELECT id_hash, login, csrf_sealed, created_at, expires_at, last_seen FROM sessions WHERE id_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let blob: Vec<u8> = get(&r, "csrf_sealed")?;
        let csrf_secret: Zeroizing<Vec<u8>> =
            self.sealer()
                .open("sessions", "csrf_sealed", token_hash, &blob)?;
        Ok(Some(Session {
            token_hash: get(&r, "id_hash")?,
            login: parse_login(&get::<String>(&r, "login")?)?,
            csrf_secret,
            created_at: get_ts(&r, "created_at")?,
            expires_at: get_ts(&r, "expires_at")?,
            last_seen: get_ts(&r, "last_seen")?,
        }))
    }

    /// Records activity; optionally extends the expiry (sliding sessions).
    pub async fn touch_session(
        &self,
        token_hash: &str,
        now: Timestamp,
        expires_at: Option<Timestamp>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE sessions SET last_seen = $1, expires_at = COALESCE($2, expires_at) WHERE id_hash = $3")
            .bind(ms(now))
            .bind(opt_ms(expires_at))
            .bind(token_hash)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await
    }

    /// Logs out. Deleting a session that does not exist is not an error.
    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(token_hash)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await
    }

    /// Ends every session of an account (password change, lock). Returns
    /// how many there were.
    pub async fn delete_user_sessions(&self, login: &Login) -> Result<u64> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM sessions WHERE login = $1")
            .bind(login.as_str())
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Removes sessions expired at `now`; returns how many.
    pub async fn delete_expired_sessions(&self, now: Timestamp) -> Result<u64> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(ms(now))
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
