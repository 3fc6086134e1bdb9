//! Reading composed mail in assertions.

/// The header block (up to the first empty line), unfolded, as
/// `(name, value)` pairs.
pub fn headers(message: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(message);
    let head = text.split("\r\n\r\n").next().unwrap();
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            out.last_mut().unwrap().1.push_str(line);
        } else if let Some((n, v)) = line.split_once(':') {
            out.push((n.to_owned(), v.trim().to_owned()));
        }
    }
    out
}

/// The first header `name` (ASCII case-insensitive), unfolded.
pub fn header(message: &[u8], name: &str) -> Option<String> {
    headers(message)
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// The first `-----BEGIN PGP MESSAGE-----` block of a mail, with LF line
/// ends.
pub fn armored_message_in(mail: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(mail);
    let start = text
        .find("-----BEGIN PGP MESSAGE-----")
        .expect("no PGP block");
    let end_marker = "-----END PGP MESSAGE-----";
    let end = text[start..].find(end_marker).expect("no PGP end") + start + end_marker.len();
    text[start..end].replace("\r\n", "\n").into_bytes()
}
