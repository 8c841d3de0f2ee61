//! What the engine benches feed: the eight parameters of a station with their level and the
//! size of their daily swing (0: none), shared so that throughput and memory are measured on
//! the same streams.

/// (parameter, level, daily swing).
pub const PARAMS: [(&str, f64, f64); 8] = [
    ("temp", 20.0, 1.5),
    ("ph", 7.6, 0.2),
    ("do", 8.0, 1.2),
    ("cond", 400.0, 0.0),
    ("turb", 20.0, 0.0),
    ("codmn", 3.0, 0.0),
    ("nh3n", 0.3, 0.0),
    ("tp", 0.08, 0.0),
];
