//! Debian's kernel package, fetched once and cached: the image to boot and
//! the modules to put into the initramfs.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::host::{apt_download, kernel_package, run};
use crate::cache_dir;
use crate::error::{VmError, io_err};

/// An unpacked Debian kernel package.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// Kernel release, e.g. `6.1.0-56-amd64`.
    pub release: String,
    /// The bootable image.
    pub vmlinuz: PathBuf,
    /// The unpacked package root (holds `lib/modules/RELEASE`).
    pub root: PathBuf,
    /// Module name → path relative to the modules dir.
    files: BTreeMap<String, String>,
}

/// A module to load, with its path inside `lib/modules/RELEASE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Module name (`ip_vs_rr`).
    pub name: String,
    /// Path relative to the release's modules directory.
    pub rel_path: String,
}

fn module_name(rel_path: &str) -> String {
    let file = rel_path.rsplit('/').next().unwrap_or(rel_path);
    let stem = file.split(".ko").next().unwrap_or(file);
    stem.replace('-', "_")
}

impl Kernel {
    /// Fetch (once) and unpack the kernel that Debian's `linux-image-amd64`
    /// depends on, under the cache directory. Concurrent callers (several
    /// test processes) serialise on a lock file.
    pub fn debian() -> Result<Kernel, VmError> {
        let cache = cache_dir().join("kernel");
        fs::create_dir_all(&cache).map_err(io_err(&cache))?;
        let lock_path = cache.join(".lock");
        let lock = fs::File::create(&lock_path).map_err(io_err(&lock_path))?;
        lock.lock().map_err(io_err(&lock_path))?;

        let package = kernel_package()?;
        let root = cache.join(&package);
        let done = root.join(".rk-unpacked");
        if !done.exists() {
            let debs = cache.join("debs");
            fs::create_dir_all(&debs).map_err(io_err(&debs))?;
            let deb = find_deb(&debs, &package)?;
            let deb = match deb {
                Some(d) => d,
                None => {
                    apt_download(&package, &debs)?;
                    find_deb(&debs, &package)?.ok_or_else(|| {
                        VmError::Kernel(format!("apt-get download {package} left no .deb"))
                    })?
                }
            };
            let _ = fs::remove_dir_all(&root);
            run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root))?;
            fs::write(&done, b"").map_err(io_err(&done))?;
            // The .deb is 70 MB; the unpacked tree is what we keep.
            let _ = fs::remove_file(&deb);
        }
        let release = only_release(&root)?;
        let vmlinuz = root.join("boot").join(format!("vmlinuz-{release}"));
        if !vmlinuz.exists() {
            return Err(VmError::Kernel(format!("{} missing", vmlinuz.display())));
        }
        // The package ships no modules.dep (Debian makes it at install,
        // with kmod's depmod, which the build machines lack): index the
        // module files by name and read dependencies from each module's
        // `.modinfo` when it is needed.
        let mut files = BTreeMap::new();
        let modules_dir = root.join("lib/modules").join(&release);
        index_modules(&modules_dir, &modules_dir, &mut files)?;
        Ok(Kernel {
            release,
            vmlinuz,
            root,
            files,
        })
    }

    /// The directory holding this release's modules.
    pub fn modules_dir(&self) -> PathBuf {
        self.root.join("lib/modules").join(&self.release)
    }

    /// The named modules and everything they depend on, in load order
    /// (dependencies first), each once.
    pub fn module_closure(&self, names: &[&str]) -> Result<Vec<Module>, VmError> {
        let mut order = Vec::new();
        let mut seen = BTreeSet::new();
        for name in names {
            self.visit(
                &name.replace('-', "_"),
                &mut seen,
                &mut order,
                &mut Vec::new(),
            )?;
        }
        Ok(order)
    }

    fn visit(
        &self,
        name: &str,
        seen: &mut BTreeSet<String>,
        order: &mut Vec<Module>,
        stack: &mut Vec<String>,
    ) -> Result<(), VmError> {
        if seen.contains(name) {
            return Ok(());
        }
        if stack.iter().any(|s| s == name) {
            return Err(VmError::Kernel(format!(
                "module dependency cycle through {name}"
            )));
        }
        let rel_path = self
            .files
            .get(name)
            .ok_or_else(|| VmError::Kernel(format!("module {name} not in {}", self.release)))?;
        let path = self.modules_dir().join(rel_path);
        let data = fs::read(&path).map_err(io_err(&path))?;
        stack.push(name.to_owned());
        for dep in modinfo_depends(&data) {
            self.visit(&dep, seen, order, stack)?;
        }
        stack.pop();
        seen.insert(name.to_owned());
        order.push(Module {
            name: name.to_owned(),
            rel_path: rel_path.clone(),
        });
        Ok(())
    }

    /// The direct dependencies of a module file.
    pub(crate) fn direct_depends(&self, m: &Module) -> Result<Vec<String>, VmError> {
        let path = self.modules_dir().join(&m.rel_path);
        let data = fs::read(&path).map_err(io_err(&path))?;
        Ok(modinfo_depends(&data)
            .into_iter()
            .filter_map(|d| self.files.get(&d).cloned())
            .collect())
    }

    /// `modules.dep` for exactly these modules (given in load order), so
    /// `modprobe` inside the VM (and the kernel's own `request_module`)
    /// finds them. Each line lists the transitive dependencies.
    pub(crate) fn modules_dep_for(&self, modules: &[Module]) -> Result<String, VmError> {
        let mut transitive: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut out = String::new();
        for m in modules {
            let mut all: Vec<String> = Vec::new();
            for d in self.direct_depends(m)? {
                for x in std::iter::once(&d).chain(transitive.get(&d).into_iter().flatten()) {
                    if !all.contains(x) {
                        all.push(x.clone());
                    }
                }
            }
            out.push_str(&format!("{}:", m.rel_path));
            for d in &all {
                out.push(' ');
                out.push_str(d);
            }
            out.push('\n');
            transitive.insert(m.rel_path.clone(), all);
        }
        Ok(out)
    }
}

