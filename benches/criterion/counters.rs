//! Hardware performance counters (instructions, cycles, branch misses) around a benchmark
//! routine, read through `perf_event_open` as one counter group. Opening fails on kernels or
//! virtual machines without PMU access; callers then fall back to criterion's time only.

use perf_event::events::Hardware;
use perf_event::{Builder, Counter, Group};
use std::io;

/// An open group of the three counters, observing this thread on any CPU.
pub struct HwCounters {
    group: Group,
    instructions: Counter,
    cycles: Counter,
    branch_misses: Counter,
}

/// Counts per iteration of a routine.
pub struct PerIter {
    pub instructions: f64,
    pub cycles: f64,
    pub branch_misses: f64,
}

impl HwCounters {
    /// Opens the group, or says why the kernel refused.
    pub fn open() -> io::Result<HwCounters> {
        let mut group = Group::new()?;
        let instructions = Builder::new()
            .group(&mut group)
            .kind(Hardware::INSTRUCTIONS)
            .build()?;
        let cycles = Builder::new()
            .group(&mut group)
            .kind(Hardware::CPU_CYCLES)
            .build()?;
        let branch_misses = Builder::new()
            .group(&mut group)
            .kind(Hardware::BRANCH_MISSES)
            .build()?;
        let mut hw = HwCounters {
            group,
            instructions,
            cycles,
            branch_misses,
        };
        // Some hypervisors accept the events but never schedule them: probe once.
        hw.measure(1, || {
            std::hint::black_box((0..1000u64).sum::<u64>());
        })?;
        Ok(hw)
    }

    /// Runs `f` `iters` times with the counters enabled and returns the counts per iteration.
    pub fn measure(&mut self, iters: u64, mut f: impl FnMut()) -> io::Result<PerIter> {
        self.group.reset()?;
        self.group.enable()?;
        for _ in 0..iters {
            f();
        }
        self.group.disable()?;
        let counts = self.group.read()?;
        if counts.time_running() == 0 || counts[&self.instructions] == 0 {
            return Err(io::Error::other("counters were never scheduled on the PMU"));
        }
        // Scale for multiplexing when the group shared the PMU with other events.
        let scale = counts.time_enabled() as f64 / counts.time_running() as f64;
        let per = |c: &Counter| counts[c] as f64 * scale / iters.max(1) as f64;
        Ok(PerIter {
            instructions: per(&self.instructions),
            cycles: per(&self.cycles),
            branch_misses: per(&self.branch_misses),
        })
    }
}
