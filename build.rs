//! Rebuilds when a migration is added or changed: `embed_migrations!` reads `migrations/` at
//! compile time, and cargo does not otherwise know the crate depends on that directory.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
