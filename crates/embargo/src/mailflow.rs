//! Building the intake (with its mail flow) and the outbound transport from
//! the config.

use std::sync::Arc;

use anyhow::Context;
use embargo_intake::{Intake, MailFlow};
use embargo_outbound::{AckSettings, TeamIdentity, Transport, TransportSpec};
use embargo_pgp::Keyring;
use embargo_store::Store;

use crate::config::Config;

pub fn max_message_bytes(config: &Config) -> usize {
    usize::try_from(config.settings.intake.max_message_bytes).unwrap_or(usize::MAX)
}

/// Where reporters fetch the team key: `mail.key_url`, or the stable URL
/// the web listener serves it at on the security address's domain.
pub fn key_url(config: &Config) -> String {
    let mail = &config.settings.mail;
    if mail.key_url.is_empty() {
        let domain = mail
            .address
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or("localhost");
        format!("https://{domain}/.well-known/embargo/team-key.asc")
    } else {
        mail.key_url.clone()
    }
}

pub fn mail_flow(config: &Config, keyring: &Keyring) -> anyhow::Result<MailFlow> {
    let mail = &config.settings.mail;
    let team = TeamIdentity::new(&mail.address, Some(&mail.display_name), keyring.clone())
        .context("mail.address / mail.display_name")?;
    let key_url = key_url(config);
    let ack = AckSettings::new(key_url, mail.response_days).context("acknowledgement settings")?;
    Ok(MailFlow {
        team,
        ack,
        internal_marker: mail.internal_marker.clone(),
        admin_url: Some(config.settings.web.public_url.clone()).filter(|u| !u.is_empty()),
    })
}

pub fn intake(config: &Config, store: Arc<Store>, keyring: Arc<Keyring>) -> anyhow::Result<Intake> {
    let flow = mail_flow(config, &keyring)?;
    Ok(Intake::new(
        store,
        keyring,
        config.tracking_prefix.clone(),
        max_message_bytes(config),
        Arc::new(flow),
    ))
}

pub fn transport(config: &Config) -> anyhow::Result<Transport> {
    Transport::from_config(
        &TransportSpec::new(config.settings.mail.transport.expose()),
        &config.data_dir,
        &config.settings.mail.address,
    )
    .context("mail.transport")
}