/// The `depends=` entry of a module's `.modinfo` section. The section is a
/// run of NUL-terminated `key=value` strings; scanning the file for the
/// key is enough, as the text cannot occur elsewhere NUL-prefixed.
fn modinfo_depends(ko: &[u8]) -> Vec<String> {
    const KEY: &[u8] = b"\0depends=";
    let Some(at) = ko.windows(KEY.len()).position(|w| w == KEY) else {
        return Vec::new();
    };
    let value = &ko[at + KEY.len()..];
    let end = value.iter().position(|b| *b == 0).unwrap_or(value.len());
    String::from_utf8_lossy(&value[..end])
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.replace('-', "_"))
        .collect()
}

fn index_modules(
    base: &Path,
    dir: &Path,
    files: &mut BTreeMap<String, String>,
) -> Result<(), VmError> {
    for e in fs::read_dir(dir).map_err(io_err(dir))? {
        let path = e.map_err(io_err(dir))?.path();
        if path.is_dir() {
            index_modules(base, &path, files)?;
        } else if let Some(rel) = path.strip_prefix(base).ok().and_then(|r| r.to_str())
            && rel.contains(".ko")
        {
            files.insert(module_name(rel), rel.to_owned());
        }
    }
    Ok(())
}

fn find_deb(dir: &Path, package: &str) -> Result<Option<PathBuf>, VmError> {
    let prefix = format!("{package}_");
    for e in fs::read_dir(dir).map_err(io_err(dir))? {
        let p = e.map_err(io_err(dir))?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with(&prefix) && name.ends_with(".deb") {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

fn only_release(root: &Path) -> Result<String, VmError> {
    let dir = root.join("lib/modules");
    let mut releases: Vec<String> = fs::read_dir(&dir)
        .map_err(io_err(&dir))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    releases.sort();
    releases
        .pop()
        .ok_or_else(|| VmError::Kernel(format!("no release under {}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modinfo_depends_is_read_from_the_section() {
        let ko =
            b"\x7fELF....\0license=GPL\0depends=nf_conntrack,libcrc32c,nf-defrag-ipv6\0intree=Y\0";
        assert_eq!(
            modinfo_depends(ko),
            ["nf_conntrack", "libcrc32c", "nf_defrag_ipv6"]
        );
        assert!(modinfo_depends(b"\0depends=\0name=x\0").is_empty());
        assert!(modinfo_depends(b"no modinfo").is_empty());
    }

    #[test]
    fn module_names_normalise_dashes() {
        assert_eq!(
            module_name("kernel/net/ipv4/netfilter/nf-defrag-ipv4.ko"),
            "nf_defrag_ipv4"
        );
        assert_eq!(module_name("kernel/x/ip_vs.ko.xz"), "ip_vs");
    }
}
