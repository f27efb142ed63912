use channels::prelude::*;

struct Counter(u32);

impl Counter {
    #[handle_in("add")]
    fn add(&mut self, by: u32) -> Reply {
        self.0 += by;
        Reply::ok(Payload::empty())
    }
}

fn main() {
    let _ = Counter(0);
}
