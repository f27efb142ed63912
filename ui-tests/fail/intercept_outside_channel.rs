use channels::prelude::*;

struct Feed;

#[intercept("post")]
impl Feed {
    fn new() -> Self {
        Feed
    }
}

fn main() {
    let _ = Feed::new();
}
