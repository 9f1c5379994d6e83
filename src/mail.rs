//! The Mailer: a composed digest to a mailbox.
//!
//! It owns SMTP (plain, STARTTLS, implicit TLS, AUTH) and the `file`
//! transport. Messages are `multipart/alternative` (text and HTML), with
//! RFC 2047 subjects, a Message-ID derived from the outbox entries (so a
//! resend carries the same one) and, for updates, `In-Reply-To` the digest
//! they update. The SMTP password is read when the transport is built, from
//! an environment variable, a file or a systemd credential, and never logged.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use lettre::address::Envelope;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{MailSettings, PasswordSource, Security, SmtpSettings, Transport};

/// Why a delivery failed.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Worth retrying later: unreachable, timed out, or a 4xx answer.
    #[error("mail: {0}")]
    Transient(String),
    /// The server refused for good (5xx): retrying the same won't help.
    #[error("mail: {0}")]
    Permanent(String),
    /// The settings cannot work (no password, bad CA file).
    #[error("mail: {0}")]
    Setup(String),
}

impl MailError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, MailError::Permanent(_) | MailError::Setup(_))
    }
}

/// Where a delivered digest went.
#[derive(Debug, Clone)]
pub enum Delivered {
    Smtp { response: String },
    File { path: PathBuf },
}

/// The domain for Message-IDs: the sender's.
pub fn id_domain(settings: &MailSettings) -> String {
    settings.from.email.domain().to_owned()
}

/// A stable fingerprint of the delivery settings, to notice that an operator
/// changed them after a permanent failure.
pub fn settings_fingerprint(settings: &MailSettings) -> String {
    let to: Vec<String> = settings.to.iter().map(|m| m.email.to_string()).collect();
    let transport = match &settings.transport {
        Transport::Smtp(s) => {
            format!("smtp://{}@{}:{}/{:?}", s.username.as_deref().unwrap_or(""), s.host, s.port, s.security)
        }
        Transport::File { dir } => format!("file://{}", dir.display()),
    };
    format!("{} -> {} via {}", settings.from.email, to.join(","), transport)
}

/// Builds the message. Returns its bytes (7-bit) and envelope.
pub fn compose(
    settings: &MailSettings,
    subject: &str,
    text: String,
    html: String,
    message_id: &str,
    in_reply_to: &[String],
    date: SystemTime,
) -> Result<String, MailError> {
    let mut builder = Message::builder()
        .from(settings.from.clone())
        .subject(subject)
        .message_id(Some(message_id.to_owned()))
        .date(date);
    for to in &settings.to {
        builder = builder.to(to.clone());
    }
    if let Some(first) = in_reply_to.first() {
        builder = builder.in_reply_to(first.clone()).references(in_reply_to.join(" "));
    }
    let message = builder
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| MailError::Setup(format!("unable to build the message: {e}")))?;
    String::from_utf8(message.formatted()).map_err(|e| MailError::Setup(format!("message is not text: {e}")))
}

fn envelope(settings: &MailSettings) -> Result<Envelope, MailError> {
    let to: Vec<_> = settings.to.iter().map(|m: &Mailbox| m.email.clone()).collect();
    Envelope::new(Some(settings.from.email.clone()), to).map_err(|e| MailError::Setup(format!("invalid envelope: {e}")))
}

/// Reads the SMTP password from where the config says it is.
fn password(source: &PasswordSource) -> Result<String, MailError> {
    let read = |path: &Path| {
        std::fs::read_to_string(path)
            .map(|s| s.trim_end_matches(['\r', '\n']).to_owned())
            .map_err(|e| MailError::Setup(format!("unable to read the SMTP password file {}: {e}", path.display())))
    };
    match source {
        PasswordSource::Env(name) => std::env::var(name).map_err(|_| {
            MailError::Setup(format!("the SMTP password variable {name} is not set (mail.smtp.password_env)"))
        }),
        PasswordSource::File(path) => read(path),
        PasswordSource::Credential(name) => {
            let dir = std::env::var_os("CREDENTIALS_DIRECTORY").ok_or_else(|| {
                MailError::Setup(format!("mail.smtp.password_credential = \"{name}\" needs systemd's LoadCredential= ($CREDENTIALS_DIRECTORY is not set)"))
            })?;
            read(&Path::new(&dir).join(name))
        }
    }
}

fn smtp_transport(s: &SmtpSettings) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    crate::fetch::install_crypto_provider();
    let tls = || -> Result<TlsParameters, MailError> {
        let mut params = TlsParameters::builder(s.host.clone());
        if let Some(ca) = &s.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| MailError::Setup(format!("unable to read mail.smtp.ca_file {}: {e}", ca.display())))?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| MailError::Setup(format!("invalid certificate in {}: {e}", ca.display())))?;
            params = params.add_root_certificate(cert);
        }
        params.build_rustls().map_err(|e| MailError::Setup(format!("unable to set up TLS: {e}")))
    };
    let mut builder =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.clone()).port(s.port).timeout(Some(s.timeout));
    builder = match s.security {
        Security::None => builder.tls(Tls::None),
        Security::StartTls => builder.tls(Tls::Required(tls()?)),
        Security::Tls => builder.tls(Tls::Wrapper(tls()?)),
    };
    if let (Some(user), Some(source)) = (&s.username, &s.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password(source)?));
    }
    Ok(builder.build())
}

/// Writes `eml` to `dir` under a name derived from its Message-ID, atomically;
/// a resend overwrites the same file.
fn write_file(dir: &Path, message_id: &str, eml: &str) -> Result<PathBuf, MailError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| MailError::Transient(format!("unable to create {}: {e}", dir.display())))?;
    // "<digest.5dfa…@example.org>" → "digest.5dfa….eml"
    let local = message_id.trim_matches(['<', '>']).split('@').next().unwrap_or("digest");
    let name: String = local.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).collect();
    let path = dir.join(format!("{name}.eml"));
    let tmp = dir.join(format!(".{name}.eml.tmp"));
    std::fs::write(&tmp, eml)
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| MailError::Transient(format!("unable to write {}: {e}", path.display())))?;
    Ok(path)
}

/// Sends a composed message with the configured transport.
pub async fn send(settings: &MailSettings, message_id: &str, eml: &str) -> Result<Delivered, MailError> {
    match &settings.transport {
        Transport::File { dir } => write_file(dir, message_id, eml).map(|path| Delivered::File { path }),
        Transport::Smtp(s) => {
            let transport = smtp_transport(s)?;
            let envelope = envelope(settings)?;
            // lettre bounds only the connect; this bounds the whole transaction,
            // so a server that stalls mid-DATA cannot hold a cycle.
            let sent = tokio::time::timeout(s.timeout, transport.send_raw(&envelope, eml.as_bytes())).await;
            let Ok(sent) = sent else {
                return Err(MailError::Transient(format!(
                    "SMTP {}:{}: no answer within {}s (mail.smtp.timeout)",
                    s.host,
                    s.port,
                    s.timeout.as_secs()
                )));
            };
            match sent {
                Ok(response) => Ok(Delivered::Smtp { response: response.message().collect::<Vec<_>>().join(" ") }),
                Err(e) => {
                    let text = format!("SMTP {}:{}: {}", s.host, s.port, crate::fetch::error_chain(&e));
                    if e.is_permanent() { Err(MailError::Permanent(text)) } else { Err(MailError::Transient(text)) }
                }
            }
        }
    }
}
