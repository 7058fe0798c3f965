//! `/proc/PID/stat`, read and split into fields, for the process table (start times,
//! to tell a reused pid from the original) and the process collector (CPU time,
//! memory, start time).

/// One read of a process's `/proc/PID/stat`.
pub(crate) struct Stat {
    text: String,
    /// Byte offset of field 3 (the state): fields follow the command name's last `)`,
    /// since the name may hold spaces and parentheses.
    fields_at: usize,
}

impl Stat {
    /// The stat of process `pid`, if it is running.
    pub fn of(pid: u32) -> Option<Stat> {
        Stat::parse(std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    /// The stat of the calling process.
    pub fn of_self() -> Option<Stat> {
        Stat::parse(std::fs::read_to_string("/proc/self/stat").ok()?)
    }

    /// The stat file at `path` (`PROC/PID/stat` of a `/proc` mounted elsewhere).
    pub fn at(path: &std::path::Path) -> Option<Stat> {
        Stat::parse(std::fs::read_to_string(path).ok()?)
    }

    fn parse(text: String) -> Option<Stat> {
        let fields_at = text.rfind(')')? + 1;
        Some(Stat { text, fields_at })
    }

    /// Field `n` as numbered in proc(5), from 3 on, as a number.
    fn field(&self, n: usize) -> Option<u64> {
        self.text[self.fields_at..]
            .split_whitespace()
            .nth(n.checked_sub(3)?)?
            .parse()
            .ok()
    }

    /// User CPU time, in clock ticks (field 14).
    pub fn utime(&self) -> Option<u64> {
        self.field(14)
    }

    /// System CPU time, in clock ticks (field 15).
    pub fn stime(&self) -> Option<u64> {
        self.field(15)
    }

    /// Start time, in clock ticks since boot (field 22).
    pub fn start_time(&self) -> Option<u64> {
        self.field(22)
    }

    /// Virtual memory size, in bytes (field 23).
    pub fn vsize(&self) -> Option<u64> {
        self.field(23)
    }

    /// Resident set size, in pages (field 24).
    pub fn rss(&self) -> Option<u64> {
        self.field(24)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_follow_the_last_parenthesis() {
        let mut line = String::from("42 (a (b) c) S");
        for n in 4..=24 {
            line.push_str(&format!(" {n}"));
        }
        let s = Stat::parse(line).unwrap();
        assert_eq!(
            (s.utime(), s.stime(), s.start_time(), s.vsize(), s.rss()),
            (Some(14), Some(15), Some(22), Some(23), Some(24))
        );
        assert!(Stat::of_self().and_then(|s| s.start_time()).is_some());
    }
}
