fn main() {
    println!("kea-sim: not yet implemented");
}
