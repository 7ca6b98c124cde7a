//! Document ids: 16 random bytes and the table's number (4 bytes, big-endian), in lowercase
//! base32 without padding: 32 characters. The table is readable from the id alone, so
//! `normalizeId` needs no lookup of the document.

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

pub fn encode(table_number: u32) -> String {
    let mut bytes = [0u8; 20];
    // The OS random source failing is not something a server can recover from.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes[..16]).expect("the OS random source is unavailable");
    bytes[16..].copy_from_slice(&table_number.to_be_bytes());
    let mut out = String::with_capacity(32);
    let (mut buf, mut bits) = (0u32, 0u32);
    for b in bytes {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buf >> bits) & 31) as usize] as char);
        }
    }
    out
}

/// The table number inside an id, or `None` when the text is not an id.
pub fn table_number(id: &str) -> Option<u32> {
    if id.len() != 32 {
        return None;
    }
    let mut bytes = Vec::with_capacity(20);
    let (mut buf, mut bits) = (0u32, 0u32);
    for c in id.bytes() {
        let v = ALPHABET.iter().position(|a| *a == c)? as u32;
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            bytes.push(((buf >> bits) & 255) as u8);
        }
    }
    let tail: [u8; 4] = bytes.get(16..20)?.try_into().ok()?;
    Some(u32::from_be_bytes(tail))
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip() {
        for n in [0, 1, 10001, u32::MAX] {
            let id = super::encode(n);
            assert_eq!(id.len(), 32);
            assert_eq!(super::table_number(&id), Some(n));
        }
        assert_eq!(super::table_number("nope"), None);
        assert_eq!(super::table_number(&"A".repeat(32)), None);
    }
}
