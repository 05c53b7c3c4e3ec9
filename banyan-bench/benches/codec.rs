//! Criterion benches of the codec cases (`cargo bench -p banyan-bench`): msgpack payloads,
//! serial frames, topic matching. The cases live in `banyan_bench::codec`, shared with the
//! main binary's timing loop, so both report the same operations.

use banyan_bench::codec::{Visitor, visit_all};
use criterion::{Criterion, criterion_group, criterion_main};

/// Hands each case to criterion.
struct Driver<'a>(&'a mut Criterion);

impl Visitor for Driver<'_> {
    fn case<R>(&mut self, name: &str, mut op: impl FnMut() -> R) {
        self.0.bench_function(name, |b| b.iter(&mut op));
    }
}

fn codec(c: &mut Criterion) {
    visit_all(&mut Driver(c));
}

criterion_group!(benches, codec);
criterion_main!(benches);
