//! The page templates: minijinja with strict undefined values and HTML escaping everywhere.
//! The defaults are compiled into the binary; a file of the same name in `templates_dir`
//! replaces one. Everything is parsed, and test-rendered, once at start.

use std::path::{Path, PathBuf};

use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use super::views;

pub const BASE: &str = "base.html";
pub const SIGNIN: &str = "signin.html";
pub const CONSENT: &str = "consent.html";
pub const ERROR: &str = "error.html";
pub const SIGNED_OUT: &str = "signed_out.html";
pub const DEVICE_CODE: &str = "device_code.html";
pub const DEVICE_APPROVE: &str = "device_approve.html";
pub const DEVICE_DONE: &str = "device_done.html";

/// The templates built into the binary, by name.
pub const DEFAULTS: [(&str, &str); 8] = [
    (BASE, include_str!("../../templates/base.html")),
    (SIGNIN, include_str!("../../templates/signin.html")),
    (CONSENT, include_str!("../../templates/consent.html")),
    (ERROR, include_str!("../../templates/error.html")),
    (SIGNED_OUT, include_str!("../../templates/signed_out.html")),
    (
        DEVICE_CODE,
        include_str!("../../templates/device_code.html"),
    ),
    (
        DEVICE_APPROVE,
        include_str!("../../templates/device_approve.html"),
    ),
    (
        DEVICE_DONE,
        include_str!("../../templates/device_done.html"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read template {}: {cause}", path.display())]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("template {file} is invalid: {cause:#}")]
    Invalid {
        /// The file (or built-in name) at fault.
        file: String,
        cause: minijinja::Error,
    },
}

/// The loaded templates, shared read-only by every request.
pub struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").finish_non_exhaustive()
    }
}

impl Templates {
    /// The built-in templates, overridden by the `*.html` files of `dir`. A file that fails to
    /// parse, or that fails to render the sample context of its page (say, it names a
    /// variable the page does not provide), fails start-up with its path named.
    pub fn load(dir: Option<&Path>) -> Result<Templates, TemplateError> {
        let mut env = Environment::new();
        // Set before any template is added: both apply when a template is compiled.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        let mut origin: Vec<(String, String)> = Vec::new();
        for (name, source) in DEFAULTS {
            origin.push((name.to_string(), format!("built-in {name}")));
            env.add_template(name, source)
                .map_err(|cause| TemplateError::Invalid {
                    file: format!("built-in {name}"),
                    cause,
                })?;
        }
        if let Some(dir) = dir {
            for (name, path) in html_files(dir)? {
                let source =
                    std::fs::read_to_string(&path).map_err(|cause| TemplateError::Read {
                        path: path.clone(),
                        cause,
                    })?;
                let file = path.display().to_string();
                env.add_template_owned(name.clone(), source)
                    .map_err(|cause| TemplateError::Invalid {
                        file: file.clone(),
                        cause,
                    })?;
                match origin.iter_mut().find(|(n, _)| *n == name) {
                    Some(entry) => entry.1 = file,
                    None => origin.push((name, file)),
                }
            }
        }
        let templates = Templates { env };
        for (name, sample) in views::samples() {
            if let Err(cause) = templates.render(name, &sample) {
                // The error names the template it arose in (an override of base.html shows
                // up while rendering a page); name that template's file.
                let culprit = cause.name().unwrap_or(name);
                let file = origin
                    .iter()
                    .find(|(n, _)| n == culprit)
                    .map_or_else(|| culprit.to_string(), |(_, f)| f.clone());
                return Err(TemplateError::Invalid { file, cause });
            }
        }
        Ok(templates)
    }

    /// Renders `name` with `context`. Strict: a variable the context lacks is an error.
    pub fn render(&self, name: &str, context: &impl Serialize) -> Result<String, minijinja::Error> {
        self.env
            .get_template(name)?
            .render(minijinja::Value::from(Serde(context)))
    }
}

/// `(template name, path)` of every `*.html` file directly in `dir`, sorted by name.
fn html_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, TemplateError> {
    let read_err = |cause| TemplateError::Read {
        path: dir.to_path_buf(),
        cause,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if path.is_file() && name.ends_with(".html") {
            files.push((name.to_string(), path.clone()));
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load_and_escape() {
        let t = Templates::load(None).unwrap();
        let html = t
            .render(
                ERROR,
                &views::ErrorView::new("<b>x</b>", "a \"quoted\" & <i>tagged</i> text"),
            )
            .unwrap();
        assert!(html.contains("&lt;b&gt;x&lt;&#x2f;b&gt;"), "{html}");
        assert!(!html.contains("<i>"), "{html}");
    }
}
