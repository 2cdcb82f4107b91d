//! Key choice (sequential, uniform, zipf, gaussian) and key formatting: the prefix and the
//! key's number in 12 digits, as redis-benchmark's `key:__rand_int__`, so populated
//! keyspaces are shared with it.

use crate::workload::Dist;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal, Zipf};

/// One connection's key source. Each connection has its own, seeded from the run's seed
/// and its index, so runs are reproducible and connections do not share state.
pub struct KeyGen {
    rng: SmallRng,
    keyspace: u64,
    kind: Kind,
}

enum Kind {
    Sequential { next: u64, step: u64 },
    Uniform,
    Zipf(Zipf<f64>),
    Gaussian(Normal<f64>),
}

impl KeyGen {
    /// `conn` of `conns`: the sequential walk interleaves connections so that together they
    /// cover the keyspace once every `keyspace` requests.
    pub fn new(dist: Dist, keyspace: u64, seed: u64, conn: u64, conns: u64) -> KeyGen {
        let rng = SmallRng::seed_from_u64(seed ^ conn.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let kind = match dist {
            Dist::Sequential => Kind::Sequential {
                next: conn % keyspace,
                step: conns,
            },
            Dist::Uniform => Kind::Uniform,
            // Validated: a positive exponent and keyspace ≥ 1.
            Dist::Zipf(s) => Kind::Zipf(Zipf::new(keyspace as f64, s).expect("zipf parameters")),
            Dist::Gaussian => {
                let mid = keyspace as f64 / 2.0;
                Kind::Gaussian(Normal::new(mid, keyspace as f64 / 6.0).expect("normal parameters"))
            }
        };
        KeyGen {
            rng,
            keyspace,
            kind,
        }
    }

    /// The next key's number, in `0..keyspace`.
    pub fn next_key(&mut self) -> u64 {
        match &mut self.kind {
            Kind::Sequential { next, step } => {
                let k = *next;
                *next = (*next + *step) % self.keyspace;
                k
            }
            Kind::Uniform => self.rng.random_range(0..self.keyspace),
            // Zipf draws ranks 1..=n: rank 1 (the most frequent) is key 0.
            Kind::Zipf(z) => (z.sample(&mut self.rng) as u64).clamp(1, self.keyspace) - 1,
            Kind::Gaussian(n) => {
                let v = n.sample(&mut self.rng).round();
                v.clamp(0.0, (self.keyspace - 1) as f64) as u64
            }
        }
    }

    /// The run's random source, for value sizes, mixed-op choice and scores.
    pub fn rng(&mut self) -> &mut SmallRng {
        &mut self.rng
    }
}

/// `prefix` and `n` in (at least) 12 digits into `out` (cleared first).
pub fn write_key(out: &mut Vec<u8>, prefix: &[u8], n: u64) {
    out.clear();
    out.extend_from_slice(prefix);
    let mut b = itoa::Buffer::new();
    let digits = b.format(n).as_bytes();
    for _ in digits.len()..12 {
        out.push(b'0');
    }
    out.extend_from_slice(digits);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_connections_cover_the_keyspace_once() {
        let mut seen = vec![0u32; 10];
        for c in 0..3 {
            let mut g = KeyGen::new(Dist::Sequential, 10, 1, c, 3);
            let quota = 10 / 3 + u64::from(c < 10 % 3);
            for _ in 0..quota {
                seen[g.next_key() as usize] += 1;
            }
        }
        assert_eq!(seen, vec![1; 10]);
    }

    #[test]
    fn every_distribution_stays_in_the_keyspace() {
        for d in [Dist::Uniform, Dist::Zipf(0.99), Dist::Gaussian] {
            let mut g = KeyGen::new(d, 7, 42, 0, 1);
            for _ in 0..10_000 {
                assert!(g.next_key() < 7, "{d:?}");
            }
        }
        let mut g = KeyGen::new(Dist::Zipf(1.5), 1000, 1, 0, 1);
        let zeros = (0..10_000).filter(|_| g.next_key() == 0).count();
        assert!(zeros > 3000, "key 0 is the hottest under zipf: {zeros}");
    }

    #[test]
    fn keys_are_redis_benchmark_style() {
        let mut k = Vec::new();
        write_key(&mut k, b"key:", 42);
        assert_eq!(k, b"key:000000000042");
    }
}
