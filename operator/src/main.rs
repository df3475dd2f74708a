fn main() {
    println!("kea-operator: not yet implemented");
}
