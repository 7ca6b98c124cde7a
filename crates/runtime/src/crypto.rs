//! The host side of `crypto` in user code: randomness from the operating system (in actions;
//! queries and mutations keep their seeded, deterministic randomness), and `crypto.subtle`'s
//! digests and HMAC. Bytes cross as base64.

use base64::Engine;
use sha2::Digest;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The most random bytes one `getRandomValues` call may ask for (as in the Web Crypto API).
const MAX_RANDOM: usize = 65_536;

fn bytes(a: &serde_json::Value, field: &str) -> Result<Vec<u8>, String> {
    let text = a[field].as_str().unwrap_or_default();
    B64.decode(text)
        .map_err(|_| format!("crypto: {field} is not base64 (berth's prelude sends it so)"))
}

/// A hash by its Web Crypto name.
fn hash(name: &str, data: &[u8]) -> Result<Vec<u8>, String> {
    Ok(match name.to_ascii_uppercase().as_str() {
        "SHA-256" => sha2::Sha256::digest(data).to_vec(),
        "SHA-384" => sha2::Sha384::digest(data).to_vec(),
        "SHA-512" => sha2::Sha512::digest(data).to_vec(),
        other => {
            return Err(format!(
                "crypto.subtle: the hash {other:?} is not supported; use SHA-256, SHA-384 or SHA-512"
            ));
        }
    })
}

/// The block size of a hash, which HMAC pads its key to.
fn block_size(name: &str) -> usize {
    match name.to_ascii_uppercase().as_str() {
        "SHA-384" | "SHA-512" => 128,
        _ => 64,
    }
}

/// HMAC (RFC 2104) over one of the SHA-2 hashes.
fn hmac(name: &str, key: &[u8], data: &[u8]) -> Result<Vec<u8>, String> {
    let block = block_size(name);
    let mut k = if key.len() > block {
        hash(name, key)?
    } else {
        key.to_vec()
    };
    k.resize(block, 0);
    let inner: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x36)
        .chain(data.iter().copied())
        .collect();
    let inner = hash(name, &inner)?;
    let outer: Vec<u8> = k.iter().map(|b| b ^ 0x5c).chain(inner).collect();
    hash(name, &outer)
}

/// Compares two byte strings in time that depends only on their lengths.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Runs one operation: `random` (`{n}`, only when `secure`: an action), `digest`
/// (`{hash, data}`), `hmac` (`{hash, key, data}`) and `hmacVerify` (`{hash, key, data,
/// signature}`, answering `true` or `false`).
pub fn call(op: &str, a: &serde_json::Value, secure: bool) -> Result<String, String> {
    let name = a["hash"].as_str().unwrap_or_default();
    match op {
        "random" => {
            let n = a["n"].as_u64().unwrap_or(0) as usize;
            if n > MAX_RANDOM {
                return Err(format!(
                    "crypto.getRandomValues: {n} bytes asked, at most {MAX_RANDOM} at a time"
                ));
            }
            if !secure {
                return Ok(String::new());
            }
            let mut out = vec![0u8; n];
            getrandom::fill(&mut out)
                .map_err(|e| format!("crypto.getRandomValues: the OS random source failed: {e}"))?;
            Ok(B64.encode(out))
        }
        "digest" => Ok(B64.encode(hash(name, &bytes(a, "data")?)?)),
        "hmac" => Ok(B64.encode(hmac(name, &bytes(a, "key")?, &bytes(a, "data")?)?)),
        "hmacVerify" => {
            let expected = hmac(name, &bytes(a, "key")?, &bytes(a, "data")?)?;
            Ok(same(&expected, &bytes(a, "signature")?).to_string())
        }
        other => Err(format!("crypto: unknown operation {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 1 and 6 (a key longer than the block) of RFC 4231.
        let mac = hmac("SHA-256", &[0x0b; 20], b"Hi There").unwrap();
        assert_eq!(
            hex(&mac),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        let mac = hmac(
            "SHA-512",
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        )
        .unwrap();
        assert_eq!(
            hex(&mac),
            "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"
        );
    }
}
