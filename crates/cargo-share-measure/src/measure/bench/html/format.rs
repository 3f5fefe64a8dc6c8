//! Number and text formatting for the HTML report (MB, ms, seconds, HTML escaping).

/// `value / base` as `0.69x`; `n/a` when the base is zero (or either is not a finite number).
pub(crate) fn human_ratio(value: f64, base: f64) -> String {
    if base == 0.0 || !base.is_finite() || !value.is_finite() {
        return "n/a".to_string();
    }
    format!("{:.2}x", value / base)
}

pub(crate) fn mb(bytes: f64) -> String {
    format!("{:.1} MB", bytes / 1e6)
}

pub(crate) fn ms(us: f64) -> String {
    format!("{:.2} ms", us / 1e3)
}

pub(crate) fn seconds(s: f64) -> String {
    format!("{s:.1} s")
}

/// Text escaped for HTML element content and attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
