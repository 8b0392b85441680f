//! `sqlx::migrate!` embeds the migration files at compile time, but the compiler only notices
//! changes to files it already embedded. Watching the directory makes a newly added migration
//! rebuild this crate instead of being silently left out of the binary.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations/sqlite");
    println!("cargo:rerun-if-changed=../../migrations/postgres");
}
