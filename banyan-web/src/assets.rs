//! The monitor page's static files, compiled into the binary (plain HTML, JavaScript and
//! CSS: no build step, no CDN, works offline).

/// `GET /`.
pub const INDEX_HTML: &str = include_str!("../assets/index.html");
/// `GET /monitor.js`.
pub const MONITOR_JS: &str = include_str!("../assets/monitor.js");
/// `GET /monitor.css`.
pub const MONITOR_CSS: &str = include_str!("../assets/monitor.css");
