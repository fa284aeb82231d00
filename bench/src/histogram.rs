//! Latency histogram: log-linear buckets (16 per power of two), so millions of samples cost a
//! few kilobytes and a percentile is within about 6% of the true value.

const SUB: u32 = 16;
const BUCKETS: usize = (64 * SUB) as usize;

/// A run's latencies in microseconds: what every scenario reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct Percentiles {
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self { counts: vec![0; BUCKETS], total: 0, max: 0 }
    }
}

impl Histogram {
    /// p50, p99, p99.9 and the maximum.
    pub fn percentiles(&self) -> Percentiles {
        Percentiles {
            p50_us: self.quantile(0.5),
            p99_us: self.quantile(0.99),
            p999_us: self.quantile(0.999),
            max_us: self.max(),
        }
    }

    fn bucket(value: u64) -> usize {
        if value < u64::from(SUB) {
            return value as usize;
        }
        let power = 63 - value.leading_zeros(); // >= 4
        let sub = (value >> (power - 4)) & u64::from(SUB - 1);
        ((power - 3) * SUB) as usize + sub as usize
    }

    /// The smallest value of a bucket.
    fn low(bucket: usize) -> u64 {
        let (group, sub) = (bucket as u64 / u64::from(SUB), bucket as u64 % u64::from(SUB));
        if group == 0 {
            return sub;
        }
        let power = group + 3;
        (1 << power) | (sub << (power - 4))
    }

    pub fn record(&mut self, value: u64) {
        self.counts[Self::bucket(value)] += 1;
        self.total += 1;
        self.max = self.max.max(value);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    /// The value at quantile `q` (0..=1): the low end of its bucket.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((self.total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (bucket, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Self::low(bucket).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_close() {
        let mut last = 0;
        for v in [0u64, 1, 15, 16, 17, 31, 32, 100, 1000, 12_345, 1 << 40, u64::MAX] {
            let b = Histogram::bucket(v);
            assert!(b >= last, "{v}");
            last = b;
            let low = Histogram::low(b);
            assert!(low <= v, "{v}: low {low}");
            assert!(v - low <= v / 16, "{v}: low {low}");
        }
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::default();
        for v in 1..=1000 {
            h.record(v);
        }
        let p50 = h.quantile(0.5);
        assert!((470..=500).contains(&p50), "{p50}");
        let p99 = h.quantile(0.99);
        assert!((930..=990).contains(&p99), "{p99}");
        assert_eq!(h.max(), 1000);
        assert_eq!(h.quantile(1.0), 992);
    }
}
