//! `init`, `key export`, `user add`: creating what the gateway needs.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use anyhow::{Context, anyhow};
use embargo_domain::{Login, Role, WgName};
use embargo_pgp::Keyring;
use embargo_seal::StorageKeys;
use embargo_store::{NewUser, Store, StoreError};

use crate::Failure;
use crate::config::Config;

/// What `init` did; empty when everything already existed.
#[derive(Debug, Default)]
pub struct Created {
    pub items: Vec<String>,
}

fn private_dir(path: &Path) -> anyhow::Result<bool> {
    if path.is_dir() {
        return Ok(false);
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .with_context(|| format!("cannot create directory {}", path.display()))?;
    Ok(true)
}

/// Writes a new file readable by its owner only. Refuses to overwrite.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Loads the storage keyring and opens the store (migrating it).
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let keys = StorageKeys::load(&config.storage_key_file).with_context(|| {
        format!(
            "storage key {} (run `embargo init` first?)",
            config.storage_key_file.display()
        )
    })?;
    Store::connect(config.database_url.expose(), keys)
        .await
        .context("cannot open the store")
}

pub fn load_keyring(config: &Config) -> anyhow::Result<Keyring> {
    Keyring::load(&config.secret_key_files).context("cannot load the team OpenPGP keys")
}

pub async fn init(config: &Config) -> Result<Created, Failure> {
    let mut created = Created::default();
    if private_dir(&config.data_dir)? {
        created
            .items
            .push(format!("data directory {}", config.data_dir.display()));
    }
    let keys_dir = config.data_dir.join("keys");
    if private_dir(&keys_dir)? {
        created.items.push(format!("{}", keys_dir.display()));
    }

    if !config.storage_key_file.exists() {
        if let Some(parent) = config.storage_key_file.parent() {
            private_dir(parent)?;
        }
        StorageKeys::generate_file(&config.storage_key_file).with_context(|| {
            format!(
                "cannot create storage key {}",
                config.storage_key_file.display()
            )
        })?;
        created
            .items
            .push(format!("storage key {}", config.storage_key_file.display()));
    }

    if config.generated_team_key {
        let path = config
            .secret_key_files
            .first()
            .ok_or_else(|| anyhow!("no team key path"))?;
        if !path.exists() {
            let key = embargo_pgp::generate_team_key(&config.settings.mail.address)
                .context("cannot generate the team OpenPGP key")?;
            write_private(path, key.armored_secret()?.as_bytes())?;
            created.items.push(format!(
                "team OpenPGP key {} ({})",
                key.fingerprint(),
                path.display()
            ));
        }
    }
    // Configured or generated, the keys must load.
    load_keyring(config)?;

    let store = open_store(config).await?;
    let admin = Login::parse("admin").map_err(anyhow::Error::new)?;
    match store.get_user(&admin).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            let password = embargo_web::password::one_time();
            let hash = embargo_web::password::hash(&password)?;
            store
                .add_user(NewUser {
                    login: admin.clone(),
                    role: Role::Admin,
                    wg: None,
                    email: None,
                    password_hash: hash,
                    must_change_password: true,
                    pgp_cert: None,
                    totp_secret: None,
                    created_at: jiff::Timestamp::now(),
                })
                .await
                .context("cannot create the admin account")?;
            eprintln!(
                "Created account 'admin'. Its one-time password (shown once, change it at first login):"
            );
            println!("{}", password.as_str());
            created.items.push("account admin".into());
        }
        Err(e) => return Err(anyhow::Error::new(e).context("cannot read accounts").into()),
    }

    if created.items.is_empty() {
        eprintln!(
            "{} is already initialised: nothing changed.",
            config.data_dir.display()
        );
    } else {
        for item in &created.items {
            eprintln!("created {item}");
        }
    }
    Ok(created)
}

pub fn key_export(config: &Config) -> Result<(), Failure> {
    let keyring = load_keyring(config)?;
    print!("{}", keyring.public_armored()?);
    Ok(())
}

/// What `user add` was given.
pub struct UserSpec<'a> {
    pub login: &'a str,
    pub role: &'a str,
    pub wg: Option<&'a str>,
    pub email: Option<&'a str>,
    pub key: Option<&'a Path>,
}

pub async fn user_add(config: &Config, spec: UserSpec<'_>) -> Result<(), Failure> {
    let login = Login::parse(spec.login).context("bad login")?;
    let role: Role = spec.role.parse().context("bad --role")?;
    let wg = match (role, spec.wg) {
        (Role::WgLead, Some(wg)) => Some(WgName::parse(wg).context("bad --wg")?),
        (Role::WgLead, None) => return Err(anyhow!("a wg-lead account needs --wg").into()),
        (_, Some(_)) => return Err(anyhow!("--wg is only for wg-lead accounts").into()),
        (_, None) => None,
    };
    let email = match spec.email {
        Some(e) if crate::config::is_plausible_address(e) => Some(e.to_owned()),
        Some(_) => return Err(anyhow!("--email is not an email address").into()),
        None => None,
    };
    let pgp_cert = match spec.key {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read --key {}", path.display()))?;
            if bytes.windows(11).any(|w| w == b"PRIVATE KEY") {
                return Err(anyhow!(
                    "--key {} holds secret key material: give the public key only",
                    path.display()
                )
                .into());
            }
            let certs = embargo_pgp::parse_certs(&bytes)
                .with_context(|| format!("--key {}", path.display()))?;
            let [cert] = certs.as_slice() else {
                return Err(
                    anyhow!("--key {} must hold exactly one certificate", path.display()).into(),
                );
            };
            Some(embargo_pgp::cert_to_armored(cert).context("--key")?)
        }
        None => None,
    };
    let store = open_store(config).await?;
    let password = embargo_web::password::one_time();
    let hash = embargo_web::password::hash(&password)?;
    store
        .add_user(NewUser {
            login: login.clone(),
            role,
            wg,
            email,
            password_hash: hash,
            must_change_password: true,
            pgp_cert,
            totp_secret: None,
            created_at: jiff::Timestamp::now(),
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => anyhow!("account {login} already exists"),
            other => anyhow::Error::new(other).context("cannot create the account"),
        })?;
    eprintln!("Created account '{login}' ({role}). Its one-time password (shown once):");
    println!("{}", password.as_str());
    Ok(())
}
