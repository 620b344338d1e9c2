//! Virtual folders and file patterns from an SFTPGo dump: the top-level `folders`
//! (`name` -> `mapped_path`) and each user's `virtual_folders` and `filters.file_patterns`.

use crate::config::raw::{ConfigError, Obj};
use crate::util::glob::Pattern;
use crate::vfs::patterns::{FilePatterns, Rule};
use std::collections::HashMap;
use std::path::PathBuf;

/// A user's virtual folder: `virtual_path` shows the directory `mapped_path`.
#[derive(Clone, Debug)]
pub struct FolderDef {
    pub name: String,
    /// Cleaned virtual path, never "/".
    pub virtual_path: String,
    pub mapped_path: PathBuf,
    /// -1: counted in the user's quota; 0: unlimited; > 0: the folder's own quota.
    pub quota_size: i64,
    pub quota_files: i64,
}

/// The dump's top-level `folders`: name -> mapped path (local filesystem only).
pub fn read_folders(root: &Obj) -> Result<HashMap<String, PathBuf>, ConfigError> {
    let mut map = HashMap::new();
    for (i, f) in root.obj_list("folders")?.iter().enumerate() {
        let name = f.string("name", "")?;
        if name.is_empty() {
            return Err(root.error(&format!("folders[{i}].name"), "is required"));
        }
        let mapped = f.string("mapped_path", "")?;
        let mapped = PathBuf::from(&mapped);
        if !mapped.is_absolute() {
            return Err(f.error(
                "mapped_path",
                format!("folder {name:?}: must be an absolute path"),
            ));
        }
        let fs = f.obj("filesystem")?;
        let provider = fs.int("provider", 0, 0, 99)?;
        if provider != 0 {
            return Err(fs.error(
                "provider",
                format!("folder {name:?}: only the local filesystem (0) is served"),
            ));
        }
        map.insert(name, mapped);
    }
    Ok(map)
}

pub fn read_virtual_folders(
    u: &Obj,
    folders: &HashMap<String, PathBuf>,
    who: &str,
) -> Result<Vec<FolderDef>, ConfigError> {
    let mut out: Vec<FolderDef> = Vec::new();
    for v in u.obj_list("virtual_folders")? {
        let name = v.string("name", "")?;
        let mapped = folders.get(&name).ok_or_else(|| {
            v.error(
                "name",
                format!("{who}: folder {name:?} is not in the dump's \"folders\""),
            )
        })?;
        let vp = v.string("virtual_path", "")?;
        let virtual_path = crate::vfs::path::clean_absolute(&vp)
            .filter(|p| p != "/")
            .ok_or_else(|| {
                v.error(
                    "virtual_path",
                    format!("{who}: {vp:?} must be an absolute path other than /"),
                )
            })?;
        if out.iter().any(|f| f.virtual_path == virtual_path) {
            return Err(v.error(
                "virtual_path",
                format!("{who}: {virtual_path} is used twice"),
            ));
        }
        out.push(FolderDef {
            name,
            virtual_path,
            mapped_path: mapped.clone(),
            quota_size: v.int("quota_size", -1, -1, i64::MAX)?,
            quota_files: v.int("quota_files", -1, -1, i64::MAX)?,
        });
    }
    Ok(out)
}

pub fn read_patterns(filters: &Obj, who: &str) -> Result<FilePatterns, ConfigError> {
    let mut rules = Vec::new();
    for f in filters.obj_list("file_patterns")? {
        let dir = f.string("path", "")?;
        let dir = crate::vfs::path::clean_absolute(&dir)
            .ok_or_else(|| f.error("path", format!("{who}: {dir:?} must be absolute")))?;
        let compile = |key: &str| -> Result<Vec<Pattern>, ConfigError> {
            f.string_list(key)?
                .iter()
                .map(|p| {
                    Pattern::new(&p.to_lowercase())
                        .map_err(|e| f.error(key, format!("{who}: {p:?}: {e}")))
                })
                .collect()
        };
        rules.push(Rule {
            dir,
            allowed: compile("allowed_patterns")?,
            denied: compile("denied_patterns")?,
            hide: f.int("deny_policy", 0, 0, 1)? == 1,
        });
    }
    Ok(FilePatterns::new(rules))
}
