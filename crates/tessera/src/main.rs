//! The `tessera` command line.

fn main() {
    println!("tessera");
}
