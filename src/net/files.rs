//! The open-files limit: raised at start as far as the system lets a process go alone (its
//! soft limit up to its hard one), so that a common default of 1,024 does not cap a
//! dashboard that the system would let hold far more. What it ends up at sizes the connection
//! cap (see `Limits::resolve`).

/// The soft limit after raising it to the hard one, and the hard one; `None` when the system
/// will not say.
pub fn raise_open_files_limit() -> Option<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim.rlim_cur = lim.rlim_max;
        }
    }
    Some((lim.rlim_cur, lim.rlim_max))
}
