//! `portcullis user …`: local accounts, through the same service as `/admin/users`. Disabling
//! or enabling cuts off or restores the user's tokens, which needs the server's state; the
//! other commands need the store only.

use portcullis::admin::{self, Actor, Page};
use portcullis::secret::Secret;
use portcullis::users::Passwords;

use super::Context;
use crate::UserCommand;

pub async fn run(ctx: &Context, command: UserCommand) -> anyhow::Result<()> {
    let (out, now) = (ctx.out, ctx.now);
    if let UserCommand::Disable { user } | UserCommand::Enable { user } = &command {
        let disabled = matches!(command, UserCommand::Disable { .. });
        let state = ctx.state().await?;
        out.print(&set_disabled(&state, user, disabled, now).await?);
        state.store.close().await;
        return Ok(());
    }
    let store = ctx.store().await?;
    match command {
        UserCommand::Create {
            username,
            password_stdin,
            password,
            email,
            name,
        } => {
            if password.is_some() {
                eprintln!("warning: --password is visible to other users; prefer --password-stdin");
            }
            let password = match password {
                Some(p) => Some(Secret::new(p)),
                None if password_stdin => Some(read_password()?),
                None => None,
            };
            let req = portcullis::users::UserRequest {
                username: Some(username),
                password,
                disabled: None,
                claims: Some(portcullis::users::Claims {
                    email,
                    name,
                    ..Default::default()
                }),
            };
            let passwords = Passwords::new();
            out.print(&admin::users::create(&store, &passwords, &Actor::cli(), req, now).await?);
        }
        UserCommand::List { limit, after } => {
            out.print(&admin::users::list(&store, &Page { limit, after }).await?)
        }
        UserCommand::SetPassword { user, .. } => {
            let user = admin::users::find(&store, &user).await?;
            let password = read_password()?;
            let passwords = Passwords::new();
            admin::users::set_password(&store, &passwords, &Actor::cli(), &user.id, password, now)
                .await?;
            eprintln!("password set for {} ({})", user.username, user.id);
        }
        UserCommand::Unlock { user } => {
            let user = admin::users::find(&store, &user).await?;
            admin::users::clear_lockout(&store, &Actor::cli(), &user.id, now).await?;
            eprintln!(
                "sign-in lockout cleared for {} ({})",
                user.username, user.id
            );
        }
        UserCommand::Disable { .. } | UserCommand::Enable { .. } => {}
    }
    store.close().await;
    Ok(())
}

/// `user disable` and `user enable`: a replace that changes only `disabled`.
async fn set_disabled(
    state: &portcullis::state::AppState,
    user: &str,
    disabled: bool,
    now: i64,
) -> anyhow::Result<portcullis::users::User> {
    let user = admin::users::find(&state.store, user).await?;
    let req = portcullis::users::UserRequest {
        disabled: Some(disabled),
        ..Default::default()
    };
    Ok(admin::users::update(state, &Actor::cli(), &user.id, req, now).await?)
}

/// One line of stdin without its line ending; typed without echo on a terminal, and twice.
fn read_password() -> anyhow::Result<Secret> {
    use std::io::{BufRead, IsTerminal};
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    let read_line = |prompt: &str| -> anyhow::Result<String> {
        let mut line = String::new();
        if tty {
            eprint!("{prompt}");
            set_echo(false);
        }
        let read = stdin.lock().read_line(&mut line);
        if tty {
            set_echo(true);
            eprintln!();
        }
        read?;
        let line = line.strip_suffix('\n').unwrap_or(&line);
        Ok(line.strip_suffix('\r').unwrap_or(line).to_string())
    };
    let password = read_line("password: ")?;
    if tty && read_line("again: ")? != password {
        anyhow::bail!("the passwords differ");
    }
    Ok(Secret::new(password))
}

/// Terminal echo on or off through `stty`, which saves a terminal crate for one call.
fn set_echo(on: bool) {
    #[cfg(unix)]
    let _ = std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .status();
    #[cfg(not(unix))]
    let _ = on;
}
