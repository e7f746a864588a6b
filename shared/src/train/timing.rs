//! Wall-clock timing of a piece of work, as every reproduction's speed claims measure it.

use std::time::Instant;

/// The result of `work` and the seconds it took.
pub fn timed<T>(work: impl FnOnce() -> T) -> (T, f64) {
    let started = Instant::now();
    let out = work();
    (out, started.elapsed().as_secs_f64())
}

/// The median wall-clock seconds of `repeats` calls of `work` (at least one), after one untimed
/// call: the first run of a shape pays for allocations and kernel set-up.
///
/// `work` must wait for its own result (read a tensor back, or `device.sync()`), or queued
/// device work goes uncounted.
pub fn measure_time(repeats: usize, mut work: impl FnMut()) -> f64 {
    work();
    let times: Vec<f64> = (0..repeats.max(1)).map(|_| timed(&mut work).1).collect();
    median(times)
}

/// The middle value (the upper one of an even count); NaN for none.
fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warm_up_call_then_the_timed_ones() {
        let mut calls = 0;
        let seconds = measure_time(3, || calls += 1);
        assert_eq!(calls, 4);
        assert!(seconds.is_finite() && seconds >= 0.0);
        measure_time(0, || calls += 1);
        assert_eq!(calls, 6, "at least one timed call");
    }

    #[test]
    fn the_median_is_the_middle_of_the_sorted_values() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 3.0);
        assert!(median(vec![]).is_nan());
    }
}
