fn main() {
    eprintln!("emws-bench: not built yet");
    std::process::exit(2);
}
