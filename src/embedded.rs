//! A private PostgreSQL cluster for running without `DATABASE_URL`.
//!
//! The cluster lives under a data directory (default `./.kopa/`): `pgdata/` holds the cluster,
//! `pgpass` its generated superuser password, `postgres.log` the server log. It listens on
//! 127.0.0.1 only, on a port picked at start, with password (SCRAM) authentication and no Unix
//! socket, so it never collides with a system PostgreSQL and other local users cannot use it.
//!
//! PostgreSQL refuses to run as root. When Kopa runs as root, the cluster is owned by and run as
//! the `postgres` system user (the data directory must then be reachable by that user).
//! Everything here is synchronous: it runs before the async runtime starts or after it stops.

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

const SUPERUSER: &str = "kopa";

#[derive(Debug)]
pub struct EmbeddedPostgres {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    log_file: PathBuf,
    run_as: Option<(nix::unistd::Uid, nix::unistd::Gid)>,
    password: String,
    pub port: u16,
    /// The server was already running (left by a killed Kopa, or used by another Kopa command).
    pub adopted: bool,
}

/// Where `initdb` and `pg_ctl` live: `PATH` first, then the newest `/usr/lib/postgresql/*/bin`.
pub fn find_binaries() -> Result<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file());
    if let Some(dir) = on_path {
        // A symlink farm (e.g. /usr/local/bin) may hold only some tools: use the real directory
        // initdb lives in, which has them all (pg_basebackup for standbys too).
        let real = fs::canonicalize(dir.join("initdb"))
            .ok()
            .and_then(|initdb| initdb.parent().map(Path::to_path_buf))
            .filter(|real| real.join("pg_ctl").is_file());
        return Ok(real.unwrap_or(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).context(
        "no PostgreSQL server binaries (initdb, pg_ctl) found on PATH or under /usr/lib/postgresql/*/bin.\n\
         Install PostgreSQL (Debian/Ubuntu: `apt-get install postgresql`; macOS: `brew install postgresql`) \
         or point Kopa at an existing server with DATABASE_URL=postgres://user:password@host/db",
    )
}

impl EmbeddedPostgres {
    /// Initialises the cluster on first use and starts it (or adopts it when a previous Kopa left
    /// it running). `fast` trades durability for speed (no fsync), for throwaway test clusters.
    pub fn start(dir: &Path, fast: bool) -> Result<Self> {
        let bin_dir = find_binaries()?;
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create data directory {}", dir.display()))?;
        let dir = dir.canonicalize()?;
        let run_as = if nix::unistd::Uid::effective().is_root() {
            let user = nix::unistd::User::from_name("postgres")?.context(
                "running as root, but there is no `postgres` system user to run PostgreSQL as",
            )?;
            Some((user.uid, user.gid))
        } else {
            None
        };
        if let Some((uid, _)) = run_as {
            reachable_by(&dir, uid)?;
        }
        let data_dir = dir.join("pgdata");
        let mut cluster = EmbeddedPostgres {
            log_file: dir.join("postgres.log"),
            password: String::new(),
            port: 0,
            adopted: false,
            bin_dir,
            data_dir,
            run_as,
        };
        let password_file = dir.join("pgpass");
        if !cluster.data_dir.join("PG_VERSION").exists() {
            cluster.password = uuid::Uuid::new_v4().simple().to_string();
            cluster.init(&password_file)?;
        } else {
            cluster.password = fs::read_to_string(&password_file)
                .with_context(|| {
                    format!(
                        "cannot read {}; remove {} to start afresh",
                        password_file.display(),
                        dir.display()
                    )
                })?
                .trim()
                .to_owned();
        }
        if let Some(port) = cluster.running_port() {
            tracing::info!(port, "adopting the embedded PostgreSQL left running");
            cluster.port = port;
            cluster.adopted = true;
            return Ok(cluster);
        }
        cluster.port = free_port()?;
        cluster.launch(fast)?;
        Ok(cluster)
    }

    /// Starts a streaming standby of this cluster in `dir` (a `pg_basebackup` with
    /// `standby.signal`, on its own loopback port): a read replica on one machine, for trying
    /// `DATABASE_READ_URL` and for the tests. Stop it with [`EmbeddedPostgres::stop`].
    pub fn start_standby(&self, dir: &Path) -> Result<EmbeddedPostgres> {
        fs::create_dir_all(dir)?;
        let dir = dir.canonicalize()?;
        if let Some((uid, gid)) = self.run_as {
            reachable_by(&dir, uid)?;
            std::os::unix::fs::chown(&dir, Some(uid.as_raw()), Some(gid.as_raw()))?;
        }
        let standby = EmbeddedPostgres {
            log_file: dir.join("postgres.log"),
            password: self.password.clone(),
            port: free_port()?,
            adopted: false,
            bin_dir: self.bin_dir.clone(),
            data_dir: dir.join("pgdata"),
            run_as: self.run_as,
        };
        let output = standby
            .command("pg_basebackup")
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                SUPERUSER,
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
            ])
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-D")
            .arg(&standby.data_dir)
            .env("PGPASSWORD", &self.password)
            .output()?;
        if !output.status.success() {
            bail!(
                "pg_basebackup failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        standby.launch(true)?;
        Ok(standby)
    }

    /// Starts the server again on the same port after [`EmbeddedPostgres::stop`] (for tests
    /// that take the database away and bring it back).
    pub fn restart(&self, fast: bool) -> Result<()> {
        self.launch(fast)
    }

    fn launch(&self, fast: bool) -> Result<()> {
        let mut options = format!("-p {}", self.port);
        if fast {
            options.push_str(" -F -c synchronous_commit=off -c full_page_writes=off");
        }
        let status = self
            .command("pg_ctl")
            .arg("start")
            .arg("-w")
            .arg("-t")
            .arg("60")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&self.log_file)
            .arg("-o")
            .arg(options)
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            bail!(
                "the embedded PostgreSQL did not start; see {}",
                self.log_file.display()
            );
        }
        Ok(())
    }

    fn init(&self, password_file: &Path) -> Result<()> {
        tracing::info!(dir = %self.data_dir.display(), "creating the embedded PostgreSQL cluster");
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(password_file)?;
        file.write_all(self.password.as_bytes())?;
        drop(file);
        fs::create_dir_all(&self.data_dir)?;
        fs::set_permissions(&self.data_dir, fs::Permissions::from_mode(0o700))?;
        if let Some((uid, gid)) = self.run_as {
            for path in [&self.data_dir, &password_file.to_path_buf()] {
                std::os::unix::fs::chown(path, Some(uid.as_raw()), Some(gid.as_raw()))?;
            }
            // pg_ctl (running as that user) appends to the log file.
            fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.log_file)?;
            std::os::unix::fs::chown(&self.log_file, Some(uid.as_raw()), Some(gid.as_raw()))?;
        }
        let output = self
            .command("initdb")
            .arg("-D")
            .arg(&self.data_dir)
            .args([
                "-U",
                SUPERUSER,
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "-A",
                "scram-sha-256",
            ])
            .arg(format!("--pwfile={}", password_file.display()))
            .output()?;
        if !output.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        // Loopback TCP only; no Unix socket (its default directory is often not writable).
        let mut conf = fs::OpenOptions::new()
            .append(true)
            .open(self.data_dir.join("postgresql.conf"))?;
        writeln!(conf, "\n# Kopa embedded cluster\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''")?;
        Ok(())
    }

    /// The port of a server already running on this data directory, from `postmaster.pid`.
    fn running_port(&self) -> Option<u16> {
        let status = self
            .command("pg_ctl")
            .arg("status")
            .arg("-D")
            .arg(&self.data_dir)
            .stdout(Stdio::null())
            .status()
            .ok()?;
        if !status.success() {
            return None;
        }
        let pid_file = fs::read_to_string(self.data_dir.join("postmaster.pid")).ok()?;
        pid_file.lines().nth(3)?.trim().parse().ok()
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin_dir.join(program));
        command.stdin(Stdio::null());
        if let Some(parent) = self.data_dir.parent() {
            command.current_dir(parent);
        }
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid.as_raw()).gid(gid.as_raw());
            command.env("HOME", self.data_dir.parent().unwrap_or(Path::new("/")));
        }
        command
    }

    /// Connection URL for `database` as the cluster's superuser.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    /// Stops the server, waiting for it to shut down cleanly.
    pub fn stop(&self) -> Result<()> {
        let status = self
            .command("pg_ctl")
            .arg("stop")
            .arg("-w")
            .arg("-m")
            .arg("fast")
            .arg("-D")
            .arg(&self.data_dir)
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            bail!("pg_ctl stop failed; see {}", self.log_file.display());
        }
        Ok(())
    }
}

/// PostgreSQL running as `uid` must be able to enter every directory above its data directory.
fn reachable_by(dir: &Path, uid: nix::unistd::Uid) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    for ancestor in dir.ancestors().skip(1) {
        let meta = fs::metadata(ancestor)?;
        let enterable =
            meta.mode() & 0o001 != 0 || (meta.uid() == uid.as_raw() && meta.mode() & 0o100 != 0);
        if !enterable {
            bail!(
                "Kopa runs as root, so its embedded PostgreSQL runs as the `postgres` user, which cannot enter {}. \
                 Choose a data directory it can reach (e.g. --data-dir /var/lib/kopa) or set DATABASE_URL",
                ancestor.display()
            );
        }
    }
    Ok(())
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}
